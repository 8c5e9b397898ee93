package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var stores = []struct {
	name string
	open func(*testing.T) store
}{
	{"sqlite", sqliteStore},
	{"postgres", postgresStore},
}

// The specification's curl examples against the built collector: success,
// duplicate, then every refusal with its exact body.
func TestSpecificationExamples(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			st := s.open(t)
			c := startCollector(t, st, defaultPipeline)
			curl := fixture(t, "alertmanager/seed-curl-test.json")

			a := c.post(t, "/webhooks/alertmanager", curl)
			require.Equal(t, 200, a.Code, a.Raw)
			assert.Equal(t, "application/json", a.Header.Get("Content-Type"))
			assert.Equal(t, "success", a.Body["status"])
			assert.EqualValues(t, 1, a.Body["incidents_created"])
			inc := a.Body["incidents"].([]any)[0].(map[string]any)
			_, err := uuid.Parse(inc["id"].(string))
			assert.NoError(t, err)
			assert.Equal(t, "TestAlert", inc["title"])
			assert.Equal(t, "test123", inc["fingerprint"])

			a = c.post(t, "/webhooks/alertmanager", curl)
			assert.Equal(t, 200, a.Code)
			assert.JSONEq(t, `{"status":"duplicate","message":"Alert already processed","fingerprint":"test123"}`, a.Raw)

			a = c.post(t, "/webhooks/prometheus/"+promID, fixture(t, "alertmanager/seed-example.json"), "X-Webhook-Secret", "wrong")
			assert.Equal(t, 403, a.Code)
			assert.JSONEq(t, `{"detail":"Invalid webhook secret"}`, a.Raw)

			a = c.post(t, "/webhooks/prometheus/550e8400-e29b-41d4-a716-446655440001", fixture(t, "alertmanager/seed-example.json"))
			assert.Equal(t, 404, a.Code)
			assert.JSONEq(t, `{"detail":"Integration not found: 550e8400-e29b-41d4-a716-446655440001"}`, a.Raw)

			a = c.post(t, "/webhooks/alertmanager", []byte(`{"version":"4","status":"firing"}`))
			assert.Equal(t, 400, a.Code)
			assert.JSONEq(t, `{"detail":"Invalid webhook payload: missing required field 'alerts'"}`, a.Raw)

			resp, err := http.Get(c.base + "/health")
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, 200, resp.StatusCode)

			db := st.db(t)
			assert.Equal(t, 1, count(t, db, "fingerprint = 'test123' AND status = 'open' AND occurrences = 2"))
		})
	}
}

func TestGrafanaAndPrometheusPush(t *testing.T) {
	st := sqliteStore(t)
	c := startCollector(t, st, defaultPipeline)
	a := c.post(t, "/webhooks/grafana/"+grafID, fixture(t, "grafana/docs-example.json"), "Authorization", "Bearer "+grafSecret)
	require.Equal(t, 200, a.Code, a.Raw)
	assert.EqualValues(t, 2, a.Body["incidents_created"])

	a = c.post(t, "/webhooks/grafana/"+hmacID, fixture(t, "grafana/seed-example.json"),
		"X-Grafana-Alerting-Signature", "191240e9e9da1968e0ce1f8205aee4bcd2ae446e1c59f6de717e11bd62d73700")
	require.Equal(t, 200, a.Code, a.Raw)
	assert.EqualValues(t, 1, a.Body["incidents_created"])
	a = c.post(t, "/webhooks/grafana/"+hmacID, fixture(t, "grafana/seed-example.json"), "Authorization", "Bearer "+hmacSecret)
	assert.Equal(t, 403, a.Code, "an HMAC integration wants the signature, not the bare secret")

	push := "/webhooks/prometheus/" + promID + "/api/v2/alerts"
	a = c.post(t, push, fixture(t, "prometheus/push-firing.json"), "X-Webhook-Secret", promSecret)
	require.Equal(t, 200, a.Code, a.Raw)
	assert.EqualValues(t, 2, a.Body["incidents_created"])
	a = c.post(t, push, fixture(t, "prometheus/push-resolved.json"), "X-Webhook-Secret", promSecret)
	require.Equal(t, 200, a.Code, a.Raw)
	assert.EqualValues(t, 1, a.Body["incidents_resolved"])

	db := st.db(t)
	assert.Equal(t, 1, count(t, db, "fingerprint = '21473860c0a3436e' AND dedup_scope = $1 AND status = 'resolved'", promID))
	assert.Equal(t, 1, count(t, db, "title = 'High memory usage' AND source = 'grafana'"))
}

