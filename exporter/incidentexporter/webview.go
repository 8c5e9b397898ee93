package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"net/http"
	"net/url"

	"go.uber.org/zap"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
)

// The web view (README, "Incident API"): pages rendered on the server with
// html/template, which escapes every value for where it lands (text,
// attribute, URL), from templates embedded in the binary. No JavaScript:
// the pages refresh themselves with a meta refresh.

//go:embed web/*.html web/style.css
var webFiles embed.FS

const (
	stylesheetPath = "/assets/style.css"
	// refreshSeconds: how often a page reloads itself.
	refreshSeconds = 30
	// webListLimit: incidents per page of the list.
	webListLimit = 100
	// contentSecurityPolicy: the pages load their stylesheet and nothing
	// else, run no script, and cannot be framed.
	contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

// pages are the parsed templates and the stylesheet.
type pages struct {
	list, incident, failure *template.Template
	css                     []byte
	// cssHref carries the stylesheet's hash, so that a browser caches it
	// until it changes.
	cssHref string
}

func newPages() (*pages, error) {
	p := &pages{}
	for _, t := range []struct {
		dst  **template.Template
		file string
	}{{&p.list, "web/list.html"}, {&p.incident, "web/incident.html"}, {&p.failure, "web/failure.html"}} {
		tmpl, err := template.ParseFS(webFiles, "web/layout.html", t.file)
		if err != nil {
			return nil, err
		}
		*t.dst = tmpl
	}
	css, err := webFiles.ReadFile("web/style.css")
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(css)
	p.css, p.cssHref = css, stylesheetPath+"?v="+hex.EncodeToString(sum[:6])
	return p, nil
}

// page is what every page's layout shows.
type page struct {
	Title      string
	Stylesheet string
	Refresh    int // seconds; 0: no refresh
	Generated  string
	Body       any
}

// render writes a page, or a plain 500 when the template fails (it cannot
// with the embedded templates; the buffer keeps a half page from going out).
func (a *apiServer) render(w http.ResponseWriter, status int, tmpl *template.Template, title string, refresh int, body any) {
	var buf bytes.Buffer
	err := tmpl.Execute(&buf, page{Title: title, Stylesheet: a.pages.cssHref, Refresh: refresh, Generated: formatTime(a.now()), Body: body})
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	if err != nil {
		a.logger.Warn("Rendering a web page failed", zap.Error(err))
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("The page could not be rendered.\n"))
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// failHTML is an error answered to a browser.
func (a *apiServer) failHTML(w http.ResponseWriter, status int, detail string) {
	a.render(w, status, a.pages.failure, http.StatusText(status), 0, struct {
		Code   int
		Status string
		Detail string
	}{status, http.StatusText(status), detail})
}

// GET /
func (a *apiServer) webList(w http.ResponseWriter, req *http.Request) {
	lq, err := parseListQuery(req.URL.RawQuery, webListLimit)
	if err != nil {
		a.failHTML(w, http.StatusBadRequest, err.Error())
		return
	}
	page, ok := a.listPage(w, req, &lq, a.failHTML)
	if !ok {
		return
	}
	ctx, cancel := a.storeContext(req)
	defer cancel()
	counts, err := a.store.ActiveCounts(ctx)
	var silences []rules.Silence
	var held map[string]int64
	if err == nil {
		silences, err = a.store.Silences(ctx, rules.SilenceActive)
	}
	if err == nil {
		held, err = a.store.HeldCounts(ctx)
	}
	if err != nil {
		a.logger.Debug("Reading the list's summary failed", zap.Error(err))
		storeFailure(w, err, a.failHTML)
		return
	}
	now := a.now()
	view := listViewOf(&lq, page, counts, now)
	view.Silences, view.Silenced = silenceRowsOf(silences, held, now)
	a.render(w, http.StatusOK, a.pages.list, "Incidents", refreshSeconds, view)
}

// GET /incidents/{id}
func (a *apiServer) webIncident(w http.ResponseWriter, req *http.Request) {
	read, ok := a.readIncident(w, req, a.failHTML)
	if !ok {
		return
	}
	a.render(w, http.StatusOK, a.pages.incident, read.Incident.Title, refreshSeconds, incidentViewOf(&read, a.now()))
}

// GET /assets/style.css: public, it holds nothing but colors.
func (a *apiServer) stylesheet(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=86400")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(a.pages.css)
}

// listHref is the list's URL with these parameters.
func listHref(params url.Values) string {
	if len(params) == 0 {
		return "/"
	}
	return "/?" + params.Encode()
}

// incidentHref is an incident's page.
func incidentHref(id string) string { return "/incidents/" + url.PathEscape(id) }

// shownStatuses are the status filter's links, in order.
var shownStatuses = []string{statusDefault, rules.StatusOpen, rules.StatusAcknowledged, rules.StatusResolved, "all"}
