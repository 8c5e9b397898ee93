package alertwebhookreceiver

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter"
	"github.com/sre-copilot/incident-collector/internal/incident"
	"github.com/sre-copilot/incident-collector/internal/testutil"
	"github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver/internal/metadata"
)

const (
	promID     = "550e8400-e29b-41d4-a716-446655440000"
	promSecret = "payments-secret"
	grafID     = "grafana-main"
	grafSecret = "grafana-bearer-secret"
	hmacID     = "grafana-hmac"
	hmacSecret = "grafana-hmac-secret"
	hmacTSID   = "grafana-hmac-ts"
)

func fixture(tb testing.TB, name string) []byte { return testutil.Fixture(tb, name) }

// storeConsumer is the end of the pipeline in these tests: the real incident
// exporter on a temporary SQLite file, so that every answer that depends on
// dedup comes from the real rules. It keeps the alert records it got (the
// receiver's inventory goes to the exporter only); err, when set, fails a
// delivery before the store sees it. opts change the exporter's default
// config.
type storeConsumer struct {
	consumertest.LogsSink
	exporter consumer.Logs
	dsn      string
	mu       sync.Mutex
	err      error
}

func newStoreConsumer(tb testing.TB, opts ...func(*incidentexporter.Config)) *storeConsumer {
	tb.Helper()
	f := incidentexporter.NewFactory()
	cfg := f.CreateDefaultConfig().(*incidentexporter.Config)
	dsn := filepath.Join(tb.TempDir(), "incidents.db")
	cfg.Store = incidentexporter.StoreConfig{Driver: "sqlite", DSN: configopaque.String(dsn)}
	for _, o := range opts {
		o(cfg)
	}
	exp, err := f.CreateLogs(context.Background(), exportertest.NewNopSettings(f.Type()), cfg)
	require.NoError(tb, err)
	require.NoError(tb, exp.Start(context.Background(), componenttest.NewNopHost()))
	tb.Cleanup(func() { require.NoError(tb, exp.Shutdown(context.Background())) })
	return &storeConsumer{exporter: exp, dsn: dsn}
}

func (s *storeConsumer) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

func (s *storeConsumer) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if !isInventory(ld) {
		_ = s.LogsSink.ConsumeLogs(ctx, ld)
	}
	return s.exporter.ConsumeLogs(ctx, ld)
}

// count counts the stored incidents matching where.
func (s *storeConsumer) count(tb testing.TB, where string, args ...any) int {
	tb.Helper()
	db, err := sql.Open("sqlite", s.dsn)
	require.NoError(tb, err)
	defer db.Close()
	return testutil.CountIncidents(tb, db, where, args...)
}

func forEachRecord(ld plog.Logs, fn func(plog.LogRecord)) {
	for i := range ld.ResourceLogs().Len() {
		sls := ld.ResourceLogs().At(i).ScopeLogs()
		for j := range sls.Len() {
			lrs := sls.At(j).LogRecords()
			for k := range lrs.Len() {
				fn(lrs.At(k))
			}
		}
	}
}

// allRecords are the alert records a sink got, in order.
func allRecords(sink *consumertest.LogsSink) []plog.LogRecord {
	var out []plog.LogRecord
	for _, ld := range sink.AllLogs() {
		forEachRecord(ld, func(lr plog.LogRecord) {
			if lr.EventName() == incident.EventName {
				out = append(out, lr)
			}
		})
	}
	return out
}

// isInventory: ld is the receiver's announcement of its integrations, which
// it sends at start and periodically, not a request's alerts.
func isInventory(ld plog.Logs) bool {
	inventory := false
	forEachRecord(ld, func(lr plog.LogRecord) { inventory = lr.EventName() == incident.EventNameInventory })
	return inventory
}

// testConfig has the global endpoint, one prometheus integration (Alertmanager
// basic_auth style secret), a Bearer grafana integration and two HMAC ones.
func testConfig() *Config {
	cfg := createDefaultConfig()
	cfg.HTTP.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.Integrations = []IntegrationConfig{
		{ID: promID, Type: "prometheus", Secret: promSecret, Project: "payments"},
		{ID: grafID, Type: "grafana", Secret: grafSecret, Project: "observability"},
		{ID: hmacID, Type: "grafana", Secret: hmacSecret, Signature: &SignatureConfig{}},
		{ID: hmacTSID, Type: "grafana", Secret: hmacSecret, Signature: &SignatureConfig{
			TimestampHeader: "X-Grafana-Alerting-Timestamp", MaxSkew: time.Minute,
		}},
	}
	return cfg
}

// startReceiver runs the receiver on a free loopback port until the test ends.
func startReceiver(tb testing.TB, cfg *Config, next consumer.Logs, opts ...func(*alertReceiver)) (*alertReceiver, string) {
	tb.Helper()
	require.NoError(tb, cfg.Validate())
	r, err := newReceiver(cfg, receivertest.NewNopSettings(metadata.Type), next)
	require.NoError(tb, err)
	for _, o := range opts {
		o(r)
	}
	require.NoError(tb, r.Start(context.Background(), componenttest.NewNopHost()))
	tb.Cleanup(func() { require.NoError(tb, r.Shutdown(context.Background())) })
	return r, "http://" + r.addr.String()
}

type response struct {
	code   int
	header http.Header
	body   []byte
}

func (r response) json(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	require.NoError(tb, json.Unmarshal(r.body, &m), string(r.body))
	return m
}

func do(tb testing.TB, method, url string, body []byte, headers map[string]string) response {
	tb.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	require.NoError(tb, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(tb, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(tb, err)
	return response{code: resp.StatusCode, header: resp.Header, body: b}
}

func post(tb testing.TB, url string, body []byte, headers map[string]string) response {
	tb.Helper()
	return do(tb, http.MethodPost, url, body, headers)
}

func receiverSettings() receiver.Settings { return receivertest.NewNopSettings(metadata.Type) }
