package alertwebhookreceiver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter"
)

var (
	promBasic  = map[string]string{"Authorization": "Basic YWxlcnRtYW5hZ2VyOnBheW1lbnRzLXNlY3JldA=="} // real-headers.txt 004
	grafBearer = map[string]string{"Authorization": "Bearer " + grafSecret}
)

// The answer table of the README (Endpoints and answers), driven by the
// shared fixtures, in delivery order: the dedup state carries from one row
// to the next.
func TestAnswerTable(t *testing.T) {
	store := newStoreConsumer(t)
	cfg := testConfig()
	cfg.HTTP.MaxRequestBodySize = 64 << 10
	_, base := startReceiver(t, cfg, store)

	steps := []struct {
		name    string
		method  string
		path    string
		body    []byte
		headers map[string]string
		code    int
		want    string // exact JSON body
		header  map[string]string
	}{
		{
			name: "spec curl example creates", path: "/webhooks/alertmanager", body: fixture(t, "alertmanager/seed-curl-test.json"),
			code: 200, want: `{"status":"success","incidents_created":1,"incidents":[{"id":"inc-test123","title":"TestAlert","fingerprint":"test123"}],"incidents_resolved":0,"incidents_reopened":0,"alerts_grouped":0,"duplicates":0}`,
		},
		{
			name: "spec curl example again is a duplicate", path: "/webhooks/alertmanager", body: fixture(t, "alertmanager/seed-curl-test.json"),
			code: 200, want: `{"status":"duplicate","message":"Alert already processed","fingerprint":"test123"}`,
		},
		{
			name: "spec example", path: "/webhooks/alertmanager", body: fixture(t, "alertmanager/seed-example.json"),
			code: 200, want: `{"status":"success","incidents_created":1,"incidents":[{"id":"inc-abc123def456","title":"HighErrorRate","fingerprint":"abc123def456"}],"incidents_resolved":0,"incidents_reopened":0,"alerts_grouped":0,"duplicates":0}`,
		},
		{
			name: "real single firing", path: "/webhooks/alertmanager", body: fixture(t, "alertmanager/real-01-single-firing.json"),
			code: 200, want: `{"status":"success","incidents_created":1,"incidents":[{"id":"inc-9514808f6c150add","title":"PodCrashLooping","fingerprint":"9514808f6c150add"}],"incidents_resolved":0,"incidents_reopened":0,"alerts_grouped":0,"duplicates":0}`,
		},
		{
			name: "real notification of two", path: "/webhooks/alertmanager", body: fixture(t, "alertmanager/real-02-group-two-firing.json"),
			code: 200, want: `{"status":"success","incidents_created":2,"incidents":[{"id":"inc-21473860c0a3436e","title":"HighErrorRate","fingerprint":"21473860c0a3436e"},{"id":"inc-ca83fc25b3aceae7","title":"HighErrorRate","fingerprint":"ca83fc25b3aceae7"}],"incidents_resolved":0,"incidents_reopened":0,"alerts_grouped":0,"duplicates":0}`,
		},
		{
			name: "real unicode description", path: "/webhooks/alertmanager", body: fixture(t, "alertmanager/real-03-unicode-description.json"),
			code: 200,
		},
		{
			name: "real per-project, truncated, basic auth", path: "/webhooks/prometheus/" + promID, body: fixture(t, "alertmanager/real-04-project-truncated.json"),
			headers: promBasic,
			code:    200, want: `{"status":"success","incidents_created":2,"incidents":[{"id":"inc-f50c5971087c1fef","title":"PaymentsLatency","fingerprint":"f50c5971087c1fef"},{"id":"inc-bf05eae9f8388f06","title":"PaymentsLatency","fingerprint":"bf05eae9f8388f06"}],"incidents_resolved":0,"incidents_reopened":0,"alerts_grouped":0,"duplicates":0}`,
		},
		{
			name: "real one resolved one still firing", path: "/webhooks/alertmanager", body: fixture(t, "alertmanager/real-05-one-resolved-one-firing.json"),
			code: 200, want: `{"status":"success","incidents_created":0,"incidents":[],"incidents_resolved":1,"incidents_reopened":0,"alerts_grouped":0,"duplicates":1}`,
		},
		{
			name: "real all resolved", path: "/webhooks/alertmanager", body: fixture(t, "alertmanager/real-06-all-resolved.json"),
			code: 200,
		},
		{
			name: "grafana spec example with bearer", path: "/webhooks/grafana/" + grafID, body: fixture(t, "grafana/seed-example.json"),
			headers: grafBearer,
			code:    200, want: `{"status":"success","incidents_created":1,"incidents":[{"id":"inc-ghi789jkl012","title":"HighLatency","fingerprint":"ghi789jkl012"}],"incidents_resolved":0,"incidents_reopened":0,"alerts_grouped":0,"duplicates":0}`,
		},
		{
			name: "grafana docs example", path: "/webhooks/grafana/" + grafID, body: fixture(t, "grafana/docs-example.json"),
			headers: grafBearer,
			code:    200, want: `{"status":"success","incidents_created":2,"incidents":[{"id":"inc-c6eadffa33fcdf37","title":"High memory usage","fingerprint":"c6eadffa33fcdf37"},{"id":"inc-bc97ff14869b13e3","title":"High CPU usage","fingerprint":"bc97ff14869b13e3"}],"incidents_resolved":0,"incidents_reopened":0,"alerts_grouped":0,"duplicates":0}`,
		},
		{
			name: "prometheus push firing", path: "/webhooks/prometheus/" + promID + "/api/v2/alerts", body: fixture(t, "prometheus/push-firing.json"),
			headers: map[string]string{"X-Webhook-Secret": promSecret},
			code:    200, want: `{"status":"success","incidents_created":2,"incidents":[{"id":"inc-21473860c0a3436e","title":"HighErrorRate","fingerprint":"21473860c0a3436e"},{"id":"inc-093e8de9fc27b735","title":"DiskAlmostFull","fingerprint":"093e8de9fc27b735"}],"incidents_resolved":0,"incidents_reopened":0,"alerts_grouped":0,"duplicates":0}`,
		},
		{
			name: "prometheus push resolved", path: "/webhooks/prometheus/" + promID + "/api/v2/alerts", body: fixture(t, "prometheus/push-resolved.json"),
			headers: map[string]string{"Authorization": "Bearer " + promSecret},
			code:    200, want: `{"status":"success","incidents_created":0,"incidents":[],"incidents_resolved":1,"incidents_reopened":0,"alerts_grouped":0,"duplicates":0}`,
		},
		{
			name: "malformed JSON", path: "/webhooks/alertmanager", body: []byte(`{"alerts": [`),
			code: 400, want: `{"detail":"Invalid webhook payload: malformed JSON at byte 12: unexpected end of JSON input"}`,
		},
		{
			name: "missing alerts", path: "/webhooks/alertmanager", body: []byte(`{"version":"4","status":"firing"}`),
			code: 400, want: `{"detail":"Invalid webhook payload: missing required field 'alerts'"}`,
		},
		{
			name: "alerts of the wrong type", path: "/webhooks/alertmanager", body: []byte(`{"alerts":{"a":1}}`),
			code: 400, want: `{"detail":"Invalid webhook payload: field 'alerts' must be an array"}`,
		},
		{
			name: "empty alerts", path: "/webhooks/alertmanager", body: []byte(`{"alerts":[]}`),
			code: 400, want: `{"detail":"Invalid webhook payload: field 'alerts' is empty"}`,
		},
		{
			name: "array to a notification endpoint", path: "/webhooks/alertmanager", body: fixture(t, "prometheus/push-firing.json"),
			code: 400, want: `{"detail":"Invalid webhook payload: expected a JSON object"}`,
		},
		{
			name: "alert without alertname is stored under its labels", path: "/webhooks/alertmanager", body: []byte(`{"alerts":[{"status":"firing","labels":{"severity":"critical"}}]}`),
			code: 200, want: `{"status":"success","incidents_created":1,"incidents":[{"id":"inc-7a04f652d0a42a9b","title":"{severity=\"critical\"}","fingerprint":"7a04f652d0a42a9b"}],"incidents_resolved":0,"incidents_reopened":0,"alerts_grouped":0,"duplicates":0}`,
		},
		{
			name: "only alert has no label value", path: "/webhooks/alertmanager", body: []byte(`{"alerts":[{"status":"firing","labels":{"alertname":""}}]}`),
			code: 400, want: `{"detail":"Invalid webhook payload: alerts[0]: field 'labels' has no label with a value"}`,
		},
		{
			name: "one bad alert does not sink the notification", path: "/webhooks/alertmanager",
			body: []byte(`{"alerts":[{"status":"firing","labels":{"alertname":"Good","instance":"x"}},{"status":"firing","labels":{"alertname":7}},{"status":"burning","labels":{"alertname":"Odd"}}]}`),
			code: 200, want: `{"status":"success","incidents_created":1,"incidents":[{"id":"inc-c0b07630fcdb0318","title":"Good","fingerprint":"c0b07630fcdb0318"}],"incidents_resolved":0,"incidents_reopened":0,"alerts_grouped":0,"duplicates":0,"rejected":[{"index":1,"reason":"field 'labels' must map names to strings, got JSON number"},{"index":2,"reason":"field 'status' must be 'firing' or 'resolved', got \"burning\""}]}`,
		},
		{
			name: "wrong secret", path: "/webhooks/prometheus/" + promID, body: fixture(t, "alertmanager/real-04-project-truncated.json"),
			headers: map[string]string{"X-Webhook-Secret": "nope"},
			code:    403, want: `{"detail":"Invalid webhook secret"}`,
		},
		{
			name: "missing secret", path: "/webhooks/prometheus/" + promID, body: fixture(t, "alertmanager/real-04-project-truncated.json"),
			code: 403, want: `{"detail":"Invalid webhook secret"}`,
		},
		{
			name: "unknown integration", path: "/webhooks/prometheus/550e8400-e29b-41d4-a716-000000000000", body: fixture(t, "alertmanager/seed-example.json"),
			code: 404, want: `{"detail":"Integration not found: 550e8400-e29b-41d4-a716-000000000000"}`,
		},
		{
			name: "type in the path does not match", path: "/webhooks/grafana/" + promID, body: fixture(t, "grafana/seed-example.json"),
			headers: map[string]string{"X-Webhook-Secret": promSecret},
			code:    404, want: `{"detail":"Integration not found: ` + promID + `"}`,
		},
		{
			name: "unknown type", path: "/webhooks/datadog/x", body: fixture(t, "alertmanager/seed-example.json"),
			code: 404, want: `{"detail":"Unknown integration type: datadog"}`,
		},
		{
			name: "outside /webhooks", path: "/api/v1/alerts", body: fixture(t, "alertmanager/seed-example.json"),
			code: 404, want: `{"detail":"Not found"}`,
		},
		{
			name: "wrong method", method: http.MethodGet, path: "/webhooks/alertmanager",
			code: 405, want: `{"detail":"Method GET not allowed: use POST"}`, header: map[string]string{"Allow": "POST"},
		},
		{
			name: "body over the limit", path: "/webhooks/alertmanager", body: []byte(`{"alerts":[],"pad":"` + strings.Repeat("x", 70<<10) + `"}`),
			code: 413, want: `{"detail":"Request body exceeds the limit of 65536 bytes"}`,
		},
		{
			name: "wrong content type", path: "/webhooks/alertmanager", body: fixture(t, "alertmanager/seed-example.json"),
			headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			code:    415, want: `{"detail":"Unsupported Content-Type \"application/x-www-form-urlencoded\": send application/json"}`,
		},
		{
			name: "health", method: http.MethodGet, path: "/health",
			code: 200, want: `{"status":"healthy"}`,
		},
		{
			name: "health by POST", path: "/health",
			code: 405, want: `{"detail":"Method POST not allowed: use GET"}`, header: map[string]string{"Allow": "GET, HEAD"},
		},
	}
	for _, s := range steps {
		method := s.method
		if method == "" {
			method = http.MethodPost
		}
		resp := do(t, method, base+s.path, s.body, s.headers)
		assert.Equal(t, s.code, resp.code, "%s: %s", s.name, resp.body)
		assert.Equal(t, "application/json", resp.header.Get("Content-Type"), s.name)
		if s.want != "" {
			assert.JSONEq(t, s.want, storeIDsByFingerprint(t, resp.body), s.name)
		}
		for k, v := range s.header {
			assert.Equal(t, v, resp.header.Get(k), "%s: header %s", s.name, k)
		}
	}
	// Every alert accepted above reached the pipeline exactly once:
	// 1+1+1+1+2+1+2+2+1 Alertmanager, 1+2 Grafana, 2+1 pushed, 1 without alertname,
	// 1 from the partly bad notification.
	assert.Len(t, allRecords(&store.LogsSink), 20)
}

