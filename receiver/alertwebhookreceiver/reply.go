package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"

import (
	"context"
	"errors"
	"net/http"
	"sync"

	gojson "github.com/goccy/go-json"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver/internal/metadata"
)

// answers writes every answer of the receiver, and counts and logs it.
type answers struct {
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder // nil until Start

	requestAttrs attrCache[requestKey]
	authAttrs    attrCache[refusalKey]
}

func newAnswers(logger *zap.Logger) *answers {
	a := &answers{logger: logger}
	a.requestAttrs.build = func(k requestKey) attribute.Set {
		return attribute.NewSet(attribute.String("integration", k.integration), attribute.Int("code", k.code))
	}
	a.authAttrs.build = func(k refusalKey) attribute.Set {
		return attribute.NewSet(attribute.String("integration", k.integration), attribute.String("reason", k.reason))
	}
	return a
}

// fail answers a request to an endpoint of kind that failed with err, as
// failureOf says, in the shape of the endpoint's senders; a refused sender
// is counted and logged.
func (a *answers) fail(w http.ResponseWriter, req *http.Request, integration string, kind payloadKind, err error) {
	f := failureOf(err)
	var refused *refusal
	if errors.As(err, &refused) {
		a.countRefusal(integration, refused.reason)
		if ce := a.logger.Check(zap.DebugLevel, "Webhook sender refused"); ce != nil {
			ce.Write(zap.String("integration", integration), zap.String("reason", refused.reason), zap.String("peer", req.RemoteAddr))
		}
	}
	if f.retryAfter != "" {
		w.Header().Set("Retry-After", f.retryAfter)
	}
	if f.allow != "" {
		w.Header().Set("Allow", f.allow)
	}
	a.reply(w, integration, f.status, f.body(kind))
}

// countRefusal counts a sender refused for reason in auth_failures.
func (a *answers) countRefusal(integration, reason string) {
	if a.telemetry != nil {
		a.telemetry.AlertwebhookAuthFailures.Add(context.Background(), 1, a.authAttrs.get(refusalKey{integration, reason}))
	}
}

// reply writes a JSON answer and counts it.
func (a *answers) reply(w http.ResponseWriter, integration string, status int, body any) {
	out, err := gojson.Marshal(body)
	if err != nil {
		// Our own answer types always encode; this is for the impossible case.
		status, out = http.StatusInternalServerError, []byte(`{"detail":"Could not encode the answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// G705: a JSON answer of our own types, served as application/json. gosec's
	// taint analysis reports it on some runs and not on others (the same code,
	// a clean cache): nolintlint must not fail the runs that do not.
	_, _ = w.Write(append(out, '\n')) //nolint:gosec,nolintlint // see above
	if a.telemetry != nil {
		a.telemetry.AlertwebhookRequests.Add(context.Background(), 1, a.requestAttrs.get(requestKey{integration, status}))
	}
	if ce := a.logger.Check(zap.DebugLevel, "Webhook answered"); ce != nil {
		ce.Write(zap.String("integration", integration), zap.Int("code", status))
	}
}

// attrCache keeps the metric attributes of each key: building an attribute
// set per request costs more than counting. It stays small because unknown
// integrations share one label.
type attrCache[K comparable] struct {
	build func(K) attribute.Set
	mu    sync.RWMutex
	m     map[K]metric.MeasurementOption
}

type requestKey struct {
	integration string
	code        int
}

type refusalKey struct {
	integration string
	reason      string
}

func (c *attrCache[K]) get(k K) metric.MeasurementOption {
	c.mu.RLock()
	opt, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return opt
	}
	opt = metric.WithAttributeSet(c.build(k))
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[K]metric.MeasurementOption)
	}
	c.m[k] = opt
	c.mu.Unlock()
	return opt
}
