package alertwebhookreceiver

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

// fuzzHandler checks one body against one path through the whole handler: no
// panic, never a 5xx, and a parse error is always a payload error (a 400).
func fuzzHandler(f *testing.F, path string, seeds []string, parse func([]byte) error) {
	for _, s := range seeds {
		matches, err := filepath.Glob(filepath.Join("..", "..", "testdata", s))
		require.NoError(f, err)
		for _, m := range matches {
			f.Add(fixture(f, filepath.Join(filepath.Base(filepath.Dir(m)), filepath.Base(m))))
		}
	}
	f.Add([]byte(`{"alerts":[null,{},{"labels":null},{"labels":{"alertname":""}}]}`))
	f.Add([]byte(`[{"labels":{"alertname":"x"},"startsAt":"not a time"}]`))
	f.Add([]byte(`{"alerts":[{"labels":{"alertname":"x"},"values":{"a":[1,{"b":null}]}}],"orgId":"1"}`))

	cfg := testConfig()
	cfg.Integrations[0].Secret = "s"
	cfg.Integrations[1].Secret = "s"
	// Fuzzing checks parsing, not the token bucket.
	cfg.RateLimit = RateLimitConfig{RequestsPerSecond: 1e9, Burst: 1 << 30}
	// Fuzzing checks parsing and answers, not the store: a sink is enough.
	r, err := newReceiver(cfg, receiverSettings(), new(consumertest.LogsSink))
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, body []byte) {
		if err := parse(body); err != nil {
			var pe *payloadError
			if !errors.As(err, &pe) {
				t.Fatalf("parse error is not a payload error: %v", err)
			}
		}
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("X-Webhook-Secret", "s")
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body.String())
		}
	})
}

func FuzzAlertmanagerPayload(f *testing.F) {
	fuzzHandler(f, "/webhooks/alertmanager", []string{"alertmanager/*.json"}, func(b []byte) error {
		_, err := parseNotification(b, "alertmanager", time.Now())
		return err
	})
}

func FuzzGrafanaPayload(f *testing.F) {
	fuzzHandler(f, "/webhooks/grafana/"+grafID, []string{"grafana/*.json"}, func(b []byte) error {
		_, err := parseNotification(b, "grafana", time.Now())
		return err
	})
}

func FuzzPrometheusPush(f *testing.F) {
	fuzzHandler(f, "/webhooks/prometheus/"+promID+"/api/v2/alerts", []string{"prometheus/*.json"}, func(b []byte) error {
		_, err := parsePush(b, time.Now())
		return err
	})
}

// The streaming count of alerts never lets a body through that the parser
// would find over the limit: whatever the spelling of the field, the strings,
// numbers, blanks and nesting around it.
func FuzzAlertsOver(f *testing.F) {
	f.Add([]byte(`{"alerts":[1,2,3,4]}`))
	f.Add([]byte(`{"a":"]\"[","ALERTS":[{},{},{"x":[1,2]},[],null]}`))
	f.Add([]byte(`{"\u0061lerts":[1e5,-2,true,false]}`))
	f.Add([]byte(`[{"labels":{}},{},{},{}]`))
	f.Add([]byte("\f{\"alerts\":[{},{},{},{}]}"))
	f.Add([]byte(`{"` + strings.Repeat("k", 1100) + `":1,"alerts":[{},{},{},{}]}`))
	now := time.Now()
	f.Fuzz(func(t *testing.T, body []byte) {
		const limit = 3
		if n, err := parseNotification(body, incident.SourceAlertmanager, now); err == nil && len(n.Alerts)+len(n.Rejected) > limit {
			if !alertsOver(bytes.NewReader(body), kindAlertmanager, limit) {
				t.Fatalf("%d alerts parsed, the count let them through: %q", len(n.Alerts)+len(n.Rejected), body)
			}
		}
		if n, err := parsePush(body, now); err == nil && len(n.Alerts)+len(n.Rejected) > limit {
			if !alertsOver(bytes.NewReader(body), kindPrometheusPush, limit) {
				t.Fatalf("%d pushed alerts parsed, the count let them through: %q", len(n.Alerts)+len(n.Rejected), body)
			}
		}
	})
}
