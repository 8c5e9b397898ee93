package alertwebhookreceiver

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

// recordsOf posts body to path and returns the records the pipeline got.
func recordsOf(t *testing.T, cfg *Config, path string, body []byte, headers map[string]string) []plog.LogRecord {
	t.Helper()
	store := newStoreConsumer(t)
	_, base := startReceiver(t, cfg, store)
	resp := post(t, base+path, body, headers)
	require.Equal(t, 200, resp.code, string(resp.body))
	return allRecords(&store.LogsSink)
}

func attrMap(lr plog.LogRecord) map[string]any { return lr.Attributes().AsRaw() }

func TestRecordFromSpecCurlExample(t *testing.T) {
	before := time.Now()
	recs := recordsOf(t, testConfig(), "/webhooks/alertmanager", fixture(t, "alertmanager/seed-curl-test.json"), nil)
	require.Len(t, recs, 1)
	lr := recs[0]
	assert.Equal(t, incident.EventName, lr.EventName())
	assert.Equal(t, "high", lr.SeverityText(), "warning maps to high")
	assert.Equal(t, plog.SeverityNumberError, lr.SeverityNumber())
	assert.Equal(t, "This is a test alert", lr.Body().Str())
	assert.Equal(t, time.Date(2026, 1, 24, 12, 0, 0, 0, time.UTC), lr.Timestamp().AsTime())
	assert.False(t, lr.ObservedTimestamp().AsTime().Before(before.Truncate(time.Microsecond)))
	assert.Equal(t, map[string]any{
		"incident.title":           "TestAlert",
		"incident.description":     "This is a test alert",
		"incident.service_name":    "test-service",
		"incident.severity":        "high",
		"incident.detected_at":     "2026-01-24T12:00:00Z",
		"alert.fingerprint":        "test123",
		"alert.status":             "firing",
		"alert.starts_at":          "2026-01-24T12:00:00Z",
		"alert.labels":             map[string]any{"alertname": "TestAlert", "severity": "warning", "service": "test-service"},
		"alert.annotations":        map[string]any{"summary": "Test alert", "description": "This is a test alert"},
		"alert.source":             "alertmanager",
		"alert.truncated_alerts":   int64(0),
		"webhook.integration.id":   "alertmanager",
		"webhook.integration.type": "alertmanager",
		"webhook.alert.index":      int64(0),
	}, attrMap(lr))
}

func TestRecordsFromTruncatedProjectNotification(t *testing.T) {
	recs := recordsOf(t, testConfig(), "/webhooks/prometheus/"+promID, fixture(t, "alertmanager/real-04-project-truncated.json"), promBasic)
	require.Len(t, recs, 2)
	a := attrMap(recs[1])
	assert.Equal(t, "bf05eae9f8388f06", a["alert.fingerprint"])
	assert.Equal(t, int64(1), a["alert.truncated_alerts"])
	assert.Equal(t, "project-payments", a["alert.receiver"])
	assert.Equal(t, `{}/{project="payments"}:{alertname="PaymentsLatency"}`, a["alert.group_key"])
	assert.Equal(t, "http://alertmanager:9093", a["alert.external_url"])
	assert.Equal(t, promID, a["webhook.integration.id"])
	assert.Equal(t, "prometheus", a["webhook.integration.type"])
	assert.Equal(t, "payments", a["webhook.project"])
	assert.Equal(t, "alertmanager", a["alert.source"], "the payload is Alertmanager's")
	assert.Equal(t, "P99 latency > 1s for payments", a["incident.description"])
	assert.NotContains(t, a, "alert.generator_url", "sent empty")
}

