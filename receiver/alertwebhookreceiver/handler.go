package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

const (
	webhooksPrefix = "/webhooks/"
	pushSuffix     = "/api/v2/alerts"
	// retryAfterUnavailable is what a 503 asks the sender to wait, in seconds.
	retryAfterUnavailable = "5"
	// integrationUnknown labels requests to no known integration in metrics, so
	// that arbitrary paths cannot blow up the metric's cardinality.
	integrationUnknown = "unknown"
)

// payloadKind is the body format an endpoint takes.
type payloadKind int

const (
	kindAlertmanager payloadKind = iota
	kindGrafana
	kindPrometheusPush
)

// ServeHTTP routes one request: health, or a webhook path to its endpoint.
func (r *alertReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	path := req.URL.Path
	if r.cfg.HealthPath != "" && path == r.cfg.HealthPath {
		r.serveHealth(w, req)
		return
	}
	ep, kind, detail := r.route(path)
	if ep == nil {
		r.reply(w, integrationUnknown, http.StatusNotFound, errorBody{Detail: detail})
		return
	}
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		r.reply(w, ep.id, http.StatusMethodNotAllowed, errorBody{Detail: "Method " + truncate(req.Method, 16) + " not allowed: use POST"})
		return
	}
	r.serveWebhook(w, req, ep, kind)
}

// route resolves a path to its endpoint, or says why there is none.
func (r *alertReceiver) route(path string) (*endpoint, payloadKind, string) {
	rest, ok := strings.CutPrefix(path, webhooksPrefix)
	if !ok {
		return nil, 0, "Not found"
	}
	if rest == typeAlertmanager {
		if r.global == nil {
			return nil, 0, "Integration not found: " + typeAlertmanager
		}
		return r.global, kindAlertmanager, ""
	}
	typ, id, ok := strings.Cut(rest, "/")
	if !ok || id == "" {
		return nil, 0, "Not found"
	}
	kind := kindAlertmanager
	switch typ {
	case typeGrafana:
		kind = kindGrafana
	case typePrometheus:
		if before, isPush := strings.CutSuffix(id, pushSuffix); isPush {
			id, kind = before, kindPrometheusPush
		}
	default:
		return nil, 0, "Unknown integration type: " + truncate(typ, 64)
	}
	ep := r.integrations[id]
	if ep == nil || ep.typ != typ {
		return nil, 0, "Integration not found: " + truncate(id, 128)
	}
	return ep, kind, ""
}

func (r *alertReceiver) serveHealth(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		r.reply(w, "health", http.StatusMethodNotAllowed, errorBody{Detail: "Method " + truncate(req.Method, 16) + " not allowed: use GET"})
		return
	}
	r.reply(w, "health", http.StatusOK, healthBody{Status: "healthy"})
}

// serveWebhook runs one delivery: source → secret → rate limit → body →
// signature → parse → consume → answer. Checks that need no body come first,
// so refused requests cost little.
func (r *alertReceiver) serveWebhook(w http.ResponseWriter, req *http.Request, ep *endpoint, kind payloadKind) {
	now := r.now()
	if !sourceAllowed(ep.cidrs, req.RemoteAddr) {
		r.reply(w, ep.id, http.StatusForbidden, errorBody{Detail: detailBadSource})
		return
	}
	if ep.secret != nil && ep.signature == nil && !ep.secret.checkSecret(req) {
		r.reply(w, ep.id, http.StatusForbidden, errorBody{Detail: detailBadSecret})
		return
	}
	if ok, wait := ep.limit.allow(now); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(wait))
		r.reply(w, ep.id, http.StatusTooManyRequests, errorBody{
			Detail: fmt.Sprintf("Too many webhook requests. Please retry after %d seconds.", wait),
		})
		return
	}
	if !isJSONContentType(req.Header.Get("Content-Type")) {
		r.reply(w, ep.id, http.StatusUnsupportedMediaType, errorBody{
			Detail: "Unsupported Content-Type " + strconv.Quote(truncate(req.Header.Get("Content-Type"), 64)) + ": send application/json",
		})
		return
	}
	body, err := readBody(req, r.bodyLimit)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			r.reply(w, ep.id, http.StatusRequestEntityTooLarge, errorBody{
				Detail: fmt.Sprintf("Request body exceeds the limit of %d bytes", tooLarge.Limit),
			})
			return
		}
		r.reply(w, ep.id, http.StatusBadRequest, errorBody{Detail: "Could not read the request body: " + truncate(err.Error(), 200)})
		return
	}
	if ep.signature != nil {
		if detail := ep.secret.checkSignature(ep.signature, req, body, now); detail != "" {
			r.reply(w, ep.id, http.StatusForbidden, errorBody{Detail: detail})
			return
		}
	}

	var n *notification
	switch kind {
	case kindPrometheusPush:
		n, err = parsePush(body, now)
	case kindGrafana:
		n, err = parseGroup(body, incident.SourceGrafana, now)
	default:
		n, err = parseGroup(body, incident.SourceAlertmanager, now)
	}
	if err != nil {
		r.reply(w, ep.id, http.StatusBadRequest, errorBody{Detail: err.Error()})
		return
	}
	r.consume(w, req, ep, n, now)
}

