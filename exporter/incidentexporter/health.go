package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.uber.org/zap"
)

// healthProbeInterval is how often the store is pinged when no write has
// shown recently whether it is up; an outage shows within about two of it.
const healthProbeInterval = 2 * time.Second

// storeHealth reports the store's reachability as the exporter's component
// status, so that the collector's health check (with the component-status
// feature gate) and its log show an outage and the recovery. Evidence comes
// from writes and, when they are rare, from pings.
type storeHealth struct {
	host   component.Host
	logger *zap.Logger

	mu          sync.Mutex
	down        bool
	lastOK      time.Time
	lastFailure time.Time
}

func newStoreHealth(host component.Host, logger *zap.Logger) *storeHealth {
	return &storeHealth{host: host, logger: logger, lastOK: time.Now()}
}

// observe takes the outcome of a write or a ping. Permanent errors are about
// a record, not the store, and a caller that gave up says nothing either.
func (h *storeHealth) observe(err error) {
	if err != nil && (consumererror.IsPermanent(err) || errors.Is(err, context.Canceled)) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	if err == nil {
		h.lastOK = now
		if h.down && now.Sub(h.lastFailure) >= healthProbeInterval {
			h.down = false
			h.logger.Info("Incident store reachable again")
			componentstatus.ReportStatus(h.host, componentstatus.NewEvent(componentstatus.StatusOK))
		}
		return
	}
	h.lastFailure = now
	if !h.down {
		h.down = true
		h.logger.Warn("Incident store unreachable: webhooks are answered 503 until it is back", zap.Error(err))
		componentstatus.ReportStatus(h.host, componentstatus.NewRecoverableErrorEvent(err))
	}
}

// recentlyOK: a write succeeded within the last probe interval.
func (h *storeHealth) recentlyOK() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.down && time.Since(h.lastOK) < healthProbeInterval
}

// probeStore pings the store unless a write just showed it is up.
func (e *incidentExporter) probeStore(ctx context.Context) {
	if e.health.recentlyOK() {
		return
	}
	pingCtx, cancel := context.WithTimeout(ctx, healthProbeInterval)
	defer cancel()
	err := e.store.Ping(pingCtx)
	if ctx.Err() != nil {
		return // shutting down
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = errors.New("the store did not answer a ping within 2s")
	}
	e.health.observe(err)
}
