package incidentexporter

import (
	"context"
	"database/sql"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/metadata"
	"github.com/sre-copilot/incident-collector/internal/incident"
	"github.com/sre-copilot/incident-collector/internal/testutil"
	"github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"
)

type storeUnderTest struct {
	name string
	cfg  func(t *testing.T) StoreConfig
}

var storesUnderTest = []storeUnderTest{
	{"sqlite", func(t *testing.T) StoreConfig {
		return StoreConfig{Driver: "sqlite", DSN: configOpaque(filepath.Join(t.TempDir(), "incidents.db"))}
	}},
	{"postgres", func(t *testing.T) StoreConfig {
		return StoreConfig{Driver: "postgres", DSN: configOpaque(testutil.PostgresSchema(t))}
	}},
}

// startExporter builds the exporter through its factory, as the collector does.
func startExporter(t *testing.T, sc StoreConfig) consumer.Logs {
	t.Helper()
	cfg := createDefaultConfig()
	cfg.Store = sc
	return startExporterWith(t, cfg)
}

// startReceiver runs the real receiver in front of next on a free port.
func startReceiver(t *testing.T, next consumer.Logs) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	f := alertwebhookreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*alertwebhookreceiver.Config)
	cfg.HTTP.NetAddr.Endpoint = addr
	cfg.Integrations = []alertwebhookreceiver.IntegrationConfig{{ID: "payments", Type: "prometheus", Secret: "payments-secret", Project: "payments"}}
	rcv, err := f.CreateLogs(context.Background(), receivertest.NewNopSettings(f.Type()), cfg, next)
	require.NoError(t, err)
	require.NoError(t, rcv.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, rcv.Shutdown(context.Background())) })
	return "http://" + addr
}

