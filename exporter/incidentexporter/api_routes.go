package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"net/http"
	"unicode/utf8"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
)

// route is one path of the API or the web view. Its pattern is also the
// route label of the requests metric: a fixed set, whatever the paths.
type route struct {
	pattern string
	method  string // GET (HEAD too) or POST
	write   bool   // needs a write token
	public  bool   // no token: the stylesheet
	web     bool   // answers people in HTML, errors included
	handle  http.HandlerFunc
}

// routeCatchAll answers every path no other route serves with a 404.
const routeCatchAll = "/"

func (a *apiServer) routes() []*route {
	action := func(kind rules.Kind) http.HandlerFunc {
		return func(w http.ResponseWriter, req *http.Request) { a.act(w, req, kind) }
	}
	return []*route{
		{pattern: "/api/v1/incidents", method: http.MethodGet, handle: a.listIncidents},
		{pattern: "/api/v1/incidents/{id}", method: http.MethodGet, handle: a.getIncident},
		{pattern: "/api/v1/incidents/{id}/acknowledge", method: http.MethodPost, write: true, handle: action(rules.KindAcknowledge)},
		{pattern: "/api/v1/incidents/{id}/unacknowledge", method: http.MethodPost, write: true, handle: action(rules.KindUnacknowledge)},
		{pattern: "/api/v1/incidents/{id}/resolve", method: http.MethodPost, write: true, handle: action(rules.KindResolve)},
		{pattern: "/api/v1/heartbeats", method: http.MethodGet, handle: a.listHeartbeats},
		{pattern: "/{$}", method: http.MethodGet, web: true, handle: a.webList},
		{pattern: "/incidents/{id}", method: http.MethodGet, web: true, handle: a.webIncident},
		{pattern: stylesheetPath, method: http.MethodGet, public: true, handle: a.stylesheet},
		{pattern: routeCatchAll, method: http.MethodGet, handle: func(w http.ResponseWriter, req *http.Request) {
			failJSON(w, http.StatusNotFound, "Not found: no route serves "+req.Method+" "+truncate(req.URL.Path, 200))
		}},
	}
}

// serve checks, in this order, the credentials (401), the method (405) and
// the token's rights (403), then runs the route.
func (a *apiServer) serve(rt *route) http.Handler {
	fail := failJSON
	if rt.web {
		fail = a.failHTML
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		granted := accessNone
		if !rt.public {
			if granted = a.tokens.access(req); granted == accessNone {
				w.Header().Set("WWW-Authenticate", authRealm)
				fail(w, http.StatusUnauthorized, "Missing or invalid API token: send it as a Bearer token or as the password of HTTP Basic auth")
				return
			}
		}
		if req.Method != rt.method && (rt.method != http.MethodGet || req.Method != http.MethodHead) {
			w.Header().Set("Allow", allowHeader(rt.method))
			fail(w, http.StatusMethodNotAllowed, "Method "+req.Method+" is not allowed here: use "+allowHeader(rt.method))
			return
		}
		if rt.write && granted != accessWrite {
			fail(w, http.StatusForbidden, "This token may only read: acknowledge, unacknowledge and resolve need a write token")
			return
		}
		rt.handle(w, req)
	})
}

// truncate cuts s to at most n bytes, at a character's start, for an
// error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
