package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/metadata"
	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"
	"github.com/sre-copilot/incident-collector/internal/incident"
)

// defaultScope deduplicates records that name no integration (records from
// another receiver that carry the alert attributes).
const defaultScope = "default"

type incidentExporter struct {
	cfg       *Config
	settings  exporter.Settings
	logger    *zap.Logger
	now       func() time.Time
	store     store.Store
	telemetry *metadata.TelemetryBuilder

	stopSweep context.CancelFunc
	sweepDone sync.WaitGroup
	analysis  *dispatcher
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
	})
	if err != nil {
		return fmt.Errorf("opening the incident store: %w", err)
	}
	e.store = s
	e.logger.Info("Incident store ready", zap.String("driver", e.cfg.Store.Driver))
	if e.cfg.Analysis.Endpoint != "" {
		client, err := e.cfg.Analysis.Client.ToClient(ctx, host.GetExtensions(), e.settings.TelemetrySettings)
		if err != nil {
			return fmt.Errorf("creating the analysis client: %w", err)
		}
		e.analysis = &dispatcher{
			cfg: &e.cfg.Analysis, store: s, client: client, logger: e.logger, telemetry: tb, now: e.now,
			lease: e.cfg.Analysis.Client.Timeout + leaseSlack,
		}
		e.analysis.start()
	}
	if e.cfg.AutoResolveAfter > 0 {
		sweepCtx, cancel := context.WithCancel(context.Background())
		e.stopSweep = cancel
		e.sweepDone.Add(1)
		go e.sweepLoop(sweepCtx)
	}
	return nil
}

func (e *incidentExporter) shutdown(context.Context) error {
	if e.stopSweep != nil {
		e.stopSweep()
		e.sweepDone.Wait()
	}
	if e.analysis != nil {
		e.analysis.shutdown()
	}
	var err error
	if e.store != nil {
		err = e.store.Close()
	}
	if e.telemetry != nil {
		e.telemetry.Shutdown()
	}
	return err
}

// pushLogs stores the alert records of ld and reports each verdict to the
// recorder the receiver put in ctx. It returns only once they are committed.
func (e *incidentExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	alerts, skipped := e.alertsOf(ld)
	if skipped > 0 {
		e.telemetry.IncidentRecordsSkipped.Add(ctx, int64(skipped))
	}
	if len(alerts) == 0 {
		return nil
	}
	began := time.Now()
	results, err := e.store.Apply(ctx, alerts)
	e.telemetry.IncidentStoreCommitDuration.Record(ctx, time.Since(began).Seconds())
	if err != nil {
		return fmt.Errorf("storing %d alerts: %w", len(alerts), err)
	}
	e.report(ctx, alerts, results)
	return nil
}

func (e *incidentExporter) report(ctx context.Context, alerts []store.Alert, results []store.Result) {
	var created, duplicate, resolved, ignored int64
	outcomes := make([]incident.Outcome, len(results))
	for i, r := range results {
		switch r.Verdict {
		case incident.VerdictCreated:
			created++
		case incident.VerdictDuplicate:
			duplicate++
		case incident.VerdictResolved:
			resolved++
		case incident.VerdictIgnored:
			ignored++
		}
		outcomes[i] = incident.Outcome{Verdict: r.Verdict, IncidentID: r.IncidentID, Title: r.Title, Fingerprint: alerts[i].Fingerprint}
	}
	e.telemetry.IncidentIncidentsCreated.Add(ctx, created)
	e.telemetry.IncidentIncidentsDuplicate.Add(ctx, duplicate)
	e.telemetry.IncidentIncidentsResolved.Add(ctx, resolved, metric.WithAttributes(attribute.String("reason", "alert_resolved")))
	e.telemetry.IncidentResolvedIgnored.Add(ctx, ignored)
	if rec := incident.RecorderFromContext(ctx); rec != nil {
		rec.Record(outcomes...)
	}
}

// alertsOf reads the alert records of ld; records without a fingerprint are
// not alerts and are counted as skipped.
func (e *incidentExporter) alertsOf(ld plog.Logs) ([]store.Alert, int) {
	alerts := make([]store.Alert, 0, ld.LogRecordCount())
	skipped := 0
	now := e.now()
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				a, ok := alertOf(lrs.At(k), now)
				if !ok {
					skipped++
					continue
				}
				alerts = append(alerts, a)
			}
		}
	}
	return alerts, skipped
}

