package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/sre-copilot/incident-collector/internal/testutil"
)

// The example sender configs of examples/, as users copy them, against the
// collector as deploy/kubernetes/ runs it. Only what cannot be the same in a
// test changes: the collector's address, the secret files' directory, and the
// intervals that would make a test wait minutes.

// exampleHost is the collector's address in the examples: the Service name.
const exampleHost = "otelcol-incidents:8504"

// rewriteExample decodes an example, lets edit change the document, replaces
// old → new in every string, writes each secret file it references under
// secretDir into a temporary directory (named as the Secret's keys, with the
// test's values), and returns the new document.
func rewriteExample(t *testing.T, file, secretDir string, edit func(map[string]any), oldNew ...string) []byte {
	t.Helper()
	var doc map[string]any
	decodeYAML(t, file, repoFile(t, file), &doc)
	if edit != nil {
		edit(doc)
	}
	secrets := t.TempDir()
	replace := strings.NewReplacer(append(oldNew, secretDir, secrets+"/")...)
	var walk func(any) any
	walk = func(v any) any {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				v[k] = walk(x)
			}
		case []any:
			for i, x := range v {
				v[i] = walk(x)
			}
		case string:
			if key, ok := strings.CutPrefix(v, secretDir); ok {
				value, known := replicaSecrets[key]
				require.True(t, known, "%s reads %s, which is not a key of the collector's Secret", file, v)
				require.NoError(t, os.WriteFile(filepath.Join(secrets, key), []byte(value), 0o600))
			}
			return replace.Replace(v)
		}
		return v
	}
	out, err := yaml.Marshal(walk(doc))
	require.NoError(t, err)
	return out
}

// examples/alertmanager.yml in a real Alertmanager: the global route and the
// per-project route with basic_auth make incidents in their scopes, repeats
// are duplicates, and resolving resolves.
func TestExampleAlertmanager(t *testing.T) {
	t.Parallel()
	binary(t, "E2E_ALERTMANAGER_BIN", "Alertmanager")
	dsn := testutil.PostgresSchema(t)
	c := startReplicas(t, loadK8s(t), dsn, 1, nil)[0]
	cfg := rewriteExample(t, "examples/alertmanager.yml", "/etc/alertmanager/secrets/", func(doc map[string]any) {
		route := doc["route"].(map[string]any)
		route["group_wait"], route["group_interval"], route["repeat_interval"] = "1s", "2s", "3s"
	}, "http://"+exampleHost, c.base)
	am := runAlertmanager(t, string(cfg)).base
	db := store{driver: "postgres", dsn: dsn}.db(t)

	startsAt := time.Now().Add(-time.Minute).Truncate(time.Second)
	pushAlerts(t, am, startsAt, time.Now().Add(time.Hour)) // E2EGlobal, and E2EProject labeled project=payments
	eventually(t, 20*time.Second, "an incident from each route", func() bool {
		return count(t, db, "title = 'E2EGlobal' AND dedup_scope = 'alertmanager' AND status = 'open'") == 1 &&
			count(t, db, "title = 'E2EProject' AND dedup_scope = 'payments' AND project = 'payments' AND status = 'open'") == 1
	})
	eventually(t, 20*time.Second, "a repeat counted as a duplicate", func() bool {
		return count(t, db, "title = 'E2EGlobal' AND occurrences >= 2") == 1
	})
	pushAlerts(t, am, startsAt, time.Now().Add(-time.Second))
	eventually(t, 20*time.Second, "both incidents resolved (send_resolved)", func() bool {
		return count(t, db, "status = 'resolved'") == 2
	})
	assert.Equal(t, 2, count(t, db, "1 = 1"))
}

