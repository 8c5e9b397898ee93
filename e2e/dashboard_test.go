package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sre-copilot/incident-collector/internal/testutil"
)

const dashboardFile = "deploy/grafana/incidents-dashboard.json"

// scrapeLabels are added by Prometheus when it scrapes, not by the collector.
var scrapeLabels = map[string]bool{"job": true, "instance": true}

// dashboard is the part of a Grafana dashboard model the test reads.
type dashboard struct {
	Title      string `json:"title"`
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []dashboardPanel `json:"panels"`
}

type dashboardPanel struct {
	ID         int              `json:"id"`
	Type       string           `json:"type"`
	Title      string           `json:"title"`
	GridPos    *json.RawMessage `json:"gridPos"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []dashboardPanel `json:"panels"` // a collapsed row's
}

// query is one PromQL expression of the dashboard and where it is.
type query struct{ where, expr string }

func loadDashboard(t *testing.T) []query {
	t.Helper()
	var d dashboard
	require.NoError(t, json.Unmarshal(repoFile(t, dashboardFile), &d), "the dashboard is not JSON")
	require.NotEmpty(t, d.Title)
	require.NotEmpty(t, d.UID)
	var queries []query
	hasDatasourceVar := false
	for _, v := range d.Templating.List {
		switch v.Type {
		case "datasource":
			hasDatasourceVar = hasDatasourceVar || v.Name == "datasource"
		case "query":
			var q struct{ Query string }
			if json.Unmarshal(v.Query, &q) != nil { // a plain string query
				require.NoError(t, json.Unmarshal(v.Query, &q.Query))
			}
			queries = append(queries, query{where: "variable " + v.Name, expr: q.Query})
		}
	}
	require.True(t, hasDatasourceVar, "a datasource variable lets the dashboard be imported into any Grafana")
	ids := map[int]bool{}
	var walk func([]dashboardPanel)
	walk = func(panels []dashboardPanel) {
		for _, p := range panels {
			assert.False(t, ids[p.ID], "panel id %d is used twice", p.ID)
			ids[p.ID] = true
			assert.NotNil(t, p.GridPos, "panel %q has no gridPos", p.Title)
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			require.NotNil(t, p.Datasource, "panel %q has no datasource", p.Title)
			assert.Equal(t, "${datasource}", p.Datasource.UID, "panel %q", p.Title)
			require.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
			refs := map[string]bool{}
			for _, tg := range p.Targets {
				assert.False(t, refs[tg.RefID], "panel %q: refId %s twice", p.Title, tg.RefID)
				refs[tg.RefID] = true
				require.NotEmpty(t, tg.Expr, "panel %q target %s", p.Title, tg.RefID)
				queries = append(queries, query{where: fmt.Sprintf("panel %q target %s", p.Title, tg.RefID), expr: tg.Expr})
			}
		}
	}
	walk(d.Panels)
	return queries
}

// The dashboard queries only metrics, and labels, that the collector exports:
// the Deployment's collector, after real traffic, is scraped on its metrics
// endpoint and every name the dashboard's queries use must be there.
func TestDashboardMetricsExist(t *testing.T) {
	queries := loadDashboard(t)
	dashboardMetrics := map[string]bool{}
	for _, q := range queries {
		metrics, _ := variableRefs(q.expr)
		require.NotEmpty(t, metrics, "%s queries no metric: %s", q.where, q.expr)
		for _, m := range metrics {
			dashboardMetrics[m] = true
		}
	}

	// The analysis service answers 500 once (retried), 400 once (failed),
	// then 200 (delivered), so that each of its counters has a value.
	var calls atomic.Int32
	analysis := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		switch calls.Add(1) {
		case 1:
			w.WriteHeader(http.StatusInternalServerError)
		case 2:
			w.WriteHeader(http.StatusBadRequest)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	defer analysis.Close()

	m := loadK8s(t)
	// A short heartbeat timeout makes the sweep (timeout/4, at least 1 s)
	// record the heartbeat age within the test.
	r := startReplicas(t, m, testutil.PostgresSchema(t), 1, []string{"ANALYSIS_ENDPOINT=" + analysis.URL, "HEARTBEAT_TIMEOUT=4s"})[0]
	bearer := "Bearer " + replicaSecrets["alertmanager-webhook-secret"]
	send := func(status string, fingerprints ...string) testutil.Answer {
		return r.post(t, "/webhooks/alertmanager", alertmanagerPayload(status, fingerprints...), "Authorization", bearer)
	}
	assert.Equal(t, "success", send("firing", "dash-a", "dash-b").Body["status"])
	assert.Equal(t, "duplicate", send("firing", "dash-a").Body["status"])
	assert.Equal(t, "success", send("resolved", "dash-a").Body["status"])
	assert.Equal(t, 200, send("resolved", "dash-unknown").Code)
	assert.Equal(t, 403, r.post(t, "/webhooks/alertmanager", alertmanagerPayload("firing", "dash-c"), "Authorization", "Bearer wrong").Code)
	watchdog := r.post(t, "/webhooks/alertmanager", []byte(`{"version":"4","status":"firing","alerts":[{"status":"firing",
		"labels":{"alertname":"Watchdog"},"fingerprint":"dash-watchdog"}]}`), "Authorization", bearer)
	assert.EqualValues(t, 1, watchdog.Body["heartbeats"], watchdog.Raw)

	// Counters appear once recorded (the analysis ones after a delivery
	// attempt): scrape until all are there or 15 s have passed.
	var exported map[string]map[string]bool
	var missing []string
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		code, body := httpGet(t, localURL(r.ports.metrics, "/metrics"))
		require.Equal(t, 200, code)
		exported = exposition(body)
		missing = missing[:0]
		for name := range dashboardMetrics {
			if exported[name] == nil {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
	}
	sort.Strings(missing)
	assert.Empty(t, missing, "the dashboard queries metrics the collector does not export")

	// Labels: each label a query groups or filters by is on a series of one
	// of its metrics.
	for _, q := range queries {
		metrics, labels := variableRefs(q.expr)
		for _, l := range labels {
			if scrapeLabels[l] {
				continue
			}
			found := false
			for _, name := range metrics {
				found = found || exported[name][l]
			}
			assert.True(t, found, "%s: label %q is on none of %v", q.where, l, metrics)
		}
	}
}

// alertmanagerPayload is an Alertmanager v4 notification of one alert per
// fingerprint, with that status.
func alertmanagerPayload(status string, fingerprints ...string) []byte {
	startsAt := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	endsAt := "0001-01-01T00:00:00Z"
	if status == "resolved" {
		endsAt = time.Now().UTC().Format(time.RFC3339)
	}
	alerts := make([]map[string]any, len(fingerprints))
	for i, fp := range fingerprints {
		alerts[i] = map[string]any{
			"status":      status,
			"labels":      map[string]string{"alertname": "Dashboard" + fp, "severity": "warning", "service": "dashboard"},
			"annotations": map[string]string{"summary": "dashboard test"},
			"startsAt":    startsAt, "endsAt": endsAt, "fingerprint": fp,
		}
	}
	b, _ := json.Marshal(map[string]any{
		"version": "4", "status": status, "receiver": "incidents", "groupKey": "{}:{alertname=\"dashboard\"}",
		"alerts": alerts,
	})
	return b
}
