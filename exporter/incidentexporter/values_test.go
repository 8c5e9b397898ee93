package incidentexporter

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// One odd label must not cost the notification: the literal text `C:\u0000x`
// is stored exactly as sent, a real NUL character is dropped from its value
// (PostgreSQL text cannot hold it), the labels stay valid JSON on both
// engines, and the analysis event carries the same labels.
func TestOddLabelValuesAreStoredAsSent(t *testing.T) {
	const body = `{"version":"4","status":"firing","groupKey":"g","alerts":[
		{"status":"firing","labels":{"alertname":"Odd","path":"C:\\u0000x","nul":"a\u0000b","html":"<b>&"},"fingerprint":"odd1","startsAt":"2026-11-28T19:00:00Z"},
		{"status":"firing","labels":{"alertname":"Plain"},"fingerprint":"plain1","startsAt":"2026-11-28T19:00:00Z"}]}`
	for _, st := range storesUnderTest {
		t.Run(st.name, func(t *testing.T) {
			svc := newAnalysisService(t)
			addr, _ := serve(t, "127.0.0.1:0", svc)
			sc := st.cfg(t)
			base := startReceiver(t, startExporterWith(t, analysisConfig(sc, "http://"+addr+"/analyze")))
			code, answer := post(t, base+"/webhooks/alertmanager", []byte(body))
			require.Equal(t, 200, code, answer)
			assert.EqualValues(t, 2, answer["incidents_created"])

			want := map[string]string{"alertname": "Odd", "path": `C:\u0000x`, "nul": "ab", "html": "<b>&"}
			db := openDB(t, sc)
			for _, table := range []string{"incidents", "incident_alerts"} {
				var raw string
				require.NoError(t, db.QueryRow(`SELECT CAST(labels AS TEXT) FROM `+table+` WHERE fingerprint = 'odd1'`).Scan(&raw))
				var got map[string]string
				require.NoError(t, json.Unmarshal([]byte(raw), &got), "%s.labels is valid JSON: %s", table, raw)
				assert.Equal(t, want, got, table)
			}
			assert.Equal(t, 1, count(t, db, "fingerprint = 'plain1'"))

			waitFor(t, "both created events", func() bool { got, _ := svc.snapshot(); return len(got) == 2 })
			_, notes := svc.snapshot()
			for _, n := range notes {
				if n.Incident.Fingerprint != "odd1" {
					continue
				}
				var got map[string]string
				require.NoError(t, json.Unmarshal(n.Incident.Labels, &got))
				assert.Equal(t, want, got)
				require.Len(t, n.Alerts, 1)
				require.NoError(t, json.Unmarshal(n.Alerts[0].Labels, &got))
				assert.Equal(t, want, got)
			}
		})
	}
}
