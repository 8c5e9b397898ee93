package incidentexporter

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sre-copilot/incident-collector/internal/incident"
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

// Identities from records of any source are never cleaned into another one:
// group keys differing only by a NUL or an invalid byte stay apart (hashed),
// an integration id that cannot be stored is refused, and a year-0 start
// with an offset is "not set" on both engines, as in the receiver.
func TestIdentitiesAreNotCleanedIntoEachOther(t *testing.T) {
	for _, st := range storesUnderTest {
		t.Run(st.name, func(t *testing.T) {
			sc := st.cfg(t)
			cfg := createDefaultConfig()
			cfg.Store = sc
			cfg.Grouping.By = "group_key"
			exp := startExporterWith(t, cfg)
			record := func(ld plog.Logs, fp, groupKey, scope, startsAt string) {
				lr := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().AppendEmpty()
				a := lr.Attributes()
				a.PutStr(incident.AttrFingerprint, fp)
				a.PutStr(incident.AttrGroupKey, groupKey)
				a.PutStr(incident.AttrIntegrationID, scope)
				a.PutStr(incident.AttrStartsAt, startsAt)
				a.PutStr(incident.AttrTitle, "T")
			}
			ld := plog.NewLogs()
			ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
			record(ld, "a", `{}:{svc="db"}`, "prod", "2026-11-28T19:00:00Z")
			record(ld, "b", "{}:{svc=\"db\x00\"}", "prod", "2026-11-28T19:00:00Z")
			record(ld, "c", "k\xff", "prod", "2026-11-28T19:00:00Z")
			record(ld, "d", "k\xfe", "prod", "2026-11-28T19:00:00Z")
			record(ld, "e", "g", "default\x00", "2026-11-28T19:00:00Z")
			record(ld, "f", "g0", "prod", "0000-01-01T00:00:00+01:00")
			rec := incident.NewRecorder()
			require.NoError(t, exp.ConsumeLogs(incident.ContextWithRecorder(context.Background(), rec), ld))
			verdicts := map[string]incident.Verdict{}
			for _, o := range rec.Close() {
				verdicts[o.Fingerprint] = o.Verdict
			}
			assert.Equal(t, map[string]incident.Verdict{
				"a": incident.VerdictCreated, "b": incident.VerdictCreated, "c": incident.VerdictCreated,
				"d": incident.VerdictCreated, "e": incident.VerdictRejected, "f": incident.VerdictCreated,
			}, verdicts)
			db := openDB(t, sc)
			assert.Equal(t, 5, count(t, db, "1 = 1"), "five groups, five incidents")
			assert.Equal(t, 0, count(t, db, "detected_at < $1", time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)),
				"the year-0 start is not set: the record's receipt time")
		})
	}
}
