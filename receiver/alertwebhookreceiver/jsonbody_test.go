package alertwebhookreceiver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

const (
	jsonID     = "custom-json"
	jsonSecret = "json-secret"
)

var jsonBearer = map[string]string{"Authorization": "Bearer " + jsonSecret}

// mapped stands in for the user's transform processor: it sets the
// fingerprint from body.id, the title from body.title and the status from
// body.state ("ok" resolves), where the body has them, and hands the
// records to the store. The end-to-end suite runs the real transform.
type mapped struct{ next *storeConsumer }

func (m mapped) Capabilities() consumer.Capabilities { return consumer.Capabilities{MutatesData: true} }

func (m mapped) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	forEachRecord(ld, func(lr plog.LogRecord) {
		if lr.Body().Type() != pcommon.ValueTypeMap {
			return
		}
		body := lr.Body().Map()
		for from, to := range map[string]string{"id": incident.AttrFingerprint, "title": incident.AttrTitle} {
			if v, ok := body.Get(from); ok {
				lr.Attributes().PutStr(to, v.AsString())
			}
		}
		if v, ok := body.Get("state"); ok && v.Str() == "ok" {
			lr.Attributes().PutStr(incident.AttrStatus, incident.StatusResolved)
		}
	})
	return m.next.ConsumeLogs(ctx, ld)
}

func jsonPost(t *testing.T, base, body string) response {
	t.Helper()
	return post(t, base+"/webhooks/json/"+jsonID, []byte(body), jsonBearer)
}

// An object is one record whose body is the object as sent (integers
// exact) and whose attributes say only where it came from.
func TestJSONRecord(t *testing.T) {
	store := newStoreConsumer(t)
	_, base := startReceiver(t, senderConfig(), mapped{store})
	resp := jsonPost(t, base, `{"id":"ev-1","title":"Disk full","count":9007199254740993,"ratio":0.5,"tags":["a",{"b":null}],"ok":true}`)
	require.Equal(t, http.StatusOK, resp.code, string(resp.body))
	recs := allRecords(&store.LogsSink)
	require.Len(t, recs, 1)
	lr := recs[0]
	assert.Equal(t, map[string]any{
		"id": "ev-1", "title": "Disk full", "count": int64(9007199254740993), "ratio": 0.5,
		"tags": []any{"a", map[string]any{"b": nil}}, "ok": true,
	}, lr.Body().Map().AsRaw())
	assert.Equal(t, incident.EventName, lr.EventName())
	assert.Equal(t, lr.ObservedTimestamp(), lr.Timestamp(), "the receipt time, until a processor sets the sender's")
	assert.Equal(t, map[string]any{
		"alert.source":             "json",
		"webhook.alert.index":      int64(0),
		"webhook.integration.id":   jsonID,
		"webhook.integration.type": "json",
		"webhook.project":          "custom",
		// set by the stand-in for the user's transform
		"alert.fingerprint": "ev-1",
		"incident.title":    "Disk full",
	}, attrMap(lr))
}

// Mapped, repeated, resolved; an array with an element that does not map;
// nothing that maps; not JSON; not objects.
func TestJSONAnswers(t *testing.T) {
	store := newStoreConsumer(t)
	cfg := senderConfig()
	cfg.MaxAlertsPerRequest = 3
	cfg.HTTP.MaxRequestBodySize = 4 << 10
	_, base := startReceiver(t, cfg, mapped{store})

	created := jsonPost(t, base, `{"id":"ev-1","title":"Disk full"}`)
	require.Equal(t, http.StatusOK, created.code, string(created.body))
	assert.Equal(t, "success", created.json(t)["status"])
	assert.EqualValues(t, 1, created.json(t)["incidents_created"])
	dup := jsonPost(t, base, `{"id":"ev-1","title":"Disk full"}`)
	assert.JSONEq(t, `{"status":"duplicate","message":"Alert already processed","fingerprint":"ev-1"}`, string(dup.body))
	resolved := jsonPost(t, base, `{"id":"ev-1","title":"Disk full","state":"ok"}`)
	assert.EqualValues(t, 1, resolved.json(t)["incidents_resolved"], string(resolved.body))
	assert.Equal(t, 1, store.count(t, "fingerprint = 'ev-1' AND status = 'resolved' AND source = 'json' AND severity = 'medium' AND project = 'custom'"))

	mixed := jsonPost(t, base, `[{"id":"ev-2","title":"CPU"},{"title":"no id"},7,{"id":"ev-3"}]`)
	assert.Equal(t, http.StatusRequestEntityTooLarge, mixed.code, "4 alerts over max_alerts_per_request 3: %s", mixed.body)
	mixed = jsonPost(t, base, `[{"id":"ev-2","title":"CPU"},{"title":"no id"},7]`)
	require.Equal(t, http.StatusOK, mixed.code, string(mixed.body))
	body := mixed.json(t)
	assert.Equal(t, "success", body["status"])
	assert.EqualValues(t, 1, body["incidents_created"])
	assert.Equal(t, []any{
		map[string]any{"index": 1.0, "reason": "missing required attribute alert.fingerprint: set it from the JSON with a transform processor"},
		map[string]any{"index": 2.0, "reason": "expected a JSON object, got JSON number"},
	}, body["rejected"])
	assert.Equal(t, 1, store.count(t, "fingerprint = 'ev-2' AND title = 'CPU'"))

	for _, tt := range []struct{ body, detail string }{
		{`{"id":"ev-4"}`, "Invalid webhook payload: alerts[0]: missing required attribute incident.title: set it from the JSON with a transform processor"},
		{`[{"name":"x"},{"name":"y"}]`, "Invalid webhook payload: alerts[0]: missing required attribute alert.fingerprint: set it from the JSON with a transform processor"},
		{`{"id":`, "Invalid webhook payload: malformed JSON at byte 6: unexpected end of JSON input"},
		{`"alert"`, "Invalid webhook payload: expected a JSON object or an array of objects, got JSON string"},
		{`[]`, "Invalid webhook payload: empty array: no alert"},
		{`[1, null]`, "Invalid webhook payload: no valid alert: alerts[0]: expected a JSON object, got JSON number (and 1 more)"},
		{``, "Invalid webhook payload: empty body"},
	} {
		resp := jsonPost(t, base, tt.body)
		require.Equal(t, http.StatusBadRequest, resp.code, "%s: %s", tt.body, resp.body)
		assert.Equal(t, tt.detail, resp.json(t)["detail"], tt.body)
	}
	big := jsonPost(t, base, `{"id":"ev-5","title":"`+strings.Repeat("x", 5<<10)+`"}`)
	assert.Equal(t, http.StatusRequestEntityTooLarge, big.code, string(big.body))
	assert.Equal(t, 2, store.count(t, "1 = 1"), "nothing else was stored")
}

