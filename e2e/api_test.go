package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The incident API (README, "Incident API") against the built collector, on
// each store: every endpoint, filter and error code, the actions and what
// the alert rules do after them, pages under concurrent inserts.

var apiT0 = time.Date(2026, 11, 28, 19, 0, 0, 0, time.UTC)

func TestIncidentAPIEndpoints(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			c := startAPICollector(t, s.open(t), "    heartbeat: {alertname: Watchdog, timeout: 1h}")
			at := func(m int) time.Time { return apiT0.Add(time.Duration(m) * time.Minute) }
			ids := map[string]string{}
			ids["crit"] = created(t, c.fire(t, alertJSON("firing", "api-crit", "DiskFull", "critical", "checkout", at(0))))
			ids["high"] = created(t, c.fire(t, alertJSON("firing", "api-high", "Latency", "warning", "payments-api", at(1))))
			ids["med"] = created(t, c.fire(t, alertJSON("firing", "api-med", "CacheMiss", "info", "checkout", at(2))))
			a := c.post(t, "/webhooks/prometheus/"+promID, notification(alertJSON("firing", "api-proj", "QueueStuck", "critical", "ledger", at(3))),
				"X-Webhook-Secret", promSecret)
			require.Equal(t, 200, a.Code, a.Raw)
			ids["proj"] = created(t, a.Body)
			c.fire(t, alertJSON("resolved", "api-med", "CacheMiss", "info", "checkout", at(2)))
			c.fire(t, alertJSON("firing", "watchdog", "Watchdog", "none", "", time.Now().Add(-time.Minute)))

			// The list: active by default, newest detected first; the
			// incident object of the README.
			active := c.list(t, "")
			assert.Equal(t, []string{"api-proj", "api-high", "api-crit"}, field(active, "fingerprint"))
			proj := active[0]
			assert.Equal(t, ids["proj"], proj["id"])
			for key, want := range map[string]any{
				"title": "QueueStuck", "severity": "critical", "status": "open", "service_name": "ledger", "project": "payments",
				"dedup_scope": promID, "source": "alertmanager", "detected_at": "2026-11-28T19:03:00Z", "resolved_at": nil,
				"description": "QueueStuck is firing", "fingerprint": "api-proj", "group_key": "api-proj", "alert_count": 1.0,
				"firing_alerts": 1.0, "occurrences": 1.0, "reopen_count": 0.0, "resolution_reason": nil, "resolved_by": nil,
				"acknowledged_at": nil, "acknowledged_by": nil, "generator_url": "http://prometheus.example/graph?g0.expr=up",
			} {
				assert.Equal(t, want, proj[key], key)
			}
			assert.Equal(t, map[string]any{"alertname": "QueueStuck", "severity": "critical", "service": "ledger"}, proj["labels"])
			assert.Contains(t, proj, "last_seen_at")
			assert.Len(t, proj, 25, "the analysis payload's 17 fields and the API's 8")

			// Every filter.
			for query, want := range map[string][]string{
				"status=active":                              {"api-proj", "api-high", "api-crit"},
				"status=open":                                {"api-proj", "api-high", "api-crit"},
				"status=acknowledged":                        nil,
				"status=resolved":                            {"api-med"},
				"status=all":                                 {"api-proj", "api-med", "api-high", "api-crit"},
				"severity=critical":                          {"api-proj", "api-crit"},
				"severity=high,medium&status=all":            {"api-med", "api-high"},
				"service=checkout&status=all":                {"api-med", "api-crit"},
				"integration=" + promID:                      {"api-proj"},
				"integration=alertmanager&status=all":        {"api-med", "api-high", "api-crit"},
				"project=payments":                           {"api-proj"},
				"fingerprint=api-high":                       {"api-high"},
				"fingerprint=api-high&integration=" + promID: nil,
				"since=2026-11-28T19:01:00Z":                 {"api-proj", "api-high"},
				"until=2026-11-28T19:01:00Z":                 {"api-crit"},
				"since=2026-11-28T20:01:00%2B01:00&until=2026-11-28T19:03:00Z&status=all": {"api-med", "api-high"},
			} {
				assert.Equal(t, want, nilIfEmpty(field(c.list(t, query), "fingerprint")), query)
			}

			// Pages of one: every incident once, newest first, then null.
			var paged []string
			next := "/api/v1/incidents?status=all&limit=1"
			for range 6 {
				pg := c.get(t, next)
				require.Equal(t, 200, pg.Code, pg.Raw)
				paged = append(paged, field(listed(t, pg), "fingerprint")...)
				cursor, ok := pg.Body["next_cursor"].(string)
				if !ok {
					assert.Contains(t, pg.Raw, `"next_cursor":null`)
					break
				}
				next = "/api/v1/incidents?status=all&limit=1&cursor=" + url.QueryEscape(cursor)
			}
			assert.Equal(t, []string{"api-proj", "api-med", "api-high", "api-crit"}, paged)

			// One incident: its alerts and timeline.
			a = c.get(t, "/api/v1/incidents/"+ids["med"])
			require.Equal(t, 200, a.Code, a.Raw)
			assert.Equal(t, "resolved", a.Body["incident"].(map[string]any)["status"])
			alerts := a.Body["alerts"].([]any)
			require.Len(t, alerts, 1)
			alert := alerts[0].(map[string]any)
			assert.Equal(t, "api-med", alert["fingerprint"])
			assert.Equal(t, "2026-11-28T19:03:00Z", alert["ends_at"])
			assert.Equal(t, map[string]any{"summary": "CacheMiss is firing"}, alert["annotations"])
			var events []string
			for _, e := range a.Body["timeline"].([]any) {
				events = append(events, e.(map[string]any)["event"].(string))
			}
			assert.Equal(t, []string{"created", "alert_resolved", "resolved"}, events)

			a = c.get(t, "/api/v1/heartbeats")
			require.Equal(t, 200, a.Code, a.Raw)
			beats := a.Body["heartbeats"].([]any)
			require.Len(t, beats, 1)
			assert.Equal(t, "alertmanager", beats[0].(map[string]any)["integration"])
			assert.Equal(t, "ok", beats[0].(map[string]any)["status"])

			// Every error code, each a JSON detail.
			codes := []struct {
				method, path, token, body string
				code                      int
				detail                    string
			}{
				{"GET", "/api/v1/incidents?status=firing", apiReadToken, "", 400, `status "firing" is unknown`},
				{"GET", "/api/v1/incidents?severity=urgent", apiReadToken, "", 400, `severity "urgent" is unknown`},
				{"GET", "/api/v1/incidents?limit=501", apiReadToken, "", 400, "limit must be a whole number from 1 to 500"},
				{"GET", "/api/v1/incidents?since=now", apiReadToken, "", 400, `since "now" is not an RFC 3339 time`},
				{"GET", "/api/v1/incidents?cursor=xyz", apiReadToken, "", 400, "cursor is not one this API returned"},
				{"GET", "/api/v1/incidents?sevrity=high", apiReadToken, "", 400, `unknown query parameter "sevrity"`},
				{"POST", "/api/v1/incidents/" + ids["crit"] + "/acknowledge", apiWriteToken, `{"note":"x"}`, 400, "by is required"},
				{"POST", "/api/v1/incidents/" + ids["crit"] + "/acknowledge", apiWriteToken, `{"by":"a","note":"` + strings.Repeat("n", 4097) + `"}`, 400, "note is 4097 bytes long"},
				{"GET", "/api/v1/incidents", "", "", 401, "Missing or invalid API token"},
				{"GET", "/api/v1/incidents", "not-a-token", "", 401, "Missing or invalid API token"},
				{"POST", "/api/v1/incidents/" + ids["crit"] + "/resolve", apiReadToken, `{"by":"a"}`, 403, "This token may only read"},
				{"GET", "/api/v1/incidents/01930000-0000-7000-8000-00000000dead", apiReadToken, "", 404, "Incident not found: 01930000-0000-7000-8000-00000000dead"},
				{"POST", "/api/v1/incidents/01930000-0000-7000-8000-00000000dead/resolve", apiWriteToken, `{"by":"a"}`, 404, "Incident not found"},
				{"DELETE", "/api/v1/incidents/" + ids["crit"], apiWriteToken, "", 405, "Method DELETE is not allowed here: use GET, HEAD"},
				{"POST", "/api/v1/incidents/" + ids["med"] + "/acknowledge", apiWriteToken, `{"by":"a"}`, 409, "Incident is resolved"},
				{"POST", "/api/v1/incidents/" + ids["crit"] + "/acknowledge", apiWriteToken, `{"by":"a","note":"` + strings.Repeat("n", 70000) + `"}`, 413, "exceeds the limit of 65536 bytes"},
			}
			for _, tc := range codes {
				got := c.call(t, tc.method, tc.path, tc.token, tc.body)
				assert.Equal(t, tc.code, got.Code, "%s %s: %s", tc.method, tc.path, truncateText(got.Raw))
				assert.Equal(t, "application/json", got.Header.Get("Content-Type"), tc.path)
				assert.Contains(t, got.Body["detail"], tc.detail, "%s %s", tc.method, tc.path)
				if tc.code == 401 {
					assert.Equal(t, `Basic realm="incidents"`, got.Header.Get("WWW-Authenticate"))
				}
			}
			req, err := http.NewRequest(http.MethodPost, c.api+"/api/v1/incidents/"+ids["crit"]+"/acknowledge", strings.NewReader(`{"by":"a"}`))
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+apiWriteToken)
			req.Header.Set("Content-Type", "text/plain")
			resp, err := apiClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode, "a body not declared as JSON")
			assert.Equal(t, "open", c.incident(t, ids["crit"])["status"], "no refused request changed anything")

			// The requests metric, by route and code.
			metrics := scrape(t, c.metrics)
			for _, series := range [][2]string{
				{"/api/v1/incidents", "200"},
				{"/api/v1/incidents", "401"},
				{"/api/v1/incidents/{id}/acknowledge", "409"},
				{"/api/v1/incidents/{id}/resolve", "403"},
				{"/api/v1/heartbeats", "200"},
			} {
				assert.Regexp(t, `otelcol_incident_api_requests\{[^}]*code="`+series[1]+`"[^}]*route="`+regexp.QuoteMeta(series[0])+`"[^}]*\} [1-9]`,
					metrics, "route %s code %s", series[0], series[1])
			}
		})
	}
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func truncateText(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// scrape reads the collector's own metrics.
func scrape(t *testing.T, port int) string {
	t.Helper()
	resp, err := apiClient.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// Acknowledge, unacknowledge and resolve through the built collector, with
// Alertmanager's repeats around them; then a collector with a reopen
// window, where a new instance reopens the manually resolved incident.
func TestIncidentAPIActions(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			c := startAPICollector(t, s.open(t))
			first := alertJSON("firing", "acted", "ApiActed", "critical", "checkout", apiT0)
			id := created(t, c.fire(t, first))

			a := c.act(t, id, "acknowledge", `{"by":"alice","note":"looking"}`)
			require.Equal(t, 200, a.Code, a.Raw)
			assert.Equal(t, "acknowledged", a.Body["outcome"])
			inc := a.Body["incident"].(map[string]any)
			assert.Equal(t, "acknowledged", inc["status"])
			assert.Equal(t, "alice", inc["acknowledged_by"])
			a = c.act(t, id, "acknowledge", `{"by":"bob"}`)
			assert.Equal(t, "unchanged", a.Body["outcome"], a.Raw)
			assert.Equal(t, "alice", a.Body["incident"].(map[string]any)["acknowledged_by"], "the first acknowledgement stays")
			assert.Equal(t, inc["acknowledged_at"], a.Body["incident"].(map[string]any)["acknowledged_at"])
			assert.Equal(t, "duplicate", c.fire(t, first)["status"], "an acknowledged incident is open for the rules")
			assert.Equal(t, "acknowledged", c.incident(t, id)["status"])

			a = c.act(t, id, "unacknowledge", `{"by":"alice"}`)
			assert.Equal(t, "unacknowledged", a.Body["outcome"], a.Raw)
			assert.Equal(t, "open", a.Body["incident"].(map[string]any)["status"])
			assert.Equal(t, "unchanged", c.act(t, id, "unacknowledge", `{"by":"alice"}`).Body["outcome"])

			a = c.act(t, id, "resolve", `{"by":"carol","note":"rolled back"}`)
			require.Equal(t, 200, a.Code, a.Raw)
			assert.Equal(t, "resolved", a.Body["outcome"])
			inc = a.Body["incident"].(map[string]any)
			assert.Equal(t, "resolved", inc["status"])
			assert.Equal(t, "manual", inc["resolution_reason"])
			assert.Equal(t, "carol", inc["resolved_by"])
			assert.InDelta(t, 0, inc["firing_alerts"], 0)
			assert.Equal(t, "unchanged", c.act(t, id, "resolve", `{"by":"dave"}`).Body["outcome"])
			for _, action := range []string{"acknowledge", "unacknowledge"} {
				a = c.act(t, id, action, `{"by":"erin"}`)
				assert.Equal(t, http.StatusConflict, a.Code, a.Raw)
				assert.JSONEq(t, `{"detail":"Incident is resolved"}`, a.Raw)
			}

			// Alertmanager repeats the same instance: a duplicate, and the
			// incident stays resolved. A new instance opens a new incident.
			assert.Equal(t, "duplicate", c.fire(t, first)["status"])
			assert.Equal(t, "resolved", c.incident(t, id)["status"])
			second := created(t, c.fire(t, alertJSON("firing", "acted", "ApiActed", "critical", "checkout", apiT0.Add(time.Hour))))
			assert.NotEqual(t, id, second)
			assert.Equal(t, "open", c.incident(t, second)["status"])

			a = c.get(t, "/api/v1/incidents/"+id)
			var timeline []string
			for _, e := range a.Body["timeline"].([]any) {
				ev := e.(map[string]any)
				row := []string{ev["event"].(string)}
				for _, k := range []string{"by", "note", "fingerprint"} {
					if v, ok := ev[k].(string); ok {
						row = append(row, v)
					}
				}
				timeline = append(timeline, strings.Join(row, " "))
			}
			assert.Equal(t, []string{
				"created acted", "acknowledged alice looking", "unacknowledged alice",
				"alert_resolved acted", "resolved carol manual: rolled back",
			}, timeline)
			assert.Equal(t, "resolved", a.Body["alerts"].([]any)[0].(map[string]any)["status"])
			db := c.store.db(t)
			assert.Equal(t, 1, count(t, db, "fingerprint = 'acted' AND status = 'open'"), "one open incident: the new instance's")

			// With a reopen window, a new instance reopens it instead.
			r := startAPICollector(t, s.open(t), "    reopen_window: 2h")
			rid := created(t, r.fire(t, first))
			require.Equal(t, 200, r.act(t, rid, "resolve", `{"by":"carol"}`).Code)
			assert.Equal(t, "duplicate", r.fire(t, first)["status"])
			// The window counts from the resolve (now) on: the instance
			// starts after it, as a re-fire does.
			reopened := r.fire(t, alertJSON("firing", "acted", "ApiActed", "critical", "checkout", time.Now().Add(time.Second)))
			assert.EqualValues(t, 1, reopened["incidents_reopened"], reopened)
			inc = r.incident(t, rid)
			assert.Equal(t, "open", inc["status"])
			assert.InDelta(t, 1, inc["reopen_count"], 0)
			assert.Nil(t, inc["resolved_by"])
		})
	}
}

