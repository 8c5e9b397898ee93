package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sre-copilot/incident-collector/internal/testutil"
)

// The web view in a real browser: Debian's chromium, headless, logs in with
// the read token (HTTP Basic, credentials in the URL) and shows what the API
// returns. With E2E_SCREENSHOTS set to a directory, the SQLite run leaves its
// screenshots there (the README's docs/ pictures come from it).

// Window sizes: the list, and an incident's page with its alerts and
// timeline in view.
const (
	listWindow     = "1280,560"
	incidentWindow = "1280,1250"
)

// browse runs chromium on address in a window of size; with shot set it
// takes a screenshot there, else it returns the DOM as rendered.
func browse(t *testing.T, address, size, shot string) string {
	t.Helper()
	bin := binary(t, "E2E_CHROMIUM_BIN", "chromium (Debian's package)")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir(), "--window-size=" + size,
	}
	if shot != "" {
		args = append(args, "--screenshot="+shot)
	} else {
		args = append(args, "--dump-dom")
	}
	cmd := exec.CommandContext(ctx, bin, append(args, address)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "chromium %s:\n%s", address, stderr.String())
	return stdout.String()
}

// asViewer is the API's address with the read token in it (HTTP Basic,
// any user name), as a person types it.
func asViewer(base, path string) string {
	u, _ := url.Parse(base + path)
	u.User = url.UserPassword("viewer", apiReadToken)
	return u.String()
}

