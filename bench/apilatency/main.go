// Command apilatency measures the incident API's own latency: GET
// /api/v1/incidents (limit 50) with 100 000 incidents in the store, on SQLite
// and, when INCIDENT_TEST_POSTGRES_DSN is set, on PostgreSQL, first idle and
// then while webhooks are being ingested. `make bench` runs it after the load
// comparison; it writes BENCHMARKS-API.md.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sre-copilot/incident-collector/internal/benchenv"
	"github.com/sre-copilot/incident-collector/internal/loadgen"
)

type options struct {
	collector  string
	incidents  int
	duration   time.Duration
	clients    int
	ingestRate float64
	pgDSN      string
	out        string
}

func main() {
	var o options
	flag.StringVar(&o.collector, "collector", "build/otelcol-incidents", "the built collector")
	flag.IntVar(&o.incidents, "incidents", 100_000, "incidents in the store before measuring (a fifth of them resolved)")
	flag.DurationVar(&o.duration, "d", 20*time.Second, "length of each measurement")
	flag.IntVar(&o.clients, "clients", 2, "API clients, each sending one request after another")
	flag.Float64Var(&o.ingestRate, "ingest-rate", 50, "webhook requests per second (10 alerts each: fire, repeat, resolve) while measuring")
	flag.StringVar(&o.pgDSN, "postgres", os.Getenv("INCIDENT_TEST_POSTGRES_DSN"), "PostgreSQL DSN (empty: SQLite only)")
	flag.StringVar(&o.out, "out", "BENCHMARKS-API.md", "report file")
	flag.Parse()
	if err := run(&o); err != nil {
		log.Fatal(err)
	}
}

// engine is one store to measure on.
type engine struct{ name, driver, dsn string }

func run(o *options) error {
	work, err := os.MkdirTemp("", "apilatency-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	engines := []engine{{name: "SQLite", driver: "sqlite", dsn: filepath.Join(work, "incidents.db")}}
	if o.pgDSN != "" {
		dsn, drop, err := benchenv.PostgresSchema(o.pgDSN, "apilatency")
		if err != nil {
			return err
		}
		defer drop()
		engines = append(engines, engine{name: "PostgreSQL", driver: "postgres", dsn: dsn})
	} else {
		log.Print("INCIDENT_TEST_POSTGRES_DSN is not set: SQLite only")
	}
	var results []result
	for _, e := range engines {
		r, err := measureEngine(o, work, e)
		if err != nil {
			return fmt.Errorf("%s: %w", e.name, err)
		}
		results = append(results, r...)
	}
	report := render(o, results)
	fmt.Print(report)
	return os.WriteFile(o.out, []byte(report), 0o644) //nolint:gosec // a document of the checkout, readable by all
}

// query is one kind of request measured.
type query struct{ name, path string }

// result is the latencies of one query on one engine in one phase.
type result struct {
	engine, phase, query string
	latencies            []time.Duration
	errors               int
	ingest               *loadgen.Result // the webhooks during the phase; nil when idle
}

const readToken = "bench-read-token"

// collectorConfig: the receiver with its limits out of the way, the store,
// the API; the collector's own metrics off.
const collectorConfig = `
receivers:
  alertwebhook:
    http:
      endpoint: %s
    rate_limit: {requests_per_second: 1000000000, burst: 1000000000}
exporters:
  incident:
    store:
      driver: %s
      dsn: "%s"
    # Seeding sends 500 alerts a request while the store grows.
    timeout: 60s
    api:
      endpoint: %s
      read_tokens: [` + readToken + `]
service:
  telemetry:
    logs:
      level: warn
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [alertwebhook]
      exporters: [incident]
`

func measureEngine(o *options, work string, e engine) ([]result, error) {
	webhooks, err := benchenv.FreeAddr()
	if err != nil {
		return nil, err
	}
	api, err := benchenv.FreeAddr()
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(work, e.driver+".yaml")
	if err = os.WriteFile(cfg, []byte(fmt.Sprintf(collectorConfig, webhooks, e.driver, e.dsn, api)), 0o600); err != nil {
		return nil, err
	}
	srv, err := benchenv.Start(o.collector, []string{"--config", cfg}, "http://"+webhooks+"/health")
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	c := &client{base: "http://" + api, http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.clients}}}

	began := time.Now()
	if err = seed(o.incidents, "http://"+webhooks+"/webhooks/alertmanager"); err != nil {
		return nil, fmt.Errorf("seeding: %w", err)
	}
	log.Printf("%s: %d incidents stored in %v", e.name, o.incidents, time.Since(began).Round(time.Second))

	deep, id, err := c.prepare(o.incidents)
	if err != nil {
		return nil, err
	}
	queries := []query{
		{"active, first page", "/api/v1/incidents?limit=50"},
		{"all statuses, first page", "/api/v1/incidents?status=all&limit=50"},
		{fmt.Sprintf("all statuses, page at %d", o.incidents/2), "/api/v1/incidents?status=all&limit=50&cursor=" + url.QueryEscape(deep)},
		{"critical, first page", "/api/v1/incidents?severity=critical&limit=50"},
		{"one incident", "/api/v1/incidents/" + id},
	}
	var out []result
	out = append(out, c.measure(e.name, "idle", queries, o.clients, o.duration/2, nil)...)
	ingest := make(chan *loadgen.Result, 1)
	go func() {
		res, err := loadgen.Run(context.Background(), loadgen.Options{
			URL: "http://" + webhooks + "/webhooks/alertmanager", Mode: loadgen.ModeMixed, AlertsPerRequest: 10,
			Connections: 4, Duration: o.duration, Rate: o.ingestRate,
		})
		if err != nil {
			log.Printf("%s: ingesting: %v", e.name, err)
		}
		ingest <- res
	}()
	out = append(out, c.measure(e.name, "while ingesting", queries, o.clients, o.duration, ingest)...)
	return out, nil
}