// storeIDsByFingerprint checks that each created incident's id is a UUIDv7
// from the store and puts "inc-<fingerprint>" in its place, so that answers
// compare whole.
func storeIDsByFingerprint(t *testing.T, body []byte) string {
	t.Helper()
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return string(body)
	}
	incidents, _ := m["incidents"].([]any)
	for _, x := range incidents {
		ref := x.(map[string]any)
		id, err := uuid.Parse(ref["id"].(string))
		if assert.NoError(t, err, "incident id %v", ref["id"]) {
			assert.Equal(t, uuid.Version(7), id.Version())
		}
		ref["id"] = "inc-" + ref["fingerprint"].(string)
	}
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return string(out)
}

func TestRetryableConsumerErrorIs503WithRetryAfter(t *testing.T) {
	store := newStoreConsumer(t)
	store.fail(errors.New("store unavailable: connection refused"))
	_, base := startReceiver(t, testConfig(), store)
	resp := post(t, base+"/webhooks/alertmanager", fixture(t, "alertmanager/seed-example.json"), nil)
	assert.Equal(t, http.StatusServiceUnavailable, resp.code)
	assert.Equal(t, "5", resp.header.Get("Retry-After"))
	assert.JSONEq(t, `{"detail":"Alerts could not be stored now, retry later"}`, string(resp.body))
	assert.NotContains(t, string(resp.body), "connection refused")
}

