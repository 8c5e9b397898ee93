package incidentexporter

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/exporter/exportertest"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/metadata"
	"github.com/sre-copilot/incident-collector/internal/testutil"
)

var t0 = time.Date(2026, 11, 28, 19, 0, 0, 0, time.UTC)

// Credentials: Bearer or the Basic password, read or write; the checks run
// in the order 401, 405, 403; no token ever reaches the log.
func TestAPIAuthentication(t *testing.T) {
	u := startAPI(t, storesUnderTest[0].cfg(t))
	id := idOf(t, u.fire(t, amAlert("firing", "auth-1", "AuthTest", "critical", t0, "")))
	list := "/api/v1/incidents"
	ack := "/api/v1/incidents/" + id + "/acknowledge"
	jsonBody := []byte(`{"by":"alice"}`)

	for _, auth := range []string{"", "Bearer wrong-token", "Bearer ", "basic:wrong-token", "Basic !!!", "Token " + readToken} {
		a := u.call(t, http.MethodGet, list, auth, nil)
		assert.Equal(t, http.StatusUnauthorized, a.code, "%q: %s", auth, a)
		assert.Equal(t, `Basic realm="incidents"`, a.header.Get("WWW-Authenticate"))
		assert.Equal(t, "application/json", a.header.Get("Content-Type"))
		assert.Contains(t, a.body["detail"], "Missing or invalid API token")
	}
	for _, auth := range []string{"Bearer " + readToken, "bearer " + readToken, "basic:" + readToken, "Bearer " + writeToken, "basic:" + writeToken} {
		assert.Equal(t, http.StatusOK, u.call(t, http.MethodGet, list, auth, nil).code, auth)
	}

	// A read token may not act; the method is checked before the right.
	a := u.call(t, http.MethodPost, ack, "Bearer "+readToken, jsonBody, "Content-Type", "application/json")
	assert.Equal(t, http.StatusForbidden, a.code, a)
	assert.Equal(t, "This token may only read: acknowledging, unacknowledging and resolving incidents, creating and expiring silences need a write token", a.body["detail"])
	a = u.call(t, http.MethodGet, ack, "Bearer "+readToken, nil)
	assert.Equal(t, http.StatusMethodNotAllowed, a.code, a)
	assert.Equal(t, "POST", a.header.Get("Allow"))
	a = u.call(t, http.MethodPost, list, "Bearer "+readToken, nil)
	assert.Equal(t, http.StatusMethodNotAllowed, a.code, a)
	assert.Equal(t, "GET, HEAD", a.header.Get("Allow"))
	assert.Equal(t, http.StatusUnauthorized, u.call(t, http.MethodPost, ack, "", jsonBody, "Content-Type", "application/json").code)
	a = u.call(t, http.MethodPost, ack, "basic:"+writeToken, jsonBody, "Content-Type", "application/json")
	assert.Equal(t, http.StatusOK, a.code, a)

	// Unknown paths need a token too, then are a JSON 404.
	assert.Equal(t, http.StatusUnauthorized, u.call(t, http.MethodGet, "/api/v2/nothing", "", nil).code)
	a = u.get(t, "/api/v2/nothing")
	assert.Equal(t, http.StatusNotFound, a.code)
	assert.Equal(t, "Not found: no route serves GET /api/v2/nothing", a.body["detail"])

	// The web view asks a browser for the same credentials; its stylesheet
	// holds nothing and needs none.
	a = u.call(t, http.MethodGet, "/", "", nil)
	assert.Equal(t, http.StatusUnauthorized, a.code)
	assert.Equal(t, `Basic realm="incidents"`, a.header.Get("WWW-Authenticate"))
	assert.Contains(t, a.header.Get("Content-Type"), "text/html")
	assert.Equal(t, http.StatusOK, u.call(t, http.MethodGet, "/", "basic:"+readToken, nil).code)
	a = u.call(t, http.MethodGet, stylesheetPath, "", nil)
	assert.Equal(t, http.StatusOK, a.code)
	assert.Contains(t, a.header.Get("Content-Type"), "text/css")

	assert.Positive(t, u.requests(t, "/api/v1/incidents", 401))
	assert.Positive(t, u.requests(t, "/api/v1/incidents/{id}/acknowledge", 403))
	assert.Positive(t, u.requests(t, routeUnmatched, 404))

	for _, e := range u.logs.All() {
		line := fmt.Sprint(e.Message, e.ContextMap())
		for _, tok := range []string{readToken, writeToken, "wrong-token"} {
			assert.NotContains(t, line, tok, "a token in the log")
		}
	}
}