// Standard processors between the receiver and the exporter change what is stored.
func TestProcessorsInThePipeline(t *testing.T) {
	st := sqliteStore(t)
	c := startCollector(t, st, defaultPipeline)
	platform := []byte(`{"alerts":[{"status":"firing","labels":{"alertname":"DiskFull","severity":"critical","team":"platform"},"startsAt":"2026-11-28T10:00:00Z"}]}`)
	a := c.post(t, "/webhooks/alertmanager", platform)
	require.Equal(t, 200, a.Code, a.Raw)
	db := st.db(t)
	assert.Equal(t, 1, count(t, db, "title = 'DiskFull' AND severity = 'low'"), "transform rewrote incident.severity")

	testAlert := []byte(`{"alerts":[{"status":"firing","labels":{"alertname":"Canary","environment":"test"}}]}`)
	a = c.post(t, "/webhooks/alertmanager", testAlert)
	assert.Equal(t, 200, a.Code)
	assert.JSONEq(t, `{"status":"accepted","alerts_received":1}`, a.Raw, "filtered out: nothing stored, nothing to report")
	assert.Equal(t, 0, count(t, db, "title = 'Canary'"))
}

// With the batch processor the pipeline is asynchronous: the answer is
// "accepted" and the incident lands shortly after.
func TestBatchProcessorAnswersAccepted(t *testing.T) {
	st := sqliteStore(t)
	c := startCollector(t, st, `      receivers: [alertwebhook]
      processors: [batch]
      exporters: [incident, debug]
`)
	a := c.post(t, "/webhooks/alertmanager", fixture(t, "alertmanager/seed-example.json"))
	require.Equal(t, 200, a.Code, a.Raw)
	assert.JSONEq(t, `{"status":"accepted","alerts_received":1}`, a.Raw)
	db := st.db(t)
	eventually(t, 10*time.Second, "the batched incident", func() bool {
		return count(t, db, "fingerprint = 'abc123def456'") == 1
	})
}

// Debug logging is on in the suite: no secret may reach the output.
func TestNoSecretInOutput(t *testing.T) {
	st := sqliteStore(t)
	c := startCollector(t, st, defaultPipeline)
	body := fixture(t, "alertmanager/seed-example.json")
	for _, h := range [][]string{
		{"X-Webhook-Secret", promSecret},
		{"X-Webhook-Secret", promSecret + "-wrong"},
		{"Authorization", "Bearer " + promSecret},
		{"Authorization", "Basic YWxlcnRtYW5hZ2VyOnBheW1lbnRzLXNlY3JldA=="},
	} {
		a := c.post(t, "/webhooks/prometheus/"+promID, body, h...)
		assert.NotContains(t, a.Raw, promSecret)
	}
	graf := fixture(t, "grafana/seed-example.json")
	for _, sig := range []string{"191240e9e9da1968e0ce1f8205aee4bcd2ae446e1c59f6de717e11bd62d73700", "00", hmacSecret} {
		a := c.post(t, "/webhooks/grafana/"+hmacID, graf, "X-Grafana-Alerting-Signature", sig)
		assert.NotContains(t, a.Raw, hmacSecret)
	}
	a := c.post(t, "/webhooks/grafana/"+grafID, graf, "Authorization", "Bearer "+grafSecret+"-wrong")
	assert.NotContains(t, a.Raw, grafSecret)
	// Each of the 8 requests is logged just after its answer.
	eventually(t, 5*time.Second, "the debug log of every answer", func() bool {
		logged := 0
		for line := range strings.Lines(c.output.String()) {
			if strings.Contains(line, "Webhook answered") &&
				(strings.Contains(line, promID) || strings.Contains(line, hmacID) || strings.Contains(line, grafID)) {
				logged++
			}
		}
		return logged >= 8
	})
	out := c.output.String()
	for _, secret := range []string{promSecret, grafSecret, hmacSecret, "YWxlcnRtYW5hZ2VyOnBheW1lbnRzLXNlY3JldA=="} {
		assert.False(t, strings.Contains(out, secret), "secret %q in collector output", secret) //nolint:testifylint // NotContains would print the whole collector log
	}
	assert.Contains(t, out, "Webhook answered", "debug logging is on, so the check above means something")
	record(t, "secrets", "debug logging; right and wrong secrets as X-Webhook-Secret, Bearer, Basic; right and wrong HMAC signatures",
		"no secret value in the collector's output nor in any response body")
}
