package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
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

	// Grouping chooses which alerts share an incident (README, "Grouping").
	Grouping GroupingConfig `mapstructure:"grouping"`

	// ReopenWindow: a new alert of a group whose latest incident resolved
	// less than this before the alert started reopens that incident instead
	// of opening a new one (flap damping). 0 turns it off.
	ReopenWindow time.Duration `mapstructure:"reopen_window"`

	// Heartbeat turns an always-firing alert into a dead man's switch per
	// integration (README, "Heartbeats").
	Heartbeat HeartbeatConfig `mapstructure:"heartbeat"`

	// Analysis notifies the incident-analysis service of incident changes.
	Analysis AnalysisConfig `mapstructure:"analysis"`

	// Notify tells chat, paging and any webhook of incident changes, each
	// sink on its own (README, "Notifications").
	Notify []NotifyConfig `mapstructure:"notify"`

	// API serves the incident API and web view (README, "Incident API");
	// without an api section there is none.
	API configoptional.Optional[APIConfig] `mapstructure:"api"`

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

// GroupingConfig chooses the incident of an alert.
type GroupingConfig struct {
	// By: alert (one incident per alert, the default), group_key (one per
	// Alertmanager or Grafana notification group) or labels.
	By string `mapstructure:"by"`
	// Labels: with by: labels, alerts of one scope with equal values of these
	// labels share an incident.
	Labels []string `mapstructure:"labels"`
	// ResolveOn: all (the incident resolves when none of its alerts still
	// fires) or first (the first resolved alert resolves it).
	ResolveOn string `mapstructure:"resolve_on"`
}

// HeartbeatConfig is the dead man's switch.
type HeartbeatConfig struct {
	// Alertname: firing alerts with this alertname are heartbeats, not
	// incidents. Empty turns heartbeats off.
	Alertname string `mapstructure:"alertname"`
	// Timeout: a scope that sent a heartbeat and then none for this long
	// gets one critical incident.
	Timeout time.Duration `mapstructure:"timeout"`
}

// AnalysisConfig configures the analysis trigger: an outbox written with each
// incident change and a dispatcher that POSTs it.
type AnalysisConfig struct {
	// Endpoint receives the notifications; empty turns the trigger off.
	Endpoint string `mapstructure:"endpoint"`
	// Secret signs every notification (X-Incident-Signature).
	Secret configopaque.String `mapstructure:"secret"`
	// Events to notify: created, resolved (per incident), and opt-in
	// reopened, alert_added.
	Events []string `mapstructure:"events"`
	// Client is the HTTP client: timeout, TLS, headers, proxy. A named field,
	// because ClientConfig's own Unmarshal would swallow the fields beside it.
	Client confighttp.ClientConfig `mapstructure:"client"`
	// Retry paces deliveries that failed with 5xx, 429 or a transport error.
	Retry RetryConfig `mapstructure:"retry"`
	// MaxInFlight is how many notifications a collector delivers at once,
	// each of another incident; it claims no more than that.
	MaxInFlight int `mapstructure:"max_in_flight"`
}

