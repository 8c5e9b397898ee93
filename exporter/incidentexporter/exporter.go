package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/metadata"
	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"
	"github.com/sre-copilot/incident-collector/internal/incident"
)

type incidentExporter struct {
	cfg       *Config
	settings  exporter.Settings
	logger    *zap.Logger
	now       func() time.Time
	store     *store.Store
	telemetry *metadata.TelemetryBuilder
	health    *storeHealth

	stopLoops context.CancelFunc
	loops     sync.WaitGroup
	analysis  *dispatcher
	api       *apiServer // nil without an api section
}

func newIncidentExporter(cfg *Config, set exporter.Settings) *incidentExporter {
	return &incidentExporter{cfg: cfg, settings: set, logger: set.Logger, now: time.Now}
}

func (e *incidentExporter) start(ctx context.Context, host component.Host) error {
	tb, err := metadata.NewTelemetryBuilder(e.settings.TelemetrySettings)
	if err != nil {
		return fmt.Errorf("creating telemetry: %w", err)
	}
	e.telemetry = tb
	s, err := store.Open(ctx, store.Options{
		Driver: e.cfg.Store.Driver, DSN: string(e.cfg.Store.DSN), Clock: e.now, AnalysisEvents: e.analysisEvents(),
		Rules: rules.Config{
			ResolveOn:          e.cfg.Grouping.ResolveOn,
			ReopenWindow:       e.cfg.ReopenWindow,
			HeartbeatAlertname: e.cfg.Heartbeat.Alertname,
			HeartbeatTimeout:   e.cfg.Heartbeat.Timeout,
		},
	})
	if err != nil {
		return fmt.Errorf("opening the incident store: %w", err)
	}
	e.store = s
	e.logger.Info("Incident store ready", zap.String("driver", e.cfg.Store.Driver), zap.String("grouping", e.cfg.Grouping.By))
	if e.cfg.Analysis.Endpoint != "" {
		client, err := e.cfg.Analysis.Client.ToClient(ctx, host.GetExtensions(), e.settings.TelemetrySettings)
		if err != nil {
			return errors.Join(fmt.Errorf("creating the analysis client: %w", err), s.Close(ctx))
		}
		e.analysis = &dispatcher{
			cfg: &e.cfg.Analysis, store: s, client: client, logger: e.logger, telemetry: tb, now: e.now,
			lease: e.cfg.Analysis.Client.Timeout + leaseSlack,
		}
		e.analysis.start()
	}
	if err := e.startAPI(ctx, host); err != nil {
		// Undone here, and nothing left for shutdown to undo again.
		if e.analysis != nil {
			e.analysis.shutdown()
			e.analysis = nil
		}
		e.store = nil
		return errors.Join(err, s.Close(ctx))
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	e.stopLoops = cancel
	e.health = newStoreHealth(host, e.logger)
	e.runLoop(loopCtx, healthProbeInterval, e.probeStore)
	if interval := e.sweepInterval(); interval > 0 {
		e.runLoop(loopCtx, interval, e.sweepOnce)
	}
	return nil
}

// runLoop calls fn every interval until ctx ends.
func (e *incidentExporter) runLoop(ctx context.Context, interval time.Duration, fn func(context.Context)) {
	e.loops.Add(1)
	go func() {
		defer e.loops.Done()
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
				fn(ctx)
			}
		}
	}()
}

// shutdown stops the loops and the dispatcher, lets the store finish the
// transactions in flight within ctx, and closes it.
func (e *incidentExporter) shutdown(ctx context.Context) error {
	var apiErr error
	if e.api != nil {
		// First: no request may reach a closed store.
		apiErr = e.api.shutdown(ctx)
	}
	if e.stopLoops != nil {
		e.stopLoops()
		e.loops.Wait()
	}
	if e.analysis != nil {
		e.analysis.shutdown()
	}
	var err error
	if e.store != nil {
		err = e.store.Close(ctx)
	}
	if e.telemetry != nil {
		e.telemetry.Shutdown()
	}
	return errors.Join(apiErr, err)
}

