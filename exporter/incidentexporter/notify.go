package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/confmap"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"
	"github.com/sre-copilot/incident-collector/internal/incident"
)

// Notification sink kinds.
const (
	kindSlack     = "slack"
	kindWebhook   = "webhook"
	kindPagerDuty = "pagerduty"
)

// pagerDutyEventsURL is PagerDuty's Events API v2.
const pagerDutyEventsURL = "https://events.pagerduty.com/v2/enqueue"

// NotifyConfig is one notification sink (README, "Notifications").
type NotifyConfig struct {
	// Name tells the sink apart in the outbox, logs and metrics.
	Name string `mapstructure:"name"`
	// Kind: slack (Slack, Mattermost, Rocket.Chat incoming webhooks),
	// webhook (the analysis payload, signed) or pagerduty (Events API v2).
	Kind string `mapstructure:"kind"`
	// URL receives the notifications. Opaque: a Slack webhook URL is its
	// own credential.
	URL configopaque.String `mapstructure:"url"`
	// RoutingKey: pagerduty only, the integration's key.
	RoutingKey configopaque.String `mapstructure:"routing_key"`
	// Secret: webhook only, signs every notification.
	Secret configopaque.String `mapstructure:"secret"`
	// Events to notify; default created and resolved.
	Events []string `mapstructure:"events"`
	// MinSeverity: only incidents at least this severe; default low (all).
	MinSeverity string `mapstructure:"min_severity"`
	// Integrations: only incidents of these integrations; default all.
	Integrations []string                `mapstructure:"integrations"`
	Client       confighttp.ClientConfig `mapstructure:"client"`
	Retry        RetryConfig             `mapstructure:"retry"`
	MaxInFlight  int                     `mapstructure:"max_in_flight"`
}

// Unmarshal starts each sink from the defaults, which a list's elements
// would not get otherwise.
func (n *NotifyConfig) Unmarshal(conf *confmap.Conf) error {
	type plain NotifyConfig // without this method
	a := defaultAnalysisConfig()
	p := plain{Events: a.Events, MinSeverity: incident.SeverityLow, Client: a.Client, Retry: a.Retry, MaxInFlight: a.MaxInFlight}
	if err := conf.Unmarshal(&p); err != nil {
		return err
	}
	*n = NotifyConfig(p)
	if n.Kind == kindPagerDuty && n.URL == "" {
		n.URL = pagerDutyEventsURL
	}
	return nil
}

// notifyEvents are the events a sink may be told of; pagerduty has no
// action for an alert joining an incident or an acknowledgement taken back.
var notifyEvents = map[string][]string{
	kindSlack:     {rules.EventCreated, rules.EventResolved, rules.EventReopened, rules.EventAlertAdded, rules.EventAcknowledged, rules.EventUnacknowledged},
	kindWebhook:   {rules.EventCreated, rules.EventResolved, rules.EventReopened, rules.EventAlertAdded, rules.EventAcknowledged, rules.EventUnacknowledged},
	kindPagerDuty: {rules.EventCreated, rules.EventResolved, rules.EventReopened, rules.EventAcknowledged},
}

var sinkName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// validateNotify checks every sink; a problem names the sink (never a secret).
func validateNotify(sinks []NotifyConfig) error {
	var errs []error
	seen := map[string]bool{}
	for i := range sinks {
		n := &sinks[i]
		where := fmt.Sprintf("notify[%d]", i)
		if n.Name != "" {
			where = fmt.Sprintf("notify[%d] (%s)", i, n.Name)
		}
		for _, err := range n.problems(seen) {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
		}
	}
	return errors.Join(errs...)
}

