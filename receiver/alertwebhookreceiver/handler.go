package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	gojson "github.com/goccy/go-json"
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
	// healthIntegration labels the health path's answers in metrics.
	healthIntegration = "health"
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
		r.reply(w, healthIntegration, http.StatusMethodNotAllowed, errorBody{Detail: "Method " + truncate(req.Method, 16) + " not allowed: use GET"})
		return
	}
	r.reply(w, healthIntegration, http.StatusOK, healthBody{Status: "healthy"})
}

// serveWebhook runs one delivery. Every check that needs no body comes
// first, and a body is read only once its sender is authenticated, except
// where the body is the credential (an HMAC signature) or there is none (the
// global endpoint without a secret): those reads are bounded by the
// endpoint's unauthenticated budget. A rate-limit token is taken only by an
// authenticated request (on the open global endpoint, by a complete one), so
// that strangers cannot spend a sender's tokens.
func (r *alertReceiver) serveWebhook(w http.ResponseWriter, req *http.Request, ep *endpoint, kind payloadKind) {
	now := r.now()
	if !sourceAllowed(ep.cidrs, req.RemoteAddr) {
		r.refuse(w, req, ep.id, reasonSource)
		return
	}
	var signed *signedRequest
	switch {
	case ep.signature != nil:
		var reason string
		if signed, reason = ep.secret.beginSignature(ep.signature, req, now); signed == nil {
			r.refuse(w, req, ep.id, reason)
			return
		}
	case ep.secret != nil:
		if !ep.secret.checkSecret(req) {
			r.refuse(w, req, ep.id, reasonSecret)
			return
		}
		if !r.allow(w, ep, now) {
			return
		}
	}
	dec, ok := r.checkRepresentation(w, req, ep)
	if !ok {
		return
	}

	var body []byte
	if signed != nil {
		if body, ok = r.readSigned(w, req, ep, dec, kind, signed, now); !ok {
			return
		}
	} else {
		// Held until the answer: the global endpoint without a secret never
		// knows its sender. Nil (not budgeted) for authenticated senders.
		held := ep.unauthenticated.hold()
		defer held.release()
		if body, ok = r.readBody(w, ep, req.Body, req.ContentLength, dec, kind, held); !ok {
			return
		}
		// Decoding costs several times the body's size, and a stranger's
		// body is decoded before anyone knows who sent it: that counts too.
		if !held.growForParsing(int64(len(body))) {
			r.replyBudgetExhausted(w, ep.id)
			return
		}
		if ep.secret == nil && !r.allow(w, ep, now) {
			return
		}
	}

	var n *notification
	var err error
	switch kind {
	case kindPrometheusPush:
		n, err = parsePush(body, now)
	case kindGrafana:
		n, err = parseGroup(body, incident.SourceGrafana, now)
	default:
		n, err = parseGroup(body, incident.SourceAlertmanager, now)
	}
	if err == nil && len(n.Alerts)+len(n.Rejected) > r.maxAlerts {
		// The count while reading refuses these first; this holds whatever
		// spelling it could not follow.
		r.replyTooManyAlerts(w, ep.id)
		return
	}
	if err == nil {
		r.records.identify(n)
		err = n.usable()
	}
	if err != nil {
		r.reply(w, ep.id, http.StatusBadRequest, errorBody{Detail: err.Error()})
		return
	}
	conn := connOf(req)
	if !r.conns.enterPipeline(conn) {
		r.replyShuttingDown(w, ep.id)
		return
	}
	defer r.conns.leavePipeline(conn)
	r.consume(w, req, ep, n, now)
}

// checkRepresentation refuses, before any byte is read, a body that is not
// JSON, an encoding that is not accepted, and a length over the limit. It
// returns the body's decoder.
func (r *alertReceiver) checkRepresentation(w http.ResponseWriter, req *http.Request, ep *endpoint) (contentDecoder, bool) {
	if !isJSONContentType(req.Header.Get("Content-Type")) {
		r.reply(w, ep.id, http.StatusUnsupportedMediaType, errorBody{
			Detail: "Unsupported Content-Type " + strconv.Quote(truncate(req.Header.Get("Content-Type"), 64)) + ": send application/json",
		})
		return contentDecoder{}, false
	}
	dec, ok := r.encodings.decoder(req.Header.Get("Content-Encoding"))
	if !ok {
		detail := "Unsupported Content-Encoding " + strconv.Quote(truncate(req.Header.Get("Content-Encoding"), 64))
		if r.encodings.names != "" {
			detail += ": send the body as is or encoded with " + r.encodings.names
		} else {
			detail += ": send the body as is"
		}
		r.reply(w, ep.id, http.StatusUnsupportedMediaType, errorBody{Detail: detail})
		return contentDecoder{}, false
	}
	if req.ContentLength > r.bodyLimit {
		r.replyTooLarge(w, ep.id)
		return contentDecoder{}, false
	}
	return dec, true
}

