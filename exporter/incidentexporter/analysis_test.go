package incidentexporter

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/metadata"
	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/metadatatest"
	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"
	"github.com/sre-copilot/incident-collector/internal/testutil"
)

const analysisSecret = "analysis-hmac-secret"

// analysisService records the notifications it accepts, by Idempotency-Key,
// after checking their signature the way the README tells services to.
type analysisService struct {
	t        *testing.T
	mu       sync.Mutex
	received map[string]int
	bodies   []notification
	log      []call
	answer   atomic.Int32 // status to answer; 0 means 200
	// failFirst: the first call of each Idempotency-Key is answered 500.
	failFirst atomic.Bool
	delay     atomic.Int64 // nanoseconds to wait before answering
	calls     atomic.Int64
}

// call is one delivery attempt as the service saw it, in arrival order.
type call struct {
	key, incident, event string
	status               int
}

func newAnalysisService(t *testing.T) *analysisService {
	return &analysisService{t: t, received: map[string]int{}}
}

func (s *analysisService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	// The body first: net/http notices a client that hangs up (and ends
	// the request's context) only once the body is read.
	body, err := io.ReadAll(r.Body)
	if d := time.Duration(s.delay.Load()); d > 0 {
		// A slow service; a request its client gave up on is not answered.
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if code := int(s.answer.Load()); code != 0 {
		w.WriteHeader(code)
		return
	}
	if !assert.NoError(s.t, err) {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	ts := r.Header.Get("X-Incident-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	assert.NoError(s.t, err)
	assert.InDelta(s.t, time.Now().Unix(), sec, 300, "timestamp is now")
	if !assert.Equal(s.t, "sha256="+Sign([]byte(analysisSecret), ts, body), r.Header.Get("X-Incident-Signature")) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var n notification
	if !assert.NoError(s.t, json.Unmarshal(body, &n)) {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	assert.True(s.t, strings.HasPrefix(key, n.Incident.ID+":"+n.Event), key)
	s.mu.Lock()
	defer s.mu.Unlock()
	c := call{key: key, incident: n.Incident.ID, event: n.Event, status: http.StatusOK}
	if s.failFirst.Load() && !s.tried(key) {
		c.status = http.StatusInternalServerError
	}
	s.log = append(s.log, c)
	if c.status != http.StatusOK {
		w.WriteHeader(c.status)
		return
	}
	s.received[key]++
	s.bodies = append(s.bodies, n)
}

func (s *analysisService) tried(key string) bool {
	for _, c := range s.log {
		if c.key == key {
			return true
		}
	}
	return false
}

// assertInOrder checks that no event of an incident was even tried before
// the incident's earlier events were delivered, in the order events
// happen: created, then alert_added / reopened / resolved as they came.
func (s *analysisService) assertInOrder(t *testing.T, order func(incident string) []string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	delivered := map[string]int{} // incident → events delivered, in order
	for _, c := range s.log {
		want := order(c.incident)
		n := delivered[c.incident]
		if !assert.Less(t, n, len(want), "incident %s: %s after all its events", c.incident, c.key) {
			continue
		}
		assert.Equal(t, want[n], c.event, "incident %s: %s tried before %s was delivered", c.incident, c.event, want[n])
		if c.status == http.StatusOK && c.event == want[n] {
			delivered[c.incident]++
		}
	}
}

func (s *analysisService) snapshot() (map[string]int, []notification) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int, len(s.received))
	for k, v := range s.received {
		m[k] = v
	}
	return m, append([]notification(nil), s.bodies...)
}

// serve runs h on addr ("127.0.0.1:0" for a free port) until stop is called.
func serve(t *testing.T, addr string, h http.Handler) (string, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	var once sync.Once
	stop := func() { once.Do(func() { _ = srv.Close() }) }
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

func analysisConfig(sc StoreConfig, endpoint string) *Config {
	cfg := createDefaultConfig()
	cfg.Store = sc
	cfg.Analysis.Endpoint = endpoint
	cfg.Analysis.Secret = analysisSecret
	cfg.Analysis.Retry = RetryConfig{InitialInterval: 50 * time.Millisecond, MaxInterval: 200 * time.Millisecond, MaxAge: time.Hour}
	cfg.Analysis.Client.Timeout = 2 * time.Second
	return cfg
}

func startExporterWith(t *testing.T, cfg *Config) consumer.Logs {
	t.Helper()
	exp, _, _ := startStoppable(t, cfg)
	return exp
}

// startExporterTelemetry starts the exporter with cfg, through its factory,
// with a telemetry the test reads (metadatatest).
func startExporterTelemetry(t *testing.T, cfg *Config) (consumer.Logs, *componenttest.Telemetry) {
	t.Helper()
	exp, tel, _ := startStoppable(t, cfg)
	return exp, tel
}

// startStoppable also returns the exporter's shutdown (once; the test's
// cleanup calls it too). After it, no delivery is in flight: what a service
// counted then is final.
func startStoppable(t *testing.T, cfg *Config) (consumer.Logs, *componenttest.Telemetry, func()) {
	t.Helper()
	require.NoError(t, cfg.Validate())
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	exp, err := NewFactory().CreateLogs(context.Background(), metadatatest.NewSettings(tel), cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	stop := sync.OnceFunc(func() { require.NoError(t, exp.Shutdown(context.Background())) })
	t.Cleanup(stop)
	return exp, tel, stop
}

// outboxDone: every event is delivered or failed; nothing is left to try.
func outboxDone(t *testing.T, db *sql.DB, events int) func() bool {
	return func() bool {
		var done, pending int
		require.NoError(t, db.QueryRow(`SELECT COUNT(*) FILTER (WHERE status <> 'pending'), COUNT(*) FILTER (WHERE status = 'pending')
			FROM outbox`).Scan(&done, &pending))
		return done == events && pending == 0
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 20*time.Second, 20*time.Millisecond, what)
}

func TestAnalysisDeliveredOnceWithValidSignature(t *testing.T) {
	for _, st := range storesUnderTest {
		t.Run(st.name, func(t *testing.T) {
			svc := newAnalysisService(t)
			addr, _ := serve(t, "127.0.0.1:0", svc)
			sc := st.cfg(t)
			exp, _, stop := startStoppable(t, analysisConfig(sc, "http://"+addr+"/api/v1/incidents/analyze"))
			base := startReceiver(t, exp)

			code, body := post(t, base+"/webhooks/alertmanager", fixture(t, "alertmanager/real-02-group-two-firing.json"))
			require.Equal(t, 200, code, body)
			created := body["incidents"].([]any)[0].(map[string]any)["id"].(string)
			// Duplicates and stale firings create no event.
			code, _ = post(t, base+"/webhooks/alertmanager", fixture(t, "alertmanager/real-02-group-two-firing.json"))
			require.Equal(t, 200, code)
			code, _ = post(t, base+"/webhooks/alertmanager", fixture(t, "alertmanager/real-05-one-resolved-one-firing.json"))
			require.Equal(t, 200, code)
			code, _ = post(t, base+"/webhooks/alertmanager", fixture(t, "alertmanager/real-02-group-two-firing.json"))
			require.Equal(t, 200, code, "a stale firing of the resolved instance")

			waitFor(t, "three notifications delivered", outboxDone(t, openDB(t, sc), 3))
			stop()
			got, bodies := svc.snapshot()
			assert.Equal(t, map[string]int{}, repeated(got), "each event once")
			assert.Equal(t, 1, got[created+":created"])
			assert.Equal(t, 1, got[created+":resolved"])
			for _, n := range bodies {
				if n.Incident.ID == created && n.Event == "created" {
					assert.Equal(t, "HighErrorRate", n.Incident.Title)
					assert.Equal(t, "21473860c0a3436e", n.Incident.Fingerprint)
					assert.Equal(t, "critical", n.Incident.Severity)
					assert.Equal(t, "api-gateway", n.Incident.ServiceName)
					assert.Equal(t, "alertmanager", n.Incident.Source)
					assert.Equal(t, "2026-11-28T19:00:00Z", n.Incident.DetectedAt)
					assert.JSONEq(t, `{"alertname":"HighErrorRate","instance":"gw-1:8080","job":"api","service":"api-gateway","severity":"critical"}`, string(n.Incident.Labels))
				}
				if n.Event == "resolved" {
					require.NotNil(t, n.Incident.ResolvedAt)
					assert.Equal(t, "2026-11-28T19:55:00Z", *n.Incident.ResolvedAt)
					assert.Equal(t, "resolved", n.Incident.Status)
				}
			}
			db := openDB(t, sc)
			var delivered int
			require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM outbox WHERE status = 'delivered' AND delivered_at IS NOT NULL").Scan(&delivered))
			assert.Equal(t, 3, delivered)
		})
	}
}

// Delivered events are deleted after the retention; failed ones stay.
func TestAnalysisOutboxPruned(t *testing.T) {
	svc := newAnalysisService(t)
	addr, _ := serve(t, "127.0.0.1:0", svc)
	sc := storesUnderTest[0].cfg(t)
	base := startReceiver(t, startExporterWith(t, analysisConfig(sc, "http://"+addr+"/analyze")))
	code, _ := post(t, base+"/webhooks/alertmanager", fixture(t, "alertmanager/seed-example.json"))
	require.Equal(t, 200, code)
	waitFor(t, "the delivery", func() bool { got, _ := svc.snapshot(); return len(got) == 1 })

	s, err := store.Open(context.Background(), store.Options{Driver: "sqlite", DSN: string(sc.DSN)})
	require.NoError(t, err)
	defer s.Close(context.Background())
	db := openDB(t, sc)
	_, err = db.Exec(`INSERT INTO outbox (sink, incident_id, event, status, created_at, next_attempt_at, last_error)
		SELECT 'analysis', id, 'resolved', 'failed', created_at, created_at, 'HTTP 422' FROM incidents`)
	require.NoError(t, err)
	tb, err := metadata.NewTelemetryBuilder(componenttest.NewNopTelemetrySettings())
	require.NoError(t, err)
	later := time.Now().Add(deliveredRetention + time.Minute)
	d := newDispatcher(analysisSink(&createDefaultConfig().Analysis, http.DefaultClient), s, zap.NewNop(), tb, func() time.Time { return later })
	d.dispatchDue(context.Background())
	var delivered, failed int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FILTER (WHERE status = 'delivered'), COUNT(*) FILTER (WHERE status = 'failed')
		FROM outbox`).Scan(&delivered, &failed))
	assert.Zero(t, delivered, "the delivered event is past the retention")
	assert.Equal(t, 1, failed, "failed events stay")
}

// The service answers 503, then is gone (connection refused), then comes back:
// every event is delivered, and none twice.
func TestAnalysisRetriesThroughAnOutage(t *testing.T) {
	for _, st := range storesUnderTest {
		t.Run(st.name, func(t *testing.T) {
			svc := newAnalysisService(t)
			svc.answer.Store(http.StatusServiceUnavailable)
			addr, stop := serve(t, "127.0.0.1:0", svc)
			sc := st.cfg(t)
			exp, _, stopExporter := startStoppable(t, analysisConfig(sc, "http://"+addr+"/analyze"))
			base := startReceiver(t, exp)
			code, _ := post(t, base+"/webhooks/alertmanager", fixture(t, "alertmanager/real-02-group-two-firing.json"))
			require.Equal(t, 200, code)
			db := openDB(t, sc)

			waitFor(t, "503s answered", func() bool { return svc.calls.Load() >= 4 })
			stop()
			waitFor(t, "a delivery refused at the transport", func() bool {
				var n int
				require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM outbox WHERE last_error LIKE 'transport:%'`).Scan(&n))
				return n > 0
			})
			svc.answer.Store(0)
			serve(t, addr, svc)

			waitFor(t, "both events", outboxDone(t, db, 2))
			stopExporter()
			got, _ := svc.snapshot()
			assert.Len(t, got, 2)
			assert.Empty(t, repeated(got), "each event once once the service is up")
			var attempts int
			require.NoError(t, db.QueryRow("SELECT MIN(attempts) FROM outbox").Scan(&attempts))
			assert.Greater(t, attempts, 2, "the outage made the dispatcher retry")
		})
	}
}

