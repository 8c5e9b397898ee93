// Command runner is `make bench`: in one run, one after another on this
// machine, it loads the baseline server, a real Alertmanager (the peer our
// users compare us with: its in-memory POST /api/v2/alerts), the receiver
// alone, and the collector on SQLite (also with grouping) and on PostgreSQL,
// then prints a table of alerts/s, p99 and the ratio to the baseline, and
// writes BENCHMARKS.md.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/sre-copilot/incident-collector/internal/loadgen"
	"github.com/sre-copilot/incident-collector/internal/proc"
	"github.com/sre-copilot/incident-collector/internal/testutil"
)

type options struct {
	collector, baseline string
	alertmanager        string
	duration, warmup    time.Duration
	soak                time.Duration
	conns               int
	out                 string
	pgDSN               string
}

type scenario struct {
	name   string
	mode   string
	alerts int
}

var scenarios = []scenario{
	{"1-alert unique", loadgen.ModeUnique, 1},
	{"1-alert duplicate", loadgen.ModeDuplicate, 1},
	{"100-alert unique", loadgen.ModeUnique, 100},
}

type row struct {
	server, scenario string
	res              *loadgen.Result
}

func main() {
	var o options
	flag.StringVar(&o.collector, "collector", "build/otelcol-incidents", "the built collector")
	flag.StringVar(&o.baseline, "baseline", "build/baseline", "the baseline server")
	flag.StringVar(&o.alertmanager, "alertmanager", ".tools/alertmanager", "Alertmanager, the peer row (empty: leave it out)")
	flag.DurationVar(&o.duration, "d", 10*time.Second, "duration of each measurement")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "load before measuring each server")
	flag.DurationVar(&o.soak, "soak", 60*time.Second, "length of each half of the memory check on SQLite (0: skip)")
	flag.IntVar(&o.conns, "c", 32, "connections")
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "report file")
	flag.Parse()
	o.pgDSN = os.Getenv(testutil.PostgresDSNEnv)
	if err := run(o); err != nil {
		log.Fatal(err)
	}
}

func run(o options) error {
	work, err := os.MkdirTemp("", "incident-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	var rows []row
	servers := []benchServer{
		{name: "baseline (net/http + encoding/json)", start: func() (*server, error) { return startBaseline(o) }},
	}
	if o.alertmanager != "" {
		servers = append(servers, benchServer{
			name: "Alertmanager v0.31.1, POST /api/v2/alerts (in memory)", push: true,
			start: func() (*server, error) { return startAlertmanager(o, work) },
		})
	}
	servers = append(servers,
		benchServer{name: "receiver alone (nop exporter)", start: func() (*server, error) { return startCollector(o, work, "nop", nopExporter) }},
		benchServer{name: "collector, SQLite", start: func() (*server, error) {
			return startCollector(o, work, "sqlite", fmt.Sprintf(incidentExporter, "sqlite", filepath.Join(work, "incidents.db"), ""))
		}},
		benchServer{name: "collector, SQLite, grouping by group_key", only: scenarios[2:], start: func() (*server, error) {
			return startCollector(o, work, "grouped", fmt.Sprintf(incidentExporter, "sqlite", filepath.Join(work, "grouped.db"), groupByGroupKey))
		}},
	)
	if o.pgDSN != "" {
		dsn, drop, err := benchSchema(o.pgDSN)
		if err != nil {
			return err
		}
		defer drop()
		servers = append(servers, benchServer{name: "collector, PostgreSQL", start: func() (*server, error) {
			return startCollector(o, work, "postgres", fmt.Sprintf(incidentExporter, "postgres", dsn, ""))
		}})
	} else {
		log.Printf("%s is not set: PostgreSQL is left out", testutil.PostgresDSNEnv)
	}

	var halfRate *loadgen.Result
	var rss []int64
	for _, s := range servers {
		srv, err := s.start()
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		runs := scenarios
		if s.only != nil {
			runs = s.only
		}
		_, _ = measure(srv.url, runs[0], s.push, o.conns, o.warmup, 0)
		for _, sc := range runs {
			res, err := measure(srv.url, sc, s.push, o.conns, o.duration, 0)
			if err != nil {
				srv.stop()
				return err
			}
			log.Printf("%-40s %-18s %9.0f alerts/s  p99 %6.2f ms  non-2xx %d", s.name, sc.name, res.AlertsPS, res.LatencyP99, res.Non2xx+res.Errors)
			rows = append(rows, row{s.name, sc.name, res})
		}
		if s.name == "collector, SQLite" {
			maxRate := rows[len(rows)-3].res.RequestsPS
			halfRate, _ = measure(srv.url, scenarios[0], false, o.conns, o.duration, maxRate/2)
			log.Printf("SQLite at half the maximum rate (%.0f req/s): p99 %.2f ms", maxRate/2, halfRate.LatencyP99)
			if o.soak > 0 {
				rss = soak(srv, o)
			}
		}
		srv.stop()
	}
	report := render(o, rows, halfRate, rss)
	fmt.Print(report)
	return os.WriteFile(o.out, []byte(report), 0o644) //nolint:gosec // BENCHMARKS.md is a document of the checkout, readable by all
}

// benchServer is one row group of the report: how to start the server, and
// which scenarios it runs (all when only is nil).
type benchServer struct {
	name  string
	start func() (*server, error)
	only  []scenario
	push  bool // it takes Prometheus push bodies
}

func measure(url string, sc scenario, push bool, conns int, d time.Duration, rate float64) (*loadgen.Result, error) {
	return loadgen.Run(context.Background(), loadgen.Options{
		URL: url, Mode: sc.mode, AlertsPerRequest: sc.alerts, Connections: conns, Duration: d, Rate: rate, Push: push,
	})
}

// soak runs maximum-rate load and samples the resident memory after one
// period and after a second one.
func soak(srv *server, o options) []int64 {
	var samples []int64
	for range 2 {
		_, _ = measure(srv.url, scenarios[0], false, o.conns, o.soak, 0)
		samples = append(samples, srv.rss())
		log.Printf("SQLite RSS after %v more at maximum rate: %.1f MB", o.soak, float64(samples[len(samples)-1])/(1<<20))
	}
	return samples
}

type server struct {
	url string
	cmd *exec.Cmd
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// rss is the server's resident memory in bytes.
func (s *server) rss() int64 { return proc.RSS(s.cmd.Process.Pid) }

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startProcess(name string, args []string, healthURL, url string) (*server, error) {
	cmd := exec.Command(name, args...)
	logFile, err := os.CreateTemp("", "bench-server-*.log")
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(healthURL) //nolint:gosec // the benchmarked server's own loopback health URL
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return &server{url: url, cmd: cmd}, nil
			}
		}
	}
	_ = cmd.Process.Kill()
	out, _ := os.ReadFile(logFile.Name())
	return nil, fmt.Errorf("%s did not become healthy:\n%s", name, out)
}