// examples/prometheus.yml in a real Prometheus pushing straight to the
// collector: an always-firing rule becomes an incident, and resolves when
// the rule stops firing.
func TestExamplePrometheus(t *testing.T) {
	t.Parallel()
	bin := binary(t, "E2E_PROMETHEUS_BIN", "Prometheus (Debian's prometheus package)")
	dsn := testutil.PostgresSchema(t)
	c := startReplicas(t, loadK8s(t), dsn, 1, nil)[0]
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules")
	require.NoError(t, os.Mkdir(rules, 0o700))
	writeRule := func(expr string) {
		rule := fmt.Sprintf(`groups:
  - name: e2e
    interval: 1s
    rules:
      - alert: E2EPrometheusPush
        expr: %s
        labels: {severity: critical, service: checkout}
        annotations: {summary: pushed by Prometheus without an Alertmanager}
`, expr)
		require.NoError(t, os.WriteFile(filepath.Join(rules, "e2e.yml"), []byte(rule), 0o600))
	}
	writeRule("vector(1)")
	cfg := rewriteExample(t, "examples/prometheus.yml", "/etc/prometheus/secrets/", nil,
		exampleHost, strings.TrimPrefix(c.base, "http://"), "/etc/prometheus/rules/", rules+"/")
	cfgFile := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(cfgFile, cfg, 0o600))

	port := freePort(t)
	out := &lockedBuffer{}
	// resend-delay 1s: Prometheus drops the first notification when it comes
	// before the target list is known; the resend a second later delivers.
	cmd := exec.Command(bin, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port), "--rules.alert.resend-delay=1s", "--web.enable-lifecycle")
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus output:\n%s", out.String())
		}
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitStatus(t, base+"/-/ready", 200)
	db := store{driver: "postgres", dsn: dsn}.db(t)

	eventually(t, 30*time.Second, "the firing rule's incident", func() bool {
		return count(t, db, "title = 'E2EPrometheusPush' AND dedup_scope = 'payments' AND severity = 'critical' AND status = 'open'") == 1
	})
	writeRule("vector(1) < 0")
	resp, err := http.Post(base+"/-/reload", "", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	eventually(t, 30*time.Second, "the incident resolved once the rule stopped firing", func() bool {
		return count(t, db, "title = 'E2EPrometheusPush' AND status = 'resolved'") == 1
	})
	assert.Equal(t, 1, count(t, db, "1 = 1"), "Prometheus' resends are duplicates")
}

// examples/grafana-contact-point.yaml is Grafana provisioning, and each of its
// webhook contact points posts to a path the collector serves, with the
// authorization it configures: Grafana's own notification is accepted there.
func TestExampleGrafanaContactPoint(t *testing.T) {
	t.Parallel()
	var prov struct {
		APIVersion    int `yaml:"apiVersion"`
		ContactPoints []struct {
			OrgID     int    `yaml:"orgId"`
			Name      string `yaml:"name"`
			Receivers []struct {
				UID      string            `yaml:"uid"`
				Type     string            `yaml:"type"`
				Settings map[string]string `yaml:"settings"`
			} `yaml:"receivers"`
		} `yaml:"contactPoints"`
	}
	decodeYAML(t, "examples/grafana-contact-point.yaml", repoFile(t, "examples/grafana-contact-point.yaml"), &prov)
	require.Equal(t, 1, prov.APIVersion, "Grafana's provisioning files are apiVersion 1")
	require.NotEmpty(t, prov.ContactPoints)

	c := startReplicas(t, loadK8s(t), testutil.PostgresSchema(t), 1, nil)[0]
	// Grafana expands $VAR and ${VAR} from its environment in provisioning files.
	grafanaEnv := map[string]string{"GRAFANA_WEBHOOK_SECRET": replicaSecrets["grafana-webhook-secret"]}
	webhooks := 0
	for _, cp := range prov.ContactPoints {
		require.NotEmpty(t, cp.Name)
		require.NotEmpty(t, cp.Receivers, cp.Name)
		for _, r := range cp.Receivers {
			require.NotEmpty(t, r.UID)
			if r.Type != "webhook" {
				continue
			}
			webhooks++
			s := r.Settings
			u, err := url.Parse(s["url"])
			require.NoError(t, err)
			assert.Equal(t, exampleHost, u.Host, "the Service of deploy/kubernetes/")
			assert.True(t, strings.HasPrefix(u.Path, "/webhooks/grafana/"), "%s is not a Grafana path of the receiver", u.Path)
			assert.Contains(t, []string{"", "POST"}, s["httpMethod"], "the receiver serves POST")
			credentials := os.Expand(s["authorization_credentials"], func(k string) string { return grafanaEnv[k] })
			a := c.post(t, u.Path, fixture(t, "grafana/seed-example.json"), "Authorization", s["authorization_scheme"]+" "+credentials)
			require.Equal(t, 200, a.Code, "%s: %s", u.Path, a.Raw)
			assert.Equal(t, "success", a.Body["status"], a.Raw)
		}
	}
	assert.Positive(t, webhooks, "no webhook contact point")
}