// A 4xx other than 429 will not get better: the event is marked failed at once.
func TestAnalysisClientErrorFails(t *testing.T) {
	svc := newAnalysisService(t)
	svc.answer.Store(http.StatusUnprocessableEntity)
	addr, _ := serve(t, "127.0.0.1:0", svc)
	sc := storesUnderTest[0].cfg(t)
	exp, _, stop := startStoppable(t, analysisConfig(sc, "http://"+addr+"/analyze"))
	base := startReceiver(t, exp)
	code, _ := post(t, base+"/webhooks/alertmanager", fixture(t, "alertmanager/seed-example.json"))
	require.Equal(t, 200, code)
	db := openDB(t, sc)
	waitFor(t, "the event marked failed", func() bool {
		var n int
		require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM outbox WHERE status = 'failed' AND last_error = 'HTTP 422' AND attempts = 1").Scan(&n))
		return n == 1
	})
	stop()
	assert.EqualValues(t, 1, svc.calls.Load(), "not retried")
}

// Two replicas on one PostgreSQL and a slow service (1 s an answer, client
// timeout 2 s): each event delivered exactly once, also when a notification
// brings more events than a replica delivers within one lease.
func TestAnalysisSlowServiceTwoReplicasDeliverOnce(t *testing.T) {
	for _, n := range []int{40, 200} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			svc := newAnalysisService(t)
			svc.delay.Store(int64(time.Second))
			addr, _ := serve(t, "127.0.0.1:0", svc)
			sc := StoreConfig{Driver: "postgres", DSN: configOpaque(testutil.PostgresSchema(t))}
			cfg := analysisConfig(sc, "http://"+addr+"/analyze")
			cfg.Analysis.MaxInFlight = 16
			a, _, stopA := startStoppable(t, cfg)
			b, _, stopB := startStoppable(t, cfg)
			start := time.Date(2026, 11, 28, 19, 0, 0, 0, time.UTC)
			// One notification of n new alerts on A, the same on B.
			ld := plog.NewLogs()
			for i := range n {
				alertLogs("slow-"+strconv.Itoa(i), start).ResourceLogs().MoveAndAppendTo(ld.ResourceLogs())
			}
			var wg sync.WaitGroup
			for _, exp := range []consumer.Logs{a, b} {
				wg.Go(func() {
					copied := plog.NewLogs()
					ld.CopyTo(copied)
					assert.NoError(t, exp.ConsumeLogs(context.Background(), copied))
				})
			}
			wg.Wait()
			waitFor(t, "every event delivered", outboxDone(t, openDB(t, sc), n))
			stopA()
			stopB()
			got, _ := svc.snapshot()
			assert.Len(t, got, n)
			assert.Empty(t, repeated(got), "each event once")
		})
	}
}