// Pages while incidents arrive: each incident that was there at the start
// is on exactly one page, none twice, in the list's order; the new ones
// land on a later page only if they are older than where paging is.
func TestIncidentAPIPagesUnderInserts(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			c := startAPICollector(t, s.open(t))
			var seed []string
			for i := range 150 {
				// Two incidents per second of detected_at: pages meet ties.
				seed = append(seed, alertJSON("firing", fmt.Sprintf("seed-%03d", i), "Paged", "warning", "svc", apiT0.Add(time.Duration(i/2)*time.Second)))
			}
			require.EqualValues(t, 150, c.fire(t, seed...)["incidents_created"])
			before := map[string]bool{}
			for _, inc := range c.list(t, "status=all&limit=500") {
				before[inc["id"].(string)] = true
			}
			require.Len(t, before, 150)

			stop := make(chan struct{})
			// inserted is signaled after each insert: every page waits for
			// one, so that pages and inserts interleave.
			inserted := make(chan struct{}, 1)
			var inserts sync.WaitGroup
			inserts.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					// Older, newer and equal to the seeds' times.
					at := apiT0.Add(time.Duration((i*37)%120-20) * time.Second)
					body := notification(alertJSON("firing", fmt.Sprintf("late-%04d", i), "Paged", "warning", "svc", at))
					if a, err := c.tryPost(body); err != nil || a != http.StatusOK {
						t.Errorf("insert %d: %v %d", i, err, a)
						return
					}
					select {
					case inserted <- struct{}{}:
					default:
					}
				}
			})
			seen := map[string]int{}
			var order []map[string]any
			next := "/api/v1/incidents?status=all&limit=7"
			for pages := 0; ; pages++ {
				require.Less(t, pages, 200)
				a := c.get(t, next)
				require.Equal(t, 200, a.Code, a.Raw)
				for _, inc := range listed(t, a) {
					seen[inc["id"].(string)]++
					order = append(order, inc)
				}
				cursor, ok := a.Body["next_cursor"].(string)
				if !ok {
					break
				}
				next = "/api/v1/incidents?status=all&limit=7&cursor=" + url.QueryEscape(cursor)
				select {
				case <-inserted:
				case <-time.After(30 * time.Second):
					t.Fatal("no insert for 30 s")
				}
			}
			close(stop)
			inserts.Wait()
			for id, n := range seen {
				assert.Equal(t, 1, n, "incident %s on %d pages", id, n)
			}
			for id := range before {
				assert.Equal(t, 1, seen[id], "incident %s, there from the start, on no page", id)
			}
			for i := 1; i < len(order); i++ {
				prev, cur := order[i-1], order[i]
				assert.True(t, prev["detected_at"].(string) > cur["detected_at"].(string) ||
					prev["detected_at"] == cur["detected_at"] && prev["id"].(string) > cur["id"].(string),
					"order at %d: %v %v then %v %v", i, prev["detected_at"], prev["id"], cur["detected_at"], cur["id"])
			}
			t.Logf("%d incidents listed, %d of them inserted while paging", len(seen), len(seen)-len(before))
		})
	}
}

