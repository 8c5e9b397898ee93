package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
)

// sweepInterval is how often the sweep runs: a quarter of the shortest
// period it watches (auto_resolve_after, heartbeat.timeout), between 1 s
// and 1 min; 0 when there is nothing to sweep.
func (e *incidentExporter) sweepInterval() time.Duration {
	var shortest time.Duration
	for _, d := range []time.Duration{e.cfg.AutoResolveAfter, e.heartbeatTimeout()} {
		if d > 0 && (shortest == 0 || d < shortest) {
			shortest = d
		}
	}
	if shortest == 0 {
		return 0
	}
	return min(max(shortest/4, time.Second), time.Minute)
}

func (e *incidentExporter) heartbeatTimeout() time.Duration {
	if e.cfg.Heartbeat.Alertname == "" {
		return 0
	}
	return e.cfg.Heartbeat.Timeout
}

// sweepOnce resolves the open incidents untouched for auto_resolve_after and
// opens the incidents of silent heartbeats. Every replica sweeps; the store
// makes each change once.
func (e *incidentExporter) sweepOnce(ctx context.Context) {
	if e.cfg.AutoResolveAfter > 0 {
		n, err := e.store.ResolveStale(ctx, e.now().Add(-e.cfg.AutoResolveAfter))
		if n > 0 {
			e.telemetry.IncidentIncidentsResolved.Add(ctx, n, reasonAutoResolved)
			e.logger.Debug("Auto-resolved stale incidents", zap.Int64("count", n))
		}
		if err != nil && ctx.Err() == nil {
			e.logger.Warn("Auto-resolve sweep failed; it runs again at the next tick", zap.Error(err))
		}
	}
	if e.cfg.Heartbeat.Alertname == "" {
		return
	}
	removed, err := e.store.ForgetRemovedIntegrations(ctx)
	if removed > 0 {
		e.telemetry.IncidentIncidentsResolved.Add(ctx, removed, reasonIntegrationRemoved)
		e.logger.Info("Heartbeat incidents of removed integrations resolved", zap.Int64("count", removed))
	}
	if err != nil && ctx.Err() == nil {
		e.logger.Warn("Forgetting the heartbeats of removed integrations failed; it runs again at the next tick", zap.Error(err))
	}
	opened, beats, err := e.store.CheckHeartbeats(ctx)
	now := e.now()
	for _, b := range beats {
		e.telemetry.IncidentHeartbeatAge.Record(ctx, now.Sub(b.LastSeen).Seconds(),
			metric.WithAttributes(attribute.String("integration", b.Scope)))
	}
	if opened > 0 {
		e.telemetry.IncidentIncidentsCreated.Add(ctx, opened)
		e.logger.Warn("Heartbeats missing: incidents opened", zap.Int64("count", opened), zap.String("alertname", e.cfg.Heartbeat.Alertname))
	}
	if err != nil && ctx.Err() == nil {
		e.logger.Warn("Heartbeat sweep failed; it runs again at the next tick", zap.Error(err))
	}
}

// silenceSweepInterval: what an ended silence held opens within about it.
const silenceSweepInterval = time.Second

// releaseSilenced opens the incidents of what ended silences held.
func (e *incidentExporter) releaseSilenced(ctx context.Context) {
	n, err := e.store.ReleaseSilenced(ctx)
	if n > 0 {
		e.logger.Info("Alerts held by ended silences released", zap.Int64("count", n))
	}
	if err != nil && ctx.Err() == nil {
		e.logger.Warn("Releasing what ended silences held failed; it runs again at the next tick", zap.Error(err))
	}
}