// APIConfig is the incident API's own HTTP server and who may use it.
type APIConfig struct {
	// ServerConfig is the server: endpoint, TLS, CORS, auth extensions… A
	// named field, squashed as in the otlp receiver: embedded, its Unmarshal
	// would be promoted and swallow the token fields beside it.
	ServerConfig confighttp.ServerConfig `mapstructure:",squash"`
	// ReadTokens may read incidents and heartbeats (and the web view).
	ReadTokens []configopaque.String `mapstructure:"read_tokens"`
	// WriteTokens may also acknowledge, unacknowledge and resolve.
	WriteTokens []configopaque.String `mapstructure:"write_tokens"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// RetryConfig paces the deliveries that failed with 5xx, 429 or a
// transport error: an exponential backoff with a deadline.
type RetryConfig struct {
	InitialInterval time.Duration `mapstructure:"initial_interval"`
	MaxInterval     time.Duration `mapstructure:"max_interval"`
	// MaxAge: an event still undelivered this long after its incident change
	// is marked failed, counted and logged.
	MaxAge time.Duration `mapstructure:"max_age"`
}

const (
	defaultDSN     = "./data/incidents.db"
	defaultTimeout = 5 * time.Second
	// Alertmanager repeats a firing Watchdog every repeat_interval; the
	// kube-prometheus examples route it with a 1–5 minute interval.
	defaultHeartbeatTimeout = 5 * time.Minute
	defaultMaxInFlight      = 4
	maxMaxInFlight          = 256
	// defaultAPIEndpoint is loopback: the API shows every incident, so
	// exposing it is a decision (README, "Incident API").
	defaultAPIEndpoint = "localhost:8505"
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
		Grouping:      GroupingConfig{By: rules.GroupByAlert, ResolveOn: rules.ResolveOnAll},
		Heartbeat:     HeartbeatConfig{Timeout: defaultHeartbeatTimeout},
		Analysis:      defaultAnalysisConfig(),
		API:           configoptional.Default(defaultAPIConfig()),
	}
}

func defaultAPIConfig() APIConfig {
	server := confighttp.NewDefaultServerConfig()
	server.NetAddr.Endpoint = defaultAPIEndpoint
	// A person's requests are small; the largest is an action's note.
	server.MaxRequestBodySize = maxAPIBodySize
	return APIConfig{ServerConfig: server}
}

func defaultAnalysisConfig() AnalysisConfig {
	client := confighttp.NewDefaultClientConfig()
	client.Timeout = 10 * time.Second
	return AnalysisConfig{
		Events:      []string{rules.EventCreated, rules.EventResolved},
		Client:      client,
		Retry:       RetryConfig{InitialInterval: time.Second, MaxInterval: 5 * time.Minute, MaxAge: 24 * time.Hour},
		MaxInFlight: defaultMaxInFlight,
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
	if err := cfg.Grouping.validate(); err != nil {
		errs = append(errs, fmt.Errorf("grouping: %w", err))
	}
	if cfg.ReopenWindow < 0 {
		errs = append(errs, fmt.Errorf("reopen_window must not be negative, got %v", cfg.ReopenWindow))
	}
	if cfg.Heartbeat.Alertname != "" && cfg.Heartbeat.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("heartbeat.timeout must be positive when heartbeat.alertname is set, got %v", cfg.Heartbeat.Timeout))
	}
	if err := cfg.Analysis.validate(); err != nil {
		errs = append(errs, fmt.Errorf("analysis: %w", err))
	}
	if err := validateNotify(cfg.Notify); err != nil {
		errs = append(errs, err)
	}
	if api := cfg.API.Get(); api != nil {
		if err := api.validate(); err != nil {
			errs = append(errs, fmt.Errorf("api: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (g *GroupingConfig) validate() error {
	var errs []error
	switch g.By {
	case rules.GroupByAlert, rules.GroupByGroupKey:
		if len(g.Labels) > 0 {
			errs = append(errs, fmt.Errorf("labels %v are only used with by: %s, not by: %s", g.Labels, rules.GroupByLabels, g.By))
		}
	case rules.GroupByLabels:
		if len(g.Labels) == 0 {
			errs = append(errs, fmt.Errorf("by: %s needs labels, e.g. labels: [service]", rules.GroupByLabels))
		}
		for _, l := range g.Labels {
			if strings.TrimSpace(l) == "" {
				errs = append(errs, errors.New("labels must not contain an empty name"))
			}
		}
	default:
		errs = append(errs, fmt.Errorf("by %q is unknown: use %q, %q or %q", g.By, rules.GroupByAlert, rules.GroupByGroupKey, rules.GroupByLabels))
	}
	if g.ResolveOn != rules.ResolveOnAll && g.ResolveOn != rules.ResolveOnFirst {
		errs = append(errs, fmt.Errorf("resolve_on %q is unknown: use %q or %q", g.ResolveOn, rules.ResolveOnAll, rules.ResolveOnFirst))
	}
	return errors.Join(errs...)
}

// analysisEvents are the events the analysis trigger may notify.
var analysisEvents = []string{rules.EventCreated, rules.EventResolved, rules.EventReopened, rules.EventAlertAdded}

// analysisSinkName is the analysis trigger's sink in the outbox.
const analysisSinkName = "analysis"

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
		errs = append(errs, fmt.Errorf("events must name at least one of %v", analysisEvents))
	}
	for _, e := range a.Events {
		if !slices.Contains(analysisEvents, e) {
			errs = append(errs, fmt.Errorf("event %q is unknown: use %v", e, analysisEvents))
		}
	}
	errs = append(errs, validateDelivery(a.Client.Timeout, a.Retry, a.MaxInFlight)...)
	return errors.Join(errs...)
}

// validateDelivery checks the settings every sink has.
func validateDelivery(timeout time.Duration, r RetryConfig, maxInFlight int) []error {
	var errs []error
	if timeout <= 0 {
		// The dispatcher's lease on an event is the timeout plus a margin; no
		// timeout would let one hung service hold an event for ever.
		errs = append(errs, fmt.Errorf("client.timeout must be positive, got %v", timeout))
	}
	if maxInFlight < 1 || maxInFlight > maxMaxInFlight {
		errs = append(errs, fmt.Errorf("max_in_flight must be between 1 and %d, got %d", maxMaxInFlight, maxInFlight))
	}
	if r.InitialInterval <= 0 || r.MaxInterval < r.InitialInterval || r.MaxAge <= 0 {
		errs = append(errs, errors.New("retry needs initial_interval > 0, max_interval >= initial_interval and max_age > 0"))
	}
	return errs
}

func (a *APIConfig) validate() error {
	var errs []error
	if a.ServerConfig.NetAddr.Endpoint == "" {
		errs = append(errs, errors.New("endpoint is required, e.g. localhost:8505"))
	}
	if len(a.ReadTokens)+len(a.WriteTokens) == 0 {
		errs = append(errs, errors.New("no token: set read_tokens or write_tokens (an API without a token would show every incident to anyone)"))
	}
	for _, list := range []struct {
		key    string
		tokens []configopaque.String
	}{{"read_tokens", a.ReadTokens}, {"write_tokens", a.WriteTokens}} {
		for i, tok := range list.tokens {
			// Never the value: it is a secret.
			switch trimmed := strings.TrimSpace(string(tok)); {
			case trimmed == "":
				errs = append(errs, fmt.Errorf("%s[%d] is empty (an unset environment variable?): every token must be non-blank", list.key, i))
			case trimmed != string(tok):
				// A Bearer token arrives without them: it could never match.
				errs = append(errs, fmt.Errorf("%s[%d] begins or ends with white space (a file's trailing newline?): remove it", list.key, i))
			}
		}
	}
	if a.ServerConfig.MaxRequestBodySize < 0 {
		errs = append(errs, fmt.Errorf("max_request_body_size must not be negative, got %d", a.ServerConfig.MaxRequestBodySize))
	}
	return errors.Join(errs...)
}
