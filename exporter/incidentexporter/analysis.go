package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/metadata"
	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"
)

const (
	// dispatchPoll is how often due retries are looked for when no commit
	// woke the dispatcher.
	dispatchPoll = time.Second
	// leaseSlack is added to the client timeout: a claimed event is not
	// claimed again before the delivery in flight has surely ended and been
	// marked. A replica claims only what it delivers at once (max_in_flight),
	// so one timeout is all a delivery can take.
	leaseSlack = 10 * time.Second
	// Delivered events are kept this long (for inspection), then deleted,
	// checked every pruneEvery, so that the outbox does not grow for ever.
	deliveredRetention = 7 * 24 * time.Hour
	pruneEvery         = time.Hour
)

// notification is the JSON body POSTed to the analysis service; its
// incident and alerts are the shapes of incidentview.go.
type notification struct {
	Event    string       `json:"event"`
	Incident incidentJSON `json:"incident"`
	// Alerts are the incident's member alerts, the first store.MaxNotifiedAlerts.
	Alerts []alertJSON `json:"alerts"`
}

// dispatcher delivers the analysis outbox: each event at least once, in the
// normal case once, whichever replica claims it, and an incident's events
// in the order they happened. It keeps up to max_in_flight deliveries going,
// each of another incident, and claims an event only when a delivery can
// start at once, so that a lease never covers an event waiting its turn.
type dispatcher struct {
	cfg       *AnalysisConfig
	store     *store.Store
	client    *http.Client
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	now       func() time.Time
	lease     time.Duration
	lastPrune time.Time

	inFlight atomic.Int64
	// freed is signaled when a delivery ends: a slot is free, and the
	// incident's next event may be due.
	freed chan struct{}

	stop       context.CancelFunc
	done       sync.WaitGroup
	deliveries sync.WaitGroup
}

func (d *dispatcher) start() {
	ctx, cancel := context.WithCancel(context.Background())
	d.stop = cancel
	d.freed = make(chan struct{}, 1)
	d.done.Add(1)
	go d.run(ctx)
}

// shutdown stops claiming and cuts the deliveries in flight off: their
// events stay leased and are claimed again when the lease ends.
func (d *dispatcher) shutdown() {
	if d.stop != nil {
		d.stop()
		d.done.Wait()
		d.deliveries.Wait()
	}
}

func (d *dispatcher) run(ctx context.Context) {
	defer d.done.Done()
	ticker := time.NewTicker(dispatchPoll)
	defer ticker.Stop()
	for {
		d.dispatchDue(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-d.store.Outboxed():
		case <-d.freed:
		}
	}
}

// dispatchDue starts a delivery for each due event, as many as there are
// free slots.
func (d *dispatcher) dispatchDue(ctx context.Context) {
	for ctx.Err() == nil {
		free := d.cfg.MaxInFlight - int(d.inFlight.Load())
		if free <= 0 {
			return // the next delivery to end wakes the loop
		}
		events, err := d.store.ClaimOutbox(ctx, d.now(), d.lease, free)
		if err != nil {
			if ctx.Err() == nil {
				d.logger.Debug("Claiming analysis events failed; retrying at the next tick", zap.Error(err))
			}
			return
		}
		for i := range events {
			d.inFlight.Add(1)
			d.deliveries.Go(func() {
				defer d.delivered()
				d.deliver(ctx, &events[i])
			})
		}
		if len(events) < free {
			break
		}
	}
	d.recordBacklog(ctx)
	if now := d.now(); now.Sub(d.lastPrune) >= pruneEvery {
		d.lastPrune = now
		if _, err := d.store.PruneOutbox(ctx, now.Add(-deliveredRetention)); err != nil && ctx.Err() == nil {
			d.logger.Debug("Pruning delivered analysis events failed", zap.Error(err))
		}
	}
}

func (d *dispatcher) delivered() {
	d.inFlight.Add(-1)
	select {
	case d.freed <- struct{}{}:
	default:
	}
}

