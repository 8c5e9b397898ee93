package alertwebhookreceiver

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLabelLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"alerts":[{"labels":{"alertname":"Many"`)
	for i := range maxLabels {
		fmt.Fprintf(&b, `,"l%d":"v"`, i)
	}
	b.WriteString(`}},{"labels":{"alertname":"Few"}}]}`)
	n, err := parseNotification([]byte(b.String()), "alertmanager", time.Now())
	require.NoError(t, err)
	require.Len(t, n.Alerts, 1)
	assert.Equal(t, "Few", n.Alerts[0].Labels["alertname"])
	require.Len(t, n.Rejected, 1)
	assert.Equal(t, rejection{Index: 0, Reason: "1001 labels, more than the limit of 1000"}, n.Rejected[0])
}

func TestTimestampsWithAnyOffset(t *testing.T) {
	for in, want := range map[string]string{
		"2026-01-24T12:00:00.000Z":         "2026-01-24T12:00:00Z",
		"2021-10-12T09:51:03.157076+02:00": "2021-10-12T07:51:03.157076Z",
		"2026-01-24T12:00:00-05:30":        "2026-01-24T17:30:00Z",
		"2026-01-24T12:00:00.123456789Z":   "2026-01-24T12:00:00.123456789Z",
	} {
		got, err := parseTime(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got.Format(time.RFC3339Nano), in)
	}
	zero, err := parseTime("0001-01-01T00:00:00Z")
	require.NoError(t, err)
	assert.True(t, zero.IsZero())
	_, err = parseTime("yesterday")
	assert.EqualError(t, err, `"yesterday" is not an RFC 3339 timestamp`)
}

// Each alert is checked alone: the bad ones are listed in rejected with the
// reason, the others stored.
func TestPerAlertBounds(t *testing.T) {
	bigLabels := `{"alertname":"Big","v":"` + strings.Repeat("x", maxLabelBytes) + `"}`
	tests := []struct {
		name   string
		alert  string
		reason string
	}{
		{"NUL fingerprint", `{"labels":{"alertname":"N"},"fingerprint":"\u0000"}`, "fingerprint contains a NUL character"},
		{"NUL inside a fingerprint", `{"labels":{"alertname":"N"},"fingerprint":"zz\u0000X"}`, "fingerprint contains a NUL character"},
		{"fingerprint of 8000 bytes", `{"labels":{"alertname":"N"},"fingerprint":"` + strings.Repeat("f", 8000) + `"}`, "fingerprint of 8000 bytes, more than the limit of 256"},
		{"fingerprint of invalid UTF-8", "{\"labels\":{\"alertname\":\"N\"},\"fingerprint\":\"a\xffb\"}", "fingerprint is not valid UTF-8"},
		{"fingerprint with an escaped lone surrogate", `{"labels":{"alertname":"N"},"fingerprint":"a\ud800b"}`, "fingerprint is not valid UTF-8"},
		{"labels over 64 KiB", `{"labels":` + bigLabels + `}`, "labels of 65549 bytes, more than the limit of 65536"},
		{"no label with a value", `{"labels":{"alertname":"","a":""}}`, "field 'labels' has no label with a value"},
		{"startsAt past the year 9999 in UTC", `{"labels":{"alertname":"T"},"startsAt":"9999-12-31T23:59:59-23:59"}`, `field 'startsAt': "9999-12-31T23:59:59-23:59" is after the year 9999 in UTC`},
		{"endsAt past the year 9999 in UTC", `{"labels":{"alertname":"T"},"status":"resolved","endsAt":"9999-12-31T23:00:00-01:00"}`, `field 'endsAt': "9999-12-31T23:00:00-01:00" is after the year 9999 in UTC`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newStoreConsumer(t)
			_, base := startReceiver(t, testConfig(), store)
			body := `{"alerts":[{"labels":{"alertname":"Good"},"fingerprint":"zzX"},` + tt.alert + `]}`
			resp := post(t, base+"/webhooks/alertmanager", []byte(body), nil)
			require.Equal(t, http.StatusOK, resp.code, string(resp.body))
			rejected := resp.json(t)["rejected"].([]any)
			require.Len(t, rejected, 1)
			assert.EqualValues(t, 1, rejected[0].(map[string]any)["index"])
			if tt.reason != "" {
				assert.Equal(t, tt.reason, rejected[0].(map[string]any)["reason"])
			}
			recs := allRecords(&store.LogsSink)
			require.Len(t, recs, 1)
			assert.Equal(t, "zzX", attrMap(recs[0])["alert.fingerprint"], "the valid alert keeps its own identity")

			// Alone, the alert makes the request a 400 that names it.
			resp = post(t, base+"/webhooks/alertmanager", []byte(`{"alerts":[`+tt.alert+`]}`), nil)
			assert.Equal(t, http.StatusBadRequest, resp.code)
			assert.Contains(t, resp.json(t)["detail"], "alerts[0]: ")
		})
	}
}
