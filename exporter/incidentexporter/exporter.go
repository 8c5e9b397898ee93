package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
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
	// instance tells this collector's announcements from other replicas'.
	instance string

	stopLoops context.CancelFunc
	loops     sync.WaitGroup
	// dispatchers deliver the outbox, one per sink.
	dispatchers []*dispatcher
	api         *apiServer // nil without an api section
}

func newIncidentExporter(cfg *Config, set exporter.Settings) *incidentExporter {
	return &incidentExporter{cfg: cfg, settings: set, logger: set.Logger, now: time.Now, instance: uuid.NewString()}
}

func (e *incidentExporter) start(ctx context.Context, host component.Host) error {
	tb, err := metadata.NewTelemetryBuilder(e.settings.TelemetrySettings)
	if err != nil {
		return fmt.Errorf("creating telemetry: %w", err)
	}
	e.telemetry = tb
	s, err := store.Open(ctx, store.Options{
		Driver: e.cfg.Store.Driver, DSN: string(e.cfg.Store.DSN), Clock: e.now, Sinks: e.outboxSinks(),
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
	if e.cfg.Heartbeat.Alertname == "" {
		// Heartbeats are off: no heartbeat will resolve an incident that a
		// missing one opened before.
		if n, forgetErr := s.ForgetAllHeartbeats(ctx); forgetErr != nil {
			e.logger.Warn("Resolving the heartbeat incidents of heartbeats turned off failed", zap.Error(forgetErr))
		} else if n > 0 {
			e.logger.Info("Heartbeats are off: their open incidents resolved", zap.Int64("count", n))
		}
	}
	sinks, err := e.sinks(ctx, host)
	if err != nil {
		return errors.Join(err, s.Close(ctx))
	}
	for _, k := range sinks {
		d := newDispatcher(k, s, e.logger, tb, e.now)
		e.dispatchers = append(e.dispatchers, d)
		d.start()
	}
	if err := e.startAPI(ctx, host); err != nil {
		// Undone here, and nothing left for shutdown to undo again.
		for _, d := range e.dispatchers {
			d.shutdown()
		}
		e.dispatchers, e.store = nil, nil
		return errors.Join(err, s.Close(ctx))
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	e.stopLoops = cancel
	e.health = newStoreHealth(host, e.logger)
	e.runLoop(loopCtx, healthProbeInterval, e.probeStore)
	if interval := e.sweepInterval(); interval > 0 {
		e.runLoop(loopCtx, interval, e.sweepOnce)
	}
	// Silences are created through any replica's API: every replica looks
	// for ended ones.
	e.runLoop(loopCtx, silenceSweepInterval, e.releaseSilenced)
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
	for _, d := range e.dispatchers {
		d.shutdown()
	}
	var err error
	if e.store != nil {
		// What this collector's receivers served is served no more.
		err = e.store.Withdraw(ctx, e.instance)
		err = errors.Join(err, e.store.Close(ctx))
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
	alerts, rejected, announced, skipped := e.alertsOf(ld)
	for _, a := range announced {
		if err := e.store.Announce(ctx, e.instance, a.receiver, a.scopes); err != nil {
			// The receiver announces again at its next tick.
			return fmt.Errorf("recording what receiver %s serves: %w", a.receiver, err)
		}
	}
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
	reasonAlertResolved      = metric.WithAttributes(attribute.String("reason", "alert_resolved"))
	reasonAutoResolved       = metric.WithAttributes(attribute.String("reason", "auto_resolved"))
	reasonHeartbeat          = metric.WithAttributes(attribute.String("reason", "heartbeat_received"))
	reasonIntegrationRemoved = metric.WithAttributes(attribute.String("reason", "integration_removed"))
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

// outboxSinks are the sinks the store queues events for: the analysis
// trigger when it has an endpoint, and each notify sink.
func (e *incidentExporter) outboxSinks() []store.Sink {
	var out []store.Sink
	if e.cfg.Analysis.Endpoint != "" {
		out = append(out, store.Sink{Name: analysisSinkName, Events: e.cfg.Analysis.Events})
	}
	for i := range e.cfg.Notify {
		out = append(out, e.cfg.Notify[i].outboxSink())
	}
	return out
}

// noRedirects makes a sink's client answer a redirect as it is: following
// one would turn a POST into a GET (a login page's 200 taken for a
// delivery), or send a signed body, a routing key, to another host.
func noRedirects(c *http.Client) *http.Client {
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// sinks are where the dispatchers deliver, each with its own client.
func (e *incidentExporter) sinks(ctx context.Context, host component.Host) ([]*sink, error) {
	var out []*sink
	if a := &e.cfg.Analysis; a.Endpoint != "" {
		client, err := a.Client.ToClient(ctx, host.GetExtensions(), e.settings.TelemetrySettings)
		if err != nil {
			return nil, fmt.Errorf("creating the analysis client: %w", err)
		}
		out = append(out, analysisSink(a, noRedirects(client)))
	}
	for i := range e.cfg.Notify {
		n := &e.cfg.Notify[i]
		client, err := n.Client.ToClient(ctx, host.GetExtensions(), e.settings.TelemetrySettings)
		if err != nil {
			return nil, fmt.Errorf("creating the client of notify sink %s: %w", n.Name, err)
		}
		out = append(out, notifySink(n, noRedirects(client)))
	}
	return out, nil
}
