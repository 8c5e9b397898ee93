package incidentexporter

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sre-copilot/incident-collector/internal/testutil"
)

// hostile values in every field a page shows.
const (
	hostileTitle = `<script>alert("title")</script>`
	hostileExtra = `"annotations":{"description":"<img src=x onerror=alert(1)>","runbook_url":"https://runbooks.example/disk?a=1&b=2",` +
		`"dashboard":"javascript:alert(3)","summary":"\"><script>alert(4)</script>"},` +
		`"generatorURL":"javascript:alert(2)"`
)

// parsePage parses a page as a browser would.
func parsePage(t *testing.T, page string) (text string, live, links []string) {
	t.Helper()
	p, err := testutil.ParsePage(page)
	require.NoError(t, err)
	return p.Text, p.Live, p.Links
}

// Every value is escaped: an alert made of markup shows as text, on the list
// and on its page, and only http(s) addresses become links.
func TestWebViewEscapesEveryValue(t *testing.T) {
	u := startAPI(t, storesUnderTest[0].cfg(t))
	alert := strings.Replace(amAlert("firing", "xss-1", "placeholder", "critical", t0, hostileExtra),
		`"alertname":"placeholder"`, `"alertname":"`+strings.ReplaceAll(hostileTitle, `"`, `\"`)+`","team":"<b>ops</b>"`, 1)
	id := idOf(t, u.fire(t, alert))
	a := u.act(t, id, "acknowledge", `{"by":"<i>mallory</i>","note":"<script>alert(5)</script>"}`)
	require.Equal(t, 200, a.code, a)

	for _, path := range []string{"/", "/incidents/" + id} {
		a := u.call(t, http.MethodGet, path, "basic:"+readToken, nil)
		require.Equal(t, 200, a.code, a)
		assert.Equal(t, "text/html; charset=utf-8", a.header.Get("Content-Type"))
		assert.Contains(t, a.header.Get("Content-Security-Policy"), "default-src 'none'")
		assert.NotContains(t, a.raw, "<script>", path)
		assert.NotContains(t, a.raw, "<i>mallory", path)
		assert.Contains(t, a.raw, "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt;", path)
		text, dangers, links := parsePage(t, a.raw)
		assert.Empty(t, dangers, "%s: markup from the data became live", path)
		assert.Contains(t, text, hostileTitle, "%s: the title shows as text", path)
		for _, l := range links {
			assert.NotContains(t, l, "javascript", path)
		}
	}
	page := u.call(t, http.MethodGet, "/incidents/"+id, "basic:"+readToken, nil).raw
	text, _, links := parsePage(t, page)
	assert.Contains(t, links, "https://runbooks.example/disk?a=1&b=2", "an http(s) annotation is a link")
	assert.Contains(t, text, "javascript:alert(3)", "other annotations are text")
	assert.Contains(t, text, "<img src=x onerror=alert(1)>")
	assert.Contains(t, text, "<i>mallory</i>", "who acknowledged, as text")
	assert.Contains(t, text, "<script>alert(5)</script>", "the note, as text")
	assert.Contains(t, text, "team")
	assert.Contains(t, text, "<b>ops</b>")
	assert.NotContains(t, page, "Source of the alert", "a javascript: generator URL is no link")
}

// The list shows the API's active incidents with badges, counts and the
// status filter; an incident's page its alerts, labels, links and
// timeline; both refresh themselves.
func TestWebViewShowsWhatTheAPIReturns(t *testing.T) {
	u := startAPI(t, storesUnderTest[0].cfg(t))
	now := time.Now().UTC().Truncate(time.Second)
	for i, sev := range []string{"critical", "warning", "warning", "info"} {
		u.fire(t, amAlert("firing", "web-"+string(rune('a'+i)), "WebTest"+string(rune('A'+i)), sev, now.Add(-time.Duration(4-i)*time.Hour),
			`"generatorURL":"http://prometheus.example/graph?g0.expr=up"`))
	}
	u.fire(t, amAlert("resolved", "web-d", "WebTestD", "info", now.Add(-time.Hour), ""))
	api := incidentsOf(t, u.get(t, "/api/v1/incidents"))
	require.Len(t, api, 3)
	acked := api[1]["id"].(string)
	require.Equal(t, 200, u.act(t, acked, "acknowledge", `{"by":"alice"}`).code)

	a := u.call(t, http.MethodGet, "/", "basic:"+readToken, nil)
	require.Equal(t, 200, a.code, a)
	assert.Contains(t, a.raw, `<meta http-equiv="refresh" content="30">`)
	text, _, links := parsePage(t, a.raw)
	// The rows are the API's, in its order.
	var last int
	for _, inc := range api {
		i := strings.Index(text, inc["title"].(string))
		require.Positive(t, i, "%s is on the list", inc["title"])
		assert.Greater(t, i, last, "in the API's order")
		last = i
		assert.Contains(t, links, "/incidents/"+inc["id"].(string))
	}
	assert.NotContains(t, text, "WebTestD", "resolved: not active")
	assert.Contains(t, text, "3 active")
	assert.Contains(t, text, "critical 1 open")
	assert.Contains(t, text, "high 1 open, 1 acknowledged")
	assert.Contains(t, text, "alice", "who acknowledged")
	assert.Contains(t, text, "2h 0m", "the age")
	for _, href := range []string{"/", "/?status=open", "/?status=acknowledged", "/?status=resolved", "/?status=all"} {
		assert.Contains(t, links, href, "status filter")
	}
	a = u.call(t, http.MethodGet, "/?status=resolved", "basic:"+readToken, nil)
	text, _, _ = parsePage(t, a.raw)
	assert.Contains(t, text, "WebTestD")
	assert.NotContains(t, text, "WebTestA")
	a = u.call(t, http.MethodGet, "/?status=firing", "basic:"+readToken, nil)
	assert.Equal(t, http.StatusBadRequest, a.code)
	assert.Contains(t, a.raw, `status &#34;firing&#34; is unknown`)

	detail := u.get(t, "/api/v1/incidents/"+acked)
	a = u.call(t, http.MethodGet, "/incidents/"+acked, "basic:"+readToken, nil)
	require.Equal(t, 200, a.code, a)
	assert.Contains(t, a.raw, `<meta http-equiv="refresh" content="30">`)
	text, _, links = parsePage(t, a.raw)
	inc := detail.body["incident"].(map[string]any)
	for _, s := range []string{
		inc["title"].(string), inc["fingerprint"].(string), inc["service_name"].(string), "acknowledged", "alice",
		"alertname", "severity", "warning", "Timeline", "created",
	} {
		assert.Contains(t, text, s)
	}
	assert.Contains(t, links, "http://prometheus.example/graph?g0.expr=up", "the generator URL")
	a = u.call(t, http.MethodGet, "/incidents/01930000-0000-7000-8000-00000000dead", "basic:"+readToken, nil)
	assert.Equal(t, http.StatusNotFound, a.code)
	assert.Contains(t, a.header.Get("Content-Type"), "text/html")
	assert.Positive(t, u.requests(t, "/{$}", 200))
	assert.Positive(t, u.requests(t, "/incidents/{id}", 404))
}
