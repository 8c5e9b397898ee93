package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sre-copilot/incident-collector/internal/testutil"
)

// Two collector processes on one PostgreSQL: what a person does on one is
// what the other shows, and a person resolving incidents on A while their
// alerts resolve on B at the same moment leaves each resolved once.
func TestIncidentAPITwoReplicas(t *testing.T) {
	st := postgresStore(t)
	a := startAPICollector(t, st)
	b := startAPICollector(t, st)

	id := created(t, a.fire(t, alertJSON("firing", "replica-ack", "ReplicaAck", "critical", "db", apiT0)))
	require.Equal(t, 200, a.act(t, id, "acknowledge", `{"by":"alice","note":"on it"}`).Code)
	inc := b.incident(t, id)
	assert.Equal(t, "acknowledged", inc["status"], "B sees A's acknowledgement")
	assert.Equal(t, "alice", inc["acknowledged_by"])
	assert.Equal(t, "unacknowledged", b.act(t, id, "unacknowledge", `{"by":"bob"}`).Body["outcome"])
	assert.Equal(t, "open", a.incident(t, id)["status"], "and A sees B's")

	const n = 30
	var alerts []string
	for i := range n {
		alerts = append(alerts, alertJSON("firing", fmt.Sprintf("race-%02d", i), "ReplicaRace", "high", "db", apiT0))
	}
	fired := a.fire(t, alerts...)
	require.EqualValues(t, n, fired["incidents_created"], fired)
	ids := map[string]string{}
	for _, v := range fired["incidents"].([]any) {
		ref := v.(map[string]any)
		ids[ref["fingerprint"].(string)] = ref["id"].(string)
	}
	require.Len(t, ids, n)

	type result struct {
		apiCode, hookCode int
		apiOutcome        string
		hookResolved      float64
	}
	results := make([]result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		fp := fmt.Sprintf("race-%02d", i)
		wg.Go(func() {
			<-start
			ans, err := a.tryCall(http.MethodPost, "/api/v1/incidents/"+ids[fp]+"/resolve", apiWriteToken, `{"by":"carol","note":"mitigated"}`)
			if assert.NoError(t, err) {
				results[i].apiCode = ans.Code
				results[i].apiOutcome, _ = ans.Body["outcome"].(string)
			}
		})
		wg.Go(func() {
			<-start
			ans, err := testutil.TryPost(b.base+"/webhooks/alertmanager", notification(alertJSON("resolved", fp, "ReplicaRace", "high", "db", apiT0)))
			if assert.NoError(t, err) {
				results[i].hookCode = ans.Code
				results[i].hookResolved, _ = ans.Body["incidents_resolved"].(float64)
			}
		})
	}
	close(start)
	wg.Wait()
	byPerson := 0
	for i, r := range results {
		assert.Equal(t, 200, r.apiCode, "resolve %d through the API", i)
		assert.Equal(t, 200, r.hookCode, "resolve %d through the webhook", i)
		// One of them resolved it; the other found it resolved.
		switch r.apiOutcome {
		case "resolved":
			byPerson++
			assert.InDelta(t, 0, r.hookResolved, 0, "incident %d resolved twice", i)
		case "unchanged":
			assert.InDelta(t, 1, r.hookResolved, 0, "incident %d: the alert resolved it", i)
		default:
			t.Errorf("incident %d: API outcome %q", i, r.apiOutcome)
		}
	}
	t.Logf("%d of %d resolved by the person, %d by their alert", byPerson, n, n-byPerson)

	db := st.db(t)
	assert.Equal(t, n, count(t, db, "fingerprint LIKE 'race-%' AND status = 'resolved' AND firing_alerts = 0"))
	var firing, resolvedEvents, twice int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM incident_alerts WHERE fingerprint LIKE 'race-%' AND status = 'firing'`).Scan(&firing))
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM incident_events e JOIN incidents i ON i.id = e.incident_id
		WHERE i.fingerprint LIKE 'race-%' AND e.event = 'resolved'`).Scan(&resolvedEvents))
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM (SELECT e.incident_id FROM incident_events e WHERE e.event = 'resolved'
		GROUP BY e.incident_id HAVING COUNT(*) > 1) x`).Scan(&twice))
	assert.Zero(t, firing, "no member left firing")
	assert.Equal(t, n, resolvedEvents, "one resolved row of the timeline each")
	assert.Zero(t, twice)
	assert.Len(t, b.list(t, "status=resolved&limit=100"), n, "B lists them resolved")
	assert.Equal(t, byPerson, count(t, db, "fingerprint LIKE 'race-%' AND resolved_by = 'carol' AND resolution_reason = 'manual'"))
}

// PostgreSQL out of reach: reads and actions are a 503 with Retry-After, the
// web view too; back, the API answers again.
func TestIncidentAPIStoreOutage(t *testing.T) {
	dsn := testutil.PostgresSchema(t)
	proxy := testutil.NewProxy(t, "127.0.0.1:5432")
	proxied := strings.Replace(strings.Replace(dsn, "127.0.0.1:5432", proxy.Addr(), 1), "localhost:5432", proxy.Addr(), 1)
	c := startAPICollector(t, store{driver: "postgres", dsn: proxied})
	id := created(t, c.fire(t, alertJSON("firing", "outage", "ApiOutage", "critical", "db", apiT0)))

	proxy.Cut()
	for _, path := range []string{"/api/v1/incidents", "/api/v1/incidents/" + id, "/", "/incidents/" + id} {
		a := c.get(t, path)
		assert.Equal(t, http.StatusServiceUnavailable, a.Code, "%s: %s", path, truncateText(a.Raw))
		assert.Equal(t, "5", a.Header.Get("Retry-After"), path)
	}
	a := c.act(t, id, "acknowledge", `{"by":"alice"}`)
	assert.Equal(t, http.StatusServiceUnavailable, a.Code)
	assert.JSONEq(t, `{"detail":"The incident store could not answer now, retry later"}`, a.Raw)

	proxy.Restore()
	eventually(t, 20*time.Second, "the API answering again", func() bool {
		a, err := c.tryCall(http.MethodPost, "/api/v1/incidents/"+id+"/acknowledge", apiWriteToken, `{"by":"alice"}`)
		return err == nil && a.Code == http.StatusOK
	})
	assert.Equal(t, "acknowledged", c.incident(t, id)["status"])
}
