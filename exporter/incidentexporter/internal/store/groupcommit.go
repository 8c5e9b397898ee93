package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"
)

const (
	// A group holds at most this many alerts; past it the rest wait for the next.
	maxGroupAlerts = 2000
	// commitTimeout bounds one transaction, whatever its callers' deadlines:
	// a group must not be cancelled because one of its callers gave up.
	commitTimeout = 15 * time.Second
	queueSize     = 4096
)

// applyFunc applies alerts in one transaction and commits it.
type applyFunc func(ctx context.Context, alerts []Alert) ([]Result, error)

// committer groups concurrent Apply calls into shared transactions: while one
// commit is on disk, the requests that arrive meanwhile queue up and go into
// the next one, so one durable commit serves many senders. Each caller gets
// back its own results after the commit that holds them.
type committer struct {
	apply   applyFunc
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
	results []Result
	err     error
}

func newCommitter(apply applyFunc, writers int) *committer {
	c := &committer{
		apply:   apply,
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

func (c *committer) submit(ctx context.Context, alerts []Alert) ([]Result, error) {
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

// close lets the groups in flight finish and refuses the rest.
func (c *committer) close() {
	c.once.Do(func() { close(c.quit) })
	<-c.stopped
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

func (c *committer) work() {
	defer c.wg.Done()
	var group []*pending
	for {
		select {
		case <-c.quit:
			return
		case p := <-c.queue:
			group = append(group[:0], p)
		}
		n := len(group[0].alerts)
	gather:
		for n < maxGroupAlerts {
			select {
			case p := <-c.queue:
				group = append(group, p)
				n += len(p.alerts)
			default:
				break gather
			}
		}
		c.commitGroup(group)
		clear(group)
	}
}

// commitGroup commits the live requests of group together. When that fails
// and there were several, each is tried alone, so that one request that can
// never be stored does not fail the others.
func (c *committer) commitGroup(group []*pending) {
	live := group[:0]
	for _, p := range group {
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
	if len(live) == 1 {
		live[0].done <- outcome{err: err}
		return
	}
	for _, p := range live {
		res, err := c.commit([]*pending{p})
		if err != nil {
			p.done <- outcome{err: err}
			continue
		}
		p.done <- outcome{results: res[0]}
	}
}

type slot struct{ req, alert int }

// commit applies the alerts of reqs in one transaction. Alerts are taken in
// key order (stable, so one key keeps its arrival order) so that concurrent
// transactions on PostgreSQL lock rows in the same order and cannot deadlock.
func (c *committer) commit(reqs []*pending) ([][]Result, error) {
	var slots []slot
	for r, p := range reqs {
		for a := range p.alerts {
			slots = append(slots, slot{r, a})
		}
	}
	slices.SortStableFunc(slots, func(x, y slot) int {
		ax, ay := &reqs[x.req].alerts[x.alert], &reqs[y.req].alerts[y.alert]
		return cmp.Or(cmp.Compare(ax.Scope, ay.Scope), cmp.Compare(ax.Fingerprint, ay.Fingerprint))
	})
	ordered := make([]Alert, len(slots))
	for i, s := range slots {
		ordered[i] = reqs[s.req].alerts[s.alert]
	}

	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	flat, err := c.apply(ctx, ordered)
	if err != nil {
		return nil, classify(err)
	}
	out := make([][]Result, len(reqs))
	for r, p := range reqs {
		out[r] = make([]Result, len(p.alerts))
	}
	for i, s := range slots {
		out[s.req][s.alert] = flat[i]
	}
	return out, nil
}