func (d *dispatcher) recordBacklog(ctx context.Context) {
	pending, oldest, err := d.store.OutboxBacklog(ctx)
	if err != nil {
		return
	}
	d.telemetry.IncidentAnalysisPending.Record(ctx, pending)
	age := 0.0
	if !oldest.IsZero() {
		age = d.now().Sub(oldest).Seconds()
	}
	d.telemetry.IncidentAnalysisOldestPendingAge.Record(ctx, age)
}

func (d *dispatcher) deliver(ctx context.Context, e *store.OutboxEvent) {
	body, err := json.Marshal(notificationOf(e))
	if err != nil {
		d.fail(ctx, e, "encoding: "+err.Error())
		return
	}
	ts := strconv.FormatInt(d.now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.cfg.Endpoint, bytes.NewReader(body))
	if err != nil {
		d.fail(ctx, e, "request: "+err.Error())
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", idempotencyKey(e))
	req.Header.Set("X-Incident-Timestamp", ts)
	req.Header.Set("X-Incident-Signature", "sha256="+Sign([]byte(d.cfg.Secret), ts, body))
	resp, err := d.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return // shutting down: the lease ends and the event is claimed again
		}
		d.retry(ctx, e, "transport: "+err.Error())
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
		if err := d.store.MarkDelivered(ctx, e.ID, d.now()); err != nil {
			// Delivered but not marked: it will be delivered again, and the
			// Idempotency-Key lets the service drop the repeat.
			d.logger.Debug("Marking an analysis event delivered failed", zap.Error(err))
			return
		}
		d.telemetry.IncidentAnalysisDelivered.Add(ctx, 1)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		d.retry(ctx, e, "HTTP "+strconv.Itoa(resp.StatusCode))
	default:
		d.fail(ctx, e, "HTTP "+strconv.Itoa(resp.StatusCode))
	}
}

// retry schedules the next attempt with exponential backoff, or gives up
// once the event is older than max_age.
func (d *dispatcher) retry(ctx context.Context, e *store.OutboxEvent, reason string) {
	now := d.now()
	if now.Sub(e.CreatedAt) > d.cfg.Retry.MaxAge {
		d.fail(ctx, e, reason+" (max_age reached)")
		return
	}
	wait := d.cfg.Retry.InitialInterval
	for i := 0; i < e.Attempts && wait < d.cfg.Retry.MaxInterval; i++ {
		wait *= 2
	}
	wait = min(wait, d.cfg.Retry.MaxInterval)
	if err := d.store.MarkRetry(ctx, e.ID, now.Add(wait), reason); err != nil {
		d.logger.Debug("Scheduling an analysis retry failed", zap.Error(err))
		return
	}
	d.telemetry.IncidentAnalysisRetried.Add(ctx, 1)
}

// fail marks an event that will not be delivered; it is counted and logged
// once, never dropped silently.
func (d *dispatcher) fail(ctx context.Context, e *store.OutboxEvent, reason string) {
	if err := d.store.MarkFailed(ctx, e.ID, reason); err != nil {
		d.logger.Debug("Marking an analysis event failed did not work", zap.Error(err))
		return
	}
	d.telemetry.IncidentAnalysisFailed.Add(ctx, 1)
	d.logger.Warn("Analysis event not delivered", zap.String("incident_id", e.Incident.ID),
		zap.String("event", e.Event), zap.Int("attempts", e.Attempts+1), zap.String("reason", reason))
}

// idempotencyKey is the same for every delivery of one event: the incident
// id and the event, plus the event's key when an incident can have several
// (a resolution after a reopen, each alert added).
func idempotencyKey(e *store.OutboxEvent) string {
	k := e.Incident.ID + ":" + e.Event
	if e.Key != "" {
		k += ":" + e.Key
	}
	return k
}

// Sign is the X-Incident-Signature value without its "sha256=" prefix: the
// lowercase hex HMAC-SHA256 of "<timestamp>.<body>".
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

func notificationOf(e *store.OutboxEvent) notification {
	n := notification{Event: e.Event, Incident: notifiedIncidentOf(&e.Incident), Alerts: make([]alertJSON, len(e.Incident.Alerts))}
	for i := range e.Incident.Alerts {
		n.Alerts[i] = notifiedAlertOf(&e.Incident.Alerts[i])
	}
	return n
}