func TestRecordsResolvedCarryEndsAt(t *testing.T) {
	recs := recordsOf(t, testConfig(), "/webhooks/alertmanager", fixture(t, "alertmanager/real-05-one-resolved-one-firing.json"), nil)
	require.Len(t, recs, 2)
	resolved, firing := attrMap(recs[0]), attrMap(recs[1])
	assert.Equal(t, "resolved", resolved["alert.status"])
	assert.Equal(t, "2026-11-28T19:55:00Z", resolved["alert.ends_at"])
	assert.Equal(t, "critical", resolved["incident.severity"])
	assert.Equal(t, plog.SeverityNumberFatal, recs[0].SeverityNumber())
	assert.Equal(t, "firing", firing["alert.status"])
	assert.NotContains(t, firing, "alert.ends_at")
	assert.Contains(t, resolved["alert.generator_url"], "http://prometheus:9090/graph?g0.expr=")
}

func TestRecordsFromGrafanaDocsExample(t *testing.T) {
	recs := recordsOf(t, testConfig(), "/webhooks/grafana/"+grafID, fixture(t, "grafana/docs-example.json"), grafBearer)
	require.Len(t, recs, 2)
	a := attrMap(recs[0])
	assert.Equal(t, "grafana", a["alert.source"])
	assert.Equal(t, "High memory usage", a["incident.title"])
	assert.Equal(t, "medium", a["incident.severity"], "no severity label")
	assert.Equal(t, "2021-10-12T07:51:03.157076Z", a["incident.detected_at"], "+02:00 offset normalised to UTC")
	assert.Equal(t, map[string]any{"B": 44.23943737541908, "C": float64(1)}, a["alert.values"])
	assert.Equal(t, int64(1), a["alert.org_id"])
	assert.Contains(t, a["alert.silence_url"], "https://play.grafana.org/alerting/silence/new")
	assert.NotContains(t, a, "alert.dashboard_url", "sent empty")
	assert.Equal(t, "observability", a["webhook.project"])
	assert.Equal(t, "grafana", a["webhook.integration.type"])
	assert.Equal(t, "c6eadffa33fcdf37", a["alert.fingerprint"])
}

func TestRecordsFromGrafanaSeedExample(t *testing.T) {
	recs := recordsOf(t, testConfig(), "/webhooks/grafana/"+grafID, fixture(t, "grafana/seed-example.json"), grafBearer)
	require.Len(t, recs, 1)
	a := attrMap(recs[0])
	assert.Equal(t, "http://grafana:3000/d/abc123", a["alert.dashboard_url"])
	assert.Equal(t, "http://grafana:3000/d/abc123?viewPanel=1", a["alert.panel_url"])
	assert.Equal(t, "api-gateway", a["incident.service_name"])
}

func TestPushedAlertStatusFromEndsAt(t *testing.T) {
	headers := map[string]string{"X-Webhook-Secret": promSecret}
	recs := recordsOf(t, testConfig(), "/webhooks/prometheus/"+promID+"/api/v2/alerts", fixture(t, "prometheus/push-firing.json"), headers)
	require.Len(t, recs, 2)
	a := attrMap(recs[0])
	assert.Equal(t, "firing", a["alert.status"], "endsAt in 2099")
	assert.Equal(t, "21473860c0a3436e", a["alert.fingerprint"], "same as Alertmanager's for the same labels")
	assert.Equal(t, "prometheus", a["alert.source"])
	assert.NotContains(t, a, "alert.truncated_alerts")
	b := attrMap(recs[1])
	assert.Equal(t, incident.Fingerprint(map[string]string{
		"alertname": "DiskAlmostFull", "severity": "warning", "service": "postgres", "job": "node", "instance": "db-1:9100",
	}, nil), b["alert.fingerprint"])
	assert.Equal(t, "2026-11-28T18:45:12.345Z", b["alert.starts_at"])
	assert.Equal(t, "Disk 92% full", b["incident.description"], "summary when no description")

	recs = recordsOf(t, testConfig(), "/webhooks/prometheus/"+promID+"/api/v2/alerts", fixture(t, "prometheus/push-resolved.json"), headers)
	require.Len(t, recs, 1)
	assert.Equal(t, "resolved", attrMap(recs[0])["alert.status"], "endsAt in the past")
	assert.Equal(t, "2026-11-28T19:55:00Z", attrMap(recs[0])["alert.ends_at"])
}

