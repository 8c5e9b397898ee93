package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// Helpers for the tests of what is shipped (the image, the Kubernetes
// manifests, the dashboard, the example sender configs): they run the built
// collector on the shipped configs, not on the suite's own.

// repoFile reads a file of the checkout; the tests run in e2e/.
func repoFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", filepath.FromSlash(rel)))
	require.NoError(t, err)
	return b
}

// decodeYAML decodes a shipped YAML file into v, failing the test on a syntax
// error or a duplicate key.
func decodeYAML(t *testing.T, what string, b []byte, v any) {
	t.Helper()
	require.NoError(t, yaml.Unmarshal(b, v), "%s does not parse", what)
}

// listenPorts are the ports a shipped config listens on: webhooks, health
// check, the collector's own metrics, and the incident API when it has one.
type listenPorts struct{ webhooks, health, metrics, api int }

func freeListenPorts(t *testing.T) listenPorts {
	return listenPorts{webhooks: freePort(t), health: freePort(t), metrics: freePort(t), api: freePort(t)}
}

// flags moves a shipped config's listeners to loopback ports. In a container
// each replica has its own network namespace; here several collectors and the
// other engineers' tests share one, so the fixed ports 8504/13133/8888/8505
// would collide. Only these keys change: the rest is the shipped file (an API
// is moved only where the config has one, never added).
func (p listenPorts) flags(cfg shippedConfig) []string {
	flags := []string{
		fmt.Sprintf("--config=yaml:receivers::alertwebhook::http::endpoint: 127.0.0.1:%d", p.webhooks),
		fmt.Sprintf("--config=yaml:extensions::health_check::http::endpoint: 127.0.0.1:%d", p.health),
		fmt.Sprintf("--config=yaml:service::telemetry::metrics::readers: [{pull: {exporter: {prometheus: {host: 127.0.0.1, port: %d}}}}]", p.metrics),
	}
	if cfg.apiPort() != 0 {
		flags = append(flags, fmt.Sprintf("--config=yaml:exporters::incident::api::endpoint: 127.0.0.1:%d", p.api))
	}
	return flags
}

// local maps a port the shipped config listens on to the port it listens on
// in the test.
func (p listenPorts) local(t *testing.T, shipped int, cfg shippedConfig) int {
	t.Helper()
	switch shipped {
	case cfg.webhookPort():
		return p.webhooks
	case cfg.healthPort():
		return p.health
	case cfg.metricsPort():
		return p.metrics
	case cfg.apiPort():
		return p.api
	}
	t.Fatalf("port %d is not one the collector config listens on", shipped)
	return 0
}

// runShipped starts a collector process (args[0] is the program) with
// exactly env, stopped at the end of the test. group signals the whole
// process group: for a wrapper (unshare, chroot) whose child is the collector.
func runShipped(t *testing.T, args, env []string, ports listenPorts, group bool) *collector {
	t.Helper()
	return run(t, &collector{
		base: fmt.Sprintf("http://127.0.0.1:%d", ports.webhooks), output: &lockedBuffer{},
		args: args, env: env, group: group,
	})
}

// localURL is http://127.0.0.1:port/path.
func localURL(port int, path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", port, path) }

// probeClient gives up on an answer after 5 s, as a probe would.
var probeClient = &http.Client{Timeout: 5 * time.Second}

// httpGet returns the status code and body of GET url.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := probeClient.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// waitStatus polls GET url until it answers code.
func waitStatus(t *testing.T, url string, code int) {
	t.Helper()
	eventually(t, 30*time.Second, "GET "+url+" answering "+strconv.Itoa(code), func() bool {
		resp, err := probeClient.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == code
	})
}

// shippedConfig is the part of a shipped collector config these tests read.
type shippedConfig struct {
	Extensions struct {
		HealthCheck struct {
			HTTP struct {
				Endpoint string `yaml:"endpoint"`
				Status   struct {
					Enabled bool   `yaml:"enabled"`
					Path    string `yaml:"path"`
				} `yaml:"status"`
			} `yaml:"http"`
		} `yaml:"health_check"`
	} `yaml:"extensions"`
	Receivers struct {
		AlertWebhook struct {
			HTTP struct {
				Endpoint string `yaml:"endpoint"`
			} `yaml:"http"`
			HealthPath   *string `yaml:"health_path"`
			Integrations []struct {
				ID   string `yaml:"id"`
				Type string `yaml:"type"`
			} `yaml:"integrations"`
		} `yaml:"alertwebhook"`
	} `yaml:"receivers"`
	Exporters struct {
		Incident struct {
			API *struct {
				Endpoint string `yaml:"endpoint"`
			} `yaml:"api"`
		} `yaml:"incident"`
	} `yaml:"exporters"`
	Service struct {
		Extensions []string `yaml:"extensions"`
		Telemetry  struct {
			Metrics struct {
				Readers []struct {
					Pull struct {
						Exporter struct {
							Prometheus struct {
								Host string `yaml:"host"`
								Port int    `yaml:"port"`
							} `yaml:"prometheus"`
						} `yaml:"exporter"`
					} `yaml:"pull"`
				} `yaml:"readers"`
			} `yaml:"metrics"`
		} `yaml:"telemetry"`
	} `yaml:"service"`
	raw string
}

func parseShippedConfig(t *testing.T, what, raw string) shippedConfig {
	t.Helper()
	var c shippedConfig
	decodeYAML(t, what, []byte(raw), &c)
	c.raw = raw
	require.Len(t, c.Service.Telemetry.Metrics.Readers, 1, "%s: one Prometheus reader for the collector's metrics", what)
	return c
}

// portOf is the port of a host:port endpoint, 0 when it has none.
func portOf(endpoint string) int {
	port, err := strconv.Atoi(endpoint[strings.LastIndex(endpoint, ":")+1:])
	if err != nil {
		return 0
	}
	return port
}

func (c shippedConfig) webhookPort() int { return portOf(c.Receivers.AlertWebhook.HTTP.Endpoint) }

func (c shippedConfig) healthPort() int { return portOf(c.Extensions.HealthCheck.HTTP.Endpoint) }

// apiPort is the incident API's port, 0 when the config has no API.
func (c shippedConfig) apiPort() int {
	switch {
	case c.Exporters.Incident.API == nil:
		return 0
	case c.Exporters.Incident.API.Endpoint == "":
		return 8505 // the exporter's default endpoint
	}
	return portOf(c.Exporters.Incident.API.Endpoint)
}

func (c shippedConfig) metricsPort() int {
	return c.Service.Telemetry.Metrics.Readers[0].Pull.Exporter.Prometheus.Port
}

// healthPath is the receiver's liveness path, its default filled in.
func (c shippedConfig) healthPath() string {
	if c.Receivers.AlertWebhook.HealthPath == nil {
		return "/health"
	}
	return *c.Receivers.AlertWebhook.HealthPath
}

var envRef = regexp.MustCompile(`\$\{env:([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}`)

// envRefs returns the environment variables the config reads, each with
// whether it has a default.
func (c shippedConfig) envRefs() map[string]bool {
	refs := map[string]bool{}
	for _, m := range envRef.FindAllStringSubmatch(c.raw, -1) {
		refs[m[1]] = refs[m[1]] || m[2] != ""
	}
	return refs
}

// stopGroup ends a process group: SIGTERM, then SIGKILL after 15 s.
func stopGroup(pgid int) {
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(-pgid, 0); err != nil {
			return // no process left in the group
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// mustRun runs a command and returns its standard output.
func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s %s: %s", name, strings.Join(args, " "), stderr.String())
	return string(out)
}
