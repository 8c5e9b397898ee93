package incidentexporter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"
	"github.com/sre-copilot/incident-collector/internal/incident"
	"github.com/sre-copilot/incident-collector/internal/testutil"
)

// sinkServer records what a notification sink receives, and answers with
// the statuses of answers, in turn (then 200, or 202 for pagerduty).
type sinkServer struct {
	mu       sync.Mutex
	requests []sinkRequest
	answers  []int
	ok       int
	calls    atomic.Int64
}

type sinkRequest struct {
	header http.Header
	body   map[string]any
	raw    string
	status int
}

func (s *sinkServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	s.mu.Lock()
	status := s.ok
	if status == 0 {
		status = http.StatusOK
	}
	if len(s.answers) > 0 {
		status, s.answers = s.answers[0], s.answers[1:]
	}
	s.requests = append(s.requests, sinkRequest{header: r.Header.Clone(), body: body, raw: string(raw), status: status})
	s.mu.Unlock()
	w.WriteHeader(status)
}

// delivered are the requests answered 2xx, in order.
func (s *sinkServer) delivered() []sinkRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sinkRequest
	for _, r := range s.requests {
		if r.status/100 == 2 {
			out = append(out, r)
		}
	}
	return out
}

func startSink(t *testing.T, s *sinkServer) string {
	addr, _ := serve(t, "127.0.0.1:0", s)
	return "http://" + addr + "/hook/T000/B000/secret-token"
}

// notifyConfig reads one sink's configuration as the collector does, with
// its defaults, then sets fast retries.
func notifyConfig(t *testing.T, yaml map[string]any) NotifyConfig {
	t.Helper()
	var cfg struct {
		Notify []NotifyConfig `mapstructure:"notify"`
	}
	require.NoError(t, confmap.NewFromStringMap(map[string]any{"notify": []any{yaml}}).Unmarshal(&cfg))
	require.Len(t, cfg.Notify, 1)
	n := cfg.Notify[0]
	n.Retry = RetryConfig{InitialInterval: 50 * time.Millisecond, MaxInterval: 200 * time.Millisecond, MaxAge: time.Hour}
	return n
}

func criticalAlert(fp string, start time.Time) plog.Logs {
	ld := alertLogs(fp, start)
	forEach(ld, func(lr plog.LogRecord) {
		a := lr.Attributes()
		a.PutStr(incident.AttrSeverity, incident.SeverityCritical)
		a.PutStr(incident.AttrServiceName, "api-gateway")
		a.PutStr(incident.AttrTitle, "HighErrorRate")
		a.PutStr(incident.AttrGeneratorURL, "http://prometheus:9090/graph?g0.expr=rate")
	})
	return ld
}

