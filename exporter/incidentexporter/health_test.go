package incidentexporter

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/metadata"
	"github.com/sre-copilot/incident-collector/internal/testutil"
)

// statusHost records the component statuses reported to it, as the
// collector's service does for the health check.
type statusHost struct {
	component.Host
	mu     sync.Mutex
	events []*componentstatus.Event
}

func (h *statusHost) Report(e *componentstatus.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, e)
}

func (h *statusHost) last() componentstatus.Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.events) == 0 {
		return componentstatus.StatusNone
	}
	return h.events[len(h.events)-1].Status()
}

// PostgreSQL out of reach with no traffic at all: the exporter reports a
// recoverable error within a few seconds, and OK once it is back.
func TestStoreOutageIsReportedAsComponentStatus(t *testing.T) {
	dsn := testutil.PostgresSchema(t)
	proxy := testutil.NewProxy(t, "127.0.0.1:5432")
	proxied := strings.Replace(strings.Replace(dsn, "127.0.0.1:5432", proxy.Addr(), 1), "localhost:5432", proxy.Addr(), 1)
	cfg := createDefaultConfig()
	cfg.Store = StoreConfig{Driver: "postgres", DSN: configOpaque(proxied)}
	exp, err := NewFactory().CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	host := &statusHost{Host: componenttest.NewNopHost()}
	require.NoError(t, exp.Start(context.Background(), host))
	t.Cleanup(func() { require.NoError(t, exp.Shutdown(context.Background())) })

	proxy.Cut()
	began := time.Now()
	require.Eventually(t, func() bool { return host.last() == componentstatus.StatusRecoverableError }, 15*time.Second, 50*time.Millisecond)
	t.Logf("outage reported after %v", time.Since(began))
	proxy.Restore()
	began = time.Now()
	require.Eventually(t, func() bool { return host.last() == componentstatus.StatusOK }, 15*time.Second, 50*time.Millisecond)
	t.Logf("recovery reported after %v", time.Since(began))
}
