package alertwebhookreceiver

import (
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver/internal/metadata"
)

func loadConfig(t *testing.T, name string) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig()
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
	require.NoError(t, err)
	require.NoError(t, sub.Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg))
	return cfg.(*Config)
}

func TestLoadConfigDefaults(t *testing.T) {
	cfg := loadConfig(t, "")
	assert.Equal(t, "localhost:8504", cfg.HTTP.NetAddr.Endpoint)
	assert.Equal(t, "/health", cfg.HealthPath)
	assert.True(t, cfg.Alertmanager.Enabled)
	assert.Empty(t, string(cfg.Alertmanager.Secret))
	assert.Equal(t, RateLimitConfig{RequestsPerSecond: 100, Burst: 200}, cfg.RateLimit)
	assert.Equal(t, 10*time.Second, cfg.HTTP.ReadHeaderTimeout)
	assert.False(t, cfg.Fingerprint.Recompute)
	assert.Equal(t, 10_000, cfg.maxAlertsPerRequest())
	assert.EqualValues(t, 2*(20<<20)+maxDecoderState, cfg.unauthenticatedBodyBudget(), "twice the body limit and a decoder")
}

func TestLoadConfigFull(t *testing.T) {
	cfg := loadConfig(t, "full")
	assert.Equal(t, "0.0.0.0:9504", cfg.HTTP.NetAddr.Endpoint)
	assert.EqualValues(t, 1048576, cfg.HTTP.MaxRequestBodySize)
	assert.Equal(t, "/healthz", cfg.HealthPath)
	assert.Equal(t, "global-secret", string(cfg.Alertmanager.Secret))
	assert.Equal(t, []string{"10.0.0.0/8"}, cfg.Alertmanager.AllowedCIDRs)
	assert.Equal(t, &RateLimitConfig{RequestsPerSecond: 20, Burst: 40}, cfg.Alertmanager.RateLimit)
	assert.Equal(t, 2000, cfg.MaxAlertsPerRequest)
	assert.EqualValues(t, 16<<20, cfg.UnauthenticatedBodyBudget)
	require.Len(t, cfg.Integrations, 2)
	prom := cfg.Integrations[0]
	assert.Equal(t, "550e8400-e29b-41d4-a716-446655440000", prom.ID)
	assert.Equal(t, "prometheus", prom.Type)
	assert.Equal(t, "production", prom.Project)
	assert.Equal(t, []string{"10.0.0.0/8", "::1/128"}, prom.AllowedCIDRs)
	assert.Equal(t, &RateLimitConfig{RequestsPerSecond: 5, Burst: 10}, prom.RateLimit)
	graf := cfg.Integrations[1]
	require.NotNil(t, graf.Signature)
	assert.Equal(t, "X-Grafana-Alerting-Timestamp", graf.Signature.TimestampHeader)
	assert.Equal(t, 2*time.Minute, graf.Signature.MaxSkew)
	assert.Equal(t, RateLimitConfig{RequestsPerSecond: 50, Burst: 80}, cfg.RateLimit)
	assert.True(t, cfg.Fingerprint.Recompute)
	assert.Equal(t, []string{"replica", "prometheus_replica"}, cfg.Fingerprint.IgnoreLabels)
	// Secrets are opaque: printing the config never shows them.
	assert.NotContains(t, prom.Secret.String(), "production-secret")

	assert.False(t, loadConfig(t, "global_off").Alertmanager.Enabled)
}

