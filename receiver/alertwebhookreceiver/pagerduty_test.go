package alertwebhookreceiver

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

const (
	pdID  = "pagerduty"
	pdKey = "0123456789abcdef0123456789abcdef" // the routing_key of testdata/pagerduty/
)

// senderConfig is testConfig plus a pagerduty and a json integration.
func senderConfig() *Config {
	cfg := testConfig()
	cfg.Integrations = append(cfg.Integrations,
		IntegrationConfig{ID: pdID, Type: typePagerDuty, Secret: pdKey, Project: "storage"},
		IntegrationConfig{ID: jsonID, Type: typeJSON, Secret: jsonSecret, Project: "custom"},
	)
	return cfg
}

// event is a PagerDuty event with the test routing key; edit changes it.
func event(t *testing.T, action, dedupKey string, edit func(map[string]any)) []byte {
	t.Helper()
	ev := map[string]any{
		"routing_key": pdKey, "event_action": action,
		"payload": map[string]any{"summary": "Disk full on db-1", "source": "db-1", "severity": "error"},
	}
	if dedupKey != "" {
		ev["dedup_key"] = dedupKey
	}
	if edit != nil {
		edit(ev)
	}
	b, err := json.Marshal(ev)
	require.NoError(t, err)
	return b
}

func pdPost(t *testing.T, base string, body []byte) response {
	t.Helper()
	return post(t, base+"/webhooks/pagerduty/"+pdID+"/v2/enqueue", body, nil)
}

// PagerDuty's documented event becomes a record as §14 maps it, and the
// answer is PagerDuty's own.
func TestPagerDutyEventMapping(t *testing.T) {
	store := newStoreConsumer(t)
	_, base := startReceiver(t, senderConfig(), store)
	resp := pdPost(t, base, fixture(t, "pagerduty/docs-trigger.json"))
	require.Equal(t, http.StatusAccepted, resp.code, string(resp.body))
	assert.Equal(t, "application/json", resp.header.Get("Content-Type"))
	assert.JSONEq(t, `{"status":"success","message":"Event processed","dedup_key":"db-03/postgres/disk"}`, string(resp.body))

	recs := allRecords(&store.LogsSink)
	require.Len(t, recs, 1)
	lr := recs[0]
	started := time.Date(2026, 11, 28, 19, 4, 11, 250e6, time.UTC)
	assert.Equal(t, started, lr.Timestamp().AsTime())
	assert.Equal(t, "critical", lr.SeverityText())
	assert.Equal(t, plog.SeverityNumberFatal, lr.SeverityNumber())
	assert.Equal(t, "Disk at 97% on db-03.example.com", lr.Body().Str())
	assert.Equal(t, map[string]any{
		"incident.title":        "Disk at 97% on db-03.example.com",
		"incident.description":  "Disk at 97% on db-03.example.com",
		"incident.service_name": "postgres",
		"incident.severity":     "critical",
		"incident.detected_at":  "2026-11-28T19:04:11.25Z",
		"alert.fingerprint":     "db-03/postgres/disk",
		"alert.status":          "firing",
		"alert.starts_at":       "2026-11-28T19:04:11.25Z",
		"alert.labels": map[string]any{
			"source": "db-03.example.com", "component": "postgres", "group": "prod-orders", "class": "disk", "severity": "critical",
			"free space": "3%", "mount": "/var/lib/postgresql", // the string custom details; "load avg" is a number
		},
		"alert.annotations":        map[string]any{"summary": "Disk at 97% on db-03.example.com"},
		"alert.custom_details":     map[string]any{"free space": "3%", "mount": "/var/lib/postgresql", "load avg": 0.75},
		"alert.source":             "pagerduty",
		"alert.generator_url":      "https://monitoring.example.com/hosts/db-03",
		"webhook.alert.index":      int64(0),
		"webhook.integration.id":   pdID,
		"webhook.integration.type": "pagerduty",
		"webhook.project":          "storage",
	}, attrMap(lr))
	assert.Equal(t, 1, store.count(t, "fingerprint = 'db-03/postgres/disk' AND source = 'pagerduty' AND severity = 'critical' AND status = 'open' AND dedup_scope = $1", pdID))
}