// A replica stopped in the middle of its deliveries (its HTTP requests cut
// off) leaves its events leased: the other replica delivers them once the
// lease ends. At least once, always.
func TestAnalysisReplicaStoppedMidBatch(t *testing.T) {
	svc := newAnalysisService(t)
	svc.delay.Store(int64(time.Hour)) // no answer until the first replica is gone
	addr, _ := serve(t, "127.0.0.1:0", svc)
	sc := StoreConfig{Driver: "postgres", DSN: configOpaque(testutil.PostgresSchema(t))}
	cfg := analysisConfig(sc, "http://"+addr+"/analyze")
	cfg.Analysis.MaxInFlight = 8
	a, _, stopA := startStoppable(t, cfg)
	start := time.Date(2026, 11, 28, 19, 0, 0, 0, time.UTC)
	for i := range 8 {
		require.NoError(t, a.ConsumeLogs(context.Background(), alertLogs("cut-"+strconv.Itoa(i), start)))
	}
	waitFor(t, "deliveries in flight", func() bool { return svc.calls.Load() >= 8 })
	stopA() // its requests are cut off before any answer
	db := openDB(t, sc)
	var leased int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND attempts = 0
		AND next_attempt_at > CURRENT_TIMESTAMP`).Scan(&leased))
	require.Equal(t, 8, leased, "left leased by the stopped replica, not scheduled for a retry")

	svc.delay.Store(0)
	began := time.Now()
	_, _, stopB := startStoppable(t, cfg)
	waitFor(t, "the other replica delivers after the lease", outboxDone(t, db, 8))
	t.Logf("delivered %v after the first replica stopped (lease: client timeout %v + %v)", time.Since(began), cfg.Analysis.Client.Timeout, leaseSlack)
	assert.Greater(t, time.Since(began), leaseSlack, "not before the lease ended")
	stopB()
	got, _ := svc.snapshot()
	assert.Len(t, got, 8)
	assert.Empty(t, repeated(got))
}

// An incident's events reach the service in the order they happened, also
// when an earlier one has to be retried: the service answers 500 to the
// first attempt of each event; the alerts resolve while the first event
// waits for its retry.
func TestAnalysisEventsInOrderThroughRetries(t *testing.T) {
	for _, st := range storesUnderTest {
		t.Run(st.name, func(t *testing.T) {
			svc := newAnalysisService(t)
			svc.failFirst.Store(true)
			addr, _ := serve(t, "127.0.0.1:0", svc)
			sc := st.cfg(t)
			cfg := analysisConfig(sc, "http://"+addr+"/analyze")
			cfg.Analysis.Events = []string{"created", "alert_added", "resolved"}
			cfg.Grouping.By = "group_key"
			exp, _, stop := startStoppable(t, cfg)
			start := time.Date(2026, 11, 28, 19, 0, 0, 0, time.UTC)
			require.NoError(t, exp.ConsumeLogs(context.Background(), inGroupLogs(alertLogs("first", start))))
			require.NoError(t, exp.ConsumeLogs(context.Background(), inGroupLogs(alertLogs("second", start))))
			waitFor(t, "the first attempt answered 500", func() bool {
				svc.mu.Lock()
				defer svc.mu.Unlock()
				return len(svc.log) > 0
			})
			// The resolve arrives while created waits for its retry.
			require.NoError(t, exp.ConsumeLogs(context.Background(), inGroupLogs(resolvedLogs("first", start))))
			require.NoError(t, exp.ConsumeLogs(context.Background(), inGroupLogs(resolvedLogs("second", start))))
			waitFor(t, "every event delivered", outboxDone(t, openDB(t, sc), 3))
			stop()
			got, _ := svc.snapshot()
			assert.Len(t, got, 3)
			svc.assertInOrder(t, func(string) []string { return []string{"created", "alert_added", "resolved"} })
		})
	}
}

// Two replicas: each alert fires on A and resolves on B at once; for every
// incident created is delivered before resolved.
func TestAnalysisEventsInOrderAcrossReplicas(t *testing.T) {
	svc := newAnalysisService(t)
	addr, _ := serve(t, "127.0.0.1:0", svc)
	sc := StoreConfig{Driver: "postgres", DSN: configOpaque(testutil.PostgresSchema(t))}
	cfg := analysisConfig(sc, "http://"+addr+"/analyze")
	a, _, stopA := startStoppable(t, cfg)
	b, _, stopB := startStoppable(t, cfg)
	start := time.Date(2026, 11, 28, 19, 0, 0, 0, time.UTC)
	for i := range 20 {
		fp := "ab-" + strconv.Itoa(i)
		require.NoError(t, a.ConsumeLogs(context.Background(), alertLogs(fp, start)))
		require.NoError(t, b.ConsumeLogs(context.Background(), resolvedLogs(fp, start)))
	}
	waitFor(t, "every event delivered", outboxDone(t, openDB(t, sc), 40))
	stopA()
	stopB()
	got, _ := svc.snapshot()
	assert.Len(t, got, 40)
	svc.assertInOrder(t, func(string) []string { return []string{"created", "resolved"} })
}

func TestAnalysisConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*AnalysisConfig)
		errMsg string
	}{
		{"off", func(a *AnalysisConfig) { a.Endpoint = "" }, ""},
		{"valid", func(*AnalysisConfig) {}, ""},
		{"not a URL", func(a *AnalysisConfig) { a.Endpoint = "copilot-api:8000" }, "must be an http:// or https:// URL"},
		{"no secret", func(a *AnalysisConfig) { a.Secret = "" }, "secret is required"},
		{"unknown event", func(a *AnalysisConfig) { a.Events = []string{"created", "acknowledged"} }, `event "acknowledged" is unknown`},
		{"no events", func(a *AnalysisConfig) { a.Events = nil }, "events must name"},
		{"bad retry", func(a *AnalysisConfig) { a.Retry.MaxInterval = time.Millisecond }, "retry needs"},
		{"no client timeout", func(a *AnalysisConfig) { a.Client.Timeout = 0 }, "client.timeout must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := analysisConfig(StoreConfig{Driver: "sqlite", DSN: "x.db"}, "http://copilot-api:8000/api/v1/incidents/analyze")
			tt.mutate(&cfg.Analysis)
			err := cfg.Validate()
			if tt.errMsg == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tt.errMsg)
			assert.NotContains(t, err.Error(), analysisSecret)
		})
	}
}

// repeated are the keys seen more than once.
func repeated(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		if v > 1 {
			out[k] = v
		}
	}
	return out
}