// A start the sender did not state (absent, empty, Go's zero time) is the
// receipt time for the record's Timestamp and incident.detected_at, and the
// record has no alert.starts_at: the exporter reads that as "not stated".
func TestMissingStartsAtUsesReceiptTime(t *testing.T) {
	at := time.Date(2026, 11, 28, 20, 0, 0, 0, time.UTC)
	for _, startsAt := range []string{``, `,"startsAt":""`, `,"startsAt":"0001-01-01T00:00:00Z"`, `,"startsAt":null`} {
		t.Run(startsAt, func(t *testing.T) {
			sink := new(consumertest.LogsSink)
			_, base := startReceiver(t, testConfig(), sink, func(r *alertReceiver) { r.now = func() time.Time { return at } })
			resp := post(t, base+"/webhooks/alertmanager", []byte(`{"alerts":[{"labels":{"alertname":"NoTimes"}`+startsAt+`}]}`), nil)
			require.Equal(t, 200, resp.code, string(resp.body))
			recs := allRecords(sink)
			require.Len(t, recs, 1)
			assert.Equal(t, pcommon.NewTimestampFromTime(at), recs[0].Timestamp())
			assert.Equal(t, "2026-11-28T20:00:00Z", attrMap(recs[0])[incident.AttrDetectedAt])
			assert.NotContains(t, attrMap(recs[0]), incident.AttrStartsAt, "the start was not stated")
			assert.Equal(t, "firing", attrMap(recs[0])["alert.status"], "no status and no endsAt")
			assert.Equal(t, "NoTimes", recs[0].Body().Str(), "alertname when no description nor summary")
		})
	}
}

func TestFingerprintRecompute(t *testing.T) {
	cfg := testConfig()
	cfg.Fingerprint = FingerprintConfig{Recompute: true, IgnoreLabels: []string{"replica"}}
	body := []byte(`{"alerts":[
		{"status":"firing","labels":{"alertname":"HighLatency","job":"api","severity":"page","replica":"a"},"fingerprint":"senders-own"},
		{"status":"firing","labels":{"alertname":"HighLatency","job":"api","severity":"page","replica":"b"},"fingerprint":"another"}]}`)
	recs := recordsOf(t, cfg, "/webhooks/alertmanager", body, nil)
	require.Len(t, recs, 2)
	assert.Equal(t, "a105e054dfb59f59", attrMap(recs[0])["alert.fingerprint"])
	assert.Equal(t, "a105e054dfb59f59", attrMap(recs[1])["alert.fingerprint"])
	assert.Equal(t, map[string]any{"alertname": "HighLatency", "job": "api", "severity": "page", "replica": "b"},
		attrMap(recs[1])["alert.labels"], "labels are kept whole")
}

// Invalid UTF-8 is replaced, never passed on: pdata, OTLP and PostgreSQL all need valid text.
func TestInvalidUTF8IsReplaced(t *testing.T) {
	body := []byte("{\"alerts\":[{\"status\":\"firing\",\"labels\":{\"alertname\":\"Disk\xff\xfeFull\"}}]}")
	recs := recordsOf(t, testConfig(), "/webhooks/alertmanager", body, nil)
	require.Len(t, recs, 1)
	title := attrMap(recs[0])["incident.title"].(string)
	assert.True(t, utf8.ValidString(title))
	assert.Equal(t, "Disk\uFFFD\uFFFDFull", title)
}