func TestPagerDutySeverityAndDescription(t *testing.T) {
	store := newStoreConsumer(t)
	_, base := startReceiver(t, senderConfig(), store)
	for pd, want := range map[string]string{"critical": "critical", "error": "high", "warning": "medium", "info": "low"} {
		resp := pdPost(t, base, event(t, "trigger", "sev-"+pd, func(ev map[string]any) {
			ev["payload"].(map[string]any)["severity"] = pd
		}))
		require.Equal(t, http.StatusAccepted, resp.code, string(resp.body))
		assert.Equal(t, 1, store.count(t, "fingerprint = $1 AND severity = $2", "sev-"+pd, want), pd)
	}
	resp := pdPost(t, base, event(t, "trigger", "described", func(ev map[string]any) {
		ev["payload"].(map[string]any)["custom_details"] = map[string]any{"description": "The orders database is out of disk", "team": "storage"}
	}))
	require.Equal(t, http.StatusAccepted, resp.code, string(resp.body))
	assert.Equal(t, 1, store.count(t, "fingerprint = 'described' AND description = 'The orders database is out of disk' AND title = 'Disk full on db-1'"))
}

func TestPagerDutyLongSummaryIsCutForTheTitleOnly(t *testing.T) {
	store := newStoreConsumer(t)
	_, base := startReceiver(t, senderConfig(), store)
	long := strings.Repeat("é", 800) // 1 600 bytes
	resp := pdPost(t, base, event(t, "trigger", "long", func(ev map[string]any) { ev["payload"].(map[string]any)["summary"] = long }))
	require.Equal(t, http.StatusAccepted, resp.code, string(resp.body))
	attrs := allRecords(&store.LogsSink)[0].Attributes().AsRaw()
	assert.LessOrEqual(t, len(attrs[incident.AttrTitle].(string)), maxSummaryBytes)
	assert.True(t, strings.HasPrefix(long, strings.TrimSuffix(attrs[incident.AttrTitle].(string), "…")))
	assert.Equal(t, long, attrs[incident.AttrDescription])
}

// Without a dedup_key the key is computed from what names the problem:
// returned in the answer, the same for a repeat, another for another problem.
func TestPagerDutyComputedDedupKey(t *testing.T) {
	store := newStoreConsumer(t)
	_, base := startReceiver(t, senderConfig(), store)
	body := event(t, "trigger", "", func(ev map[string]any) {
		p := ev["payload"].(map[string]any)
		p["component"], p["group"], p["class"] = "postgres", "orders", "disk"
	})
	want := incident.Fingerprint(map[string]string{
		"source": "db-1", "summary": "Disk full on db-1", "component": "postgres", "group": "orders", "class": "disk",
	}, nil)
	first := pdPost(t, base, body)
	require.Equal(t, http.StatusAccepted, first.code, string(first.body))
	assert.Equal(t, want, first.json(t)["dedup_key"])
	again := pdPost(t, base, body)
	assert.Equal(t, want, again.json(t)["dedup_key"])
	assert.Equal(t, 1, store.count(t, "fingerprint = $1 AND occurrences = 2", want), "a repeat is a duplicate")

	other := pdPost(t, base, event(t, "trigger", "", nil))
	assert.NotEqual(t, want, other.json(t)["dedup_key"])
	assert.Equal(t, 2, store.count(t, "1 = 1"))
	// The key resolves what it opened.
	resolved := pdPost(t, base, event(t, "resolve", want, nil))
	require.Equal(t, http.StatusAccepted, resolved.code, string(resolved.body))
	assert.Equal(t, 1, store.count(t, "fingerprint = $1 AND status = 'resolved'", want))
}

// trigger, repeat, acknowledge (twice), resolve, on both paths; every valid
// event is a 202 whatever the store did.
func TestPagerDutyLifecycle(t *testing.T) {
	store := newStoreConsumer(t)
	_, base := startReceiver(t, senderConfig(), store)
	paths := []string{"/webhooks/pagerduty/" + pdID, "/webhooks/pagerduty/" + pdID + "/v2/enqueue"}
	accepted := func(i int, name string) {
		t.Helper()
		resp := post(t, base+paths[i%2], fixture(t, "pagerduty/"+name), nil)
		require.Equal(t, http.StatusAccepted, resp.code, "%s: %s", name, resp.body)
		assert.Equal(t, "db-03/postgres/disk", resp.json(t)["dedup_key"])
	}
	accepted(0, "docs-trigger.json")
	accepted(1, "docs-trigger.json")
	assert.Equal(t, 1, store.count(t, "occurrences = 2 AND status = 'open' AND acknowledged_at IS NULL"))
	accepted(0, "docs-acknowledge.json")
	assert.Equal(t, 1, store.count(t, "status = 'open' AND acknowledged_at IS NOT NULL AND acknowledged_by = 'pagerduty'"))
	accepted(1, "docs-acknowledge.json") // already acknowledged: unchanged
	accepted(0, "docs-resolve.json")
	assert.Equal(t, 1, store.count(t, "status = 'resolved' AND resolution_reason = 'alert_resolved'"))
	accepted(1, "docs-resolve.json")     // nothing fires: ignored
	accepted(0, "docs-acknowledge.json") // no incident holds it
	assert.Equal(t, 1, store.count(t, "1 = 1"))
	accepted(1, "docs-trigger.json") // its instance resolved: stays resolved
	assert.Equal(t, 1, store.count(t, "status = 'resolved'"))
}

