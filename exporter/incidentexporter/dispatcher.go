package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
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

// sink is where one dispatcher delivers: the analysis service or a notify
// sink, with its own client, pace and payload.
type sink struct {
	name        string
	client      *http.Client
	retry       RetryConfig
	maxInFlight int
	lease       time.Duration
	// request builds the delivery of an event, signed at now.
	request func(ctx context.Context, e *store.OutboxEvent, now time.Time) (*http.Request, error)
}

// dispatcher delivers one sink's events: each at least once, in the normal
// case once, whichever replica claims it, and an incident's events in the
// order they happened. It keeps up to max_in_flight deliveries going, each
// of another incident, and claims an event only when a delivery can start at
// once, so that a lease never covers an event waiting its turn. Each sink
// has its own dispatcher: a slow or failing one delays no other.
type dispatcher struct {
	sink      *sink
	store     *store.Store
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	attrs     metric.MeasurementOption // sink=<name>
	now       func() time.Time
	lastPrune time.Time

	inFlight atomic.Int64
	// freed is signaled when a delivery ends: a slot is free, and the
	// incident's next event may be due.
	freed    chan struct{}
	outboxed <-chan struct{}

	stop       context.CancelFunc
	done       sync.WaitGroup
	deliveries sync.WaitGroup
}

func newDispatcher(k *sink, s *store.Store, logger *zap.Logger, tb *metadata.TelemetryBuilder, now func() time.Time) *dispatcher {
	return &dispatcher{
		sink: k, store: s, logger: logger.With(zap.String("sink", k.name)), telemetry: tb, now: now,
		attrs: metric.WithAttributeSet(attribute.NewSet(attribute.String("sink", k.name))),
		freed: make(chan struct{}, 1), outboxed: s.Outboxed(),
	}
}

func (d *dispatcher) start() {
	ctx, cancel := context.WithCancel(context.Background())
	d.stop = cancel
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
		case <-d.outboxed:
		case <-d.freed:
		}
	}
}

// dispatchDue starts a delivery for each due event, as many as there are
// free slots.
func (d *dispatcher) dispatchDue(ctx context.Context) {
	for ctx.Err() == nil {
		free := d.sink.maxInFlight - int(d.inFlight.Load())
		if free <= 0 {
			return // the next delivery to end wakes the loop
		}
		events, err := d.store.ClaimOutbox(ctx, d.sink.name, d.now(), d.sink.lease, free)
		if err != nil {
			if ctx.Err() == nil {
				d.logger.Debug("Claiming events failed; retrying at the next tick", zap.Error(err))
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
		if _, err := d.store.PruneOutbox(ctx, d.sink.name, now.Add(-deliveredRetention)); err != nil && ctx.Err() == nil {
			d.logger.Debug("Pruning delivered events failed", zap.Error(err))
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
	pending, oldest, err := d.store.OutboxBacklog(ctx, d.sink.name)
	if err != nil {
		return
	}
	d.telemetry.IncidentAnalysisPending.Record(ctx, pending, d.attrs)
	age := 0.0
	if !oldest.IsZero() {
		age = d.now().Sub(oldest).Seconds()
	}
	d.telemetry.IncidentAnalysisOldestPendingAge.Record(ctx, age, d.attrs)
}

// deliver posts one event: 2xx delivered; 5xx, 429 or a transport error
// retried with backoff; any other answer (a redirect too) will not get
// better: failed.
func (d *dispatcher) deliver(ctx context.Context, e *store.OutboxEvent) {
	req, err := d.sink.request(ctx, e, d.now())
	if err != nil {
		d.fail(ctx, e, "request: "+err.Error())
		return
	}
	resp, err := d.sink.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return // shutting down: the lease ends and the event is claimed again
		}
		d.retry(ctx, e, "transport: "+transportError(err))
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
		if err := d.store.MarkDelivered(ctx, e.ID, d.now()); err != nil {
			// Delivered but not marked: it will be delivered again, and the
			// Idempotency-Key lets the sink drop the repeat.
			d.logger.Debug("Marking an event delivered failed", zap.Error(err))
			return
		}
		d.telemetry.IncidentAnalysisDelivered.Add(ctx, 1, d.attrs)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		d.retry(ctx, e, "HTTP "+strconv.Itoa(resp.StatusCode))
	case resp.StatusCode/100 == 3:
		d.fail(ctx, e, "HTTP "+strconv.Itoa(resp.StatusCode)+" (a redirect is not followed: set the sink's url to where it leads)")
	default:
		d.fail(ctx, e, "HTTP "+strconv.Itoa(resp.StatusCode))
	}
}

// retry schedules the next attempt with exponential backoff, or gives up
// once the event is older than max_age.
func (d *dispatcher) retry(ctx context.Context, e *store.OutboxEvent, reason string) {
	now := d.now()
	r := d.sink.retry
	if now.Sub(e.CreatedAt) > r.MaxAge {
		d.fail(ctx, e, reason+" (max_age reached)")
		return
	}
	wait := r.InitialInterval
	for i := 0; i < e.Attempts && wait < r.MaxInterval; i++ {
		wait *= 2
	}
	wait = min(wait, r.MaxInterval)
	if err := d.store.MarkRetry(ctx, e.ID, now.Add(wait), reason); err != nil {
		d.logger.Debug("Scheduling a retry failed", zap.Error(err))
		return
	}
	d.telemetry.IncidentAnalysisRetried.Add(ctx, 1, d.attrs)
}

// fail marks an event that will not be delivered; it is counted and logged
// once, never dropped silently.
func (d *dispatcher) fail(ctx context.Context, e *store.OutboxEvent, reason string) {
	if err := d.store.MarkFailed(ctx, e.ID, reason); err != nil {
		d.logger.Debug("Marking an event failed did not work", zap.Error(err))
		return
	}
	d.telemetry.IncidentAnalysisFailed.Add(ctx, 1, d.attrs)
	d.logger.Warn("Event not delivered", zap.String("incident_id", e.Incident.ID),
		zap.String("event", e.Event), zap.Int("attempts", e.Attempts+1), zap.String("reason", reason))
}

// transportError is a failed request's error without its URL: a sink's URL
// may be its credential (a Slack webhook), and the reason goes to the log
// and the outbox.
func transportError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}
