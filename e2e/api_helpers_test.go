package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sre-copilot/incident-collector/internal/testutil"
)

// The incident API of the collector under test.

// Tokens of the suite's incident API.
const (
	apiReadToken  = "e2e-api-read-token"
	apiWriteToken = "e2e-api-write-token"
)

// apiSection turns the incident API on at 127.0.0.1:port, under the
// incident exporter (an extra of startCollector).
func apiSection(port int) string {
	return fmt.Sprintf(`    api:
      endpoint: 127.0.0.1:%d
      read_tokens: [%s]
      write_tokens: [%s]`, port, apiReadToken, apiWriteToken)
}

// apiCollector is a collector with its API.
type apiCollector struct {
	*collector
	api     string // http://127.0.0.1:port of the API
	metrics int    // the port of the collector's own metrics
}

// startAPICollector runs the suite's collector with the API on; extra goes
// under the incident exporter.
func startAPICollector(t *testing.T, st store, extra ...string) *apiCollector {
	t.Helper()
	port, apiPort, metrics := freePort(t), freePort(t), freePort(t)
	exporterExtra := strings.Join(append([]string{apiSection(apiPort)}, extra...), "\n")
	tmpl := strings.Replace(strings.Replace(configTemplate, pipelineTag, defaultPipeline, 1), "ANALYSIS", exporterExtra, 1)
	c := runConfig(t, fmt.Sprintf(tmpl, port, st.driver, st.dsn, metrics), port, st)
	return &apiCollector{collector: c, api: fmt.Sprintf("http://127.0.0.1:%d", apiPort), metrics: metrics}
}

// apiClient gives up on an answer after 30 s.
var apiClient = &http.Client{Timeout: 30 * time.Second}

// tryCall sends a request to the API; token "" sends none. It returns the
// error instead of failing, for goroutines.
func (c *apiCollector) tryCall(method, path, token, body string) (testutil.Answer, error) {
	req, err := http.NewRequest(method, c.api+path, strings.NewReader(body))
	if err != nil {
		return testutil.Answer{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		return testutil.Answer{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return testutil.Answer{}, err
	}
	a := testutil.Answer{Code: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &a.Body)
	return a, nil
}

func (c *apiCollector) call(t *testing.T, method, path, token, body string) testutil.Answer {
	t.Helper()
	a, err := c.tryCall(method, path, token, body)
	require.NoError(t, err)
	return a
}

// get reads with the read token.
func (c *apiCollector) get(t *testing.T, path string) testutil.Answer {
	t.Helper()
	return c.call(t, http.MethodGet, path, apiReadToken, "")
}

// act runs an action with the write token.
func (c *apiCollector) act(t *testing.T, id, action, body string) testutil.Answer {
	t.Helper()
	return c.call(t, http.MethodPost, "/api/v1/incidents/"+id+"/"+action, apiWriteToken, body)
}

// incident reads one incident's object.
func (c *apiCollector) incident(t *testing.T, id string) map[string]any {
	t.Helper()
	a := c.get(t, "/api/v1/incidents/"+id)
	require.Equal(t, http.StatusOK, a.Code, a.Raw)
	return a.Body["incident"].(map[string]any)
}

// list reads a list and returns its incidents.
func (c *apiCollector) list(t *testing.T, query string) []map[string]any {
	t.Helper()
	a := c.get(t, "/api/v1/incidents?"+query)
	require.Equal(t, http.StatusOK, a.Code, "%s: %s", query, a.Raw)
	return listed(t, a)
}

func listed(t *testing.T, a testutil.Answer) []map[string]any {
	t.Helper()
	items, ok := a.Body["incidents"].([]any)
	require.True(t, ok, a.Raw)
	out := make([]map[string]any, len(items))
	for i, v := range items {
		out[i] = v.(map[string]any)
	}
	return out
}

func field(incs []map[string]any, key string) []string {
	out := make([]string, len(incs))
	for i, inc := range incs {
		out[i], _ = inc[key].(string)
	}
	return out
}

// alertJSON is one Alertmanager alert; a resolved one ends a minute after
// it started.
func alertJSON(status, fingerprint, alertname, severity, service string, startsAt time.Time) string {
	a := fmt.Sprintf(`{"status":%q,"fingerprint":%q,"startsAt":%q,"labels":{"alertname":%q,"severity":%q,"service":%q},`+
		`"annotations":{"summary":"%s is %s"},"generatorURL":"http://prometheus.example/graph?g0.expr=up"`,
		status, fingerprint, startsAt.UTC().Format(time.RFC3339Nano), alertname, severity, service, alertname, status)
	if status == "resolved" {
		a += fmt.Sprintf(`,"endsAt":%q`, startsAt.Add(time.Minute).UTC().Format(time.RFC3339Nano))
	}
	return a + "}"
}

// notification is an Alertmanager webhook body of alerts.
func notification(alerts ...string) []byte {
	var b bytes.Buffer
	b.WriteString(`{"version":"4","status":"firing","alerts":[`)
	b.WriteString(strings.Join(alerts, ","))
	b.WriteString(`]}`)
	return b.Bytes()
}

// fire posts alerts to the global endpoint and returns the answer's body.
func (c *apiCollector) fire(t *testing.T, alerts ...string) map[string]any {
	t.Helper()
	a := c.post(t, "/webhooks/alertmanager", notification(alerts...))
	require.Equal(t, http.StatusOK, a.Code, a.Raw)
	return a.Body
}

// created is the id of the one incident a fire created.
func created(t *testing.T, answer map[string]any) string {
	t.Helper()
	incs, _ := answer["incidents"].([]any)
	require.Len(t, incs, 1, answer)
	return incs[0].(map[string]any)["id"].(string)
}
