package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
)

// Integration types, as they appear in the webhook path.
const (
	typePrometheus = "prometheus"
	typeGrafana    = "grafana"
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

	// prevent unkeyed literal initialization
	_ struct{}
}

// AlertmanagerConfig configures the global Alertmanager endpoint.
type AlertmanagerConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// Secret, when set, is required on every request.
	Secret configopaque.String `mapstructure:"secret"`
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
	// TimestampHeader, when set, carries a Unix timestamp in seconds and the
	// signed string becomes "<timestamp>:<body>".
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
)

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
	if r.RequestsPerSecond <= 0 {
		return fmt.Errorf("requests_per_second must be positive, got %v", r.RequestsPerSecond)
	}
	if r.Burst <= 0 {
		return fmt.Errorf("burst must be positive, got %d", r.Burst)
	}
	return nil
}

func (in *IntegrationConfig) validate() error {
	var errs []error
	switch {
	case in.ID == "":
		errs = append(errs, errors.New("id must not be empty"))
	case strings.ContainsAny(in.ID, "/?#%") || strings.TrimSpace(in.ID) != in.ID:
		errs = append(errs, fmt.Errorf("id %q must be one path segment without blanks, '/', '?', '#' or '%%'", in.ID))
	}
	if in.Type != typePrometheus && in.Type != typeGrafana {
		errs = append(errs, fmt.Errorf("type %q is unknown: use %q or %q", in.Type, typePrometheus, typeGrafana))
	}
	if in.Secret == "" {
		errs = append(errs, errors.New("secret must not be empty"))
	}
	for _, c := range in.AllowedCIDRs {
		if _, err := netip.ParsePrefix(c); err != nil {
			errs = append(errs, fmt.Errorf("allowed_cidrs: %q is not a CIDR: %w", c, err))
		}
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