func TestPermanentConsumerErrorIsNot503(t *testing.T) {
	store := newStoreConsumer(t)
	store.fail(consumererror.NewPermanent(errors.New("cannot store")))
	_, base := startReceiver(t, testConfig(), store)
	resp := post(t, base+"/webhooks/alertmanager", fixture(t, "alertmanager/seed-example.json"), nil)
	assert.Equal(t, http.StatusBadRequest, resp.code)
	assert.Empty(t, resp.header.Get("Retry-After"))
	assert.JSONEq(t, `{"detail":"Alerts rejected permanently by the collector pipeline"}`, string(resp.body))
}

// A consumer that blocks until the request's context ends: the sender still
// gets an answer (the exporter timeout would end it in a real pipeline).
func TestConsumerHonoursContextDeadline(t *testing.T) {
	blocking := consumerFunc(func(ctx context.Context, _ plog.Logs) error {
		<-ctx.Done()
		return ctx.Err()
	})
	_, base := startReceiver(t, testConfig(), blocking)
	client := &http.Client{Timeout: 500 * 1e6}
	req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/alertmanager", strings.NewReader(string(fixture(t, "alertmanager/seed-example.json"))))
	resp, err := client.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	require.Error(t, err, "the client gave up; the server must not crash or leak the goroutine (goleak checks)")
}

