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

func TestLoadConfig(t *testing.T) {
	def := loadConfig(t, "")
	assert.Equal(t, "sqlite", def.Store.Driver)
	assert.Equal(t, "./data/incidents.db", string(def.Store.DSN))
	assert.Equal(t, 5*time.Second, def.TimeoutConfig.Timeout)
	assert.False(t, def.RetryConfig.Enabled, "the sender retries; no in-process retry by default")
	assert.False(t, def.QueueConfig.HasValue(), "no queue by default: a 2xx means stored")
	assert.Zero(t, def.AutoResolveAfter)

	pg := loadConfig(t, "postgres")
	assert.Equal(t, "postgres", pg.Store.Driver)
	assert.Equal(t, 24*time.Hour, pg.AutoResolveAfter)
	assert.Equal(t, 3*time.Second, pg.TimeoutConfig.Timeout)
	assert.True(t, pg.RetryConfig.Enabled)
	assert.NotContains(t, pg.Store.DSN.String(), "secret", "the DSN is opaque")

	assert.True(t, loadConfig(t, "queued").QueueConfig.HasValue())

	assert.Equal(t, GroupingConfig{By: "alert", ResolveOn: "all"}, def.Grouping)
	assert.Zero(t, def.ReopenWindow)
	assert.Equal(t, HeartbeatConfig{Timeout: 5 * time.Minute}, def.Heartbeat)
	grouped := loadConfig(t, "grouped")
	assert.Equal(t, GroupingConfig{By: "labels", Labels: []string{"service", "cluster"}, ResolveOn: "first"}, grouped.Grouping)
	assert.Equal(t, 30*time.Minute, grouped.ReopenWindow)
	assert.Equal(t, HeartbeatConfig{Alertname: "Watchdog", Timeout: 10 * time.Minute}, grouped.Heartbeat)
	assert.Equal(t, []string{"created", "resolved", "reopened", "alert_added"}, grouped.Analysis.Events)
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		errMsg string
	}{
		{"default", func(*Config) {}, ""},
		{"postgres", func(c *Config) { c.Store = StoreConfig{Driver: "postgres", DSN: "postgres://x@y/z"} }, ""},
		{"unknown driver", func(c *Config) { c.Store.Driver = "mysql" }, `store.driver "mysql" is unknown`},
		{"empty postgres dsn", func(c *Config) { c.Store = StoreConfig{Driver: "postgres"} }, "a postgres DSN is required"},
		{"empty sqlite path", func(c *Config) { c.Store.DSN = "" }, "a file path is required"},
		{"negative auto resolve", func(c *Config) { c.AutoResolveAfter = -time.Second }, "must not be negative"},
		{"group by group_key", func(c *Config) { c.Grouping.By = "group_key" }, ""},
		{"group by labels", func(c *Config) {
			c.Grouping = GroupingConfig{By: "labels", Labels: []string{"service"}, ResolveOn: "first"}
		}, ""},
		{"labels without by labels", func(c *Config) { c.Grouping.Labels = []string{"service"} }, "grouping: labels [service] are only used with by: labels"},
		{"by labels without labels", func(c *Config) { c.Grouping.By = "labels" }, "grouping: by: labels needs labels"},
		{"by labels with an empty name", func(c *Config) { c.Grouping = GroupingConfig{By: "labels", Labels: []string{" "}, ResolveOn: "all"} }, "labels must not contain an empty name"},
		{"unknown grouping", func(c *Config) { c.Grouping.By = "service" }, `grouping: by "service" is unknown`},
		{"unknown resolve_on", func(c *Config) { c.Grouping.ResolveOn = "last" }, `grouping: resolve_on "last" is unknown`},
		{"negative reopen window", func(c *Config) { c.ReopenWindow = -time.Minute }, "reopen_window must not be negative"},
		{"heartbeat", func(c *Config) { c.Heartbeat.Alertname = "Watchdog" }, ""},
		{"heartbeat without timeout", func(c *Config) { c.Heartbeat = HeartbeatConfig{Alertname: "Watchdog"} }, "heartbeat.timeout must be positive"},
		{"heartbeat off, no timeout", func(c *Config) { c.Heartbeat = HeartbeatConfig{} }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig()
			tt.mutate(cfg)
			err := cfg.Validate()
			if tt.errMsg == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tt.errMsg)
		})
	}
}

func configOpaque(s string) configopaque.String { return configopaque.String(s) }