func alertOf(lr plog.LogRecord, now time.Time) (store.Alert, bool) {
	attrs := lr.Attributes()
	fp := getStr(attrs, incident.AttrFingerprint)
	if fp == "" {
		return store.Alert{}, false
	}
	a := store.Alert{
		Scope:        getStr(attrs, incident.AttrIntegrationID),
		Fingerprint:  fp,
		Status:       getStr(attrs, incident.AttrStatus),
		Project:      getStr(attrs, incident.AttrProject),
		Source:       getStr(attrs, incident.AttrSource),
		Title:        getStr(attrs, incident.AttrTitle),
		Description:  getStr(attrs, incident.AttrDescription),
		ServiceName:  getStr(attrs, incident.AttrServiceName),
		Severity:     getStr(attrs, incident.AttrSeverity),
		Labels:       getJSON(attrs, incident.AttrLabels),
		Annotations:  getJSON(attrs, incident.AttrAnnotations),
		GeneratorURL: getStr(attrs, incident.AttrGeneratorURL),
	}
	if a.Scope == "" {
		a.Scope = defaultScope
	}
	if a.Status != incident.StatusResolved {
		a.Status = incident.StatusFiring
	}
	if a.Severity == "" {
		a.Severity = incident.SeverityMedium
	}
	// The instance identity is the start time: alert.starts_at, else what a
	// processor left in incident.detected_at, else the record's timestamp.
	a.StartsAt = getTime(attrs, incident.AttrStartsAt)
	if a.StartsAt.IsZero() {
		a.StartsAt = getTime(attrs, incident.AttrDetectedAt)
	}
	if a.StartsAt.IsZero() && lr.Timestamp() != 0 {
		a.StartsAt = lr.Timestamp().AsTime()
	}
	if a.StartsAt.IsZero() {
		a.StartsAt = now
	}
	// Both engines keep microseconds; instance equality must hold after a round trip.
	a.StartsAt = a.StartsAt.UTC().Truncate(time.Microsecond)
	a.EndsAt = getTime(attrs, incident.AttrEndsAt).UTC().Truncate(time.Microsecond)
	return a, true
}

// getStr reads a string attribute. NUL characters are dropped: PostgreSQL
// text cannot hold them, and a sender must not be able to make a record
// unstorable with one.
func getStr(attrs pcommon.Map, key string) string {
	v, ok := attrs.Get(key)
	if !ok {
		return ""
	}
	return strings.ReplaceAll(v.AsString(), "\x00", "")
}

func getTime(attrs pcommon.Map, key string) time.Time {
	s := getStr(attrs, key)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// getJSON renders a map attribute as a JSON object ("{}" when absent).
func getJSON(attrs pcommon.Map, key string) string {
	v, ok := attrs.Get(key)
	if !ok || v.Type() != pcommon.ValueTypeMap {
		return "{}"
	}
	b, err := json.Marshal(v.Map().AsRaw())
	if err != nil {
		return "{}"
	}
	// JSON escapes NUL as \u0000, which PostgreSQL's jsonb refuses.
	return strings.ReplaceAll(string(b), `\u0000`, "")
}

func (e *incidentExporter) sweepLoop(ctx context.Context) {
	defer e.sweepDone.Done()
	interval := min(max(e.cfg.AutoResolveAfter/4, time.Second), time.Minute)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			e.sweepOnce(ctx)
		}
	}
}

// sweepOnce resolves the open incidents untouched for auto_resolve_after.
func (e *incidentExporter) sweepOnce(ctx context.Context) {
	now := e.now()
	n, err := e.store.ResolveStale(ctx, now.Add(-e.cfg.AutoResolveAfter), now)
	if err != nil {
		e.logger.Warn("Auto-resolve sweep failed; it runs again at the next tick", zap.Error(err))
		return
	}
	if n > 0 {
		e.telemetry.IncidentIncidentsResolved.Add(ctx, n, metric.WithAttributes(attribute.String("reason", "auto_resolved")))
		e.logger.Debug("Auto-resolved stale incidents", zap.Int64("count", n))
	}
}