// Each kind gets its payload and headers for each event: created,
// acknowledged (by a person, through another replica's store), resolved.
func TestNotifyPayloads(t *testing.T) {
	for _, st := range storesUnderTest {
		t.Run(st.name, func(t *testing.T) {
			slack, hook, paging := &sinkServer{}, &sinkServer{}, &sinkServer{ok: http.StatusAccepted}
			sc := st.cfg(t)
			cfg := createDefaultConfig()
			cfg.Store = sc
			all := []any{"created", "acknowledged", "resolved"}
			cfg.Notify = []NotifyConfig{
				notifyConfig(t, map[string]any{"name": "chat", "kind": "slack", "url": startSink(t, slack), "events": all}),
				notifyConfig(t, map[string]any{"name": "audit", "kind": "webhook", "url": startSink(t, hook), "secret": "audit-secret", "events": all}),
				notifyConfig(t, map[string]any{"name": "paging", "kind": "pagerduty", "url": startSink(t, paging), "routing_key": "R0UT1NGKEY", "events": all}),
			}
			exp, _, stop := startStoppable(t, cfg)
			start := time.Date(2026, 11, 28, 19, 0, 0, 0, time.UTC)
			require.NoError(t, exp.ConsumeLogs(context.Background(), criticalAlert("fp-notify", start)))
			// Another replica, with the same sinks, where a person acts.
			other, err := store.Open(context.Background(), store.Options{Driver: sc.Driver, DSN: string(sc.DSN), Sinks: (&incidentExporter{cfg: cfg}).outboxSinks()})
			require.NoError(t, err)
			defer other.Close(context.Background())
			page, err := other.ListIncidents(context.Background(), store.IncidentFilter{Limit: 1})
			require.NoError(t, err)
			require.Len(t, page.Incidents, 1)
			id := page.Incidents[0].ID
			waitFor(t, "created everywhere", func() bool {
				return len(slack.delivered()) == 1 && len(hook.delivered()) == 1 && len(paging.delivered()) == 1
			})
			_, _, err = other.Act(context.Background(), rules.KindAcknowledge, id, "alice", "on it")
			require.NoError(t, err)
			waitFor(t, "acknowledged everywhere", func() bool {
				return len(slack.delivered()) == 2 && len(hook.delivered()) == 2 && len(paging.delivered()) == 2
			})
			resolved := resolvedLogs("fp-notify", start)
			require.NoError(t, exp.ConsumeLogs(context.Background(), resolved))
			waitFor(t, "resolved everywhere", func() bool {
				return len(slack.delivered()) == 3 && len(hook.delivered()) == 3 && len(paging.delivered()) == 3
			})
			stop()

			texts := []string{}
			for _, r := range slack.delivered() {
				texts = append(texts, r.body["text"].(string))
				assert.Len(t, r.body["blocks"], 2)
				assert.Equal(t, "application/json", r.header.Get("Content-Type"))
			}
			assert.Equal(t, []string{
				":red_circle: [CRITICAL] HighErrorRate — api-gateway (1 alert) · opened · <http://prometheus:9090/graph?g0.expr=rate|source>",
				":eyes: [CRITICAL] HighErrorRate — api-gateway (1 alert) · acknowledged by alice: on it · <http://prometheus:9090/graph?g0.expr=rate|source>",
				":white_check_mark: [CRITICAL] HighErrorRate — api-gateway (1 alert) · resolved (alert resolved) · <http://prometheus:9090/graph?g0.expr=rate|source>",
			}, texts)

			for i, r := range hook.delivered() {
				event := []string{"created", "acknowledged", "resolved"}[i]
				assert.Equal(t, event, r.body["event"])
				assert.Equal(t, "audit", r.body["sink"])
				ts := r.header.Get("X-Incident-Timestamp")
				assert.Equal(t, "sha256="+Sign([]byte("audit-secret"), ts, []byte(r.raw)), r.header.Get("X-Incident-Signature"))
				assert.True(t, strings.HasPrefix(r.header.Get("Idempotency-Key"), id+":"+event), r.header.Get("Idempotency-Key"))
				assert.Equal(t, id, r.body["incident"].(map[string]any)["id"])
			}
			assert.Equal(t, "alice", hook.delivered()[1].body["by"])
			assert.Equal(t, "on it", hook.delivered()[1].body["note"])
			assert.Equal(t, "acknowledged", hook.delivered()[1].body["incident"].(map[string]any)["status"])
			assert.Equal(t, "alert_resolved", hook.delivered()[2].body["resolution_reason"])

			got := paging.delivered()
			assert.JSONEq(t, fmt.Sprintf(`{"routing_key":"R0UT1NGKEY","event_action":"trigger","dedup_key":%q,"client":"otelcol-incidents",
				"payload":{"summary":"HighErrorRate — api-gateway","source":"api-gateway","severity":"critical","timestamp":"2026-11-28T19:00:00Z",
				"component":"api-gateway","group":"alertmanager","class":"HighErrorRate","custom_details":{"incident_id":%q,"status":"open",
				"alert_count":1,"description":"","fingerprint":"fp-notify","integration":"alertmanager","labels":{},"annotations":{},"reopen_count":0}},
				"links":[{"href":"http://prometheus:9090/graph?g0.expr=rate","text":"Source"}]}`, id, id), got[0].raw)
			assert.JSONEq(t, fmt.Sprintf(`{"routing_key":"R0UT1NGKEY","event_action":"acknowledge","dedup_key":%q,"client":"otelcol-incidents"}`, id), got[1].raw)
			assert.JSONEq(t, fmt.Sprintf(`{"routing_key":"R0UT1NGKEY","event_action":"resolve","dedup_key":%q,"client":"otelcol-incidents"}`, id), got[2].raw)
		})
	}
}

