package incidentexporter

import (
	"context"
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
	answer   atomic.Int32 // status to answer; 0 means 200
	calls    atomic.Int64
}

func newAnalysisService(t *testing.T) *analysisService {
	return &analysisService{t: t, received: map[string]int{}}
}

func (s *analysisService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	if code := int(s.answer.Load()); code != 0 {
		w.WriteHeader(code)
		return
	}
	body, err := io.ReadAll(r.Body)
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
	assert.True(s.t, strings.HasPrefix(r.Header.Get("Idempotency-Key"), n.Incident.ID+":"+n.Event), r.Header.Get("Idempotency-Key"))
	s.mu.Lock()
	s.received[r.Header.Get("Idempotency-Key")]++
	s.bodies = append(s.bodies, n)
	s.mu.Unlock()
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
	cfg.Analysis.Retry = AnalysisRetryConfig{InitialInterval: 50 * time.Millisecond, MaxInterval: 200 * time.Millisecond, MaxAge: time.Hour}
	cfg.Analysis.Client.Timeout = 2 * time.Second
	return cfg
}

func startExporterWith(t *testing.T, cfg *Config) consumer.Logs {
	t.Helper()
	exp, _ := startExporterTelemetry(t, cfg)
	return exp
}

// startExporterTelemetry starts the exporter with cfg, through its factory,
// with a telemetry the test reads (metadatatest).
func startExporterTelemetry(t *testing.T, cfg *Config) (consumer.Logs, *componenttest.Telemetry) {
	t.Helper()
	require.NoError(t, cfg.Validate())
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	exp, err := NewFactory().CreateLogs(context.Background(), metadatatest.NewSettings(tel), cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, exp.Shutdown(context.Background())) })
	return exp, tel
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
			base := startReceiver(t, startExporterWith(t, analysisConfig(sc, "http://"+addr+"/api/v1/incidents/analyze")))

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

			waitFor(t, "three notifications", func() bool { got, _ := svc.snapshot(); return len(got) == 3 })
			time.Sleep(300 * time.Millisecond) // room for a wrong extra delivery to show
			got, bodies := svc.snapshot()
			assert.Equal(t, map[string]int{}, filterAbove(got, 1), "each event once")
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
			require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM analysis_outbox WHERE status = 'delivered' AND delivered_at IS NOT NULL").Scan(&delivered))
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
	_, err = db.Exec(`INSERT INTO analysis_outbox (incident_id, event, status, created_at, next_attempt_at, last_error)
		SELECT id, 'resolved', 'failed', created_at, created_at, 'HTTP 422' FROM incidents`)
	require.NoError(t, err)
	tb, err := metadata.NewTelemetryBuilder(componenttest.NewNopTelemetrySettings())
	require.NoError(t, err)
	later := time.Now().Add(deliveredRetention + time.Minute)
	d := &dispatcher{store: s, telemetry: tb, logger: zap.NewNop(), now: func() time.Time { return later }}
	d.dispatchDue(context.Background())
	var delivered, failed int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FILTER (WHERE status = 'delivered'), COUNT(*) FILTER (WHERE status = 'failed')
		FROM analysis_outbox`).Scan(&delivered, &failed))
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
			base := startReceiver(t, startExporterWith(t, analysisConfig(sc, "http://"+addr+"/analyze")))
			code, _ := post(t, base+"/webhooks/alertmanager", fixture(t, "alertmanager/real-02-group-two-firing.json"))
			require.Equal(t, 200, code)

			waitFor(t, "503s answered", func() bool { return svc.calls.Load() >= 4 })
			stop()
			time.Sleep(400 * time.Millisecond) // connection refused meanwhile
			svc.answer.Store(0)
			serve(t, addr, svc)

			waitFor(t, "both events", func() bool { got, _ := svc.snapshot(); return len(got) == 2 })
			time.Sleep(300 * time.Millisecond)
			got, _ := svc.snapshot()
			assert.Empty(t, filterAbove(got, 1), "each event once once the service is up")
			var attempts int
			require.NoError(t, openDB(t, sc).QueryRow("SELECT MIN(attempts) FROM analysis_outbox").Scan(&attempts))
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
	base := startReceiver(t, startExporterWith(t, analysisConfig(sc, "http://"+addr+"/analyze")))
	code, _ := post(t, base+"/webhooks/alertmanager", fixture(t, "alertmanager/seed-example.json"))
	require.Equal(t, 200, code)
	db := openDB(t, sc)
	waitFor(t, "the event marked failed", func() bool {
		var n int
		require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM analysis_outbox WHERE status = 'failed' AND last_error = 'HTTP 422' AND attempts = 1").Scan(&n))
		return n == 1
	})
	time.Sleep(300 * time.Millisecond)
	assert.EqualValues(t, 1, svc.calls.Load(), "not retried")
}

// Two replicas on one PostgreSQL, both dispatching: each event delivered once.
func TestAnalysisTwoReplicasDeliverOnce(t *testing.T) {
	svc := newAnalysisService(t)
	addr, _ := serve(t, "127.0.0.1:0", svc)
	dsn := testutil.PostgresSchema(t)
	sc := StoreConfig{Driver: "postgres", DSN: configOpaque(dsn)}
	a := startExporterWith(t, analysisConfig(sc, "http://"+addr+"/analyze"))
	b := startExporterWith(t, analysisConfig(sc, "http://"+addr+"/analyze"))
	start := time.Date(2026, 11, 28, 19, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			exp := []consumer.Logs{a, b}[i%2]
			assert.NoError(t, exp.ConsumeLogs(context.Background(), alertLogs("replica-"+strconv.Itoa(i/2), start)))
		}()
	}
	wg.Wait()
	waitFor(t, "20 created events", func() bool { got, _ := svc.snapshot(); return len(got) == 20 })
	time.Sleep(500 * time.Millisecond)
	got, _ := svc.snapshot()
	assert.Empty(t, filterAbove(got, 1))
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

func filterAbove(m map[string]int, limit int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		if v > limit {
			out[k] = v
		}
	}
	return out
}
