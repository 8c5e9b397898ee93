package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
)

// Integration types, as they appear in the webhook path.
const (
	typePrometheus = "prometheus"
	typeGrafana    = "grafana"
	// typePagerDuty takes PagerDuty Events API v2 events (pagerduty.go).
	typePagerDuty = "pagerduty"
	// typeJSON takes any JSON, mapped by the user's processors (jsonbody.go).
	typeJSON = "json"
	// typeAlertmanager names the global endpoint; it is not a configurable type.
	typeAlertmanager = "alertmanager"
)

// Config is the alertwebhook receiver's configuration.
type Config struct {
	// HTTP is the server: endpoint, TLS, CORS, auth extensions, body size limit
	// and decompression. A named field, because ServerConfig's own Unmarshal
	// would otherwise swallow the fields beside it.
	HTTP confighttp.ServerConfig `mapstructure:"http"`

	// HealthPath answers GET with 200 {"status":"healthy"}.
	HealthPath string `mapstructure:"health_path"`

	// Alertmanager is the global endpoint POST /webhooks/alertmanager.
	Alertmanager AlertmanagerConfig `mapstructure:"alertmanager"`

	// Integrations are the per-project endpoints /webhooks/{type}/{id}.
	Integrations []IntegrationConfig `mapstructure:"integrations"`

	// RateLimit applies to each integration (unless it has its own) and to the
	// global endpoint, each with its own bucket.
	RateLimit RateLimitConfig `mapstructure:"rate_limit"`

	// Fingerprint controls how the dedup key of an alert is chosen.
	Fingerprint FingerprintConfig `mapstructure:"fingerprint"`

	// MaxAlertsPerRequest bounds the alerts of one notification; a request
	// over it is answered 413. 0 means defaultMaxAlertsPerRequest.
	MaxAlertsPerRequest int `mapstructure:"max_alerts_per_request"`

	// UnauthenticatedBodyBudget bounds, for each endpoint that reads a body
	// before it knows the sender (an HMAC integration, the global endpoint
	// without a secret), the bytes those reads hold at once. 0 means
	// minUnauthenticatedBodyBudget of max_request_body_size.
	UnauthenticatedBodyBudget int64 `mapstructure:"unauthenticated_body_budget"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// AlertmanagerConfig configures the global Alertmanager endpoint.
type AlertmanagerConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// Secret, when set, is required on every request.
	Secret       configopaque.String `mapstructure:"secret"`
	AllowedCIDRs []string            `mapstructure:"allowed_cidrs"`
	// RateLimit overrides the receiver-wide default for the global endpoint.
	RateLimit *RateLimitConfig `mapstructure:"rate_limit"`
}

// IntegrationConfig declares one per-project integration.
type IntegrationConfig struct {
	ID           string              `mapstructure:"id"`
	Type         string              `mapstructure:"type"`
	Secret       configopaque.String `mapstructure:"secret"`
	Project      string              `mapstructure:"project"`
	AllowedCIDRs []string            `mapstructure:"allowed_cidrs"`
	// RateLimit overrides the receiver-wide default for this integration.
	RateLimit *RateLimitConfig `mapstructure:"rate_limit"`
	// Signature requires an HMAC-SHA256 of the body (grafana only).
	Signature *SignatureConfig `mapstructure:"signature"`
}

// RateLimitConfig is a token bucket.
type RateLimitConfig struct {
	RequestsPerSecond float64 `mapstructure:"requests_per_second"`
	Burst             int     `mapstructure:"burst"`
}

// SignatureConfig describes Grafana's HMAC signature of the body.
type SignatureConfig struct {
	// Header carries the lowercase hex HMAC-SHA256(secret, signed string).
	Header string `mapstructure:"header"`
	// TimestampHeader, when set, carries a Unix timestamp (seconds or
	// milliseconds) and the signed string becomes "<timestamp>:<body>".
	TimestampHeader string `mapstructure:"timestamp_header"`
	// MaxSkew bounds how far the timestamp may be from now.
	MaxSkew time.Duration `mapstructure:"max_skew"`
}

// FingerprintConfig chooses between the sender's fingerprint and our own.
type FingerprintConfig struct {
	// Recompute ignores the sender's fingerprint and hashes the labels.
	Recompute bool `mapstructure:"recompute"`
	// IgnoreLabels are left out of the hash when recomputing.
	IgnoreLabels []string `mapstructure:"ignore_labels"`
}

const (
	defaultEndpoint          = "localhost:8504"
	defaultHealthPath        = "/health"
	defaultRequestsPerSecond = 100
	defaultBurst             = 200
	defaultSignatureHeader   = "X-Grafana-Alerting-Signature"
	defaultMaxSkew           = 5 * time.Minute
	// A slow client must not hold a connection for the server default minute.
	defaultReadHeaderTimeout = 10 * time.Second
	defaultReadTimeout       = 30 * time.Second
	// confighttp's own default for max_request_body_size.
	defaultMaxRequestBodySize = 20 << 20
	// Alertmanager and Grafana put every alert that shares the route's
	// group_by labels in one notification (Alertmanager's max_alerts is 0,
	// unlimited, by default). Notifications of a few thousand alerts happen in
	// real outages; 10 000 alerts of the usual 0.5–2 KiB are what the default
	// 20 MiB body holds anyway, so only synthetic, minimal alerts go past it.
	defaultMaxAlertsPerRequest = 10_000
	// maxIDLen bounds an integration id: it is a path segment, a metric
	// attribute and the store's dedup scope.
	maxIDLen = 128
)

// integrationTypes are the types an integration can have.
var integrationTypes = []string{typePrometheus, typeGrafana, typePagerDuty, typeJSON}

// Integration ids that would share a dedup scope with something else: the
// global endpoint's records and the exporter's records that name no integration.
var reservedIDs = []string{typeAlertmanager, "default", integrationUnknown, healthIntegration}

// minRequestsPerSecond: one request an hour.
const minRequestsPerSecond = 1.0 / 3600

func createDefaultConfig() *Config {
	httpCfg := confighttp.NewDefaultServerConfig()
	httpCfg.NetAddr.Endpoint = defaultEndpoint
	httpCfg.ReadHeaderTimeout = defaultReadHeaderTimeout
	httpCfg.ReadTimeout = defaultReadTimeout
	return &Config{
		HTTP:         httpCfg,
		HealthPath:   defaultHealthPath,
		Alertmanager: AlertmanagerConfig{Enabled: true},
		RateLimit:    RateLimitConfig{RequestsPerSecond: defaultRequestsPerSecond, Burst: defaultBurst},
	}
}

// Validate checks the configuration; the collector calls it before start.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.HealthPath != "" && !strings.HasPrefix(cfg.HealthPath, "/") {
		errs = append(errs, fmt.Errorf("health_path %q must start with '/'", cfg.HealthPath))
	}
	if strings.HasPrefix(cfg.HealthPath, "/webhooks/") {
		errs = append(errs, fmt.Errorf("health_path %q must not be under /webhooks/", cfg.HealthPath))
	}
	if err := cfg.RateLimit.validate(); err != nil {
		errs = append(errs, fmt.Errorf("rate_limit: %w", err))
	}
	if err := cfg.Alertmanager.validate(); err != nil {
		errs = append(errs, fmt.Errorf("alertmanager: %w", err))
	}
	if cfg.MaxAlertsPerRequest < 0 {
		errs = append(errs, fmt.Errorf("max_alerts_per_request must not be negative, got %d", cfg.MaxAlertsPerRequest))
	}
	if b := cfg.UnauthenticatedBodyBudget; b != 0 {
		if least := minUnauthenticatedBodyBudget(cfg.bodyLimit()); b < least {
			errs = append(errs, fmt.Errorf("unauthenticated_body_budget %d is too small: with http.max_request_body_size %d it must be at least %d "+
				"(twice the body limit, which a growing buffer briefly holds, plus a decoder's state)", b, cfg.bodyLimit(), least))
		}
	}
	if err := validateEncodings(cfg.HTTP.CompressionAlgorithms); err != nil {
		errs = append(errs, fmt.Errorf("http.compression_algorithms: %w", err))
	}
	seen := make(map[string]bool, len(cfg.Integrations))
	for i := range cfg.Integrations {
		in := &cfg.Integrations[i]
		if err := in.validate(); err != nil {
			errs = append(errs, fmt.Errorf("integrations[%d]: %w", i, err))
		}
		if in.ID != "" {
			if seen[in.ID] {
				errs = append(errs, fmt.Errorf("integrations[%d]: duplicate id %q", i, in.ID))
			}
			seen[in.ID] = true
		}
	}
	return errors.Join(errs...)
}

func (r RateLimitConfig) validate() error {
	// NaN passes no comparison and +Inf never limits: both are refused, like
	// rates so small that a refused sender would be told to wait for years.
	if math.IsNaN(r.RequestsPerSecond) || math.IsInf(r.RequestsPerSecond, 0) || r.RequestsPerSecond < minRequestsPerSecond {
		return fmt.Errorf("requests_per_second must be positive and finite, at least one request an hour, got %v", r.RequestsPerSecond)
	}
	if r.Burst <= 0 {
		return fmt.Errorf("burst must be positive, got %d", r.Burst)
	}
	return nil
}

func (am *AlertmanagerConfig) validate() error {
	var errs []error
	if err := validateCIDRs(am.AllowedCIDRs); err != nil {
		errs = append(errs, err)
	}
	if am.RateLimit != nil {
		if err := am.RateLimit.validate(); err != nil {
			errs = append(errs, fmt.Errorf("rate_limit: %w", err))
		}
	}
	return errors.Join(errs...)
}

func validateCIDRs(cidrs []string) error {
	var errs []error
	for _, c := range cidrs {
		if _, err := netip.ParsePrefix(c); err != nil {
			errs = append(errs, fmt.Errorf("allowed_cidrs: %q is not a CIDR: %w", c, err))
		}
	}
	return errors.Join(errs...)
}

// validateID refuses ids that cannot be routed (the id is one path segment
// that every HTTP client sends unchanged) or that would share a dedup scope
// with the global endpoint or the exporter's default scope.
func validateID(id string) error {
	switch {
	case id == "":
		return errors.New("id must not be empty")
	case len(id) > maxIDLen:
		return fmt.Errorf("id of %d bytes is longer than %d", len(id), maxIDLen)
	case !utf8.ValidString(id):
		return fmt.Errorf("id %q is not valid UTF-8", id)
	case strings.ContainsFunc(id, func(c rune) bool { return !unicode.IsGraphic(c) || unicode.Is(unicode.Cf, c) }):
		// Control, format (zero-width, bidirectional) and other invisible
		// characters would make an id that reads like another one.
		return fmt.Errorf("id %q must contain only visible characters", id)
	case strings.ContainsAny(id, "/?#%\\") || strings.TrimSpace(id) != id || id == "." || id == "..":
		return fmt.Errorf("id %q must be one path segment without blanks at its ends, '/', '\\', '?', '#' or '%%', and not '.' or '..'", id)
	case slices.Contains(reservedIDs, id):
		return fmt.Errorf("id %q is reserved: %q is the global endpoint's dedup scope, %q the store's scope for records without an integration, "+
			"%q and %q label the answers of unknown paths and of the health path in the receiver's metrics",
			id, typeAlertmanager, "default", integrationUnknown, healthIntegration)
	}
	return nil
}

func (in *IntegrationConfig) validate() error {
	var errs []error
	if err := validateID(in.ID); err != nil {
		errs = append(errs, err)
	}
	if !slices.Contains(integrationTypes, in.Type) {
		errs = append(errs, fmt.Errorf("type %q is unknown: use one of %s", in.Type, strings.Join(integrationTypes, ", ")))
	}
	if in.Secret == "" {
		errs = append(errs, errors.New("secret must not be empty"))
	}
	if err := validateCIDRs(in.AllowedCIDRs); err != nil {
		errs = append(errs, err)
	}
	if in.RateLimit != nil {
		if err := in.RateLimit.validate(); err != nil {
			errs = append(errs, fmt.Errorf("rate_limit: %w", err))
		}
	}
	if in.Signature != nil {
		if in.Type != typeGrafana {
			errs = append(errs, fmt.Errorf("signature is only for grafana integrations, not %q", in.Type))
		}
		if in.Signature.MaxSkew < 0 {
			errs = append(errs, fmt.Errorf("signature.max_skew must not be negative, got %v", in.Signature.MaxSkew))
		}
	}
	return errors.Join(errs...)
}

// bodyLimit is http.max_request_body_size with confighttp's default filled in.
func (cfg *Config) bodyLimit() int64 {
	if cfg.HTTP.MaxRequestBodySize <= 0 {
		return defaultMaxRequestBodySize
	}
	return cfg.HTTP.MaxRequestBodySize
}

func (cfg *Config) maxAlertsPerRequest() int {
	if cfg.MaxAlertsPerRequest == 0 {
		return defaultMaxAlertsPerRequest
	}
	return cfg.MaxAlertsPerRequest
}

func (cfg *Config) unauthenticatedBodyBudget() int64 {
	if cfg.UnauthenticatedBodyBudget == 0 {
		return minUnauthenticatedBodyBudget(cfg.bodyLimit())
	}
	return cfg.UnauthenticatedBodyBudget
}

// minUnauthenticatedBodyBudget lets one body of the largest size be read on
// an otherwise idle endpoint, so that a lone legitimate sender is never
// refused for ever: while its buffer grows it briefly holds the old and the
// new one (under twice the body), and a decoder holds up to maxDecoderState.
func minUnauthenticatedBodyBudget(bodyLimit int64) int64 {
	return 2*bodyLimit + maxDecoderState
}

// signatureHeader and maxSkew give the effective values, defaults filled in.
func (s *SignatureConfig) signatureHeader() string {
	if s.Header == "" {
		return defaultSignatureHeader
	}
	return s.Header
}

func (s *SignatureConfig) maxSkew() time.Duration {
	if s.MaxSkew == 0 {
		return defaultMaxSkew
	}
	return s.MaxSkew
}