// A sink answering 500 three times then 200 is delivered; one answering 400
// is tried once; meanwhile the others deliver without waiting for them. The
// filters keep each sink to what it asked for.
func TestNotifySinksAreIndependent(t *testing.T) {
	flaky := &sinkServer{answers: []int{500, 500, 500}}
	refusing := &sinkServer{ok: http.StatusBadRequest}
	healthy := &sinkServer{}
	critical := &sinkServer{}
	otherScope := &sinkServer{}
	sc := storesUnderTest[0].cfg(t)
	cfg := createDefaultConfig()
	cfg.Store = sc
	cfg.Notify = []NotifyConfig{
		notifyConfig(t, map[string]any{"name": "flaky", "kind": "slack", "url": startSink(t, flaky)}),
		notifyConfig(t, map[string]any{"name": "refusing", "kind": "slack", "url": startSink(t, refusing)}),
		notifyConfig(t, map[string]any{"name": "slow", "kind": "slack", "url": "http://" + hangingServer(t) + "/", "client": map[string]any{"timeout": "30s"}}),
		notifyConfig(t, map[string]any{"name": "healthy", "kind": "slack", "url": startSink(t, healthy)}),
		notifyConfig(t, map[string]any{"name": "critical", "kind": "slack", "url": startSink(t, critical), "min_severity": "critical"}),
		notifyConfig(t, map[string]any{"name": "other-team", "kind": "slack", "url": startSink(t, otherScope), "integrations": []any{"other"}}),
	}
	exp, _, stop := startStoppable(t, cfg)
	start := time.Date(2026, 11, 28, 19, 0, 0, 0, time.UTC)
	began := time.Now()
	require.NoError(t, exp.ConsumeLogs(context.Background(), alertLogs("medium-alert", start)))
	waitFor(t, "the healthy sink", func() bool { return len(healthy.delivered()) == 1 })
	t.Logf("the healthy sink got it %v after the commit, with a sink hanging and two failing", time.Since(began))
	assert.Less(t, time.Since(began), 5*time.Second)
	waitFor(t, "the flaky sink after three 500s", func() bool { return len(flaky.delivered()) == 1 })
	db := openDB(t, sc)
	waitFor(t, "the refusing sink's event failed", func() bool {
		var n int
		require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM outbox WHERE sink = 'refusing' AND status = 'failed' AND last_error = 'HTTP 400'").Scan(&n))
		return n == 1
	})
	stop()
	assert.EqualValues(t, 4, flaky.calls.Load())
	assert.EqualValues(t, 1, refusing.calls.Load(), "a 400 is tried once")
	assert.Empty(t, critical.delivered(), "a medium incident is below min_severity")
	assert.Empty(t, otherScope.delivered(), "another integration's incident")
	var lastError string
	require.NoError(t, db.QueryRow("SELECT COALESCE(MAX(last_error), '') FROM outbox WHERE sink = 'slow'").Scan(&lastError))
	assert.NotContains(t, lastError, "secret-token")
}

// hangingServer accepts connections and never answers.
func hangingServer(t *testing.T) string {
	addr, _ := serve(t, "127.0.0.1:0", http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // net/http notices a client gone only after the body
		<-r.Context().Done()
	}))
	return addr
}