// Alertmanager's pagerduty_configs, as captured from v0.31.1: its group is
// one alert, opened and resolved.
func TestPagerDutyFromAlertmanager(t *testing.T) {
	store := newStoreConsumer(t)
	_, base := startReceiver(t, senderConfig(), store)
	trigger := pdPost(t, base, fixture(t, "pagerduty/alertmanager-trigger.json"))
	require.Equal(t, http.StatusAccepted, trigger.code, string(trigger.body))
	const key = "83a50f9777378fd7e264b953b2c64d745515dd2ccee688247e1f970e7a31d2fe"
	assert.Equal(t, key, trigger.json(t)["dedup_key"])
	assert.Equal(t, 1, store.count(t, "fingerprint = $1 AND title = '[FIRING:1] PaymentsLatency payments (pay-1 critical)' AND severity = 'high' AND status = 'open'", key))
	recs := allRecords(&store.LogsSink)
	_, hasStart := recs[0].Attributes().Get(incident.AttrStartsAt)
	assert.False(t, hasStart, "no payload.timestamp: the start is unknown")
	assert.Equal(t, map[string]any{"source": "Alertmanager", "severity": "error"}, recs[0].Attributes().AsRaw()[incident.AttrLabels],
		"Alertmanager's custom_details hold no string")
	resolve := pdPost(t, base, fixture(t, "pagerduty/alertmanager-resolve.json"))
	require.Equal(t, http.StatusAccepted, resolve.code, string(resolve.body))
	assert.Equal(t, 1, store.count(t, "fingerprint = $1 AND status = 'resolved'", key))
}

// Each problem of an invalid event is named, as PagerDuty does.
func TestPagerDutyInvalidEvents(t *testing.T) {
	store := newStoreConsumer(t)
	_, base := startReceiver(t, senderConfig(), store)
	payload := func(k string, v any) func(map[string]any) {
		return func(ev map[string]any) { ev["payload"].(map[string]any)[k] = v }
	}
	tests := []struct {
		name string
		body []byte
		want []string
	}{
		{"no action, no payload", []byte(`{"routing_key":"` + pdKey + `"}`), []string{
			"'event_action' is missing: use trigger, acknowledge or resolve",
		}},
		{"unknown action", event(t, "escalate", "k", nil), []string{`'event_action' must be trigger, acknowledge or resolve, got "escalate"`}},
		{"trigger without payload", event(t, "trigger", "k", func(ev map[string]any) { delete(ev, "payload") }), []string{
			"'payload' is missing: a trigger needs summary, source and severity",
		}},
		{"trigger with an empty payload", event(t, "trigger", "k", func(ev map[string]any) { ev["payload"] = map[string]any{} }), []string{
			"'payload.summary' is missing", "'payload.source' is missing", "'payload.severity' is missing",
		}},
		{"payload not an object", event(t, "trigger", "k", func(ev map[string]any) { ev["payload"] = "disk full" }), []string{
			"'payload' must be an object, got JSON string",
		}},
		{"blank summary, bad severity", event(t, "trigger", "k", func(ev map[string]any) {
			ev["payload"] = map[string]any{"summary": "  ", "source": "db-1", "severity": "fatal"}
		}), []string{"'payload.summary' is blank", `'payload.severity' must be critical, error, warning or info, got "fatal"`}},
		{"summary a number", event(t, "trigger", "k", payload("summary", 42)), []string{"'payload.summary' must be a string, got JSON number"}},
		{"bad timestamp", event(t, "trigger", "k", payload("timestamp", "yesterday")), []string{`'payload.timestamp': "yesterday" is not an ISO 8601 timestamp`}},
		{"timestamp after 9999", event(t, "trigger", "k", payload("timestamp", "10000-01-01T00:00:00Z")), []string{
			`'payload.timestamp': "10000-01-01T00:00:00Z" is not an ISO 8601 timestamp`,
		}},
		{"custom_details not an object", event(t, "trigger", "k", payload("custom_details", "free: 3%")), []string{
			"'payload.custom_details' must be an object, got JSON string",
		}},
		{"resolve without dedup_key", event(t, "resolve", "", nil), []string{"'dedup_key' is required to resolve an alert"}},
		{"acknowledge without dedup_key", event(t, "acknowledge", "", nil), []string{"'dedup_key' is required to acknowledge an alert"}},
		{"dedup_key too long", event(t, "trigger", strings.Repeat("k", 300), nil), []string{"'dedup_key' of 300 bytes, more than the limit of 256"}},
		{"dedup_key with a NUL", event(t, "trigger", "a\x00b", nil), []string{"'dedup_key' contains a NUL character"}},
		{"dedup_key with a lone surrogate", []byte(`{"routing_key":"` + pdKey + `","event_action":"resolve","dedup_key":"k\udcff"}`), []string{
			"'dedup_key' is not valid UTF-8",
		}},
		{"dedup_key not a string", event(t, "resolve", "", func(ev map[string]any) { ev["dedup_key"] = 7 }), []string{
			"'dedup_key' must be a string, got JSON number", "'dedup_key' is required to resolve an alert",
		}},
		{"malformed JSON", []byte(`{"routing_key":"` + pdKey + `",`), []string{"malformed JSON at byte 50: unexpected end of JSON input"}},
		{"not an object", []byte(`[1]`), []string{"expected a JSON object (one PagerDuty event)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := pdPost(t, base, tt.body)
			require.Equal(t, http.StatusBadRequest, resp.code, string(resp.body))
			var got pdErrorBody
			require.NoError(t, json.Unmarshal(resp.body, &got))
			assert.Equal(t, pdErrorBody{Status: "invalid event", Message: "Event object is invalid", Errors: tt.want}, got)
		})
	}
	// A resolve's payload is not PagerDuty's to check.
	resp := pdPost(t, base, event(t, "resolve", "k", payload("severity", "fatal")))
	assert.Equal(t, http.StatusAccepted, resp.code, string(resp.body))
	assert.Len(t, allRecords(&store.LogsSink), 1, "only the valid resolve reached the pipeline")
	assert.Equal(t, 0, store.count(t, "1 = 1"))
}

