// Package loadgen posts webhook payloads to a collector and measures what it
// answers: throughput, latency, status codes, and which alerts were
// acknowledged with a 2xx (the reliability suite checks those are stored).
package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Options describe one run.
type Options struct {
	URL              string        // full webhook URL
	Mode             string        // unique | duplicate | mixed | grafana
	Push             bool          // the body is Prometheus' push (POST /api/v2/alerts), not a webhook notification
	AlertsPerRequest int           // 1 … 500
	Connections      int           // concurrent connections
	Duration         time.Duration // run for this long (when Requests is 0)
	Requests         int64         // or send exactly this many
	Rate             float64       // requests per second, fixed; 0 = as fast as answered
	Secret           string        // sent as X-Webhook-Secret
	Bearer           string        // sent as Authorization: Bearer
	RunID            string        // prefix of fingerprints; default: from the clock
	Timeout          time.Duration // per request
	TrackAcked       bool          // keep the fingerprints answered 2xx
}

// Result of a run.
type Result struct {
	Requests    int64            `json:"requests"`
	Alerts      int64            `json:"alerts"`
	OK          int64            `json:"ok"`
	Non2xx      int64            `json:"non_2xx"`
	Errors      int64            `json:"errors"`
	Codes       map[string]int64 `json:"codes"`
	Seconds     float64          `json:"seconds"`
	RequestsPS  float64          `json:"requests_per_second"`
	AlertsPS    float64          `json:"alerts_per_second"`
	LatencyP50  float64          `json:"latency_p50_ms"`
	LatencyP90  float64          `json:"latency_p90_ms"`
	LatencyP99  float64          `json:"latency_p99_ms"`
	LatencyMax  float64          `json:"latency_max_ms"`
	AckedAlerts []string         `json:"-"`
}

type generator struct {
	opts     Options
	runID    string
	startsAt string
	next     atomic.Int64
	client   *http.Client
}

// Run sends load until the duration or request count is reached, or ctx ends.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if err := validate(&opts); err != nil {
		return nil, err
	}
	g := &generator{
		opts:     opts,
		runID:    opts.RunID,
		startsAt: time.Now().UTC().Add(-time.Minute).Format(time.RFC3339),
		client: &http.Client{
			Timeout: opts.Timeout,
			Transport: &http.Transport{
				DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
				MaxIdleConns:        opts.Connections,
				MaxIdleConnsPerHost: opts.Connections,
				MaxConnsPerHost:     opts.Connections,
				IdleConnTimeout:     30 * time.Second,
			},
		},
	}
	if g.runID == "" {
		g.runID = strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	defer g.client.CloseIdleConnections()

	if opts.Requests == 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Duration)
		defer cancel()
	}
	var tokens <-chan struct{}
	if opts.Rate > 0 {
		tokens = pace(ctx, opts.Rate)
	}

	var sent atomic.Int64
	workers := make([]*worker, opts.Connections)
	var wg sync.WaitGroup
	began := time.Now()
	for i := range workers {
		w := &worker{id: i, codes: map[int]int64{}}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := int64(0); ; seq++ {
				if opts.Requests > 0 && sent.Add(1) > opts.Requests {
					return
				}
				if tokens != nil {
					select {
					case <-tokens:
					case <-ctx.Done():
						return
					}
				}
				if ctx.Err() != nil {
					return
				}
				g.send(ctx, w, seq)
			}
		}()
	}
	wg.Wait()
	return g.collect(workers, time.Since(began)), nil
}

func validate(o *Options) error {
	switch o.Mode {
	case ModeUnique, ModeDuplicate, ModeMixed, ModeGrafana:
	default:
		return fmt.Errorf("unknown mode %q", o.Mode)
	}
	if o.Push && (o.Mode == ModeGrafana || o.Mode == ModeMixed) {
		return fmt.Errorf("push bodies carry no status or Grafana fields: mode %q does not apply", o.Mode)
	}
	if o.AlertsPerRequest < 1 || o.AlertsPerRequest > 500 {
		return fmt.Errorf("alerts per request must be 1 … 500, got %d", o.AlertsPerRequest)
	}
	if o.Connections < 1 {
		return errors.New("connections must be at least 1")
	}
	if o.Duration <= 0 && o.Requests <= 0 {
		return errors.New("give a duration or a request count")
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	return nil
}

// pace emits tokens at a fixed rate until ctx ends.
func pace(ctx context.Context, rate float64) <-chan struct{} {
	ch := make(chan struct{})
	interval := time.Duration(float64(time.Second) / rate)
	go func() {
		next := time.Now()
		for {
			next = next.Add(interval)
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
			select {
			case ch <- struct{}{}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

type worker struct {
	id        int
	latencies []time.Duration
	codes     map[int]int64
	errors    int64
	alerts    int64
	acked     []string
}

func (g *generator) send(ctx context.Context, w *worker, seq int64) {
	body, fps := g.payloadFor(w.id, seq)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.opts.URL, bytes.NewReader(body))
	if err != nil {
		w.errors++
		return
	}
	req.Header.Set("Content-Type", "application/json")
	if g.opts.Secret != "" {
		req.Header.Set("X-Webhook-Secret", g.opts.Secret)
	}
	if g.opts.Bearer != "" {
		req.Header.Set("Authorization", "Bearer "+g.opts.Bearer)
	}
	began := time.Now()
	resp, err := g.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			w.errors++
		}
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	w.latencies = append(w.latencies, time.Since(began))
	w.codes[resp.StatusCode]++
	w.alerts += int64(len(fps))
	if resp.StatusCode/100 == 2 && g.opts.TrackAcked {
		w.acked = append(w.acked, fps...)
	}
}

func (g *generator) collect(workers []*worker, elapsed time.Duration) *Result {
	r := &Result{Codes: map[string]int64{}, Seconds: elapsed.Seconds()}
	var all []time.Duration
	for _, w := range workers {
		all = append(all, w.latencies...)
		r.Errors += w.errors
		r.Alerts += w.alerts
		r.AckedAlerts = append(r.AckedAlerts, w.acked...)
		for code, n := range w.codes {
			r.Codes[strconv.Itoa(code)] += n
			r.Requests += n
			if code/100 == 2 {
				r.OK += n
			} else {
				r.Non2xx += n
			}
		}
	}
	r.RequestsPS = float64(r.Requests) / r.Seconds
	r.AlertsPS = float64(r.Alerts) / r.Seconds
	slices.Sort(all)
	ms := func(q float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(q*float64(len(all))))].Microseconds()) / 1000
	}
	r.LatencyP50, r.LatencyP90, r.LatencyP99, r.LatencyMax = ms(0.50), ms(0.90), ms(0.99), ms(1)
	return r
}