// seed stores n incidents through the webhook, 500 alerts a request: their
// starts spread over 30 days, four severities and 50 services in turn; then
// resolves every fifth.
func seed(n int, webhook string) error {
	end := time.Now().UTC().Add(-time.Hour)
	step := 30 * 24 * time.Hour / time.Duration(max(n, 1))
	severities := []string{"critical", "warning", "info", "none"}
	alert := func(i int, status string) string {
		starts := end.Add(-time.Duration(n-i) * step)
		a := fmt.Sprintf(`{"status":%q,"fingerprint":"seed-%07d","startsAt":%q,"labels":{"alertname":"Bench%d","severity":%q,"service":"svc-%02d"},`+
			`"annotations":{"summary":"bench incident %d"}`, status, i, starts.Format(time.RFC3339), i%97, severities[i%4], i%50, i)
		if status == "resolved" {
			a += fmt.Sprintf(`,"endsAt":%q`, starts.Add(5*time.Minute).Format(time.RFC3339))
		}
		return a + "}"
	}
	var batches [][]string
	for start := 0; start < n; start += 500 {
		var b []string
		for i := start; i < min(start+500, n); i++ {
			b = append(b, alert(i, "firing"))
		}
		batches = append(batches, b)
	}
	var resolves []string
	for i := 0; i < n; i += 5 {
		resolves = append(resolves, alert(i, "resolved"))
	}
	for start := 0; start < len(resolves); start += 500 {
		batches = append(batches, resolves[start:min(start+500, len(resolves))])
	}
	// Firing batches first, in parallel; the resolves after all of them.
	firing := (n + 499) / 500
	if err := postAll(webhook, batches[:firing]); err != nil {
		return err
	}
	return postAll(webhook, batches[firing:])
}

func postAll(webhook string, batches [][]string) error {
	work := make(chan []string)
	errs := make(chan error, len(batches))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for b := range work {
				body := `{"version":"4","status":"firing","alerts":[` + strings.Join(b, ",") + `]}`
				resp, err := http.Post(webhook, "application/json", strings.NewReader(body)) //nolint:gosec // the benchmarked collector on loopback
				if err != nil {
					errs <- err
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("webhook answered %d", resp.StatusCode)
				}
			}
		})
	}
	for _, b := range batches {
		work <- b
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs // nil when none
}

type client struct {
	base string
	http *http.Client
}

// get reads path and decodes the JSON answer into v (when not nil).
func (c *client) get(path string, v any) error {
	req, err := http.NewRequest(http.MethodGet, c.base+path, http.NoBody)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+readToken)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, bytes.TrimSpace(body))
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(body, v)
}

