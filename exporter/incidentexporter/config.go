package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"
)

// Config is the incident exporter's configuration.
type Config struct {
	// TimeoutConfig bounds one store write; past it the sender gets a 503.
	TimeoutConfig exporterhelper.TimeoutConfig `mapstructure:",squash"`
	// RetryConfig is off by default: the sender retries a 503 itself, and an
	// in-process retry would hold its HTTP request open meanwhile.
	RetryConfig configretry.BackOffConfig `mapstructure:"retry_on_failure"`
	// QueueConfig is off by default. Turned on, the exporter writes after the
	// receiver has answered, so the answer becomes "accepted" and a 2xx no
	// longer means stored.
	QueueConfig configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`

	Store StoreConfig `mapstructure:"store"`

	// AutoResolveAfter resolves open incidents that no notification touched
	// for this long; 0 turns it off.
	AutoResolveAfter time.Duration `mapstructure:"auto_resolve_after"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// StoreConfig chooses the database.
type StoreConfig struct {
	// Driver is sqlite (the default, embedded) or postgres.
	Driver string `mapstructure:"driver"`
	// DSN is a file path for sqlite, a postgres:// URL or key=value string for
	// postgres. Opaque: it may hold a password.
	DSN configopaque.String `mapstructure:"dsn"`
}

const (
	defaultDSN     = "./data/incidents.db"
	defaultTimeout = 5 * time.Second
)

func createDefaultConfig() *Config {
	retry := configretry.NewDefaultBackOffConfig()
	retry.Enabled = false
	timeout := exporterhelper.NewDefaultTimeoutConfig()
	timeout.Timeout = defaultTimeout
	return &Config{
		TimeoutConfig: timeout,
		RetryConfig:   retry,
		QueueConfig:   configoptional.Default(exporterhelper.NewDefaultQueueConfig()),
		Store:         StoreConfig{Driver: store.DriverSQLite, DSN: defaultDSN},
	}
}

// Validate checks the configuration; the collector calls it before start.
func (cfg *Config) Validate() error {
	var errs []error
	switch cfg.Store.Driver {
	case store.DriverSQLite:
		if cfg.Store.DSN == "" {
			errs = append(errs, errors.New("store.dsn: a file path is required for sqlite"))
		}
	case store.DriverPostgres:
		if cfg.Store.DSN == "" {
			errs = append(errs, errors.New("store.dsn: a postgres DSN is required"))
		}
	default:
		errs = append(errs, fmt.Errorf("store.driver %q is unknown: use %q or %q", cfg.Store.Driver, store.DriverSQLite, store.DriverPostgres))
	}
	if cfg.AutoResolveAfter < 0 {
		errs = append(errs, fmt.Errorf("auto_resolve_after must not be negative, got %v", cfg.AutoResolveAfter))
	}
	return errors.Join(errs...)
}