// The routing key is the secret; a header form works too. A wrong or
// missing key is a 403 that takes no token and learns nothing of the event.
func TestPagerDutyRoutingKey(t *testing.T) {
	store := newStoreConsumer(t)
	cfg := senderConfig()
	cfg.RateLimit = RateLimitConfig{RequestsPerSecond: minRequestsPerSecond, Burst: 2}
	_, base := startReceiver(t, cfg, store)
	forbidden := `{"status":"forbidden","message":"Invalid routing key"}`
	for _, body := range [][]byte{
		event(t, "trigger", "k", func(ev map[string]any) { ev["routing_key"] = "0123456789abcdef0123456789abcdeX" }),
		event(t, "trigger", "k", func(ev map[string]any) { delete(ev, "routing_key") }),
		event(t, "escalate", "", func(ev map[string]any) { ev["routing_key"] = 32 }), // invalid too: the key comes first
	} {
		resp := pdPost(t, base, body)
		require.Equal(t, http.StatusForbidden, resp.code, string(resp.body))
		assert.JSONEq(t, forbidden, string(resp.body))
	}
	resp := pdPost(t, base, event(t, "trigger", "k", nil))
	require.Equal(t, http.StatusAccepted, resp.code, "the refused requests took no token: %s", resp.body)
	header := post(t, base+"/webhooks/pagerduty/"+pdID, event(t, "trigger", "k", func(ev map[string]any) { delete(ev, "routing_key") }),
		map[string]string{"Authorization": "Bearer " + pdKey})
	require.Equal(t, http.StatusAccepted, header.code, string(header.body))
	limited := pdPost(t, base, event(t, "trigger", "k", nil))
	require.Equal(t, http.StatusTooManyRequests, limited.code, string(limited.body))
	assert.NotEmpty(t, limited.header.Get("Retry-After"))
	assert.Equal(t, "too many requests", limited.json(t)["status"])
	assert.Equal(t, 1, store.count(t, "fingerprint = 'k' AND occurrences = 2"))
}

