package incidentexporter

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/metadata"
)

// unmarshalNamed loads a config of testdata/config.yaml without validating it.
func unmarshalNamed(t *testing.T, name string) (*Config, error) {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
	require.NoError(t, err)
	cfg := createDefaultConfig()
	return cfg, sub.Unmarshal(cfg)
}

func TestAPIConfigLoads(t *testing.T) {
	assert.False(t, loadConfig(t, "").API.HasValue(), "no api section: no API")
	cfg := loadConfig(t, "api")
	require.True(t, cfg.API.HasValue())
	api := cfg.API.Get()
	assert.Equal(t, "0.0.0.0:9505", api.ServerConfig.NetAddr.Endpoint)
	assert.Equal(t, 5*time.Second, api.ServerConfig.ReadHeaderTimeout)
	assert.Equal(t, 30*time.Second, api.ServerConfig.WriteTimeout, "the server's defaults stay")
	assert.EqualValues(t, maxAPIBodySize, api.ServerConfig.MaxRequestBodySize)
	assert.Equal(t, []configopaque.String{"reader-token"}, api.ReadTokens)
	assert.Equal(t, []configopaque.String{"writer-token", "second-writer-token"}, api.WriteTokens)
	assert.Equal(t, defaultAPIEndpoint, loadConfig(t, "api_defaults").API.Get().ServerConfig.NetAddr.Endpoint)
	assert.False(t, loadConfig(t, "api_disabled").API.HasValue(), "enabled: false turns it off")
}

func TestAPIConfigRefusals(t *testing.T) {
	// Squashed, the server's keys would let a misspelled key through.
	_, err := unmarshalNamed(t, "api_typo")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown keys ["read_tokenz"]`)

	cfg, err := unmarshalNamed(t, "api_empty")
	require.NoError(t, err)
	err = confmap.Validate(cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "api: no token: set read_tokens or write_tokens")

	for _, tc := range []struct {
		name   string
		mutate func(*APIConfig)
		errMsg string
	}{
		{"read only", func(a *APIConfig) { a.ReadTokens = []configopaque.String{"r"} }, ""},
		{"write only", func(a *APIConfig) { a.WriteTokens = []configopaque.String{"w"} }, ""},
		{"an unset variable", func(a *APIConfig) { a.ReadTokens = []configopaque.String{"r", ""} }, "api: read_tokens[1] is empty (an unset environment variable?)"},
		{"blank", func(a *APIConfig) { a.WriteTokens = []configopaque.String{" "} }, "api: write_tokens[0] is empty"},
		{"no endpoint", func(a *APIConfig) {
			a.ReadTokens = []configopaque.String{"r"}
			a.ServerConfig.NetAddr.Endpoint = ""
		}, "api: endpoint is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := createDefaultConfig()
			tc.mutate(cfg.API.GetOrInsertDefault())
			err := cfg.Validate()
			if tc.errMsg == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.errMsg)
			assert.NotContains(t, err.Error(), `"r"`, "no token in a message")
		})
	}
}