// Two replicas on one PostgreSQL, three sinks, 200 incidents created on one
// replica and resolved on the other: each sink gets each event exactly once,
// created before resolved.
func TestNotifyTwoReplicasExactlyOnceInOrder(t *testing.T) {
	servers := []*sinkServer{{}, {}, {ok: http.StatusAccepted}}
	sc := StoreConfig{Driver: "postgres", DSN: configOpaque(testutil.PostgresSchema(t))}
	cfg := createDefaultConfig()
	cfg.Store = sc
	cfg.Notify = []NotifyConfig{
		notifyConfig(t, map[string]any{"name": "chat", "kind": "slack", "url": startSink(t, servers[0]), "max_in_flight": 16}),
		notifyConfig(t, map[string]any{"name": "audit", "kind": "webhook", "url": startSink(t, servers[1]), "secret": "s", "max_in_flight": 16}),
		notifyConfig(t, map[string]any{"name": "paging", "kind": "pagerduty", "url": startSink(t, servers[2]), "routing_key": "k", "max_in_flight": 16}),
	}
	a, _, stopA := startStoppable(t, cfg)
	b, _, stopB := startStoppable(t, cfg)
	start := time.Date(2026, 11, 28, 19, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for i := range 200 {
		fp := "replicated-" + strconv.Itoa(i)
		wg.Go(func() {
			assert.NoError(t, a.ConsumeLogs(context.Background(), criticalAlert(fp, start)))
			assert.NoError(t, b.ConsumeLogs(context.Background(), resolvedLogs(fp, start)))
		})
	}
	wg.Wait()
	db := openDB(t, sc)
	waitFor(t, "every event delivered", func() bool {
		var pending, delivered int
		require.NoError(t, db.QueryRow(`SELECT COUNT(*) FILTER (WHERE status = 'pending'), COUNT(*) FILTER (WHERE status = 'delivered') FROM outbox`).Scan(&pending, &delivered))
		return pending == 0 && delivered == 3*400
	})
	stopA()
	stopB()
	for i, s := range servers {
		seen := map[string]int{}
		order := map[string][]string{}
		for _, r := range s.delivered() {
			seen[r.header.Get("Idempotency-Key")]++
			key := r.header.Get("Idempotency-Key")
			incidentID, event, _ := strings.Cut(key, ":")
			order[incidentID] = append(order[incidentID], event)
		}
		assert.Len(t, seen, 400, "sink %d: every event", i)
		assert.Empty(t, repeated(seen), "sink %d: once", i)
		for id, events := range order {
			assert.Equal(t, []string{"created", "resolved"}, events, "sink %d, incident %s", i, id)
		}
	}
}

func TestNotifyConfigValidate(t *testing.T) {
	valid := map[string]map[string]any{
		"slack":     {"name": "chat", "kind": "slack", "url": "https://hooks.slack.com/services/T/B/X"},
		"webhook":   {"name": "audit", "kind": "webhook", "url": "https://audit.example/incidents", "secret": "s"},
		"pagerduty": {"name": "paging", "kind": "pagerduty", "routing_key": "0123456789abcdef0123456789abcdef"},
	}
	for kind, m := range valid {
		n := notifyConfig(t, m)
		assert.NoError(t, validateNotify([]NotifyConfig{n}), kind)
	}
	pd := notifyConfig(t, valid["pagerduty"])
	assert.Equal(t, pagerDutyEventsURL, string(pd.URL), "the Events API by default")
	assert.Equal(t, []string{"created", "resolved"}, pd.Events)
	assert.Equal(t, 10*time.Second, pd.Client.Timeout)

	tests := []struct {
		name   string
		sink   map[string]any
		errMsg string
	}{
		{"no name", map[string]any{"kind": "slack", "url": "https://x/y"}, `name "" must be`},
		{"reserved name", map[string]any{"name": "analysis", "kind": "slack", "url": "https://x/y"}, "the analysis trigger's"},
		{"unknown kind", map[string]any{"name": "x", "kind": "teams", "url": "https://x/y"}, `kind "teams" is unknown`},
		{"no url", map[string]any{"name": "x", "kind": "slack"}, "url must be an http"},
		{"pagerduty without key", map[string]any{"name": "x", "kind": "pagerduty"}, "routing_key is required"},
		{"webhook without secret", map[string]any{"name": "x", "kind": "webhook", "url": "https://x/y"}, "secret is required"},
		{"pagerduty cannot unacknowledge", map[string]any{"name": "x", "kind": "pagerduty", "routing_key": "k", "events": []any{"unacknowledged"}}, `event "unacknowledged" cannot be sent to a pagerduty sink`},
		{"unknown event", map[string]any{"name": "x", "kind": "slack", "url": "https://x/y", "events": []any{"exploded"}}, `event "exploded" cannot be sent`},
		{"unknown severity", map[string]any{"name": "x", "kind": "slack", "url": "https://x/y", "min_severity": "urgent"}, `min_severity "urgent" is unknown`},
		{"no timeout", map[string]any{"name": "x", "kind": "slack", "url": "https://x/y", "client": map[string]any{"timeout": "0s"}}, "client.timeout must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateNotify([]NotifyConfig{notifyConfig(t, tt.sink)})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.errMsg)
		})
	}
	// A Slack URL is a credential: never in a message.
	err := validateNotify([]NotifyConfig{
		notifyConfig(t, map[string]any{"name": "chat", "kind": "slack", "url": "hooks.slack.com/services/T/B/SECRETPART"}),
		notifyConfig(t, map[string]any{"name": "chat", "kind": "slack", "url": "https://x/y"}),
	})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "SECRETPART")
	assert.Contains(t, err.Error(), `name "chat" is used twice`)
}