// Every other answer is in PagerDuty's shape too: a store outage is a 503
// with Retry-After (its senders retry 5xx and 429), an unknown integration a 404.
func TestPagerDutyOtherAnswers(t *testing.T) {
	store := newStoreConsumer(t)
	_, base := startReceiver(t, senderConfig(), store)
	store.fail(errors.New("connection refused"))
	down := pdPost(t, base, event(t, "trigger", "k", nil))
	require.Equal(t, http.StatusServiceUnavailable, down.code)
	assert.Equal(t, "5", down.header.Get("Retry-After"))
	assert.JSONEq(t, `{"status":"service unavailable","message":"Alerts could not be stored now, retry later"}`, string(down.body))
	store.fail(nil)

	missing := post(t, base+"/webhooks/pagerduty/nope/v2/enqueue", event(t, "trigger", "k", nil), nil)
	require.Equal(t, http.StatusNotFound, missing.code)
	assert.JSONEq(t, `{"status":"not found","message":"Integration not found: nope"}`, string(missing.body))
	wrongType := post(t, base+"/webhooks/json/"+pdID, event(t, "trigger", "k", nil), nil)
	require.Equal(t, http.StatusNotFound, wrongType.code, "a pagerduty integration is not served as json")
	asPrometheus := post(t, base+"/webhooks/pagerduty/"+promID, event(t, "trigger", "k", nil), nil)
	require.Equal(t, http.StatusNotFound, asPrometheus.code)
	notJSON := post(t, base+"/webhooks/pagerduty/"+pdID, []byte("{}"), map[string]string{"Content-Type": "text/html"})
	require.Equal(t, http.StatusUnsupportedMediaType, notJSON.code)
	assert.Equal(t, "unsupported media type", notJSON.json(t)["status"])
}

// A record the exporter refuses is PagerDuty's invalid event with the reason.
func TestPagerDutyErrorShape(t *testing.T) {
	assert.Equal(t, pdErrorBody{Status: "invalid event", Message: "Event object is invalid", Errors: []string{"timestamp after the year 9999 (UTC)"}},
		failureOf(&storeRejectedError{index: 0, reason: "timestamp after the year 9999 (UTC)"}).body(kindPagerDuty))
	assert.Equal(t, errorBody{Detail: "Invalid webhook payload: alerts[2]: empty fingerprint"},
		failureOf(&storeRejectedError{index: 2, reason: "empty fingerprint"}).body(kindJSON))
	assert.Equal(t, pdErrorBody{Status: "forbidden", Message: "Source address not allowed"},
		failureOf(&refusal{reason: reasonSource}).body(kindPagerDuty))
}

// The routing key is read from the body before the sender is known: a
// pagerduty integration's reads count against its unauthenticated budget,
// as an HMAC integration's do.
func TestPagerDutyBodiesAreBudgeted(t *testing.T) {
	cfg := senderConfig()
	r, err := newReceiver(cfg, receiverSettings(), newStoreConsumer(t))
	require.NoError(t, err)
	assert.NotNil(t, r.integrations[pdID].unauthenticated)
	assert.Nil(t, r.integrations[jsonID].unauthenticated, "a json sender is known by its header before its body is read")
	assert.Equal(t, 4, r.unauthenticatedEndpoints(), "global endpoint, two HMAC integrations, pagerduty")
}

func TestParseEventTime(t *testing.T) {
	for in, want := range map[string]time.Time{
		"2015-07-17T08:42:58.315+0000":  time.Date(2015, 7, 17, 8, 42, 58, 315e6, time.UTC),
		"2015-07-17T10:42:58+0200":      time.Date(2015, 7, 17, 8, 42, 58, 0, time.UTC),
		"2015-07-17T08:42:58.315Z":      time.Date(2015, 7, 17, 8, 42, 58, 315e6, time.UTC),
		"2015-07-17T08:42:58.315-01:00": time.Date(2015, 7, 17, 9, 42, 58, 315e6, time.UTC),
	} {
		got, err := parseEventTime(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"2015-07-17", "17/07/2015 08:42", "9999-12-31T23:59:59-0100"} {
		_, err := parseEventTime(bad)
		assert.Error(t, err, bad)
	}
}

// Labels never exceed one alert's bounds: custom details past them stay in
// custom_details only, and the named fields win over a detail of their name.
func TestPagerDutyLabelsBounded(t *testing.T) {
	details := map[string]any{"source": "not this one"}
	for i := range maxLabels + 10 {
		details[fmt.Sprintf("d%04d", i)] = "v"
	}
	p := pdPayload{source: "db-1", severity: "error", details: details}
	labels := p.labels()
	assert.Len(t, labels, maxLabels)
	assert.Equal(t, "db-1", labels["source"])
	big := pdPayload{source: "db-1", details: map[string]any{"a": strings.Repeat("x", maxLabelBytes), "b": "kept"}}
	assert.Equal(t, map[string]string{"source": "db-1", "b": "kept"}, big.labels())
}