// The list's filters, order and pages, and an incident read whole, on
// each engine.
func TestAPIListAndRead(t *testing.T) {
	for _, st := range storesUnderTest {
		t.Run(st.name, func(t *testing.T) {
			u := startAPI(t, st.cfg(t))
			// Six incidents a minute apart: severities rotate, the last two
			// through the payments integration.
			sevs := []string{"critical", "warning", "info", "critical", "warning", "critical"}
			ids := map[string]string{}
			for i, sev := range sevs {
				fp := fmt.Sprintf("list-%d", i)
				alert := amAlert("firing", fp, "ListTest", sev, t0.Add(time.Duration(i)*time.Minute), "")
				if i < 4 {
					ids[fp] = idOf(t, u.fire(t, alert))
					continue
				}
				code, body := post(t, u.webhooks+"/webhooks/prometheus/payments",
					[]byte(`{"version":"4","status":"firing","alerts":[`+alert+`]}`), "X-Webhook-Secret", "payments-secret")
				require.Equal(t, 200, code, body)
				ids[fp] = idOf(t, body)
			}
			u.fire(t, amAlert("resolved", "list-2", "ListTest", "info", t0.Add(2*time.Minute), ""))

			all := incidentsOf(t, u.get(t, "/api/v1/incidents"))
			assert.Equal(t, []string{"list-5", "list-4", "list-3", "list-1", "list-0"}, fingerprints(all), "active by default, newest first")
			first := all[0]
			var keys []string
			for k := range first {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			assert.Equal(t, []string{
				"acknowledged_at", "acknowledged_by", "alert_count", "annotations", "dedup_scope", "description", "detected_at",
				"fingerprint", "firing_alerts", "generator_url", "group_key", "id", "labels", "last_seen_at", "occurrences",
				"project", "reopen_count", "resolution_reason", "resolved_at", "resolved_by", "service_name", "severity",
				"source", "status", "title",
			}, keys, "the analysis payload's incident and the API's fields")
			assert.Equal(t, ids["list-5"], first["id"])
			assert.Equal(t, "payments", first["dedup_scope"])
			assert.Equal(t, "payments", first["project"])
			assert.Equal(t, "critical", first["severity"])
			assert.Equal(t, "open", first["status"])
			assert.Equal(t, "2026-11-28T19:05:00Z", first["detected_at"])
			assert.Nil(t, first["resolved_at"])
			assert.Nil(t, first["acknowledged_by"])
			assert.EqualValues(t, 1, first["firing_alerts"])
			assert.Equal(t, map[string]any{"alertname": "ListTest", "severity": "critical", "service": "svc-list-5"}, first["labels"])

			for query, want := range map[string][]string{
				"status=resolved":                   {"list-2"},
				"status=all":                        {"list-5", "list-4", "list-3", "list-2", "list-1", "list-0"},
				"status=open,resolved":              {"list-5", "list-4", "list-3", "list-2", "list-1", "list-0"},
				"severity=critical":                 {"list-5", "list-3", "list-0"},
				"severity=high,critical":            {"list-5", "list-4", "list-3", "list-1", "list-0"},
				"service=svc-list-1":                {"list-1"},
				"integration=payments":              {"list-5", "list-4"},
				"project=payments":                  {"list-5", "list-4"},
				"fingerprint=list-3":                {"list-3"},
				"fingerprint=list-3&integration=x":  {},
				"since=2026-11-28T19:03:00Z":        {"list-5", "list-4", "list-3"},
				"until=2026-11-28T19:01:00Z":        {"list-0"},
				"since=2026-11-28T21:01:00%2B02:00": {"list-5", "list-4", "list-3", "list-1"},
				"since=2026-11-28T21:04:00+02:00":   {"list-5", "list-4"},
				"status=all&since=2026-11-28T19:02:00Z&until=2026-11-28T19:03:00Z": {"list-2"},
			} {
				got := fingerprints(incidentsOf(t, u.get(t, "/api/v1/incidents?"+query)))
				if len(want) == 0 {
					assert.Empty(t, got, query)
					continue
				}
				assert.Equal(t, want, got, query)
			}

			// Pages of two: each once, in order, the cursor null at the end.
			var seen []string
			path := "/api/v1/incidents?status=all&limit=2"
			for pages := 0; ; pages++ {
				require.Less(t, pages, 4)
				a := u.get(t, path)
				seen = append(seen, fingerprints(incidentsOf(t, a))...)
				next, ok := a.body["next_cursor"].(string)
				if !ok {
					assert.Nil(t, a.body["next_cursor"])
					break
				}
				path = "/api/v1/incidents?status=all&limit=2&cursor=" + url.QueryEscape(next)
			}
			assert.Equal(t, []string{"list-5", "list-4", "list-3", "list-2", "list-1", "list-0"}, seen)

			// One incident, whole.
			a := u.get(t, "/api/v1/incidents/"+ids["list-2"])
			require.Equal(t, 200, a.code, a)
			inc := a.body["incident"].(map[string]any)
			assert.Equal(t, "resolved", inc["status"])
			assert.Equal(t, "alert_resolved", inc["resolution_reason"])
			alerts := a.body["alerts"].([]any)
			require.Len(t, alerts, 1)
			alert := alerts[0].(map[string]any)
			assert.Equal(t, "list-2", alert["fingerprint"])
			assert.Equal(t, "resolved", alert["status"])
			assert.Equal(t, "2026-11-28T19:03:00Z", alert["ends_at"])
			assert.Contains(t, alert, "annotations")
			assert.Contains(t, alert, "first_seen_at")
			var events []string
			for _, e := range a.body["timeline"].([]any) {
				ev := e.(map[string]any)
				events = append(events, ev["event"].(string))
				assert.Contains(t, ev, "at")
			}
			assert.Equal(t, []string{"created", "alert_resolved", "resolved"}, events)
			// Upper case is the same id; what is not a UUID names nothing.
			assert.Equal(t, 200, u.get(t, "/api/v1/incidents/"+strings.ToUpper(ids["list-2"])).code)
			for _, id := range []string{"01930000-0000-7000-8000-00000000dead", "not-an-id", "' OR 1=1 --"} {
				a := u.get(t, "/api/v1/incidents/"+url.PathEscape(id))
				assert.Equal(t, http.StatusNotFound, a.code, id)
				assert.Equal(t, "Incident not found: "+id, a.body["detail"])
			}
			assert.Positive(t, u.requests(t, "/api/v1/incidents", 200))
			assert.Positive(t, u.requests(t, "/api/v1/incidents/{id}", 404))
		})
	}
}

// Every wrong parameter is a 400 that names it.
func TestAPIListRefusals(t *testing.T) {
	u := startAPI(t, storesUnderTest[0].cfg(t))
	for query, detail := range map[string]string{
		"status=firing":              `status "firing" is unknown: use active, open, acknowledged, resolved or all`,
		"status=open,bogus":          `status "bogus" is unknown`,
		"severity=urgent":            `severity "urgent" is unknown: use critical, high, medium or low`,
		"severity=critical,":         `severity "" is unknown`,
		"limit=0":                    `limit must be a whole number from 1 to 500, got "0"`,
		"limit=501":                  `limit must be a whole number from 1 to 500, got "501"`,
		"limit=ten":                  `limit must be a whole number from 1 to 500, got "ten"`,
		"since=yesterday":            `since "yesterday" is not an RFC 3339 time`,
		"until=2026-13-01T00:00:00Z": `until "2026-13-01T00:00:00Z" is not an RFC 3339 time`,
		"since=2026-11-28T19:00:00Z&until=2026-11-28T18:00:00Z": "since (2026-11-28T19:00:00Z) must be before until (2026-11-28T18:00:00Z)",
		"cursor=bm90LWEtY3Vyc29y":                               "cursor is not one this API returned",
		"statuss=open":                                          `unknown query parameter "statuss": use status, severity, service, integration, project, fingerprint, since, until, limit, cursor`,
		"status=open&status=resolved":                           "status is given 2 times",
		"service=" + strings.Repeat("x", 1025):                  "service is longer than 1024 bytes",
	} {
		a := u.get(t, "/api/v1/incidents?"+query)
		assert.Equal(t, http.StatusBadRequest, a.code, "%s: %s", query, a)
		assert.Contains(t, a.body["detail"], detail, query)
	}
}

// Acknowledge, unacknowledge and resolve: the states, the repeats, the 409,
// the alert rules after a manual resolve, and the timeline, on each engine.
func TestAPIActions(t *testing.T) {
	for _, st := range storesUnderTest {
		t.Run(st.name, func(t *testing.T) {
			u := startAPI(t, st.cfg(t))
			firing := amAlert("firing", "acted-1", "ActTest", "critical", t0, "")
			id := idOf(t, u.fire(t, firing))

			a := u.act(t, id, "acknowledge", `{"by":"alice","note":"looking"}`)
			require.Equal(t, 200, a.code, a)
			assert.Equal(t, "acknowledged", a.body["outcome"])
			inc := a.body["incident"].(map[string]any)
			assert.Equal(t, "acknowledged", inc["status"])
			assert.Equal(t, "alice", inc["acknowledged_by"])
			ackedAt := inc["acknowledged_at"]
			require.NotNil(t, ackedAt)
			a = u.act(t, id, "acknowledge", `{"by":"bob"}`)
			require.Equal(t, 200, a.code, a)
			assert.Equal(t, "unchanged", a.body["outcome"])
			inc = a.body["incident"].(map[string]any)
			assert.Equal(t, "alice", inc["acknowledged_by"], "the first acknowledgement stays")
			assert.Equal(t, ackedAt, inc["acknowledged_at"])
			assert.Equal(t, []string{"acted-1"}, fingerprints(incidentsOf(t, u.get(t, "/api/v1/incidents?status=acknowledged"))))
			assert.Empty(t, incidentsOf(t, u.get(t, "/api/v1/incidents?status=open")))
			assert.Equal(t, "duplicate", u.fire(t, firing)["status"], "acknowledged is open for the rules")

			a = u.act(t, id, "unacknowledge", `{"by":"alice"}`)
			require.Equal(t, 200, a.code, a)
			assert.Equal(t, "unacknowledged", a.body["outcome"])
			assert.Equal(t, "open", a.body["incident"].(map[string]any)["status"])
			assert.Nil(t, a.body["incident"].(map[string]any)["acknowledged_by"])
			a = u.act(t, id, "unacknowledge", `{"by":"alice"}`)
			assert.Equal(t, "unchanged", a.body["outcome"], a)

			a = u.act(t, id, "resolve", `{"by":"carol","note":"rolled back"}`)
			require.Equal(t, 200, a.code, a)
			assert.Equal(t, "resolved", a.body["outcome"])
			inc = a.body["incident"].(map[string]any)
			assert.Equal(t, "resolved", inc["status"])
			assert.Equal(t, "manual", inc["resolution_reason"])
			assert.Equal(t, "carol", inc["resolved_by"])
			assert.NotNil(t, inc["resolved_at"])
			assert.EqualValues(t, 0, inc["firing_alerts"])
			a = u.act(t, id, "resolve", `{"by":"dave"}`)
			require.Equal(t, 200, a.code, a)
			assert.Equal(t, "unchanged", a.body["outcome"])
			assert.Equal(t, "carol", a.body["incident"].(map[string]any)["resolved_by"])
			for _, action := range []string{"acknowledge", "unacknowledge"} {
				a = u.act(t, id, action, `{"by":"erin"}`)
				assert.Equal(t, http.StatusConflict, a.code, a)
				assert.JSONEq(t, `{"detail":"Incident is resolved"}`, a.raw)
			}
			a = u.get(t, "/api/v1/incidents/"+id)
			alert := a.body["alerts"].([]any)[0].(map[string]any)
			assert.Equal(t, "resolved", alert["status"], "its alert resolves with it")
			assert.Equal(t, inc["resolved_at"], alert["ends_at"])

			// The same instance again (Alertmanager's repeat) is a duplicate
			// and does not reopen; a new instance opens a new incident.
			assert.Equal(t, "duplicate", u.fire(t, firing)["status"])
			assert.Equal(t, "resolved", u.get(t, "/api/v1/incidents/"+id).body["incident"].(map[string]any)["status"])
			next := idOf(t, u.fire(t, amAlert("firing", "acted-1", "ActTest", "critical", t0.Add(time.Hour), "")))
			assert.NotEqual(t, id, next)

			var timeline []string
			for _, e := range u.get(t, "/api/v1/incidents/"+id).body["timeline"].([]any) {
				ev := e.(map[string]any)
				line := []string{ev["event"].(string)}
				for _, k := range []string{"by", "note", "fingerprint"} {
					if v, ok := ev[k].(string); ok {
						line = append(line, v)
					}
				}
				timeline = append(timeline, strings.Join(line, " "))
			}
			assert.Equal(t, []string{
				"created acted-1", "acknowledged alice looking", "unacknowledged alice",
				"alert_resolved acted-1", "resolved carol manual: rolled back",
			}, timeline)
			assert.Equal(t, 404, u.act(t, "01930000-0000-7000-8000-00000000dead", "resolve", `{"by":"x"}`).code)
			assert.Positive(t, u.requests(t, "/api/v1/incidents/{id}/resolve", 200))
			assert.Positive(t, u.requests(t, "/api/v1/incidents/{id}/acknowledge", 409))
		})
	}
}

// An action's body: JSON declared as such, an object, by and note within
// their bounds.
func TestAPIActionRefusals(t *testing.T) {
	u := startAPI(t, storesUnderTest[0].cfg(t))
	id := idOf(t, u.fire(t, amAlert("firing", "refused-1", "RefuseTest", "critical", t0, "")))
	path := "/api/v1/incidents/" + id + "/acknowledge"
	for _, tc := range []struct {
		name, contentType, body string
		code                    int
		detail                  string
	}{
		{"no content type", "", `{"by":"alice"}`, 415, "Content-Type: application/json"},
		{"a form", "application/x-www-form-urlencoded", `by=alice`, 415, "Content-Type: application/json"},
		{"text/plain, as a cross-site form sends it", "text/plain", `{"by":"alice"}`, 415, "Content-Type: application/json"},
		{"empty", "application/json", ``, 400, "the body must be a JSON object"},
		{"an array", "application/json", `[{"by":"alice"}]`, 400, "the body must be a JSON object"},
		{"broken", "application/json", `{"by":"alice"`, 400, "invalid JSON body"},
		{"two objects", "application/json", `{"by":"alice"}{"by":"bob"}`, 400, "data after the object"},
		{"unknown field", "application/json", `{"by":"alice","nte":"x"}`, 400, `unknown field "nte"`},
		{"no by", "application/json", `{"note":"x"}`, 400, "by is required"},
		{"null by", "application/json", `{"by":null}`, 400, "by is required"},
		{"blank by", "application/json", `{"by":"  "}`, 400, "by must not be blank"},
		{"by too long", "application/json", `{"by":"` + strings.Repeat("é", 201) + `"}`, 400, "by is 201 characters long, more than 200"},
		{"by with a newline", "application/json", `{"by":"ali\nce"}`, 400, "by must not contain control characters"},
		{"note too long", "application/json", `{"by":"alice","note":"` + strings.Repeat("x", 4097) + `"}`, 400, "note is 4097 bytes long, more than 4096"},
		{"note with NUL", "application/json", `{"by":"alice","note":"a\u0000b"}`, 400, "note must not contain NUL"},
		{"over the body limit", "application/json", `{"by":"alice","note":"` + strings.Repeat("x", maxAPIBodySize) + `"}`, 413, "exceeds the limit of 65536 bytes"},
	} {
		a := u.call(t, http.MethodPost, path, "Bearer "+writeToken, []byte(tc.body), "Content-Type", tc.contentType)
		assert.Equal(t, tc.code, a.code, "%s: %s", tc.name, a)
		assert.Contains(t, a.body["detail"], tc.detail, tc.name)
	}
	// The limits themselves pass: 200 characters, 4 KiB, charset given.
	a := u.call(t, http.MethodPost, path, "Bearer "+writeToken,
		[]byte(`{"by":"`+strings.Repeat("é", 200)+`","note":"`+strings.Repeat("x", 4096)+`"}`), "Content-Type", "application/json; charset=utf-8")
	assert.Equal(t, 200, a.code, a)
	assert.Equal(t, 0, count(t, u.db, "acknowledged_at IS NULL"), "acknowledged once, by the valid request")
}

func TestAPIHeartbeats(t *testing.T) {
	u := startAPI(t, storesUnderTest[0].cfg(t), func(c *Config) { c.Heartbeat = HeartbeatConfig{Alertname: "Watchdog", Timeout: time.Hour} })
	assert.JSONEq(t, `{"heartbeats":[]}`, u.get(t, "/api/v1/heartbeats").raw)
	u.fire(t, amAlert("firing", "watchdog-1", "Watchdog", "none", time.Now().Add(-time.Minute), ""))
	a := u.get(t, "/api/v1/heartbeats")
	require.Equal(t, 200, a.code, a)
	beats := a.body["heartbeats"].([]any)
	require.Len(t, beats, 1)
	b := beats[0].(map[string]any)
	assert.Equal(t, "alertmanager", b["integration"])
	assert.Equal(t, "Watchdog", b["alertname"])
	assert.Equal(t, "ok", b["status"])
	seen, err := time.Parse(time.RFC3339Nano, b["last_seen_at"].(string))
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), seen, time.Minute)
}