func TestWebViewInBrowser(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			c := startAPICollector(t, s.open(t), "    grouping: {by: group_key}")
			now := time.Now().UTC()
			ago := func(d time.Duration) time.Time { return now.Add(-d) }
			pods := []string{}
			for i, pod := range []string{"checkout-7f9c-x2k4d", "checkout-7f9c-q8w1z", "checkout-7f9c-m3n5p"} {
				pods = append(pods, fmt.Sprintf(`{"status":"firing","fingerprint":"crashloop-%d","startsAt":%q,`+
					`"labels":{"alertname":"KubePodCrashLooping","severity":"critical","service":"checkout","namespace":"shop","pod":%q},`+
					`"annotations":{"summary":"Pod shop/%s is restarting","description":"Pod shop/%s has restarted 7 times in the last 10 minutes.","runbook_url":"https://runbooks.example.com/KubePodCrashLooping"},`+
					`"generatorURL":"http://prometheus.example.com/graph?g0.expr=kube_pod_container_status_restarts_total"}`,
					i, ago(47*time.Minute-time.Duration(i)*time.Minute).Format(time.RFC3339), pod, pod, pod))
			}
			grouped := c.post(t, "/webhooks/alertmanager", []byte(`{"version":"4","status":"firing","groupKey":"{}:{alertname=\"KubePodCrashLooping\"}","alerts":[`+
				strings.Join(pods, ",")+`]}`))
			require.Equal(t, 200, grouped.Code, grouped.Raw)
			crash := created(t, grouped.Body)
			c.post(t, "/webhooks/alertmanager", []byte(`{"version":"4","status":"resolved","groupKey":"{}:{alertname=\"KubePodCrashLooping\"}","alerts":[`+
				strings.Replace(strings.Replace(pods[2], `"status":"firing"`, `"status":"resolved"`, 1), `"startsAt"`, `"endsAt":"`+ago(5*time.Minute).Format(time.RFC3339)+`","startsAt"`, 1)+`]}`))
			c.fire(t, alertJSON("firing", "errors", "HighErrorRate", "critical", "payments-api", ago(3*time.Hour-12*time.Minute)))
			c.fire(t, alertJSON("firing", "latency", "LatencyP99High", "warning", "search", ago(12*time.Minute)))
			disk := created(t, c.fire(t, alertJSON("firing", "disk", "DiskWillFillIn4h", "warning", "postgres", ago(26*time.Hour))))
			c.fire(t, alertJSON("firing", "xss", `<script>document.title='owned'</script>`, "info", "web", ago(4*time.Minute)))
			gone := created(t, c.fire(t, alertJSON("firing", "gone", "CertificateExpiry", "info", "edge", ago(2*time.Hour))))
			require.Equal(t, 200, c.act(t, crash, "acknowledge", `{"by":"alice","note":"rolling back the 14:02 deploy"}`).Code)
			require.Equal(t, 200, c.act(t, disk, "acknowledge", `{"by":"bob"}`).Code)
			require.Equal(t, 200, c.act(t, gone, "resolve", `{"by":"carol","note":"renewed by hand"}`).Code)
			// A maintenance window holds what the database's upgrade fires.
			maintenance := c.call(t, http.MethodPost, "/api/v1/silences", apiWriteToken, fmt.Sprintf(
				`{"matchers":[{"name":"service","value":"orders-db","op":"="}],"ends_at":%q,"created_by":"dave","comment":"PostgreSQL 16 upgrade"}`,
				now.Add(90*time.Minute).Format(time.RFC3339)))
			require.Equal(t, http.StatusCreated, maintenance.Code, maintenance.Raw)
			held := c.fire(t, alertJSON("firing", "upgrade", "PostgresDown", "critical", "orders-db", ago(time.Minute)))
			require.Equal(t, "silenced", held["status"], held)

			active := c.list(t, "")
			require.Len(t, active, 5)
			shots := t.TempDir()

			// The list: the API's active incidents, in its order, with who
			// acknowledged, the counts, the status filter.
			dom := browse(t, asViewer(c.api, "/"), listWindow, "")
			page, err := testutil.ParsePage(dom)
			require.NoError(t, err)
			assert.Empty(t, page.Live, "nothing from the data runs in the browser")
			last := -1
			for _, inc := range active {
				i := strings.Index(page.Text, inc["title"].(string))
				require.GreaterOrEqual(t, i, 0, "%s is not on the page:\n%s", inc["title"], page.Text)
				assert.Greater(t, i, last, "the API's order")
				last = i
				assert.Contains(t, page.Links, "/incidents/"+inc["id"].(string))
			}
			assert.NotContains(t, page.Text, "CertificateExpiry", "resolved: not on the active list")
			assert.NotContains(t, page.Text, "PostgresDown", "held by a silence: no incident")
			for _, s := range []string{
				"5 active", "1 silenced", "critical 1 open, 1 acknowledged", "high 1 open, 1 acknowledged", "medium 1 open", "alice", "bob",
				`service="orders-db"`, "PostgreSQL 16 upgrade", "dave",
			} {
				assert.Contains(t, page.Text, s)
			}
			for _, href := range []string{"/?status=open", "/?status=acknowledged", "/?status=resolved", "/?status=all"} {
				assert.Contains(t, page.Links, href)
			}
			assert.Contains(t, dom, "<title>Incidents · otelcol-incidents</title>", "the script in a title did not run")
			browse(t, asViewer(c.api, "/"), listWindow, filepath.Join(shots, "web-view-incidents.png"))

			// An incident's page: its alerts, labels, links and timeline, as
			// the API returns them.
			detail := c.get(t, "/api/v1/incidents/"+crash)
			require.Equal(t, 200, detail.Code)
			dom = browse(t, asViewer(c.api, "/incidents/"+crash), incidentWindow, "")
			page, err = testutil.ParsePage(dom)
			require.NoError(t, err)
			assert.Empty(t, page.Live)
			for _, a := range detail.Body["alerts"].([]any) {
				alert := a.(map[string]any)
				assert.Contains(t, page.Text, alert["fingerprint"].(string))
				assert.Contains(t, page.Text, "pod="+alert["labels"].(map[string]any)["pod"].(string))
			}
			for _, e := range detail.Body["timeline"].([]any) {
				assert.Contains(t, page.Text, e.(map[string]any)["event"].(string))
			}
			for _, s := range []string{"KubePodCrashLooping", "acknowledged", "alice", "rolling back the 14:02 deploy", "2 / 3", "namespace", "shop"} {
				assert.Contains(t, page.Text, s)
			}
			assert.Contains(t, page.Links, "https://runbooks.example.com/KubePodCrashLooping")
			assert.Contains(t, page.Links, "http://prometheus.example.com/graph?g0.expr=kube_pod_container_status_restarts_total")
			browse(t, asViewer(c.api, "/incidents/"+crash), incidentWindow, filepath.Join(shots, "web-view-incident.png"))

			// Without credentials the browser gets nothing but the refusal.
			page, err = testutil.ParsePage(browse(t, c.api+"/", listWindow, ""))
			require.NoError(t, err)
			assert.NotContains(t, page.Text, "KubePodCrashLooping")

			for name, size := range map[string]string{"web-view-incidents.png": listWindow, "web-view-incident.png": incidentWindow} {
				f, err := os.Open(filepath.Join(shots, name))
				require.NoError(t, err)
				cfg, err := png.DecodeConfig(f)
				f.Close()
				require.NoError(t, err, name)
				assert.Equal(t, size, fmt.Sprintf("%d,%d", cfg.Width, cfg.Height), name)
				if dir := os.Getenv("E2E_SCREENSHOTS"); dir != "" && s.name == "sqlite" {
					b, err := os.ReadFile(filepath.Join(shots, name))
					require.NoError(t, err)
					require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644)) //nolint:gosec // a picture for the README
				}
			}
		})
	}
}