// With an asynchronous pipeline (or processors that drop every record) no
// verdict comes back: the answer is "accepted".
func TestAcceptedWhenNoVerdict(t *testing.T) {
	sink := new(consumertest.LogsSink)
	_, base := startReceiver(t, testConfig(), sink)
	resp := post(t, base+"/webhooks/alertmanager", fixture(t, "alertmanager/real-02-group-two-firing.json"), nil)
	assert.Equal(t, http.StatusOK, resp.code)
	assert.JSONEq(t, `{"status":"accepted","alerts_received":2}`, string(resp.body))
	assert.Len(t, allRecords(sink), 2)
}

func TestLateVerdictIsIgnored(t *testing.T) {
	done := make(chan struct{})
	store := newStoreConsumer(t)
	late := consumerFunc(func(ctx context.Context, ld plog.Logs) error {
		if isInventory(ld) {
			return nil
		}
		// Report after the answer went out, as an in-memory sending queue would.
		go func() {
			defer close(done)
			<-ctx.Done()
			_ = store.ConsumeLogs(context.WithoutCancel(ctx), ld)
		}()
		return nil
	})
	_, base := startReceiver(t, testConfig(), late)
	resp := post(t, base+"/webhooks/alertmanager", fixture(t, "alertmanager/seed-example.json"), nil)
	assert.JSONEq(t, `{"status":"accepted","alerts_received":1}`, string(resp.body))
	<-done
}