// prepare walks the whole list, checks it holds n incidents, and returns
// the cursor of the page in its middle and an incident id.
func (c *client) prepare(n int) (string, string, error) {
	var page struct {
		Incidents []struct {
			ID string `json:"id"`
		} `json:"incidents"`
		Next *string `json:"next_cursor"`
	}
	cursor, middle, id := "", "", ""
	walked := 0
	for {
		path := "/api/v1/incidents?status=all&limit=500"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		if err := c.get(path, &page); err != nil {
			return "", "", err
		}
		walked += len(page.Incidents)
		if id == "" && len(page.Incidents) > 0 {
			id = page.Incidents[len(page.Incidents)/2].ID
		}
		if page.Next == nil {
			break
		}
		cursor = *page.Next
		if middle == "" && walked >= n/2 {
			middle = cursor
		}
	}
	if walked != n || middle == "" {
		return "", "", fmt.Errorf("the list holds %d incidents, not %d", walked, n)
	}
	return middle, id, nil
}

// measure sends the queries in turn from clients goroutines for d and
// returns each query's latencies. With ingest, the phase's webhook result is
// attached (it arrives when the load generator ends).
func (c *client) measure(engine, phase string, queries []query, clients int, d time.Duration, ingest <-chan *loadgen.Result) []result {
	out := make([]result, len(queries))
	for i, q := range queries {
		out[i] = result{engine: engine, phase: phase, query: q.name}
	}
	var mu sync.Mutex
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := range clients {
		wg.Go(func() {
			for i := w; time.Now().Before(deadline); i++ {
				q := i % len(queries)
				began := time.Now()
				err := c.get(queries[q].path, nil)
				took := time.Since(began)
				mu.Lock()
				if err != nil {
					out[q].errors++
					if out[q].errors == 1 {
						log.Printf("%s, %s: %v", engine, queries[q].name, err)
					}
				} else {
					out[q].latencies = append(out[q].latencies, took)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ingest != nil {
		res := <-ingest
		for i := range out {
			out[i].ingest = res
		}
	}
	return out
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }

func render(o *options, results []result) string {
	var b strings.Builder
	b.WriteString("# Incident API latency\n\n")
	b.WriteString("Written by `go run ./bench/apilatency` (`make bench` runs it after the load comparison). ")
	fmt.Fprintf(&b, "Each store holds %d incidents (their starts spread over 30 days, four severities, a fifth resolved), ", o.incidents)
	b.WriteString("stored through the webhook before measuring. ")
	fmt.Fprintf(&b, "%d API clients send the queries below in turn, one request after another, for %v idle and for %v ", o.clients, o.duration/2, o.duration)
	fmt.Fprintf(&b, "while webhooks arrive at %.0f requests/s of 10 alerts (fire, repeat, resolve). ", o.ingestRate)
	b.WriteString("The collector, the clients, the load generator and PostgreSQL share this machine: ")
	b.WriteString(benchenv.Machine() + ". Latencies in ms.\n\n")
	b.WriteString("| store | phase | query | requests | p50 | p90 | p99 | max | errors |\n|---|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		lat := slices.Clone(r.latencies)
		slices.Sort(lat)
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %s | %s | %s | %s | %d |\n", r.engine, r.phase, r.query, len(lat),
			ms(percentile(lat, 0.50)), ms(percentile(lat, 0.90)), ms(percentile(lat, 0.99)), ms(percentile(lat, 1)), r.errors)
	}
	b.WriteString("\nWebhooks during the measurement:\n\n| store | alerts/s | requests | non-2xx | p99 ms |\n|---|---:|---:|---:|---:|\n")
	seen := map[string]bool{}
	for _, r := range results {
		if r.ingest == nil || seen[r.engine] {
			continue
		}
		seen[r.engine] = true
		fmt.Fprintf(&b, "| %s | %.0f | %d | %d | %.1f |\n", r.engine, r.ingest.AlertsPS, r.ingest.Requests, r.ingest.Non2xx+r.ingest.Errors, r.ingest.LatencyP99)
	}
	b.WriteString("\nThe list is read through an index that serves its order (`incidents_active_by_detected`, " +
		"`incidents_by_detected`; `TestListIncidentsUsesAnIndex` checks both engines' plans): a page deep in the list " +
		"costs what the first one does.\n")
	return b.String()
}
