package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// alertmanagerConfig sends the global route to /webhooks/alertmanager and
// alerts labeled project=payments to the per-project endpoint with
// basic_auth, with intervals short enough for a test.
const alertmanagerConfig = `
route:
  receiver: global
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 3s
  routes:
    - matchers: ['project="payments"']
      receiver: project-payments
receivers:
  - name: global
    webhook_configs:
      - url: %[1]s/webhooks/alertmanager
        send_resolved: true
  - name: project-payments
    webhook_configs:
      - url: %[1]s/webhooks/prometheus/%[2]s
        send_resolved: true
        http_config:
          basic_auth:
            username: alertmanager
            password: %[3]s
`

// startAlertmanager runs a real Alertmanager on loopback, without gossip.
func startAlertmanager(t *testing.T, collectorBase string) string {
	t.Helper()
	return runAlertmanager(t, fmt.Sprintf(alertmanagerConfig, collectorBase, promID, promSecret)).base
}

// alertmanagerProcess is a real Alertmanager on loopback, without gossip.
type alertmanagerProcess struct {
	base string
	cmd  *exec.Cmd
	done chan struct{}
}

// runAlertmanager runs a real Alertmanager on config (a complete
// alertmanager.yml) until the test ends or stop is called.
func runAlertmanager(t *testing.T, config string) *alertmanagerProcess {
	t.Helper()
	bin := binary(t, "E2E_ALERTMANAGER_BIN", "Alertmanager")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	require.NoError(t, os.WriteFile(cfg, []byte(config), 0o600))
	port := freePort(t)
	out := &lockedBuffer{}
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port), "--cluster.listen-address=")
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	am := &alertmanagerProcess{base: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(am.done) }()
	t.Cleanup(func() {
		am.stop()
		if t.Failed() {
			t.Logf("alertmanager output:\n%s", out.String())
		}
	})
	eventually(t, 30*time.Second, "Alertmanager ready", func() bool {
		resp, err := http.Get(am.base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return am
}

func (am *alertmanagerProcess) stop() {
	_ = am.cmd.Process.Signal(syscall.SIGTERM)
	<-am.done
}

// push posts alerts (a JSON array) to Alertmanager's API.
func (am *alertmanagerProcess) push(t *testing.T, alerts string) {
	t.Helper()
	resp, err := http.Post(am.base+"/api/v2/alerts", "application/json", bytes.NewBufferString(alerts))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func pushAlerts(t *testing.T, amBase string, startsAt, endsAt time.Time) {
	t.Helper()
	body := fmt.Sprintf(`[
	  {"labels":{"alertname":"E2EGlobal","service":"checkout","severity":"critical","instance":"a"},
	   "annotations":{"description":"global route"},"startsAt":%[1]q,"endsAt":%[2]q},
	  {"labels":{"alertname":"E2EProject","service":"payments","severity":"warning","project":"payments","instance":"p"},
	   "annotations":{"summary":"project route"},"startsAt":%[1]q,"endsAt":%[2]q}
	]`, startsAt.UTC().Format(time.RFC3339Nano), endsAt.UTC().Format(time.RFC3339Nano))
	resp, err := http.Post(amBase+"/api/v2/alerts", "application/json", bytes.NewBufferString(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// A real Alertmanager v0.31.1 delivering to the built collector: alerts become
// incidents, its repeats are duplicates, resolving resolves.
func TestRealAlertmanager(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			st := s.open(t)
			c := startCollector(t, st, defaultPipeline)
			am := startAlertmanager(t, c.base)
			db := st.db(t)

			startsAt := time.Now().Add(-time.Minute).Truncate(time.Second)
			pushAlerts(t, am, startsAt, time.Now().Add(time.Hour))
			eventually(t, 20*time.Second, "both incidents", func() bool {
				return count(t, db, "title = 'E2EGlobal' AND dedup_scope = 'alertmanager' AND status = 'open'") == 1 &&
					count(t, db, "title = 'E2EProject' AND dedup_scope = $1 AND project = 'payments' AND status = 'open'", promID) == 1
			})
			eventually(t, 20*time.Second, "a repeat counted as a duplicate", func() bool {
				return count(t, db, "title = 'E2EGlobal' AND occurrences >= 2") == 1
			})
			assert.Equal(t, 1, count(t, db, "title = 'E2EGlobal'"), "repeats never create a second incident")
			assert.Equal(t, 1, count(t, db, "title = 'E2EGlobal' AND severity = 'critical' AND service_name = 'checkout'"))
			assert.Equal(t, 1, count(t, db, "title = 'E2EProject' AND severity = 'high'"))

			pushAlerts(t, am, startsAt, time.Now().Add(-time.Second))
			eventually(t, 20*time.Second, "both incidents resolved", func() bool {
				return count(t, db, "status = 'resolved' AND resolution_reason = 'alert_resolved'") == 2
			})
			assert.Equal(t, 2, count(t, db, "1 = 1"))
		})
	}
}
