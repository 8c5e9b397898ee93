package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"

import (
	"net/http"
	"strings"
)

const (
	webhooksPrefix = "/webhooks/"
	pushSuffix     = "/api/v2/alerts"
	// enqueueSuffix is what a PagerDuty sender configured with a base URL
	// appends, as it does to https://events.pagerduty.com.
	enqueueSuffix = "/v2/enqueue"
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
	kindPagerDuty // one PagerDuty Events API v2 event, answered as PagerDuty does
	kindJSON      // any JSON: an object or an array of objects
)

// ServeHTTP answers one request: health, or a webhook request, which returns
// its answer or why there is none.
func (r *alertReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if r.cfg.HealthPath != "" && req.URL.Path == r.cfg.HealthPath {
		r.serveHealth(w, req)
		return
	}
	rq := r.newRequest(req)
	// After the answer: shutdown closes the connections with nothing in the
	// pipeline, and one whose alerts were handed on must be answered first.
	defer rq.leavePipeline()
	answer, err := rq.serve()
	if err != nil {
		r.answers.fail(w, req, rq.integration(), rq.kind, err)
		return
	}
	status := http.StatusOK
	if s, ok := answer.(interface{ httpStatus() int }); ok {
		status = s.httpStatus()
	}
	r.answers.reply(w, rq.integration(), status, answer)
}

// route resolves a path to its endpoint, or says why there is none. The
// kind is the path's even when it leads to no integration, so that a
// PagerDuty sender is answered as PagerDuty would.
func (r *alertReceiver) route(path string) (*endpoint, payloadKind, error) {
	rest, ok := strings.CutPrefix(path, webhooksPrefix)
	if !ok {
		return nil, 0, &notFoundError{detail: "Not found"}
	}
	if rest == typeAlertmanager {
		if r.global == nil {
			return nil, 0, &notFoundError{detail: "Integration not found: " + typeAlertmanager}
		}
		return r.global, kindAlertmanager, nil
	}
	typ, id, ok := strings.Cut(rest, "/")
	if !ok || id == "" {
		return nil, 0, &notFoundError{detail: "Not found"}
	}
	kind := kindAlertmanager
	switch typ {
	case typeGrafana:
		kind = kindGrafana
	case typePrometheus:
		if before, isPush := strings.CutSuffix(id, pushSuffix); isPush {
			id, kind = before, kindPrometheusPush
		}
	case typePagerDuty:
		id = strings.TrimSuffix(id, enqueueSuffix)
		kind = kindPagerDuty
	case typeJSON:
		kind = kindJSON
	default:
		return nil, 0, &notFoundError{detail: "Unknown integration type: " + truncate(typ, 64)}
	}
	ep := r.integrations[id]
	if ep == nil || ep.typ != typ {
		return nil, kind, &notFoundError{detail: "Integration not found: " + truncate(id, 128)}
	}
	return ep, kind, nil
}

func (r *alertReceiver) serveHealth(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		r.answers.fail(w, req, healthIntegration, kindAlertmanager, &methodError{method: req.Method, want: http.MethodGet, allow: "GET, HEAD"})
		return
	}
	r.answers.reply(w, healthIntegration, http.StatusOK, healthBody{Status: "healthy"})
}

// serveHTTPError answers, in JSON, what confighttp refuses before the
// receiver sees a request: an auth extension's failure (401).
func (r *alertReceiver) serveHTTPError(w http.ResponseWriter, req *http.Request, _ string, status int) {
	integration := integrationUnknown
	ep, kind, err := r.route(req.URL.Path)
	if err == nil {
		integration = ep.id
	}
	err = &statusError{status: status}
	if status == http.StatusUnauthorized {
		r.answers.countRefusal(integration, reasonAuthenticator)
		err = errNotAuthenticated
	}
	r.answers.fail(w, req, integration, kind, err)
}