// Without an alertname the incident is titled by the summary, else by its
// labels; the record's title and body follow.
func TestTitleFallback(t *testing.T) {
	long := strings.Repeat("é", 200) // 400 bytes
	tests := []struct {
		name  string
		alert string
		title string
		body  string
	}{
		{"alertname", `{"labels":{"alertname":"Disk","a":"b"},"annotations":{"summary":"S"}}`, "Disk", "S"},
		{"summary", `{"labels":{"service":"api"},"annotations":{"summary":"API down"}}`, "API down", "API down"},
		{"description is the body, summary the title", `{"labels":{"service":"api"},"annotations":{"summary":"API down","description":"All pods gone"}}`, "API down", "All pods gone"},
		{"labels sorted by name", `{"labels":{"severity":"critical","service":"api","empty":""}}`, `{service="api", severity="critical"}`, `{service="api", severity="critical"}`},
		{"labels quoted", `{"labels":{"path":"/a \"b\"\n"}}`, `{path="/a \"b\"\n"}`, `{path="/a \"b\"\n"}`},
		{"long summary bounded", `{"labels":{"a":"b"},"annotations":{"summary":"` + long + `"}}`, strings.Repeat("é", 128) + "…", long},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs := recordsOf(t, testConfig(), "/webhooks/alertmanager", []byte(`{"alerts":[`+tt.alert+`]}`), nil)
			require.Len(t, recs, 1)
			assert.Equal(t, tt.title, attrMap(recs[0])["incident.title"])
			assert.Equal(t, tt.body, recs[0].Body().Str())
		})
	}
}

func TestTitleOfManyLabelsIsBounded(t *testing.T) {
	labels := map[string]string{}
	for i := range 500 {
		labels[fmt.Sprintf("label_%03d", i)] = strings.Repeat("v", 50)
	}
	got := title(&alert{Labels: labels})
	assert.LessOrEqual(t, len(got), maxFallbackTitle+len("…"))
	assert.True(t, strings.HasPrefix(got, `{label_000="`+strings.Repeat("v", 50)+`", label_001=`), got)
	assert.True(t, strings.HasSuffix(got, "…"))
	assert.True(t, utf8.ValidString(got))
}

// A resolve whose fingerprint holds a NUL never resolves the incident of the
// fingerprint without it.
func TestNULFingerprintResolvesNothing(t *testing.T) {
	store := newStoreConsumer(t)
	_, base := startReceiver(t, testConfig(), store)
	require.Equal(t, 200, post(t, base+"/webhooks/alertmanager", []byte(`{"alerts":[{"labels":{"alertname":"T"},"fingerprint":"zzX"}]}`), nil).code)
	resp := post(t, base+"/webhooks/alertmanager", []byte(`{"alerts":[{"status":"resolved","labels":{"alertname":"T"},"fingerprint":"zz\u0000X"}]}`), nil)
	assert.Equal(t, http.StatusBadRequest, resp.code)
	assert.Equal(t, 1, store.count(t, "fingerprint = 'zzX' AND status = 'open'"), "still open")
}

// With recompute, the sender's fingerprint is not the identity and is not checked.
func TestRecomputedFingerprintIgnoresTheSendersOne(t *testing.T) {
	cfg := testConfig()
	cfg.Fingerprint.Recompute = true
	recs := recordsOf(t, cfg, "/webhooks/alertmanager", []byte(`{"alerts":[{"labels":{"alertname":"T"},"fingerprint":"zz\u0000X"}]}`), nil)
	require.Len(t, recs, 1)
	assert.Len(t, attrMap(recs[0])["alert.fingerprint"], 16)
}

// alert.group_key is the groupKey as sent, byte for byte: keys that differ
// only in invalid UTF-8 stay two keys.
func TestGroupKeyAttributeIsExact(t *testing.T) {
	sink := new(consumertest.LogsSink)
	_, base := startReceiver(t, testConfig(), sink)
	for _, key := range []string{"k\xff", "k\xfe", `k\udcff`, `{}:{alertname=\"X\"}`} {
		resp := post(t, base+"/webhooks/alertmanager", []byte(`{"groupKey":"`+key+`","alerts":[{"labels":{"alertname":"T"}}]}`), nil)
		require.Equal(t, 200, resp.code, string(resp.body))
	}
	recs := allRecords(sink)
	require.Len(t, recs, 4)
	var got []string
	for _, lr := range recs {
		got = append(got, attrMap(lr)[incident.AttrGroupKey].(string))
	}
	assert.Equal(t, []string{"k\xff", "k\xfe", "k\xed\xb3\xbf", `{}:{alertname="X"}`}, got)
}