// consume hands the records to the pipeline and answers from the verdicts
// the exporter put in the recorder.
func (r *alertReceiver) consume(w http.ResponseWriter, req *http.Request, ep *endpoint, n *notification, now time.Time) {
	logs := r.records.build(n, ep, now)
	rec := incident.NewRecorder()
	ctx := r.obsrecv.StartLogsOp(incident.ContextWithRecorder(req.Context(), rec))
	err := r.next.ConsumeLogs(ctx, logs)
	r.obsrecv.EndLogsOp(ctx, n.Source, len(n.Alerts), err)
	outcomes := rec.Close()
	if err != nil {
		r.logger.Debug("Pipeline refused alerts", zap.String("integration", ep.id), zap.Int("alerts", len(n.Alerts)), zap.Error(err))
		if consumererror.IsPermanent(err) {
			// The same request can never succeed: a 4xx stops the sender's retries.
			r.reply(w, ep.id, http.StatusBadRequest, errorBody{Detail: "Alerts rejected permanently by the collector pipeline"})
			return
		}
		// Alertmanager retries 5xx only: a store outage must never be a 4xx.
		w.Header().Set("Retry-After", retryAfterUnavailable)
		r.reply(w, ep.id, http.StatusServiceUnavailable, errorBody{Detail: "Alerts could not be stored now, retry later"})
		return
	}
	rejected := append(n.Rejected, r.storeRejections(n, outcomes)...)
	if len(outcomes) > 0 && len(rejected) > len(n.Rejected) && len(rejected)-len(n.Rejected) == len(outcomes) {
		// The exporter could store none of the alerts, and never will.
		first := rejected[len(n.Rejected)]
		r.reply(w, ep.id, http.StatusBadRequest, errorBody{Detail: fmt.Sprintf("Invalid webhook payload: alerts[%d]: %s", first.Index, first.Reason)})
		return
	}
	slices.SortStableFunc(rejected, func(a, b rejection) int { return cmp.Compare(a.Index, b.Index) })
	r.reply(w, ep.id, http.StatusOK, verdictBody(len(n.Alerts), outcomes, rejected))
}

// storeRejections lists the alerts the exporter rejected, by their index in
// the payload (found through the fingerprint the record carried).
func (r *alertReceiver) storeRejections(n *notification, outcomes []incident.Outcome) []rejection {
	var out []rejection
	for _, o := range outcomes {
		if o.Verdict != incident.VerdictRejected {
			continue
		}
		rj := rejection{Index: -1, Reason: o.Reason}
		for i := range n.Alerts {
			if r.records.fingerprint(&n.Alerts[i]) == o.Fingerprint {
				rj.Index = n.Alerts[i].Index
				break
			}
		}
		out = append(out, rj)
	}
	return out
}

// reply writes a JSON answer and counts it.
func (r *alertReceiver) reply(w http.ResponseWriter, integration string, status int, body any) {
	out, err := fastJSON.Marshal(body)
	if err != nil {
		// Our own answer types always encode; this is for the impossible case.
		status, out = http.StatusInternalServerError, []byte(`{"detail":"Could not encode the answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(out, '\n'))
	if r.telemetry != nil {
		r.telemetry.AlertwebhookRequests.Add(context.Background(), 1, r.requestAttrs.get(integration, status))
	}
	if ce := r.logger.Check(zap.DebugLevel, "Webhook answered"); ce != nil {
		ce.Write(zap.String("integration", integration), zap.Int("code", status))
	}
}

// readBody reads the whole body in one allocation when its length is known:
// not compressed (confighttp inflates those, past Content-Length) and within
// what confighttp's limit lets through anyway.
func readBody(req *http.Request, limit int64) ([]byte, error) {
	if n := req.ContentLength; n > 0 && n <= limit && req.Header.Get("Content-Encoding") == "" {
		buf := make([]byte, n)
		if _, err := io.ReadFull(req.Body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	return io.ReadAll(req.Body)
}

// attrCache keeps the metric attributes of each (integration, status code):
// building an attribute set per request costs more than counting. It stays
// small because unknown integrations share one label.
type attrCache struct {
	mu sync.RWMutex
	m  map[attrKey]metric.MeasurementOption
}

type attrKey struct {
	integration string
	code        int
}

func (c *attrCache) get(integration string, code int) metric.MeasurementOption {
	k := attrKey{integration, code}
	c.mu.RLock()
	opt, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return opt
	}
	opt = metric.WithAttributeSet(attribute.NewSet(attribute.String("integration", integration), attribute.Int("code", code)))
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[attrKey]metric.MeasurementOption)
	}
	c.m[k] = opt
	c.mu.Unlock()
	return opt
}

// isJSONContentType accepts JSON and, because curl and some senders leave it
// out or send text/plain, an empty or plain-text type.
func isJSONContentType(ct string) bool {
	if ct == "" {
		return true
	}
	mediaType, _, _ := strings.Cut(ct, ";")
	mediaType = strings.ToLower(strings.TrimSpace(mediaType))
	return mediaType == "application/json" || mediaType == "text/plain" ||
		(strings.HasPrefix(mediaType, "application/") && strings.HasSuffix(mediaType, "+json"))
}
