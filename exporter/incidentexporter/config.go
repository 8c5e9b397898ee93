package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
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

	// Analysis notifies the incident-analysis service of incident changes.
	Analysis AnalysisConfig `mapstructure:"analysis"`

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

// AnalysisConfig configures the analysis trigger: an outbox written with each
// incident change and a dispatcher that POSTs it.
type AnalysisConfig struct {
	// Endpoint receives the notifications; empty turns the trigger off.
	Endpoint string `mapstructure:"endpoint"`
	// Secret signs every notification (X-Incident-Signature).
	Secret configopaque.String `mapstructure:"secret"`
	// Events to notify: created, resolved.
	Events []string `mapstructure:"events"`
	// Client is the HTTP client: timeout, TLS, headers, proxy. A named field,
	// because ClientConfig's own Unmarshal would swallow the fields beside it.
	Client confighttp.ClientConfig `mapstructure:"client"`
	// Retry paces deliveries that failed with 5xx, 429 or a transport error.
	Retry AnalysisRetryConfig `mapstructure:"retry"`
}

// AnalysisRetryConfig is an exponential backoff with a deadline.
type AnalysisRetryConfig struct {
	InitialInterval time.Duration `mapstructure:"initial_interval"`
	MaxInterval     time.Duration `mapstructure:"max_interval"`
	// MaxAge: an event still undelivered this long after its incident change
	// is marked failed, counted and logged.
	MaxAge time.Duration `mapstructure:"max_age"`
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
		Analysis:      defaultAnalysisConfig(),
	}
}

func defaultAnalysisConfig() AnalysisConfig {
	client := confighttp.NewDefaultClientConfig()
	client.Timeout = 10 * time.Second
	return AnalysisConfig{
		Events: []string{store.EventCreated, store.EventResolved},
		Client: client,
		Retry:  AnalysisRetryConfig{InitialInterval: time.Second, MaxInterval: 5 * time.Minute, MaxAge: 24 * time.Hour},
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
	if err := cfg.Analysis.validate(); err != nil {
		errs = append(errs, fmt.Errorf("analysis: %w", err))
	}
	return errors.Join(errs...)
}

func (a *AnalysisConfig) validate() error {
	if a.Endpoint == "" {
		return nil
	}
	var errs []error
	if u, err := url.Parse(a.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("endpoint %q must be an http:// or https:// URL", a.Endpoint))
	}
	if a.Secret == "" {
		errs = append(errs, errors.New("secret is required to sign notifications"))
	}
	if len(a.Events) == 0 {
		errs = append(errs, errors.New("events must name created, resolved or both"))
	}
	for _, e := range a.Events {
		if e != store.EventCreated && e != store.EventResolved {
			errs = append(errs, fmt.Errorf("event %q is unknown: use %q or %q", e, store.EventCreated, store.EventResolved))
		}
	}
	if a.Client.Timeout <= 0 {
		// The dispatcher's lease on an event is the timeout plus a margin; no
		// timeout would let one hung service hold an event for ever.
		errs = append(errs, fmt.Errorf("client.timeout must be positive, got %v", a.Client.Timeout))
	}
	r := a.Retry
	if r.InitialInterval <= 0 || r.MaxInterval < r.InitialInterval || r.MaxAge <= 0 {
		errs = append(errs, errors.New("retry needs initial_interval > 0, max_interval >= initial_interval and max_age > 0"))
	}
	return errors.Join(errs...)
}
