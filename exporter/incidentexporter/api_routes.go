package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
)

// route is one path of the API or the web view. Its pattern is also the
// route label of the requests metric: a fixed set, whatever the paths.
type route struct {
	pattern string
	public  bool // no token: the stylesheet
	web     bool // answers people in HTML, errors included
	methods []method
}

// method is what a route does for one HTTP method.
type method struct {
	name   string // GET (HEAD too), POST, DELETE
	write  bool   // needs a write token
	handle http.HandlerFunc
}

func onGet(handle http.HandlerFunc) method { return method{name: http.MethodGet, handle: handle} }
func onPost(handle http.HandlerFunc) method {
	return method{name: http.MethodPost, write: true, handle: handle}
}

// routeCatchAll answers every path no other route serves with a 404.
const routeCatchAll = "/"

func (a *apiServer) routes() []*route {
	action := func(kind rules.Kind) http.HandlerFunc {
		return func(w http.ResponseWriter, req *http.Request) { a.act(w, req, kind) }
	}
	return []*route{
		{pattern: "/api/v1/incidents", methods: []method{onGet(a.listIncidents)}},
		{pattern: "/api/v1/incidents/{id}", methods: []method{onGet(a.getIncident)}},
		{pattern: "/api/v1/incidents/{id}/acknowledge", methods: []method{onPost(action(rules.KindAcknowledge))}},
		{pattern: "/api/v1/incidents/{id}/unacknowledge", methods: []method{onPost(action(rules.KindUnacknowledge))}},
		{pattern: "/api/v1/incidents/{id}/resolve", methods: []method{onPost(action(rules.KindResolve))}},
		{pattern: "/api/v1/heartbeats", methods: []method{onGet(a.listHeartbeats)}},
		{pattern: "/api/v1/silences", methods: []method{onGet(a.listSilences), onPost(a.createSilence)}},
		{pattern: "/api/v1/silences/{id}", methods: []method{
			onGet(a.getSilence), {name: http.MethodDelete, write: true, handle: a.expireSilence},
		}},
		{pattern: "/{$}", web: true, methods: []method{onGet(a.webList)}},
		{pattern: "/incidents/{id}", web: true, methods: []method{onGet(a.webIncident)}},
		{pattern: stylesheetPath, public: true, methods: []method{onGet(a.stylesheet)}},
		{pattern: routeCatchAll, methods: []method{onGet(func(w http.ResponseWriter, req *http.Request) {
			failJSON(w, http.StatusNotFound, "Not found: no route serves "+req.Method+" "+truncate(req.URL.Path, 200))
		})}},
	}
}

// serve checks, in this order, the credentials (401), the method (405) and
// the token's rights (403), then runs the route.
func (a *apiServer) serve(rt *route) http.Handler {
	fail := failJSON
	if rt.web {
		fail = a.failHTML
	}
	allowed := make([]string, 0, len(rt.methods)+1)
	for _, m := range rt.methods {
		allowed = append(allowed, m.name)
		if m.name == http.MethodGet {
			allowed = append(allowed, http.MethodHead)
		}
	}
	allow := strings.Join(allowed, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		granted := accessNone
		if !rt.public {
			if granted = a.tokens.access(req); granted == accessNone {
				w.Header().Set("WWW-Authenticate", authRealm)
				fail(w, http.StatusUnauthorized, "Missing or invalid API token: send it as a Bearer token or as the password of HTTP Basic auth")
				return
			}
		}
		m := rt.method(req.Method)
		if m == nil {
			w.Header().Set("Allow", allow)
			fail(w, http.StatusMethodNotAllowed, "Method "+truncate(req.Method, 16)+" is not allowed here: use "+allow)
			return
		}
		if m.write && granted != accessWrite {
			fail(w, http.StatusForbidden, "This token may only read: acknowledging, unacknowledging and resolving incidents, creating and expiring silences need a write token")
			return
		}
		m.handle(w, req)
	})
}

// method is what the route does for an HTTP method (HEAD as GET), or nil.
func (rt *route) method(name string) *method {
	if name == http.MethodHead {
		name = http.MethodGet
	}
	for i := range rt.methods {
		if rt.methods[i].name == name {
			return &rt.methods[i]
		}
	}
	return nil
}

// truncate cuts s to at most n bytes, at a character's start, and marks
// the cut with an ellipsis (3 bytes more): for an error message, a
// notification's bounded text.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
