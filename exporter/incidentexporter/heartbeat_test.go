package incidentexporter

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/metadatatest"
)

const watchdogBody = `{"version":"4","status":"firing","receiver":"watchdog","groupKey":"{}:{alertname=\"Watchdog\"}","alerts":[
	{"status":"firing","labels":{"alertname":"Watchdog","severity":"none"},"annotations":{"summary":"Always firing"},
	 "startsAt":"2026-11-28T19:00:00Z","fingerprint":"e1b0c9a8d7f6e5d4"}]}`

// Heartbeats (README, "Heartbeats") in real time through the real receiver,
// with timeout 2s: a Watchdog notification makes no incident; the silence
// makes one open critical incident and one created event; the next Watchdog resolves it,
// with one resolved event. A scope that never sent one is not watched.
func TestHeartbeatThroughTheReceiver(t *testing.T) {
	for _, st := range storesUnderTest {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			svc := newAnalysisService(t)
			addr, _ := serve(t, "127.0.0.1:0", svc)
			sc := st.cfg(t)
			cfg := analysisConfig(sc, "http://"+addr+"/analyze")
			cfg.Heartbeat = HeartbeatConfig{Alertname: "Watchdog", Timeout: 2 * time.Second}
			exp, tel := startExporterTelemetry(t, cfg)
			base := startReceiver(t, exp)
			db := openDB(t, sc)

			code, answer := post(t, base+"/webhooks/alertmanager", []byte(watchdogBody))
			require.Equal(t, 200, code, answer)
			assert.Equal(t, "success", answer["status"])
			assert.EqualValues(t, 1, answer["heartbeats"])
			assert.Equal(t, 0, count(t, db, "1 = 1"), "a heartbeat is not an incident")
			// Another integration sends an ordinary alert and never a heartbeat.
			code, _ = post(t, base+"/webhooks/prometheus/payments", fixture(t, "alertmanager/seed-example.json"), "X-Webhook-Secret", "payments-secret")
			require.Equal(t, 200, code)

			waitFor(t, "the heartbeat incident", func() bool {
				return count(t, db, "source = 'heartbeat' AND status = 'open' AND severity = 'critical' AND dedup_scope = 'alertmanager' AND title = 'Heartbeat missing: Watchdog'") == 1
			})
			// The sweep that opened it looked at every scope.
			assert.Equal(t, 0, count(t, db, "source = 'heartbeat' AND dedup_scope = 'payments'"), "never sent a heartbeat: not watched")
			waitFor(t, "the created event", func() bool {
				_, notes := svc.snapshot()
				return len(notes) == 2 // the payments incident and the heartbeat one
			})

			code, answer = post(t, base+"/webhooks/alertmanager", []byte(watchdogBody))
			require.Equal(t, 200, code, answer)
			assert.Equal(t, 1, count(t, db, "source = 'heartbeat' AND status = 'resolved'"))
			waitFor(t, "the resolved event", func() bool {
				_, notes := svc.snapshot()
				return len(notes) == 3 && notes[2].Event == "resolved" && notes[2].Incident.Source == "heartbeat"
			})
			events, _ := svc.snapshot()
			assert.Len(t, events, 3, "each event once")

			metadatatest.AssertEqualIncidentHeartbeats(t, tel, []metricdata.DataPoint[int64]{{Value: 2}},
				metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
			metadatatest.AssertEqualIncidentHeartbeatAge(t, tel, []metricdata.DataPoint[float64]{
				{Attributes: attribute.NewSet(attribute.String("integration", "alertmanager"))},
			}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreValue())
		})
	}
}