// tryPost posts a webhook from a goroutine.
func (c *apiCollector) tryPost(body []byte) (int, error) {
	resp, err := apiClient.Post(c.base+"/webhooks/alertmanager", "application/json", strings.NewReader(string(body)))
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// An api section without a token, or with a token from an unset variable,
// is refused by `otelcol-incidents validate`, saying why.
func TestIncidentAPIRefusedWithoutToken(t *testing.T) {
	bin := binary(t, "E2E_COLLECTOR_BIN", "the collector")
	for name, tc := range map[string]struct{ api, want string }{
		"no token": {`    api:
      endpoint: 127.0.0.1:0`, "api: no token: set read_tokens or write_tokens"},
		"unset variable": {`    api:
      endpoint: 127.0.0.1:0
      read_tokens:
        - ${env:E2E_UNSET_API_TOKEN}`, "api: read_tokens[0] is empty (an unset environment variable?)"},
		"misspelled key": {`    api:
      endpoint: 127.0.0.1:0
      write_tokens: [w]
      read_token: [r]`, `unknown keys ["read_token"]`},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := strings.Replace(strings.Replace(configTemplate, pipelineTag, defaultPipeline, 1), "ANALYSIS", tc.api, 1)
			file := filepath.Join(t.TempDir(), "config.yaml")
			require.NoError(t, os.WriteFile(file, []byte(fmt.Sprintf(cfg, freePort(t), "sqlite", filepath.Join(t.TempDir(), "i.db"), freePort(t))), 0o600))
			out, err := exec.Command(bin, "validate", "--config", file).CombinedOutput()
			require.Error(t, err, "validate accepted it:\n%s", out)
			assert.Contains(t, string(out), tc.want)
		})
	}
}
