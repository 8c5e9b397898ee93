package alertwebhookreceiver

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// minimalAlerts is an Alertmanager body of n alerts as small as they come.
func minimalAlerts(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"alerts":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"labels":{"alertname":"A","i":"%d"}}`, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

func TestAlertsOver(t *testing.T) {
	ones := func(n int) string { return strings.TrimSuffix(strings.Repeat("1,", n), ",") }
	tests := []struct {
		name string
		kind payloadKind
		body string
		want bool
	}{
		{"at the limit", kindAlertmanager, `{"alerts":[` + ones(10) + `]}`, false},
		{"one over", kindAlertmanager, `{"alerts":[` + ones(11) + `]}`, true},
		{"one over, after other fields", kindGrafana, `{"receiver":"x","groupLabels":{"a":[1,2,{"b":3}]},"alerts":[` + ones(11) + `]}`, true},
		{"field name in capitals", kindAlertmanager, `{"ALERTS":[` + ones(11) + `]}`, true},
		{"field name escaped", kindAlertmanager, `{"\u0061lerts":[` + ones(11) + `]}`, true},
		{"strings with brackets, quotes and commas", kindAlertmanager, `{"a":"],\"}[,","alerts":[` + strings.Repeat(`"x,]\"",`, 10) + `"y"]}`, true},
		{"literals and numbers", kindAlertmanager, `{"a":true,"b":-1.5e3,"c":null,"alerts":[true,false,null,1,2,3,4,5,6,7,8]}`, true},
		{"empty arrays", kindAlertmanager, `{"alerts":[]}`, false},
		{"any of two alerts fields", kindAlertmanager, `{"alerts":[` + ones(11) + `],"alerts":[1]}`, true},
		{"objects", kindAlertmanager, string(minimalAlerts(11)), true},
		{"push array", kindPrometheusPush, `[` + ones(11) + `]`, true},
		{"push array at the limit", kindPrometheusPush, `[` + ones(9) + `,{"labels":{"a":"` + strings.Repeat("x", 40) + `"}}]`, false},
		{"other arrays do not count", kindAlertmanager, `{"pad":[` + ones(30) + `],"alerts":[1]}`, false},
		{"malformed before the alerts: left to the parser", kindAlertmanager, `{"a":tru,"alerts":[` + ones(11) + `]}`, false},
		{"alerts not an array", kindAlertmanager, `{"alerts":{"a":[` + ones(11) + `]}}`, false},
		{"deep nesting", kindAlertmanager, `{"alerts":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, alertsOver(strings.NewReader(tt.body), tt.kind, 10))
		})
	}
}

func TestMaxAlertsPerRequest(t *testing.T) {
	cfg := testConfig()
	cfg.MaxAlertsPerRequest = 50
	store := newStoreConsumer(t)
	_, base := startReceiver(t, cfg, store)
	resp := post(t, base+"/webhooks/alertmanager", minimalAlerts(51), nil)
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.code)
	assert.JSONEq(t, `{"detail":"Request has more than 50 alerts, the limit of max_alerts_per_request: split the notification (a finer group_by) or raise the limit"}`, string(resp.body))
	assert.Zero(t, store.LogRecordCount(), "nothing of a refused request reaches the pipeline")

	resp = post(t, base+"/webhooks/alertmanager", minimalAlerts(50), nil)
	assert.Equal(t, http.StatusOK, resp.code, string(resp.body))
	assert.Equal(t, 50, store.LogRecordCount())

	// Spellings an adversarial run used to get past the count: a key too
	// long to be "alerts" before it, and whitespace that is not JSON's.
	longKey := append([]byte(`{"`+strings.Repeat("k", 2000)+`":1,`), minimalAlerts(51)[1:]...)
	resp = post(t, base+"/webhooks/alertmanager", longKey, nil)
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.code, string(resp.body))
	for _, space := range []string{"\f", "\v", "\u00a0", "\u3000"} {
		resp = post(t, base+"/webhooks/alertmanager", append([]byte(space), minimalAlerts(51)...), nil)
		assert.Equal(t, http.StatusBadRequest, resp.code, "%q: not JSON, never decoded: %s", space, resp.body)
	}
	assert.Equal(t, 50, store.LogRecordCount(), "nothing of the refused requests reached the pipeline")
}

// The count runs as the body arrives: a sender that has sent more alerts
// than the limit is answered 413 without the rest of its body being awaited.
func TestTooManyAlertsRefusedBeforeTheEnd(t *testing.T) {
	for _, tt := range []struct {
		name, path, headers string
	}{
		{"global endpoint", "/webhooks/alertmanager", ""},
		{"secret integration", "/webhooks/prometheus/" + promID, "X-Webhook-Secret: " + promSecret + "\r\n"},
		{"HMAC integration", "/webhooks/grafana/" + hmacID, "X-Grafana-Alerting-Signature: " + strings.Repeat("ab", 32) + "\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.MaxAlertsPerRequest = 100
			_, base := startReceiver(t, cfg, newStoreConsumer(t))
			conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
			require.NoError(t, err)
			defer conn.Close()
			first := minimalAlerts(500)
			first = first[:len(first)-2] // the array and the body go on
			_, err = fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 20000000\r\n%s\r\n%s", tt.path, tt.headers, first)
			require.NoError(t, err)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
		})
	}
}
