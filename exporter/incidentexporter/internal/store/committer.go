package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

const (
	// commitTimeout bounds one transaction whatever its callers' deadlines;
	// it also ends when every caller has given up.
	commitTimeout = 15 * time.Second
	queueSize     = 4096
)

// applyFunc applies alerts in one transaction and commits it.
type applyFunc func(ctx context.Context, alerts []Alert) ([]incident.Outcome, error)

// committer batches concurrent Apply calls into shared transactions (a
// group commit, in database terms): while one commit is on disk, the
// requests that arrive meanwhile queue up and go into the next one, so one
// durable commit serves many senders. Each caller gets
// back its own results after the commit that holds them. A request larger
// than a chunk goes in chunk by chunk, each queued after the previous one
// committed, so that other senders' alerts get in between.
type committer struct {
	apply   applyFunc
	chunk   int // most alerts in one transaction
	queue   chan *pending
	quit    chan struct{}
	stopped chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

type pending struct {
	ctx    context.Context
	alerts []Alert
	done   chan outcome // buffered: the worker never blocks on a caller
}

type outcome struct {
	results []incident.Outcome
	err     error
}

func newCommitter(apply applyFunc, writers, chunk int) *committer {
	c := &committer{
		apply:   apply,
		chunk:   chunk,
		queue:   make(chan *pending, queueSize),
		quit:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	c.wg.Add(writers)
	for range writers {
		go c.work()
	}
	go func() {
		c.wg.Wait()
		c.drain()
		close(c.stopped)
	}()
	return c
}

// submit applies alerts, chunk after chunk, and returns their results.
func (c *committer) submit(ctx context.Context, alerts []Alert) ([]incident.Outcome, error) {
	if len(alerts) <= c.chunk {
		return c.submitChunk(ctx, alerts)
	}
	results := make([]incident.Outcome, 0, len(alerts))
	for start := 0; start < len(alerts); start += c.chunk {
		res, err := c.submitChunk(ctx, alerts[start:min(start+c.chunk, len(alerts))])
		if err != nil {
			return nil, err
		}
		results = append(results, res...)
	}
	return results, nil
}

func (c *committer) submitChunk(ctx context.Context, alerts []Alert) ([]incident.Outcome, error) {
	p := &pending{ctx: ctx, alerts: alerts, done: make(chan outcome, 1)}
	select {
	case <-c.quit:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	case c.queue <- p:
	}
	select {
	case o := <-p.done:
		return o.results, o.err
	case <-ctx.Done():
		// The commit may still happen; the sender then retries and gets a duplicate.
		return nil, ctx.Err()
	case <-c.stopped:
		select {
		case o := <-p.done:
			return o.results, o.err
		default:
			return nil, ErrClosed
		}
	}
}

// close refuses new requests and waits, within ctx, for the transactions in
// flight; requests still queued get ErrClosed.
func (c *committer) close(ctx context.Context) error {
	c.once.Do(func() { close(c.quit) })
	select {
	case <-c.stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *committer) drain() {
	for {
		select {
		case p := <-c.queue:
			p.done <- outcome{err: ErrClosed}
		default:
			return
		}
	}
}

// work commits batches of requests of at most chunk alerts (a request is a
// chunk at most); a request that would overflow the batch waits for the next.
func (c *committer) work() {
	defer c.wg.Done()
	var batch []*pending
	var next *pending
	for {
		if next == nil {
			select {
			case <-c.quit:
				return
			case next = <-c.queue:
			}
		}
		batch = append(batch[:0], next)
		n := len(next.alerts)
		next = nil
	gather:
		for {
			select {
			case p := <-c.queue:
				if n+len(p.alerts) > c.chunk {
					next = p
					break gather
				}
				batch = append(batch, p)
				n += len(p.alerts)
			default:
				break gather
			}
		}
		c.commitBatch(batch)
		clear(batch)
		if next != nil {
			select {
			case <-c.quit:
				next.done <- outcome{err: ErrClosed}
				return
			default:
			}
		}
	}
}

// commitBatch commits the requests of batch whose callers still wait, in one
// transaction. When that fails for good (a value that can never be stored)
// and there were several, each is tried alone, so that one bad request does
// not fail the others; any other failure (an outage, a timeout) is answered
// to all at once: the senders retry, and trying each alone would only hold
// the writer longer.
func (c *committer) commitBatch(batch []*pending) {
	live := batch[:0]
	for _, p := range batch {
		if err := p.ctx.Err(); err != nil {
			p.done <- outcome{err: err}
			continue
		}
		live = append(live, p)
	}
	if len(live) == 0 {
		return
	}
	results, err := c.commit(live)
	if err == nil {
		for i, p := range live {
			p.done <- outcome{results: results[i]}
		}
		return
	}
	if len(live) == 1 || !consumererror.IsPermanent(err) {
		for _, p := range live {
			p.done <- outcome{err: err}
		}
		return
	}
	for _, p := range live {
		if p.ctx.Err() != nil {
			p.done <- outcome{err: p.ctx.Err()}
			continue
		}
		res, err := c.commit([]*pending{p})
		if err != nil {
			p.done <- outcome{err: err}
			continue
		}
		p.done <- outcome{results: res[0]}
	}
}

// commit applies the alerts of reqs in one transaction, in arrival order.
// Its context ends at commitTimeout, or as soon as every caller has gone: a
// stalled database must not hold a writer for requests nobody waits for.
func (c *committer) commit(reqs []*pending) ([][]incident.Outcome, error) {
	var flat []Alert
	if len(reqs) == 1 {
		flat = reqs[0].alerts
	} else {
		for _, p := range reqs {
			flat = append(flat, p.alerts...)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	var waiting atomic.Int64
	waiting.Store(int64(len(reqs)))
	for _, p := range reqs {
		stop := context.AfterFunc(p.ctx, func() {
			if waiting.Add(-1) == 0 {
				cancel()
			}
		})
		defer stop()
	}
	all, err := c.apply(ctx, flat)
	if err != nil {
		return nil, err
	}
	out := make([][]incident.Outcome, len(reqs))
	for i, p := range reqs {
		out[i], all = all[:len(p.alerts)], all[len(p.alerts):]
	}
	return out, nil
}