// A json integration authenticates like any other: its secret in a header
// (SNS sends it as HTTP Basic), its CIDRs, before a byte of the body.
func TestJSONAuthentication(t *testing.T) {
	store := newStoreConsumer(t)
	cfg := senderConfig()
	_, base := startReceiver(t, cfg, mapped{store})
	path := base + "/webhooks/json/" + jsonID
	assert.Equal(t, http.StatusForbidden, post(t, path, []byte(`{"id":"a","title":"b"}`), nil).code)
	assert.Equal(t, http.StatusForbidden, post(t, path, []byte(`{"id":"a","title":"b"}`), grafBearer).code)
	resp := post(t, path, []byte(`{"id":"a","title":"b"}`), map[string]string{"Authorization": basic("sns", jsonSecret)})
	assert.Equal(t, http.StatusOK, resp.code, string(resp.body))
	assert.Equal(t, http.StatusNotFound, post(t, base+"/webhooks/prometheus/"+jsonID, []byte(`{}`), jsonBearer).code)
}

// An SNS subscription confirmation is logged with its SubscribeURL, which
// is never opened, and is no alert.
func TestSNSConfirmationIsLoggedNeverFollowed(t *testing.T) {
	var opened atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { opened.Add(1) }))
	defer target.Close()
	core, logs := observer.New(zap.InfoLevel)
	store := newStoreConsumer(t)
	_, base := startReceiver(t, senderConfig(), mapped{store}, func(r *alertReceiver) { r.logger = zap.New(core) })
	subscribeURL := target.URL + "/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:eu-west-1:123456789012:alarms&Token=2336412f37"
	body := `{"Type":"SubscriptionConfirmation","MessageId":"165545c9-2a5c-472c-8df2-7ff2be2b3b1b","Token":"2336412f37",` +
		`"TopicArn":"arn:aws:sns:eu-west-1:123456789012:alarms","Message":"You have chosen to subscribe to the topic.",` +
		`"SubscribeURL":"` + subscribeURL + `","Timestamp":"2026-11-28T19:00:00.000Z","SignatureVersion":"1"}`
	resp := post(t, base+"/webhooks/json/"+jsonID, []byte(body), map[string]string{
		"Authorization": basic("sns", jsonSecret), snsMessageTypeHeader: "SubscriptionConfirmation", "Content-Type": "text/plain; charset=UTF-8",
	})
	require.Equal(t, http.StatusOK, resp.code, string(resp.body))
	assert.Equal(t, "confirmation_logged", resp.json(t)["status"])
	entries := logs.FilterField(zap.String("subscribe_url", subscribeURL)).All()
	require.Len(t, entries, 1, "the URL is logged")
	assert.Contains(t, entries[0].Message, "open the SubscribeURL once to confirm it")
	assert.Equal(t, "arn:aws:sns:eu-west-1:123456789012:alarms", entries[0].ContextMap()["topic_arn"])
	assert.Empty(t, allRecords(&store.LogsSink), "no record")
	assert.Zero(t, opened.Load(), "the collector never opens it")

	noURL := post(t, base+"/webhooks/json/"+jsonID, []byte(`{"Type":"SubscriptionConfirmation"}`), map[string]string{
		"Authorization": basic("sns", jsonSecret), snsMessageTypeHeader: "SubscriptionConfirmation",
	})
	assert.Equal(t, http.StatusBadRequest, noURL.code, string(noURL.body))
	stranger := post(t, base+"/webhooks/json/"+jsonID, []byte(body), map[string]string{snsMessageTypeHeader: "SubscriptionConfirmation"})
	assert.Equal(t, http.StatusForbidden, stranger.code, "a confirmation is authenticated like any request")
	assert.Len(t, logs.FilterField(zap.String("subscribe_url", subscribeURL)).All(), 1)
}

func TestDecodeJSONValueKeepsNumbers(t *testing.T) {
	v, err := decodeJSONValue([]byte(`{"i":-12,"big":123456789012345678901234567890,"f":1.5e3,"huge":1e400}`))
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"i": int64(-12), "big": 1.2345678901234568e29, "f": 1500.0, "huge": "1e400"}, v)
}