// PostgreSQL out of reach: every read and action is a 503 with Retry-After,
// in JSON for the API and in HTML for the web view; back, it answers again.
func TestAPIStoreOutageIs503(t *testing.T) {
	dsn := testutil.PostgresSchema(t)
	proxy := testutil.NewProxy(t, "127.0.0.1:5432")
	proxied := strings.Replace(strings.Replace(dsn, "127.0.0.1:5432", proxy.Addr(), 1), "localhost:5432", proxy.Addr(), 1)
	u := startAPI(t, StoreConfig{Driver: "postgres", DSN: configOpaque(proxied)}, func(c *Config) {
		c.TimeoutConfig.Timeout = 2 * time.Second
		c.Heartbeat = HeartbeatConfig{Alertname: "Watchdog", Timeout: time.Hour}
	})
	id := idOf(t, u.fire(t, amAlert("firing", "outage-1", "OutageTest", "critical", t0, "")))

	proxy.Cut()
	for _, path := range []string{"/api/v1/incidents", "/api/v1/incidents/" + id, "/api/v1/heartbeats", "/", "/incidents/" + id} {
		a := u.call(t, http.MethodGet, path, "basic:"+readToken, nil)
		assert.Equal(t, http.StatusServiceUnavailable, a.code, "%s: %s", path, a)
		assert.Equal(t, "5", a.header.Get("Retry-After"), path)
		assert.Contains(t, a.raw, "The incident store could not answer now, retry later", path)
	}
	a := u.act(t, id, "acknowledge", `{"by":"alice"}`)
	assert.Equal(t, http.StatusServiceUnavailable, a.code, a)
	assert.JSONEq(t, `{"detail":"The incident store could not answer now, retry later"}`, a.raw)

	proxy.Restore()
	require.Eventually(t, func() bool { return u.act(t, id, "acknowledge", `{"by":"alice"}`).code == 200 }, 15*time.Second, 100*time.Millisecond)
	assert.Equal(t, "acknowledged", u.get(t, "/api/v1/incidents/"+id).body["incident"].(map[string]any)["status"])
}

// Shutdown frees the port at once: a restart on the same port serves. A
// port already taken fails the start, saying where.
func TestAPIRestartOnTheSamePort(t *testing.T) {
	sc := storesUnderTest[0].cfg(t)
	addr := freeAddr(t)
	cfg := createDefaultConfig()
	cfg.Store = sc
	api := cfg.API.GetOrInsertDefault()
	api.ServerConfig.NetAddr.Endpoint = addr
	api.ReadTokens = []configopaque.String{readToken}
	for range 2 {
		_, _, stop := startStoppable(t, cfg)
		resp, err := http.Get("http://" + addr + "/api/v1/incidents")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		stop()
	}

	_, _, stop := startStoppable(t, cfg)
	defer stop()
	other := createDefaultConfig()
	other.Store = storesUnderTest[0].cfg(t)
	other.API = cfg.API
	exp, err := NewFactory().CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), other)
	require.NoError(t, err)
	err = exp.Start(context.Background(), componenttest.NewNopHost())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "starting the incident API: listening on "+addr)
	require.NoError(t, exp.Shutdown(context.Background()))
}