func TestValidate(t *testing.T) {
	valid := func() IntegrationConfig {
		return IntegrationConfig{ID: "a", Type: "prometheus", Secret: "s"}
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		errMsg string
	}{
		{"valid", func(*Config) {}, ""},
		{"empty id", func(c *Config) { c.Integrations[0].ID = "" }, "id must not be empty"},
		{"slash in id", func(c *Config) { c.Integrations[0].ID = "a/b" }, "one path segment"},
		{"duplicate id", func(c *Config) { c.Integrations = append(c.Integrations, valid()) }, `duplicate id "a"`},
		{"unknown type", func(c *Config) { c.Integrations[0].Type = "datadog" }, `type "datadog" is unknown`},
		{"no secret", func(c *Config) { c.Integrations[0].Secret = "" }, "secret must not be empty"},
		{"signature on prometheus", func(c *Config) { c.Integrations[0].Signature = &SignatureConfig{} }, "signature is only for grafana"},
		{"negative skew", func(c *Config) {
			c.Integrations[0].Type = "grafana"
			c.Integrations[0].Signature = &SignatureConfig{MaxSkew: -time.Second}
		}, "max_skew must not be negative"},
		{"bad cidr", func(c *Config) { c.Integrations[0].AllowedCIDRs = []string{"10.0.0.0/33"} }, "is not a CIDR"},
		{"bare address", func(c *Config) { c.Integrations[0].AllowedCIDRs = []string{"10.0.0.1"} }, "is not a CIDR"},
		{"zero default rate", func(c *Config) { c.RateLimit.RequestsPerSecond = 0 }, "requests_per_second must be positive"},
		{"NaN rate", func(c *Config) { c.RateLimit.RequestsPerSecond = math.NaN() }, "requests_per_second must be positive and finite"},
		{"infinite rate", func(c *Config) { c.RateLimit.RequestsPerSecond = math.Inf(1) }, "requests_per_second must be positive and finite"},
		{"rate of one request a year", func(c *Config) { c.RateLimit.RequestsPerSecond = 1.0 / (365 * 24 * 3600) }, "at least one request an hour"},
		{"metric label unknown as id", func(c *Config) { c.Integrations[0].ID = "unknown" }, `id "unknown" is reserved`},
		{"metric label health as id", func(c *Config) { c.Integrations[0].ID = "health" }, `id "health" is reserved`},
		{"zero-width space in id", func(c *Config) { c.Integrations[0].ID = "alertmanager\u200b" }, "must contain only visible characters"},
		{"bidirectional override in id", func(c *Config) { c.Integrations[0].ID = "abc\u202edef" }, "must contain only visible characters"},
		{"negative burst", func(c *Config) { c.RateLimit.Burst = -1 }, "burst must be positive"},
		{"zero integration rate", func(c *Config) { c.Integrations[0].RateLimit = &RateLimitConfig{RequestsPerSecond: 0, Burst: 1} }, "requests_per_second must be positive"},
		{"relative health path", func(c *Config) { c.HealthPath = "health" }, "must start with '/'"},
		{"global endpoint's id", func(c *Config) { c.Integrations[0].ID = "alertmanager" }, `integrations[0]: id "alertmanager" is reserved`},
		{"store's default scope", func(c *Config) { c.Integrations[0].ID = "default" }, `integrations[0]: id "default" is reserved`},
		{"control character in id", func(c *Config) { c.Integrations[0].ID = "a\x00b" }, "must contain only visible characters"},
		{"newline in id", func(c *Config) { c.Integrations[0].ID = "a\nb" }, "must contain only visible characters"},
		{"invalid UTF-8 in id", func(c *Config) { c.Integrations[0].ID = "a\xffb" }, "is not valid UTF-8"},
		{"id of 129 bytes", func(c *Config) { c.Integrations[0].ID = strings.Repeat("a", 129) }, "id of 129 bytes is longer than 128"},
		{"dot-dot id", func(c *Config) { c.Integrations[0].ID = ".." }, "one path segment"},
		{"backslash in id", func(c *Config) { c.Integrations[0].ID = `a\b` }, "one path segment"},
		{"global endpoint bad cidr", func(c *Config) { c.Alertmanager.AllowedCIDRs = []string{"nope"} }, `alertmanager: allowed_cidrs: "nope" is not a CIDR`},
		{"global endpoint zero rate", func(c *Config) { c.Alertmanager.RateLimit = &RateLimitConfig{Burst: 1} }, "alertmanager: rate_limit: requests_per_second must be positive"},
		{"negative max alerts", func(c *Config) { c.MaxAlertsPerRequest = -1 }, "max_alerts_per_request must not be negative"},
		{"budget below twice the body limit", func(c *Config) { c.UnauthenticatedBodyBudget = 40 << 20 }, "unauthenticated_body_budget 41943040 is too small"},
		{"an encoding the receiver does not decode", func(c *Config) { c.HTTP.CompressionAlgorithms = []string{"gzip", "snappy"} }, `http.compression_algorithms: "snappy" is not decoded by this receiver`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig()
			cfg.Integrations = []IntegrationConfig{valid()}
			tt.mutate(cfg)
			err := cfg.Validate()
			if tt.errMsg == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.errMsg)
		})
	}
}

func TestValidateNeverPrintsSecrets(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Integrations = []IntegrationConfig{{ID: "a", Type: "prometheus", Secret: "hunter2-very-secret", Signature: &SignatureConfig{}}}
	err := cfg.Validate()
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")
}