// A sink that redirects is not followed: a 302 to a login page is not a
// delivery, and a 307 to another host never gets the signed body or the
// routing key. The event fails, with the reason.
func TestNotifyRedirectsAreNotFollowed(t *testing.T) {
	elsewhere := &sinkServer{}
	target := startSink(t, elsewhere)
	redirect := func(code int) string {
		addr, _ := serve(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			http.Redirect(w, r, target, code)
		}))
		return "http://" + addr + "/"
	}
	sc := storesUnderTest[0].cfg(t)
	cfg := createDefaultConfig()
	cfg.Store = sc
	cfg.Notify = []NotifyConfig{
		notifyConfig(t, map[string]any{"name": "moved", "kind": "slack", "url": redirect(http.StatusFound)}),
		notifyConfig(t, map[string]any{"name": "paging", "kind": "pagerduty", "url": redirect(http.StatusTemporaryRedirect), "routing_key": "SECRETKEY"}),
	}
	exp, _, stop := startStoppable(t, cfg)
	require.NoError(t, exp.ConsumeLogs(context.Background(), criticalAlert("redirected", time.Date(2026, 11, 28, 19, 0, 0, 0, time.UTC))))
	db := openDB(t, sc)
	waitFor(t, "both events failed", func() bool {
		var n int
		require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM outbox WHERE status = 'failed' AND last_error LIKE 'HTTP 30_ (a redirect is not followed%'`).Scan(&n))
		return n == 2
	})
	stop()
	assert.EqualValues(t, 0, elsewhere.calls.Load(), "nothing reached where the redirects lead")
}

// Payloads stay within what Slack and PagerDuty accept, whatever the
// incident holds, and link only to http(s).
func TestNotifyPayloadsAreBounded(t *testing.T) {
	huge := strings.Repeat("é", 3000)
	e := &store.OutboxEvent{Event: "acknowledged", By: strings.Repeat("b", 200), Note: strings.Repeat("n", 4096)}
	e.Incident.ID, e.Incident.Title, e.Incident.ServiceName, e.Incident.Severity = "0193", huge, huge, "critical"
	e.Incident.Description = strings.Repeat("d", 300<<10)
	e.Incident.Labels = `{"a":"` + strings.Repeat("l", 300<<10) + `"}`
	e.Incident.Annotations = `{"b":"` + strings.Repeat("a", 300<<10) + `"}`
	e.Incident.GeneratorURL = "https://evil.example/login|https://grafana.corp.example/d/x"

	msg := slackOf(e)
	for _, text := range []string{msg.Text, msg.Blocks[0].Text.Text} {
		assert.LessOrEqual(t, utf8.RuneCountInString(text), 3000, "Slack refuses a section over 3 000 characters")
	}
	assert.Contains(t, msg.Text, "<https://evil.example/login%7Chttps://grafana.corp.example/d/x|source>", "a | cannot set the link's text")

	pd := pagerDutyOf(&store.OutboxEvent{Event: "created", Incident: e.Incident}, "key")
	raw, err := json.Marshal(pd)
	require.NoError(t, err)
	assert.Less(t, len(raw), 128<<10, "PagerDuty refuses an event over 512 KB")
	assert.LessOrEqual(t, utf8.RuneCountInString(pd.Payload.Summary), 1024)

	e.Incident.GeneratorURL = "javascript:alert(1)"
	assert.NotContains(t, slackOf(e).Text, "javascript")
	assert.Empty(t, pagerDutyOf(&store.OutboxEvent{Event: "created", Incident: e.Incident}, "key").Links)
}