func TestDuplicateListsEveryFingerprint(t *testing.T) {
	store := newStoreConsumer(t)
	_, base := startReceiver(t, testConfig(), store)
	body := fixture(t, "alertmanager/real-02-group-two-firing.json")
	require.Equal(t, 200, post(t, base+"/webhooks/alertmanager", body, nil).code)
	resp := post(t, base+"/webhooks/alertmanager", body, nil)
	assert.JSONEq(t, `{"status":"duplicate","message":"Alert already processed","fingerprint":"21473860c0a3436e","fingerprints":["21473860c0a3436e","ca83fc25b3aceae7"]}`, string(resp.body))
}

func TestGlobalEndpointDisabled(t *testing.T) {
	cfg := testConfig()
	cfg.Alertmanager.Enabled = false
	_, base := startReceiver(t, cfg, newStoreConsumer(t))
	resp := post(t, base+"/webhooks/alertmanager", fixture(t, "alertmanager/seed-example.json"), nil)
	assert.Equal(t, http.StatusNotFound, resp.code)
	assert.JSONEq(t, `{"detail":"Integration not found: alertmanager"}`, string(resp.body))
}

// The heartbeat that resolves its integration's heartbeat incident is
// answered with that incident counted as resolved.
func TestHeartbeatResolvingItsIncidentIsCounted(t *testing.T) {
	store := newStoreConsumer(t, func(cfg *incidentexporter.Config) {
		cfg.Heartbeat = incidentexporter.HeartbeatConfig{Alertname: "Watchdog", Timeout: time.Second}
	})
	_, base := startReceiver(t, testConfig(), store)
	watchdog := []byte(`{"alerts":[{"status":"firing","labels":{"alertname":"Watchdog"},"fingerprint":"watchdog"}]}`)
	heartbeat := `{"status":"success","incidents_created":0,"incidents":[],"incidents_resolved":0,"incidents_reopened":0,"alerts_grouped":0,"heartbeats":1,"duplicates":0}`
	assert.JSONEq(t, heartbeat, string(post(t, base+"/webhooks/alertmanager", watchdog, nil).body))
	require.Eventually(t, func() bool {
		return store.count(t, "source = 'heartbeat' AND status = 'open'") == 1
	}, 10*time.Second, 50*time.Millisecond, "the heartbeat incident opens once the Watchdog is silent")

	resp := post(t, base+"/webhooks/alertmanager", watchdog, nil)
	assert.JSONEq(t, `{"status":"success","incidents_created":0,"incidents":[],"incidents_resolved":1,"incidents_reopened":0,"alerts_grouped":0,"heartbeats":1,"duplicates":0}`,
		string(resp.body))
	assert.Equal(t, 1, store.count(t, "source = 'heartbeat' AND status = 'resolved'"))
	assert.JSONEq(t, heartbeat, string(post(t, base+"/webhooks/alertmanager", watchdog, nil).body), "nothing left to resolve")
}

type consumerFunc func(context.Context, plog.Logs) error

func (f consumerFunc) ConsumeLogs(ctx context.Context, ld plog.Logs) error { return f(ctx, ld) }
func (consumerFunc) Capabilities() consumer.Capabilities                   { return consumer.Capabilities{} }
