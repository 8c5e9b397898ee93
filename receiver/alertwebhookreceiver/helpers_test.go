package alertwebhookreceiver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

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

// dedupConsumer stands in for the incident exporter at the end of the
// pipeline: it keeps the records it got and reports verdicts by fingerprint,
// the way the real store does, through the recorder in the context.
type dedupConsumer struct {
	consumertest.LogsSink
	mu   sync.Mutex
	open map[string]string // fingerprint → incident id
	err  error
}

func newDedupConsumer() *dedupConsumer { return &dedupConsumer{open: map[string]string{}} }

func (d *dedupConsumer) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	if d.err != nil {
		return d.err
	}
	_ = d.LogsSink.ConsumeLogs(ctx, ld)
	rec := incident.RecorderFromContext(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	forEachRecord(ld, func(lr plog.LogRecord) {
		attrs := lr.Attributes()
		fp := str(attrs, incident.AttrFingerprint)
		title := str(attrs, incident.AttrTitle)
		o := incident.Outcome{Fingerprint: fp, Title: title}
		id, isOpen := d.open[fp]
		switch {
		case str(attrs, incident.AttrStatus) == incident.StatusResolved && isOpen:
			o.Verdict, o.IncidentID = incident.VerdictResolved, id
			delete(d.open, fp)
		case str(attrs, incident.AttrStatus) == incident.StatusResolved:
			o.Verdict = incident.VerdictIgnored
		case isOpen:
			o.Verdict, o.IncidentID = incident.VerdictDuplicate, id
		default:
			o.Verdict, o.IncidentID = incident.VerdictCreated, "inc-"+fp
			d.open[fp] = o.IncidentID
		}
		if rec != nil {
			rec.Record(o)
		}
	})
	return nil
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

func allRecords(sink *consumertest.LogsSink) []plog.LogRecord {
	var out []plog.LogRecord
	for _, ld := range sink.AllLogs() {
		forEachRecord(ld, func(lr plog.LogRecord) { out = append(out, lr) })
	}
	return out
}

func str(m pcommon.Map, key string) string {
	v, ok := m.Get(key)
	if !ok {
		return ""
	}
	return v.AsString()
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
