package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The runnable otelcol-config.yaml (`make run`) serves the incident API with
// the development tokens the README names, and the variables replace them.
func TestDefaultConfigServesTheAPI(t *testing.T) {
	bin := binary(t, "E2E_COLLECTOR_BIN", "the collector")
	raw := string(repoFile(t, "otelcol-config.yaml"))
	var cfg shippedConfig
	decodeYAML(t, "otelcol-config.yaml", []byte(raw), &cfg)
	assert.Equal(t, 8505, cfg.apiPort())
	assert.Equal(t, "localhost:8505", cfg.Exporters.Incident.API.Endpoint, "loopback by default")
	file := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(file, []byte(raw), 0o600))

	for _, tc := range []struct {
		name          string
		env           []string
		read, write   string
		refusedTokens []string
	}{
		{"development defaults", nil, "dev-read-token", "dev-write-token", nil},
		{
			"tokens from the environment",
			[]string{"INCIDENT_API_READ_TOKEN=r-from-env", "INCIDENT_API_WRITE_TOKEN=w-from-env"},
			"r-from-env", "w-from-env",
			[]string{"dev-read-token", "dev-write-token"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ports := freeListenPorts(t)
			// Listeners on free loopback ports, the store in the test's
			// directory, no metrics listener (its default port is shared):
			// the rest is the file as shipped.
			args := []string{
				bin, "--config", file,
				fmt.Sprintf("--config=yaml:receivers::alertwebhook::http::endpoint: 127.0.0.1:%d", ports.webhooks),
				fmt.Sprintf("--config=yaml:extensions::health_check::endpoint: 127.0.0.1:%d", ports.health),
				fmt.Sprintf("--config=yaml:exporters::incident::api::endpoint: 127.0.0.1:%d", ports.api),
				"--config=yaml:exporters::incident::store::dsn: " + filepath.Join(t.TempDir(), "incidents.db"),
				"--config=yaml:service::telemetry::metrics::level: none",
			}
			var env []string
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "INCIDENT_") {
					env = append(env, kv)
				}
			}
			c := runShipped(t, args, append(env, tc.env...), ports, false)
			api := &apiCollector{collector: c, api: localURL(ports.api, "")}
			id := created(t, api.fire(t, alertJSON("firing", "default-config", "DefaultConfig", "critical", "web", apiT0)))
			assert.Equal(t, 200, api.call(t, http.MethodGet, "/api/v1/incidents/"+id, tc.read, "").Code)
			assert.Equal(t, 200, api.call(t, http.MethodPost, "/api/v1/incidents/"+id+"/acknowledge", tc.write, `{"by":"dev"}`).Code)
			for _, tok := range tc.refusedTokens {
				assert.Equal(t, 401, api.call(t, http.MethodGet, "/api/v1/incidents", tok, "").Code, "the development token %s no longer works", tok)
			}
		})
	}
}
