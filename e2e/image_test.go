package e2e

import (
	"crypto/x509"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sre-copilot/incident-collector/internal/testutil"
)

// imageConfig is the part of `<tool> image inspect` the test reads; docker
// and podman both answer it.
type imageConfig struct {
	User         string
	Env          []string
	Entrypoint   []string
	Cmd          []string
	WorkingDir   string
	ExposedPorts map[string]struct{}
	Volumes      map[string]struct{}
}

const (
	imageConfigPath = "/etc/otelcol-incidents/config.yaml"
	imageDataDir    = "/var/lib/otelcol-incidents"
)

// The image `make image` built, tested the only way these machines allow
// (containers cannot be started here): its root filesystem is exported, and
// its entrypoint and command run in it as its user (chroot, with a private
// /proc as a container has) on the config found there. A webhook must then
// become an incident in the SQLite file on the image's volume.
func TestImage(t *testing.T) {
	img := testutil.RequireEnv(t, "E2E_IMAGE", "the image test (`make test` builds the image when podman or docker is installed)")
	tool := testutil.RequireEnv(t, "E2E_CONTAINER_TOOL", "the image test (podman or docker)")
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("the image test runs the image's root filesystem with chroot, which needs root; CI runs as root")
		}
		t.Skip("not root: skipping the image test (it needs chroot)")
	}

	cfg := inspectImage(t, tool, img)
	uid, gid, ok := strings.Cut(cfg.User, ":")
	require.True(t, ok && uid != "" && gid != "", "USER %q: want numeric uid:gid (Kubernetes runAsNonRoot checks it)", cfg.User)
	assert.NotEqual(t, "0", uid, "the image must not run as root")
	assert.Contains(t, cfg.ExposedPorts, "8504/tcp")
	assert.Contains(t, cfg.Volumes, imageDataDir, "the SQLite directory is a volume")
	require.NotEmpty(t, cfg.Entrypoint)
	assert.Contains(t, cfg.Cmd, "--config="+imageConfigPath)

	root := exportRootfs(t, tool, img)
	bundle, err := os.ReadFile(filepath.Join(root, "etc/ssl/certs/ca-certificates.crt"))
	require.NoError(t, err, "the CA bundle")
	assert.True(t, x509.NewCertPool().AppendCertsFromPEM(bundle), "the CA bundle holds no certificate")
	shipped, err := os.ReadFile(filepath.Join(root, imageConfigPath))
	require.NoError(t, err)
	assert.Equal(t, string(repoFile(t, "deploy/image/config.yaml")), string(shipped), "the image holds deploy/image/config.yaml")
	config := parseShippedConfig(t, "the image's config", string(shipped))
	for _, dir := range []string{imageDataDir, "/tmp"} {
		info, statErr := os.Stat(filepath.Join(root, dir))
		require.NoError(t, statErr)
		assert.Equal(t, uid, strconv.FormatUint(uint64(info.Sys().(*syscall.Stat_t).Uid), 10), "%s belongs to the image's user", dir)
	}

	// As a container would: the image's environment only, a fresh PID and
	// mount namespace with /proc (the memory_limiter reads the cgroup limit
	// there), the image's user. The mount point's own mode is hidden by the mount.
	require.NoError(t, os.MkdirAll(filepath.Join(root, "proc"), 0o700))
	unshare, err := exec.LookPath("unshare")
	require.NoError(t, err, "util-linux unshare")
	chroot, err := exec.LookPath("chroot")
	require.NoError(t, err, "coreutils chroot")
	inContainer := func(args ...string) []string {
		return append([]string{
			unshare, "--mount", "--pid", "--fork", "--mount-proc=" + filepath.Join(root, "proc"),
			chroot, "--userspec=" + cfg.User, root,
		}, args...)
	}
	command := append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...)

	// Without its secrets the container refuses to start: no default secret is shipped.
	validate := inContainer(append([]string{command[0], "validate"}, command[1:]...)...)
	cmd := exec.Command(validate[0], validate[1:]...) //nolint:gosec // unshare and chroot around the image's own entrypoint
	cmd.Env = cfg.Env
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "validate without the secrets: %s", out)
	assert.Contains(t, string(out), "secret must not be empty")

	const imagePromSecret, imageGrafanaSecret = "image-prometheus-secret", "image-grafana-secret"
	env := append(append([]string{}, cfg.Env...), "PROMETHEUS_WEBHOOK_SECRET="+imagePromSecret, "GRAFANA_WEBHOOK_SECRET="+imageGrafanaSecret)
	ports := freeListenPorts(t)
	c := runShipped(t, inContainer(append(command, ports.flags(config)...)...), env, ports, true)

	a := c.post(t, "/webhooks/prometheus/prometheus", fixture(t, "alertmanager/seed-example.json"), "X-Webhook-Secret", imagePromSecret)
	require.Equal(t, 200, a.Code, a.Raw)
	assert.Equal(t, "success", a.Body["status"], a.Raw)
	a = c.post(t, "/webhooks/prometheus/prometheus", fixture(t, "alertmanager/seed-example.json"), "X-Webhook-Secret", "wrong")
	assert.Equal(t, 403, a.Code, a.Raw)

	// The incident is in the file on the volume, written by the image's user.
	dbPath := filepath.Join(root, imageDataDir, "incidents.db")
	db := store{driver: "sqlite", dsn: dbPath}.db(t)
	assert.Equal(t, 1, count(t, db, "title = 'HighErrorRate' AND status = 'open' AND dedup_scope = 'prometheus'"))
	info, err := os.Stat(dbPath)
	require.NoError(t, err)
	assert.Equal(t, uid, strconv.FormatUint(uint64(info.Sys().(*syscall.Stat_t).Uid), 10), "the database belongs to the image's user")

	// Its health check and metrics answer on the config's ports.
	code, body := httpGet(t, localURL(ports.health, config.Extensions.HealthCheck.HTTP.Status.Path))
	assert.Equal(t, 200, code, body)
	code, body = httpGet(t, localURL(ports.metrics, "/metrics"))
	assert.Equal(t, 200, code)
	assert.Contains(t, body, "otelcol_alertwebhook_requests")
}

func inspectImage(t *testing.T, tool, img string) imageConfig {
	t.Helper()
	var inspected []struct{ Config imageConfig }
	require.NoError(t, json.Unmarshal([]byte(mustRun(t, tool, "image", "inspect", img)), &inspected))
	require.Len(t, inspected, 1)
	return inspected[0].Config
}

// exportRootfs writes the image's root filesystem into a directory, owners
// and modes kept (tar runs as root).
func exportRootfs(t *testing.T, tool, img string) string {
	t.Helper()
	id := strings.TrimSpace(mustRun(t, tool, "create", img))
	t.Cleanup(func() { _ = exec.Command(tool, "rm", id).Run() })
	root := t.TempDir()
	export := exec.Command(tool, "export", id)
	untar := exec.Command("tar", "-x", "-p", "--same-owner", "-C", root)
	pipe, err := export.StdoutPipe()
	require.NoError(t, err)
	untar.Stdin = pipe
	require.NoError(t, untar.Start())
	require.NoError(t, export.Run())
	require.NoError(t, untar.Wait())
	return root
}