// readBody reads and decodes a body (hint: its announced length, or -1) of
// a sender that is authenticated (held is nil) or that has no authentication
// to pass (the decoder's state and the body count against held), and refuses
// it once it holds too many alerts.
func (r *alertReceiver) readBody(w http.ResponseWriter, ep *endpoint, body io.Reader, hint int64, dec contentDecoder, kind payloadKind, held *hold) ([]byte, bool) {
	wire := &wireReader{r: body}
	src := io.Reader(wire)
	if dec.open != nil {
		if !held.grow(dec.state) {
			r.replyBudgetExhausted(w, ep.id)
			return nil, false
		}
		rc, err := dec.open(wire, r.bodyLimit)
		if err != nil {
			r.replyReadError(w, ep.id, err, wire, dec.name)
			return nil, false
		}
		defer rc.Close()
		src, hint = rc, -1
	}
	return r.readAlerts(w, ep, bodyReader{limit: r.bodyLimit, hold: held}, src, hint, kind, wire, dec.name)
}

// readAlerts reads a body, refusing it with 413 once it holds too many alerts.
func (r *alertReceiver) readAlerts(w http.ResponseWriter, ep *endpoint, br bodyReader, src io.Reader, hint int64, kind payloadKind, wire *wireReader, encoding string) ([]byte, bool) {
	body, over, err := br.readAlerts(src, hint, kind, r.maxAlerts)
	switch {
	case over:
		r.replyTooManyAlerts(w, ep.id)
		return nil, false
	case err != nil:
		r.replyReadError(w, ep.id, err, wire, encoding)
		return nil, false
	}
	return body, true
}

// readSigned reads the body as sent within the endpoint's budget, hashing it
// as it arrives; once the signature holds, the sender is known: the budget is
// given back, a token is taken, and the body is decoded.
func (r *alertReceiver) readSigned(w http.ResponseWriter, req *http.Request, ep *endpoint, dec contentDecoder, kind payloadKind, signed *signedRequest, now time.Time) ([]byte, bool) {
	held := ep.unauthenticated.hold()
	defer held.release()
	wire := &wireReader{r: req.Body}
	sent := bodyReader{limit: r.bodyLimit, hold: held, sink: signed}
	var raw []byte
	if dec.open == nil {
		// Sent as is: its alerts can be counted as it arrives.
		var ok bool
		if raw, ok = r.readAlerts(w, ep, sent, wire, req.ContentLength, kind, wire, ""); !ok {
			return nil, false
		}
	} else {
		var err error
		if raw, err = sent.read(wire, req.ContentLength); err != nil {
			r.replyReadError(w, ep.id, err, wire, dec.name)
			return nil, false
		}
	}
	if !signed.valid() {
		r.refuse(w, req, ep.id, reasonSignature)
		return nil, false
	}
	held.release()
	if !r.allow(w, ep, now) {
		return nil, false
	}
	if dec.open == nil {
		return raw, true
	}
	return r.readBody(w, ep, bytes.NewReader(raw), int64(len(raw)), dec, kind, nil)
}

// allow takes a token of the endpoint's bucket, or answers 429.
func (r *alertReceiver) allow(w http.ResponseWriter, ep *endpoint, now time.Time) bool {
	ok, wait := ep.limit.allow(now)
	if !ok {
		w.Header().Set("Retry-After", strconv.Itoa(wait))
		r.reply(w, ep.id, http.StatusTooManyRequests, errorBody{
			Detail: fmt.Sprintf("Too many webhook requests. Please retry after %d seconds.", wait),
		})
	}
	return ok
}

// refuse answers a sender that is not authenticated (or not from an allowed
// address) with 403, and counts it.
func (r *alertReceiver) refuse(w http.ResponseWriter, req *http.Request, integration, reason string) {
	if r.telemetry != nil {
		r.telemetry.AlertwebhookAuthFailures.Add(context.Background(), 1, r.authAttrs.get(refusalKey{integration, reason}))
	}
	if ce := r.logger.Check(zap.DebugLevel, "Webhook sender refused"); ce != nil {
		ce.Write(zap.String("integration", integration), zap.String("reason", reason), zap.String("peer", req.RemoteAddr))
	}
	r.reply(w, integration, http.StatusForbidden, errorBody{Detail: refusalDetails[reason]})
}