func startBaseline(o options) (*server, error) {
	addr := freeAddr()
	return startProcess(o.baseline, []string{"-addr", addr}, "http://"+addr+"/health", "http://"+addr+"/webhooks/alertmanager")
}

const nopExporter = `
  nop:`

const incidentExporter = `
  incident:
    store:
      driver: %s
      dsn: "%s"%s`

const groupByGroupKey = `
    grouping: {by: group_key}`

// alertmanagerConfig routes every alert to a receiver with no integration:
// Alertmanager keeps them in memory and notifies nobody.
const alertmanagerConfig = `
route:
  receiver: nowhere
  group_wait: 1h
receivers:
  - name: nowhere
`

// startAlertmanager runs a real Alertmanager on loopback, without gossip; the
// load goes to its own API, POST /api/v2/alerts.
func startAlertmanager(o options, work string) (*server, error) {
	addr := freeAddr()
	cfg := filepath.Join(work, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(alertmanagerConfig), 0o600); err != nil {
		return nil, err
	}
	return startProcess(o.alertmanager, []string{
		"--config.file=" + cfg, "--storage.path=" + filepath.Join(work, "alertmanager"),
		"--web.listen-address=" + addr, "--cluster.listen-address=", "--log.level=warn",
	},
		"http://"+addr+"/-/ready", "http://"+addr+"/api/v2/alerts")
}

// collectorConfig: the receiver with limits out of the way, metrics off (the
// baseline has none), one exporter.
const collectorConfig = `
receivers:
  alertwebhook:
    http:
      endpoint: %s
    rate_limit: {requests_per_second: 1000000000, burst: 1000000000}
exporters:%s
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [alertwebhook]
      exporters: [%s]
`

func startCollector(o options, work, name, exporter string) (*server, error) {
	addr := freeAddr()
	exporterName := strings.TrimSuffix(strings.Fields(exporter)[0], ":")
	cfg := filepath.Join(work, name+".yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(collectorConfig, addr, exporter, exporterName)), 0o600); err != nil {
		return nil, err
	}
	return startProcess(o.collector, []string{"--config", cfg}, "http://"+addr+"/health", "http://"+addr+"/webhooks/alertmanager")
}

// benchSchema makes a fresh schema for the run and returns its DSN.
func benchSchema(dsn string) (string, func(), error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return "", nil, err
	}
	schema := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		return "", nil, fmt.Errorf("creating the bench schema: %w", err)
	}
	drop := func() { _, _ = db.Exec("DROP SCHEMA " + schema + " CASCADE"); _ = db.Close() }
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema, drop, nil
}

func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%d cores (%s), %s, %s/%s", runtime.NumCPU(), model, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