// startAPI serves the incident API when the config has an api section.
func (e *incidentExporter) startAPI(ctx context.Context, host component.Host) error {
	cfg := e.cfg.API.Get()
	if cfg == nil {
		return nil
	}
	api, err := newAPIServer(cfg, e.store, e.telemetry, e.logger, e.now, e.cfg.TimeoutConfig.Timeout)
	if err != nil {
		return err
	}
	if err := api.start(ctx, host, e.settings.TelemetrySettings); err != nil {
		return fmt.Errorf("starting the incident API: %w", err)
	}
	e.api = api
	return nil
}

// pushLogs stores the alert records of ld and reports each verdict to the
// recorder the receiver put in ctx. It returns only once they are committed.
func (e *incidentExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	alerts, rejected, skipped := e.alertsOf(ld)
	if skipped > 0 {
		e.telemetry.IncidentRecordsSkipped.Add(ctx, int64(skipped))
	}
	// Added even when 0, so that every verdict's series exists from the first
	// delivery on (a dashboard shows 0, not "no data").
	e.telemetry.IncidentAlertsRejected.Add(ctx, int64(len(rejected)))
	if len(rejected) > 0 {
		if rec := incident.RecorderFromContext(ctx); rec != nil {
			rec.Record(rejected...)
		}
	}
	if len(alerts) == 0 {
		return nil
	}
	began := time.Now()
	outcomes, err := e.store.Apply(ctx, alerts)
	e.telemetry.IncidentStoreCommitDuration.Record(ctx, time.Since(began).Seconds())
	e.health.observe(err)
	if err != nil {
		return fmt.Errorf("storing %d alerts: %w", len(alerts), err)
	}
	e.report(ctx, outcomes)
	return nil
}

var (
	reasonAlertResolved = metric.WithAttributes(attribute.String("reason", "alert_resolved"))
	reasonAutoResolved  = metric.WithAttributes(attribute.String("reason", "auto_resolved"))
	reasonHeartbeat     = metric.WithAttributes(attribute.String("reason", "heartbeat_received"))
)

// report counts the verdicts and hands them to the receiver's recorder.
func (e *incidentExporter) report(ctx context.Context, outcomes []incident.Outcome) {
	counts := map[incident.Verdict]int64{}
	var heartbeatResolved int64
	for _, o := range outcomes {
		counts[o.Verdict]++
		if o.Verdict == incident.VerdictHeartbeat && o.IncidentID != "" {
			heartbeatResolved++
		}
	}
	t := e.telemetry
	t.IncidentIncidentsCreated.Add(ctx, counts[incident.VerdictCreated])
	t.IncidentIncidentsDuplicate.Add(ctx, counts[incident.VerdictDuplicate])
	t.IncidentIncidentsResolved.Add(ctx, counts[incident.VerdictResolved], reasonAlertResolved)
	t.IncidentResolvedIgnored.Add(ctx, counts[incident.VerdictIgnored])
	t.IncidentAlertsGrouped.Add(ctx, counts[incident.VerdictGrouped])
	t.IncidentIncidentsReopened.Add(ctx, counts[incident.VerdictReopened])
	t.IncidentAlertsResolved.Add(ctx, counts[incident.VerdictAlertResolved])
	if n := counts[incident.VerdictHeartbeat]; n > 0 {
		t.IncidentHeartbeats.Add(ctx, n)
		t.IncidentIncidentsResolved.Add(ctx, heartbeatResolved, reasonHeartbeat)
	}
	if rec := incident.RecorderFromContext(ctx); rec != nil {
		rec.Record(outcomes...)
	}
}

// analysisEvents are the events to queue: none without an endpoint.
func (e *incidentExporter) analysisEvents() []string {
	if e.cfg.Analysis.Endpoint == "" {
		return nil
	}
	return e.cfg.Analysis.Events
}