func (n *NotifyConfig) problems(seen map[string]bool) []error {
	var errs []error
	switch {
	case !sinkName.MatchString(n.Name):
		errs = append(errs, fmt.Errorf("name %q must be 1–64 lowercase letters, digits, - or _", n.Name))
	case n.Name == analysisSinkName:
		errs = append(errs, fmt.Errorf("name %q is the analysis trigger's", n.Name))
	case seen[n.Name]:
		errs = append(errs, fmt.Errorf("name %q is used twice", n.Name))
	}
	seen[n.Name] = true
	allowed, known := notifyEvents[n.Kind]
	if !known {
		errs = append(errs, fmt.Errorf("kind %q is unknown: use %s, %s or %s", n.Kind, kindSlack, kindWebhook, kindPagerDuty))
	}
	if u, err := url.Parse(string(n.URL)); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The URL itself stays out of the message: it may be a credential.
		errs = append(errs, errors.New("url must be an http:// or https:// URL"))
	}
	switch n.Kind {
	case kindPagerDuty:
		if n.RoutingKey == "" {
			errs = append(errs, errors.New("routing_key is required"))
		}
	case kindWebhook:
		if n.Secret == "" {
			errs = append(errs, errors.New("secret is required to sign notifications"))
		}
	}
	if n.Kind != kindPagerDuty && n.RoutingKey != "" {
		errs = append(errs, errors.New("routing_key is for kind pagerduty only"))
	}
	if n.Kind != kindWebhook && n.Secret != "" {
		errs = append(errs, errors.New("secret is for kind webhook only"))
	}
	if len(n.Events) == 0 {
		errs = append(errs, errors.New("events must name at least one event"))
	}
	for _, e := range n.Events {
		if known && !slices.Contains(allowed, e) {
			errs = append(errs, fmt.Errorf("event %q cannot be sent to a %s sink: use %s", e, n.Kind, strings.Join(allowed, ", ")))
		}
	}
	if !slices.Contains([]string{incident.SeverityLow, incident.SeverityMedium, incident.SeverityHigh, incident.SeverityCritical}, n.MinSeverity) {
		errs = append(errs, fmt.Errorf("min_severity %q is unknown: use low, medium, high or critical", n.MinSeverity))
	}
	for _, id := range n.Integrations {
		if strings.TrimSpace(id) == "" {
			errs = append(errs, errors.New("integrations must not contain an empty id"))
		}
	}
	return append(errs, validateDelivery(n.Client.Timeout, n.Retry, n.MaxInFlight)...)
}

// outboxSink is what the store queues for this sink.
func (n *NotifyConfig) outboxSink() store.Sink {
	k := store.Sink{Name: n.Name, Events: n.Events, Scopes: n.Integrations}
	if n.MinSeverity != incident.SeverityLow {
		k.MinSeverity = n.MinSeverity
	}
	return k
}

// notifySink delivers to the sink n describes, with client.
func notifySink(n *NotifyConfig, client *http.Client) *sink {
	k := &sink{name: n.Name, client: client, retry: n.Retry, maxInFlight: n.MaxInFlight, lease: n.Client.Timeout + leaseSlack}
	target := string(n.URL)
	var body func(e *store.OutboxEvent) any
	var secret []byte
	switch n.Kind {
	case kindSlack:
		body = func(e *store.OutboxEvent) any { return slackOf(e) }
	case kindPagerDuty:
		key := string(n.RoutingKey)
		body = func(e *store.OutboxEvent) any { return pagerDutyOf(e, key) }
	default:
		secret = []byte(n.Secret)
		body = func(e *store.OutboxEvent) any {
			notif := notificationOf(e)
			notif.Sink = n.Name
			return notif
		}
	}
	k.request = func(ctx context.Context, e *store.OutboxEvent, now time.Time) (*http.Request, error) {
		payload, err := json.Marshal(body(e))
		if err != nil {
			return nil, err
		}
		return signedPost(ctx, target, payload, secret, e, now)
	}
	return k
}

// linkOf is a URL a notification may link to: http or https, of a
// reasonable length; "" otherwise (a javascript: URL is no link).
func linkOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(raw) > maxLinkLength {
		return ""
	}
	return raw
}

// maxLinkLength bounds a link in a notification.
const maxLinkLength = 2048