func openDB(t *testing.T, sc StoreConfig) *sql.DB {
	t.Helper()
	driver := "pgx"
	if sc.Driver == "sqlite" {
		driver = "sqlite"
	}
	db, err := sql.Open(driver, string(sc.DSN))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func fixture(t *testing.T, name string) []byte { return testutil.Fixture(t, name) }

func post(t *testing.T, url string, body []byte, headers ...string) (int, map[string]any) {
	t.Helper()
	a := testutil.Post(t, url, body, headers...)
	require.NotNil(t, a.Body, "not a JSON object: %s", a.Raw)
	return a.Code, a.Body
}

var count = testutil.CountIncidents

// The real receiver in front of the real exporter, on each store: answers
// carry the store's verdicts and the rows follow the dedup rules.
func TestPipelineOnEachStore(t *testing.T) {
	for _, st := range storesUnderTest {
		t.Run(st.name, func(t *testing.T) {
			sc := st.cfg(t)
			base := startReceiver(t, startExporter(t, sc))
			db := openDB(t, sc)

			code, body := post(t, base+"/webhooks/alertmanager", fixture(t, "alertmanager/real-02-group-two-firing.json"))
			require.Equal(t, 200, code, body)
			assert.Equal(t, "success", body["status"])
			assert.EqualValues(t, 2, body["incidents_created"])
			incidents := body["incidents"].([]any)
			require.Len(t, incidents, 2)
			first := incidents[0].(map[string]any)
			id, err := uuid.Parse(first["id"].(string))
			require.NoError(t, err)
			assert.Equal(t, uuid.Version(7), id.Version())
			assert.Equal(t, "HighErrorRate", first["title"])
			assert.Equal(t, "21473860c0a3436e", first["fingerprint"])

			code, body = post(t, base+"/webhooks/alertmanager", fixture(t, "alertmanager/real-02-group-two-firing.json"))
			require.Equal(t, 200, code)
			assert.Equal(t, map[string]any{
				"status": "duplicate", "message": "Alert already processed",
				"fingerprint": "21473860c0a3436e", "fingerprints": []any{"21473860c0a3436e", "ca83fc25b3aceae7"},
			}, body)

			code, body = post(t, base+"/webhooks/alertmanager", fixture(t, "alertmanager/real-05-one-resolved-one-firing.json"))
			require.Equal(t, 200, code)
			assert.EqualValues(t, 1, body["incidents_resolved"])
			assert.EqualValues(t, 1, body["duplicates"])
			assert.Equal(t, 1, count(t, db, "fingerprint = $1 AND status = 'resolved' AND CAST(id AS TEXT) = $2", "21473860c0a3436e", first["id"]))

			// A truncated group: the alert Alertmanager cut is not resolved, the two sent are created.
			code, body = post(t, base+"/webhooks/prometheus/payments", fixture(t, "alertmanager/real-04-project-truncated.json"),
				"Authorization", "Basic YWxlcnRtYW5hZ2VyOnBheW1lbnRzLXNlY3JldA==")
			require.Equal(t, 200, code, body)
			assert.EqualValues(t, 2, body["incidents_created"])
			assert.EqualValues(t, 0, body["incidents_resolved"])
			assert.Equal(t, 2, count(t, db, "dedup_scope = 'payments' AND project = 'payments' AND status = 'open'"))

			// The curl example of the specification, and the stored columns.
			code, _ = post(t, base+"/webhooks/alertmanager", fixture(t, "alertmanager/seed-curl-test.json"))
			require.Equal(t, 200, code)
			var title, desc, service, severity, source, labels string
			require.NoError(t, db.QueryRow(`SELECT title, description, service_name, severity, source, CAST(labels AS TEXT)
				FROM incidents WHERE fingerprint = 'test123'`).Scan(&title, &desc, &service, &severity, &source, &labels))
			assert.Equal(t, []string{"TestAlert", "This is a test alert", "test-service", "high", "alertmanager"},
				[]string{title, desc, service, severity, source})
			assert.JSONEq(t, `{"alertname":"TestAlert","severity":"warning","service":"test-service"}`, labels)
			assert.Equal(t, 5, count(t, db, "1 = 1"))
		})
	}
}

// What processors upstream changed is what gets stored; records that are not
// alerts are skipped without failing the batch.
func TestStoresWhatProcessorsLeft(t *testing.T) {
	sc := storesUnderTest[0].cfg(t)
	exp := startExporter(t, sc)
	rewrite := consumerFunc(func(ctx context.Context, ld plog.Logs) error {
		forEach(ld, func(lr plog.LogRecord) { lr.Attributes().PutStr(incident.AttrSeverity, "low") })
		notAlert := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().AppendEmpty()
		notAlert.Body().SetStr("an ordinary log line")
		return exp.ConsumeLogs(ctx, ld)
	})
	base := startReceiver(t, rewrite)
	code, body := post(t, base+"/webhooks/alertmanager", fixture(t, "alertmanager/seed-example.json"))
	require.Equal(t, 200, code, body)
	assert.Equal(t, "success", body["status"])
	assert.Equal(t, 1, count(t, openDB(t, sc), "fingerprint = 'abc123def456' AND severity = 'low'"))
}

// PostgreSQL out of reach: the sender gets a 503 to retry, never a 4xx; back
// again, the retried delivery is stored once.
func TestStoreOutageIs503(t *testing.T) {
	dsn := testutil.PostgresSchema(t)
	proxy := testutil.NewProxy(t, "127.0.0.1:5432")
	proxied := strings.Replace(strings.Replace(dsn, "127.0.0.1:5432", proxy.Addr(), 1), "localhost:5432", proxy.Addr(), 1)
	sc := StoreConfig{Driver: "postgres", DSN: configOpaque(proxied)}
	base := startReceiver(t, startExporter(t, sc))
	body := fixture(t, "alertmanager/seed-example.json")

	proxy.Cut()
	code, answer := post(t, base+"/webhooks/alertmanager", body)
	assert.Equal(t, http.StatusServiceUnavailable, code, answer)

	proxy.Restore()
	require.Eventually(t, func() bool {
		code, answer = post(t, base+"/webhooks/alertmanager", body)
		return code == 200
	}, 15*time.Second, 200*time.Millisecond)
	assert.Contains(t, []any{"success", "duplicate"}, answer["status"])
	assert.Equal(t, 1, count(t, openDB(t, StoreConfig{Driver: "postgres", DSN: configOpaque(dsn)}), "fingerprint = 'abc123def456'"))
}

func TestAutoResolveWithInjectedClock(t *testing.T) {
	for _, st := range storesUnderTest {
		t.Run(st.name, func(t *testing.T) {
			sc := st.cfg(t)
			cfg := createDefaultConfig()
			cfg.Store = sc
			cfg.AutoResolveAfter = time.Hour
			e := newIncidentExporter(cfg, exportertest.NewNopSettings(metadata.Type))
			clock := time.Date(2026, 11, 28, 19, 0, 0, 0, time.UTC)
			e.now = func() time.Time { return clock }
			require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
			defer func() { require.NoError(t, e.shutdown(context.Background())) }()

			require.NoError(t, e.pushLogs(context.Background(), alertLogs("stale", clock)))
			clock = clock.Add(50 * time.Minute)
			require.NoError(t, e.pushLogs(context.Background(), alertLogs("kept-alive", clock)))
			clock = clock.Add(20 * time.Minute)
			e.sweepOnce(context.Background())

			db := openDB(t, sc)
			assert.Equal(t, 1, count(t, db, "fingerprint = 'stale' AND status = 'resolved' AND resolution_reason = 'auto_resolved'"))
			assert.Equal(t, 1, count(t, db, "fingerprint = 'kept-alive' AND status = 'open'"))
		})
	}
}

func TestRecordsWithoutFingerprintAreSkipped(t *testing.T) {
	sc := storesUnderTest[0].cfg(t)
	exp := startExporter(t, sc)
	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("hello")
	require.NoError(t, exp.ConsumeLogs(context.Background(), ld))
	assert.Equal(t, 0, count(t, openDB(t, sc), "1 = 1"))
}

func alertLogs(fp string, startsAt time.Time) plog.Logs {
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	a := lr.Attributes()
	a.PutStr(incident.AttrFingerprint, fp)
	a.PutStr(incident.AttrStatus, incident.StatusFiring)
	a.PutStr(incident.AttrStartsAt, startsAt.Format(time.RFC3339Nano))
	a.PutStr(incident.AttrTitle, "Stale")
	a.PutStr(incident.AttrIntegrationID, "alertmanager")
	return ld
}

func resolvedLogs(fp string, startsAt time.Time) plog.Logs {
	ld := alertLogs(fp, startsAt)
	forEach(ld, func(lr plog.LogRecord) {
		lr.Attributes().PutStr(incident.AttrStatus, incident.StatusResolved)
		lr.Attributes().PutStr(incident.AttrEndsAt, startsAt.Add(time.Minute).Format(time.RFC3339Nano))
	})
	return ld
}

func inGroupLogs(ld plog.Logs) plog.Logs {
	forEach(ld, func(lr plog.LogRecord) { lr.Attributes().PutStr(incident.AttrGroupKey, "g") })
	return ld
}

func forEach(ld plog.Logs, fn func(plog.LogRecord)) {
	for i := range ld.ResourceLogs().Len() {
		for j := range ld.ResourceLogs().At(i).ScopeLogs().Len() {
			lrs := ld.ResourceLogs().At(i).ScopeLogs().At(j).LogRecords()
			for k := range lrs.Len() {
				fn(lrs.At(k))
			}
		}
	}
}

type consumerFunc func(context.Context, plog.Logs) error

func (f consumerFunc) ConsumeLogs(ctx context.Context, ld plog.Logs) error { return f(ctx, ld) }
func (consumerFunc) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: true}
}
