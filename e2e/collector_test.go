// Package e2e runs the collector built by ocb as a process, with real senders
// in front of it (curl-like requests, a real Alertmanager) and a real store
// behind it. `make test` builds the binaries and sets their paths.
package e2e

import (
	"bytes"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/sre-copilot/incident-collector/internal/testutil"
)

// binary returns the path in env, or fails in CI and skips elsewhere.
func binary(t *testing.T, env, what string) string {
	t.Helper()
	path := testutil.RequireEnv(t, env, "the end-to-end suite (`make test` builds "+what+" and sets the variable)")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s=%s: %v", env, path, err)
	}
	return path
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// lockedBuffer collects a process's output for assertions and failure logs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// store is where the collector under test keeps incidents.
type store struct {
	driver string // sqlite | postgres
	dsn    string
}

func (s store) db(t *testing.T) *sql.DB {
	t.Helper()
	driver := map[string]string{"sqlite": "sqlite", "postgres": "pgx"}[s.driver]
	db, err := sql.Open(driver, s.dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func sqliteStore(t *testing.T) store {
	return store{driver: "sqlite", dsn: filepath.Join(t.TempDir(), "incidents.db")}
}

func postgresStore(t *testing.T) store {
	return store{driver: "postgres", dsn: testutil.PostgresSchema(t)}
}

// collector is one running collector process.
type collector struct {
	base   string // http://127.0.0.1:port of the webhook receiver
	output *lockedBuffer
	args   []string
	cmd    *exec.Cmd
	exited chan struct{} // closed when the current process has exited
	store  store
	env    []string // the process's whole environment; nil: the test's
	group  bool     // stop signals the process group (a wrapper and its child)
}

// launch starts the process; one goroutine reaps it and closes exited.
func (c *collector) launch(t *testing.T) {
	t.Helper()
	c.cmd = exec.Command(c.args[0], c.args[1:]...) //nolint:gosec // the binary under test, named by the suite's environment
	c.cmd.Stdout, c.cmd.Stderr = c.output, c.output
	c.cmd.Env = c.env
	if c.group {
		c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	require.NoError(t, c.cmd.Start())
	exited := make(chan struct{})
	c.exited = exited
	cmd := c.cmd
	go func() { _ = cmd.Wait(); close(exited) }()
}

// stop ends the process with SIGTERM, or SIGKILL after 15 s.
func (c *collector) stop() {
	if c.group {
		stopGroup(c.cmd.Process.Pid)
		<-c.exited
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

// Secrets the test configs use.
const (
	promID      = "550e8400-e29b-41d4-a716-446655440000"
	promSecret  = "payments-secret"
	grafID      = "grafana-main"
	grafSecret  = "grafana-bearer-secret"
	hmacID      = "grafana-hmac"
	hmacSecret  = "grafana-hmac-secret"
	pipelineTag = "PIPELINE"
)

// configTemplate is the collector config of the suite; %[1]d is the webhook
// port, %[2]s the store driver, %[3]s its DSN, %[4]d a free port for the
// collector's own metrics, and PIPELINE the processors/exporters part.
const configTemplate = `
receivers:
  alertwebhook:
    http:
      endpoint: 127.0.0.1:%[1]d
      read_header_timeout: 2s
    # Load tests measure the pipeline, not the token bucket.
    rate_limit: {requests_per_second: 1000000, burst: 1000000}
    integrations:
      - id: ` + promID + `
        type: prometheus
        secret: ` + promSecret + `
        project: payments
      - id: ` + grafID + `
        type: grafana
        secret: ` + grafSecret + `
      - id: ` + hmacID + `
        type: grafana
        secret: ` + hmacSecret + `
        signature: {}
processors:
  batch:
    timeout: 200ms
  transform/severity:
    error_mode: ignore
    log_statements:
      - context: log
        statements:
          - set(log.attributes["incident.severity"], "low") where log.attributes["alert.labels"]["team"] == "platform"
  filter/test_alerts:
    error_mode: ignore
    logs:
      log_record:
        - log.attributes["alert.labels"]["environment"] == "test"
exporters:
  incident:
    store:
      driver: %[2]s
      dsn: "%[3]s"
ANALYSIS
  debug:
    verbosity: basic
service:
  telemetry:
    logs:
      level: debug
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: %[4]d
  pipelines:
    logs/alerts:
` + pipelineTag

const defaultPipeline = `      receivers: [alertwebhook]
      processors: [transform/severity, filter/test_alerts]
      exporters: [incident]
`

// analysisTo configures the incident exporter's analysis trigger.
func analysisTo(endpoint string) string {
	return `    analysis:
      endpoint: ` + endpoint + `
      secret: ` + analysisSecret + `
      retry: {initial_interval: 100ms, max_interval: 500ms, max_age: 1h}
      client: {timeout: 2s}`
}

const analysisSecret = "analysis-hmac-secret"

// startCollector runs the built collector with the suite config until the
// test ends; extra is put under the incident exporter (analysisTo).
func startCollector(t *testing.T, st store, pipeline string, extra ...string) *collector {
	t.Helper()
	port := freePort(t)
	tmpl := strings.Replace(strings.Replace(configTemplate, pipelineTag, pipeline, 1), "ANALYSIS", strings.Join(extra, "\n"), 1)
	return runConfig(t, fmt.Sprintf(tmpl, port, st.driver, st.dsn, freePort(t)), port, st)
}

// runConfig runs the built collector on config, whose webhooks listen on
// 127.0.0.1:port, until the test ends.
func runConfig(t *testing.T, config string, port int, st store) *collector {
	t.Helper()
	bin := binary(t, "E2E_COLLECTOR_BIN", "the collector")
	cfgPath := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(config), 0o600))
	return run(t, &collector{
		base: fmt.Sprintf("http://127.0.0.1:%d", port), output: &lockedBuffer{}, store: st,
		args: []string{bin, "--config", cfgPath},
	})
}

// run starts c until the test ends (its output logged if the test failed)
// and waits for its webhooks to answer.
func run(t *testing.T, c *collector) *collector {
	t.Helper()
	c.launch(t)
	t.Cleanup(func() {
		c.stop()
		if t.Failed() {
			t.Logf("collector output:\n%s", c.output.String())
		}
	})
	c.waitHealthy(t)
	return c
}

// waitHealthy waits for the webhook receiver's health endpoint.
func (c *collector) waitHealthy(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-c.exited:
			t.Fatalf("collector exited:\n%s", c.output.String())
		default:
		}
		resp, err := http.Get(c.base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("collector did not become healthy:\n%s", c.output.String())
}

func (c *collector) post(t *testing.T, path string, body []byte, headers ...string) testutil.Answer {
	t.Helper()
	return testutil.Post(t, c.base+path, body, headers...)
}

func fixture(t *testing.T, name string) []byte { return testutil.Fixture(t, name) }

var count = testutil.CountIncidents

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s", timeout, what)
}
