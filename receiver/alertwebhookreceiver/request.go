package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"

import (
	"bytes"
	"cmp"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

// request is one webhook request on its way through the checks: what its
// path leads to, when it arrived, and what the checks have found so far.
type request struct {
	r   *alertReceiver
	req *http.Request
	now time.Time

	ep   *endpoint
	kind payloadKind
	dec  contentDecoder // the body's Content-Encoding, once accepted
	// signed is the signature being checked, when the endpoint wants one.
	signed *signedRequest
	// held is the body's share of the endpoint's unauthenticated budget:
	// nil when the sender is known (its reads are not budgeted).
	held *hold
	wire *wireReader // the body as it arrives

	// authenticated: the sender's credential was checked (a header secret,
	// a signature, a PagerDuty routing key).
	authenticated bool

	conn       net.Conn
	inPipeline bool
}

func (r *alertReceiver) newRequest(req *http.Request) *request {
	return &request{r: r, req: req, now: r.now(), wire: &wireReader{r: req.Body}}
}

// integration labels the request's answer in metrics and logs.
func (rq *request) integration() string {
	if rq.ep == nil {
		return integrationUnknown
	}
	return rq.ep.id
}

// serve runs the checks in the order of the README (Endpoints and answers)
// and returns the 200 answer, or why there is none. Every check that needs
// no body comes first, and a body is read only once its sender is
// authenticated, except where the body is the credential (an HMAC
// signature) or there is none (the global endpoint without a secret): those
// reads are bounded by the endpoint's unauthenticated budget. A rate-limit
// token is taken only by an authenticated request (on the open global
// endpoint, by a complete one), so that strangers cannot spend a sender's
// tokens.
func (rq *request) serve() (any, error) {
	if err := rq.route(); err != nil {
		return nil, err
	}
	rq.held = rq.ep.unauthenticated.hold()
	defer rq.held.release()
	if err := rq.authenticate(); err != nil {
		return nil, err
	}
	if err := rq.checkRepresentation(); err != nil {
		return nil, err
	}
	body, err := rq.readBody()
	if err != nil {
		return nil, err
	}
	n, err := rq.parse(body)
	if err != nil {
		return nil, err
	}
	if n.SNS != nil {
		return rq.r.confirmSNS(rq.ep, n.SNS), nil
	}
	return rq.consume(n)
}

func (rq *request) route() error {
	ep, kind, err := rq.r.route(rq.req.URL.Path)
	rq.kind = kind
	if err != nil {
		return err
	}
	rq.ep = ep
	if rq.req.Method != http.MethodPost {
		return &methodError{method: rq.req.Method, want: http.MethodPost, allow: http.MethodPost}
	}
	return nil
}

// authenticate runs the checks of the sender that need no body: its
// address, then its secret (an authenticated request takes its token at
// once) or the form and timestamp of its signature. A PagerDuty sender
// that sends the secret in no header is known only by its event's
// routing_key (parseEvent).
func (rq *request) authenticate() error {
	ep := rq.ep
	if !sourceAllowed(ep.cidrs, rq.req.RemoteAddr) {
		return &refusal{reason: reasonSource}
	}
	switch {
	case ep.signature != nil:
		signed, reason := ep.secret.beginSignature(ep.signature, rq.req, rq.now)
		if signed == nil {
			return &refusal{reason: reason}
		}
		rq.signed = signed
	case ep.typ == typePagerDuty:
		if ep.secret.checkSecret(rq.req) {
			return rq.known()
		}
	case ep.secret != nil:
		if !ep.secret.checkSecret(rq.req) {
			return &refusal{reason: reasonSecret}
		}
		return rq.known()
	}
	return nil
}

// known marks the sender as authenticated: its reads are no longer
// budgeted, and it takes a token.
func (rq *request) known() error {
	rq.authenticated = true
	rq.held.release()
	rq.held = nil
	return rq.takeToken()
}

// takeToken takes a token of the endpoint's bucket.
func (rq *request) takeToken() error {
	if ok, wait := rq.ep.limit.allow(rq.now); !ok {
		return &rateLimited{wait: wait}
	}
	return nil
}

// checkRepresentation refuses, before any byte is read, a body that is not
// JSON, an encoding that is not accepted, and a length over the limit.
func (rq *request) checkRepresentation() error {
	header := rq.req.Header
	if ct := header.Get("Content-Type"); !isJSONContentType(ct) {
		return &unsupportedError{header: "Content-Type", value: ct, accepted: "send application/json"}
	}
	dec, ok := rq.r.encodings.decoder(header.Get("Content-Encoding"))
	if !ok {
		return &unsupportedError{header: "Content-Encoding", value: header.Get("Content-Encoding"), accepted: rq.r.encodings.instead()}
	}
	if rq.req.ContentLength > rq.r.bodyLimit {
		return &http.MaxBytesError{Limit: rq.r.bodyLimit}
	}
	rq.dec = dec
	return nil
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

// readBody reads and decodes the body. A signed one is read as sent first
// (signedBody). Otherwise its sender is authenticated (not budgeted) or has
// no authentication to pass: then its reads, its decoder and its decoding
// count against the budget, and the complete body takes the token.
func (rq *request) readBody() ([]byte, error) {
	if rq.signed != nil {
		return rq.signedBody()
	}
	body, err := rq.decode(rq.wire, rq.req.ContentLength)
	if err != nil {
		return nil, err
	}
	// Decoding costs several times the body's size, and a stranger's body is
	// decoded before anyone knows who sent it: that counts too.
	if !rq.held.growForParsing(int64(len(body))) {
		return nil, errBudgetExhausted
	}
	if rq.ep.secret == nil {
		if err := rq.takeToken(); err != nil {
			return nil, err
		}
	}
	return body, nil
}

// signedBody reads the body as sent within the endpoint's budget, hashing it
// as it arrives; once the signature holds, the sender is known: the budget is
// given back, a token is taken, and the body is decoded.
func (rq *request) signedBody() ([]byte, error) {
	sent := bodyReader{limit: rq.r.bodyLimit, hold: rq.held, sink: rq.signed}
	var raw []byte
	var err error
	if rq.dec.open == nil {
		// Sent as is: its alerts can be counted as it arrives.
		raw, err = rq.readAlerts(sent, rq.wire, rq.req.ContentLength)
	} else if raw, err = sent.read(rq.wire, rq.req.ContentLength); err != nil {
		err = rq.readFailure(err)
	}
	if err != nil {
		return nil, err
	}
	if !rq.signed.valid() {
		return nil, &refusal{reason: reasonSignature}
	}
	if err := rq.known(); err != nil {
		return nil, err
	}
	if rq.dec.open == nil {
		return raw, nil
	}
	return rq.decode(bytes.NewReader(raw), int64(len(raw)))
}

// decode reads src (hint: its announced length, or -1) through the body's
// decoder, whose state counts against the request's hold.
func (rq *request) decode(src io.Reader, hint int64) ([]byte, error) {
	if rq.dec.open != nil {
		if !rq.held.grow(rq.dec.state) {
			return nil, errBudgetExhausted
		}
		rc, err := rq.dec.open(src, rq.r.bodyLimit)
		if err != nil {
			return nil, rq.readFailure(err)
		}
		defer rc.Close()
		src, hint = rc, -1
	}
	return rq.readAlerts(bodyReader{limit: rq.r.bodyLimit, hold: rq.held}, src, hint)
}

// readAlerts reads a body, refusing it once it holds too many alerts.
func (rq *request) readAlerts(br bodyReader, src io.Reader, hint int64) ([]byte, error) {
	body, over, err := br.readAlerts(src, hint, rq.kind, rq.r.maxAlerts)
	switch {
	case over:
		return nil, &tooManyAlertsError{limit: rq.r.maxAlerts}
	case err != nil:
		return nil, rq.readFailure(err)
	}
	return body, nil
}

func (rq *request) readFailure(err error) error {
	return readFailure(err, rq.wire.err, rq.dec.name, rq.r.conns.isDraining())
}

// parse parses the body as its endpoint's kind and sets each alert's
// identity; single bad alerts are rejected, the others kept.
func (rq *request) parse(body []byte) (*notification, error) {
	var n *notification
	var err error
	switch rq.kind {
	case kindPagerDuty:
		return rq.parseEvent(body)
	case kindJSON:
		return rq.parseJSON(body)
	case kindPrometheusPush:
		n, err = parsePush(body, rq.now)
	case kindGrafana:
		n, err = parseNotification(body, incident.SourceGrafana, rq.now)
	default:
		n, err = parseNotification(body, incident.SourceAlertmanager, rq.now)
	}
	if err != nil {
		return nil, err
	}
	if len(n.Alerts)+len(n.Rejected) > rq.r.maxAlerts {
		// The count while reading refuses these first; this holds whatever
		// spelling it could not follow.
		return nil, &tooManyAlertsError{limit: rq.r.maxAlerts}
	}
	rq.r.records.identify(n)
	return n, n.usable()
}

// parseEvent parses a PagerDuty event. Unless a header authenticated the
// sender, its routing_key must be the secret; only then is the event
// checked (a stranger learns nothing of it) and a token taken.
func (rq *request) parseEvent(body []byte) (*notification, error) {
	ev, err := decodeEvent(body)
	if err != nil {
		return nil, err
	}
	if !rq.authenticated {
		if !rq.ep.secret.matches(ev.routingKey()) {
			return nil, &refusal{reason: reasonSecret}
		}
		if err := rq.known(); err != nil {
			return nil, err
		}
	}
	a, problems := ev.alert(rq.now)
	if len(problems) > 0 {
		return nil, &invalidEventError{problems: problems}
	}
	return &notification{Source: incident.SourcePagerDuty, Alerts: []alert{a}}, nil
}

// parseJSON parses a json integration's body, or the Amazon SNS
// subscription confirmation its header announces.
func (rq *request) parseJSON(body []byte) (*notification, error) {
	if t := rq.req.Header.Get(snsMessageTypeHeader); isSNSConfirmation(t) {
		c, err := parseSNSConfirmation(body)
		if err != nil {
			return nil, err
		}
		c.Type = t
		return &notification{Source: incident.SourceJSON, SNS: c}, nil
	}
	return parseJSONAlerts(body, rq.r.maxAlerts)
}

// consume hands the records to the pipeline and answers from the verdicts
// the exporter put in the recorder.
func (rq *request) consume(n *notification) (any, error) {
	if err := rq.enterPipeline(); err != nil {
		return nil, err
	}
	r := rq.r
	logs := r.records.build(n, rq.ep, rq.now)
	rec := incident.NewRecorder()
	ctx := r.obsrecv.StartLogsOp(incident.ContextWithRecorder(rq.req.Context(), rec))
	err := r.next.ConsumeLogs(ctx, logs)
	r.obsrecv.EndLogsOp(ctx, n.Source, len(n.Alerts), err)
	outcomes := rec.Close()
	if err != nil {
		r.logger.Debug("Pipeline refused alerts", zap.String("integration", rq.ep.id), zap.Int("alerts", len(n.Alerts)), zap.Error(err))
		return nil, &pipelineError{err: err}
	}
	rejected := append(slices.Clip(n.Rejected), storeRejections(n, outcomes)...)
	if len(outcomes) > 0 && len(rejected)-len(n.Rejected) == len(outcomes) {
		// The exporter could store none of the alerts, and never will.
		first := rejected[len(n.Rejected)]
		return nil, &storeRejectedError{index: first.Index, reason: first.Reason}
	}
	if rq.kind == kindPagerDuty {
		// Whatever the store did (created, duplicate, an acknowledge of an
		// unknown alert): PagerDuty accepts every valid event.
		return acceptedEvent(n.Alerts[0].Fingerprint), nil
	}
	slices.SortStableFunc(rejected, func(a, b rejection) int { return cmp.Compare(a.Index, b.Index) })
	return verdictBody(len(n.Alerts), outcomes, rejected), nil
}

// enterPipeline marks the request as handing alerts on, unless shutdown has
// begun.
func (rq *request) enterPipeline() error {
	conn := connOf(rq.req)
	if !rq.r.conns.enterPipeline(conn) {
		return errShuttingDown
	}
	rq.conn, rq.inPipeline = conn, true
	return nil
}

// leavePipeline is called once the request is answered: until then shutdown
// must not close its connection.
func (rq *request) leavePipeline() {
	if rq.inPipeline {
		rq.r.conns.leavePipeline(rq.conn)
	}
}

// storeRejections lists the alerts the exporter rejected, by their index in
// the payload: the record's webhook.alert.index, else found through the
// fingerprint the record carried (a processor may have removed the index).
func storeRejections(n *notification, outcomes []incident.Outcome) []rejection {
	var out []rejection
	for _, o := range outcomes {
		if o.Verdict != incident.VerdictRejected {
			continue
		}
		rj := rejection{Index: o.Index, Reason: o.Reason}
		for i := 0; rj.Index < 0 && i < len(n.Alerts); i++ {
			if n.Alerts[i].Fingerprint == o.Fingerprint {
				rj.Index = n.Alerts[i].Index
			}
		}
		out = append(out, rj)
	}
	return out
}
