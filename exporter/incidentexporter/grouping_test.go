package incidentexporter

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/metadatatest"
)

// Real Alertmanager notifications through the real receiver with
// grouping.by: group_key: one incident per notification group, the answers
// and the exporter's telemetry say what happened.
func TestGroupByGroupKeyThroughTheReceiver(t *testing.T) {
	for _, st := range storesUnderTest {
		t.Run(st.name, func(t *testing.T) {
			sc := st.cfg(t)
			cfg := createDefaultConfig()
			cfg.Store = sc
			cfg.Grouping.By = "group_key"
			exp, tel := startExporterTelemetry(t, cfg)
			base := startReceiver(t, exp)
			db := openDB(t, sc)

			// Two alerts of one group: one incident.
			code, body := post(t, base+"/webhooks/alertmanager", fixture(t, "alertmanager/real-02-group-two-firing.json"))
			require.Equal(t, 200, code, body)
			assert.Equal(t, "success", body["status"])
			assert.EqualValues(t, 1, body["incidents_created"])
			assert.EqualValues(t, 1, body["alerts_grouped"])
			assert.Equal(t, 1, count(t, db, "alert_count = 2 AND group_key = $1", `{}:{alertname="HighErrorRate", service="api-gateway"}`))

			// One of them resolves: the incident stays open for the other.
			code, body = post(t, base+"/webhooks/alertmanager", fixture(t, "alertmanager/real-05-one-resolved-one-firing.json"))
			require.Equal(t, 200, code, body)
			assert.EqualValues(t, 1, body["alerts_resolved"])
			assert.EqualValues(t, 0, body["incidents_resolved"])
			assert.EqualValues(t, 1, body["duplicates"])
			assert.Equal(t, 1, count(t, db, "status = 'open'"))

			// The last one resolves it.
			code, body = post(t, base+"/webhooks/alertmanager", fixture(t, "alertmanager/real-06-all-resolved.json"))
			require.Equal(t, 200, code, body)
			assert.EqualValues(t, 1, body["incidents_resolved"])
			assert.Equal(t, 1, count(t, db, "status = 'resolved' AND firing_alerts = 0"))

			// Resent, the resolve has nothing left to resolve.
			code, body = post(t, base+"/webhooks/alertmanager", fixture(t, "alertmanager/real-06-all-resolved.json"))
			require.Equal(t, 200, code, body)
			assert.Equal(t, map[string]any{"status": "ignored", "message": "No open incident for this alert", "fingerprint": "ca83fc25b3aceae7"}, body)

			one := []metricdata.DataPoint[int64]{{Value: 1}}
			metadatatest.AssertEqualIncidentIncidentsCreated(t, tel, one, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
			metadatatest.AssertEqualIncidentAlertsGrouped(t, tel, one, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
			metadatatest.AssertEqualIncidentAlertsResolved(t, tel, one, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
			metadatatest.AssertEqualIncidentResolvedIgnored(t, tel, one, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
			metadatatest.AssertEqualIncidentIncidentsResolved(t, tel, []metricdata.DataPoint[int64]{
				{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "alert_resolved"))},
			}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
		})
	}
}