// replyReadError answers a body that could not be read: over the limit (413),
// over the budget (503), cut off by shutdown (503), not decodable (400), or
// a connection that failed (400: nobody is left to read it).
func (r *alertReceiver) replyReadError(w http.ResponseWriter, integration string, err error, wire *wireReader, encoding string) {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge) || errors.As(wire.err, &tooLarge):
		r.replyTooLarge(w, integration)
	case errors.Is(err, errBudgetExhausted):
		r.replyBudgetExhausted(w, integration)
	case r.conns.isDraining():
		r.replyShuttingDown(w, integration)
	case isTimeout(err) || isTimeout(wire.err):
		// A body slower than read_timeout: the sender can try again (a 4xx
		// would make Alertmanager drop the notification).
		w.Header().Set("Retry-After", retryAfterUnavailable)
		r.reply(w, integration, http.StatusServiceUnavailable, errorBody{Detail: "The request body did not arrive within the read timeout, retry"})
	case wire.err == nil:
		r.reply(w, integration, http.StatusBadRequest, errorBody{Detail: "Could not decode the " + encoding + " request body: " + truncate(err.Error(), 200)})
	default:
		r.reply(w, integration, http.StatusBadRequest, errorBody{Detail: "Could not read the request body: " + truncate(err.Error(), 200)})
	}
}

func (r *alertReceiver) replyTooManyAlerts(w http.ResponseWriter, integration string) {
	r.reply(w, integration, http.StatusRequestEntityTooLarge, errorBody{Detail: fmt.Sprintf(
		"Request has more than %d alerts, the limit of max_alerts_per_request: split the notification (a finer group_by) or raise the limit", r.maxAlerts)})
}

// isTimeout: a read deadline passed.
func isTimeout(err error) bool {
	var ne net.Error
	return err != nil && (errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout())
}

func (r *alertReceiver) replyTooLarge(w http.ResponseWriter, integration string) {
	r.reply(w, integration, http.StatusRequestEntityTooLarge, errorBody{
		Detail: fmt.Sprintf("Request body exceeds the limit of %d bytes", r.bodyLimit),
	})
}

func (r *alertReceiver) replyBudgetExhausted(w http.ResponseWriter, integration string) {
	w.Header().Set("Retry-After", retryAfterUnavailable)
	r.reply(w, integration, http.StatusServiceUnavailable, errorBody{
		Detail: "Too many request bodies from unauthenticated senders in flight, retry later",
	})
}

func (r *alertReceiver) replyShuttingDown(w http.ResponseWriter, integration string) {
	w.Header().Set("Retry-After", retryAfterUnavailable)
	r.reply(w, integration, http.StatusServiceUnavailable, errorBody{Detail: "The collector is shutting down, retry later"})
}

// serveHTTPError answers, in JSON, what confighttp refuses before the
// receiver sees a request: an auth extension's failure (401).
func (r *alertReceiver) serveHTTPError(w http.ResponseWriter, req *http.Request, _ string, status int) {
	integration := integrationUnknown
	if ep, _, _ := r.route(req.URL.Path); ep != nil {
		integration = ep.id
	}
	if status == http.StatusUnauthorized {
		if r.telemetry != nil {
			r.telemetry.AlertwebhookAuthFailures.Add(context.Background(), 1, r.authAttrs.get(refusalKey{integration, reasonAuthenticator}))
		}
		// The authenticator's message can name what it checked; it stays in no answer.
		r.reply(w, integration, status, errorBody{Detail: "Not authenticated by the collector's authenticator"})
		return
	}
	r.reply(w, integration, status, errorBody{Detail: http.StatusText(status)})
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
	rejected := append(slices.Clip(n.Rejected), r.storeRejections(n, outcomes)...)
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
			if n.Alerts[i].Fingerprint == o.Fingerprint {
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
	out, err := gojson.Marshal(body)
	if err != nil {
		// Our own answer types always encode; this is for the impossible case.
		status, out = http.StatusInternalServerError, []byte(`{"detail":"Could not encode the answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(out, '\n')) //nolint:gosec // G705: a JSON answer of our own types, served as application/json
	if r.telemetry != nil {
		r.telemetry.AlertwebhookRequests.Add(context.Background(), 1, r.requestAttrs.get(requestKey{integration, status}))
	}
	if ce := r.logger.Check(zap.DebugLevel, "Webhook answered"); ce != nil {
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
