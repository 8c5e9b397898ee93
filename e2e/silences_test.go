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

// Silences (README, "Silences") through the built collector: what a silence
// holds opens its incident when the silence ends, in time or by hand, with
// its analysis event; a held alert that resolved opens nothing.

func (c *apiCollector) createSilence(t *testing.T, service string, ends time.Time) string {
	t.Helper()
	a := c.call(t, http.MethodPost, "/api/v1/silences", apiWriteToken, fmt.Sprintf(
		`{"matchers":[{"name":"service","value":%q,"op":"="}],"ends_at":%q,"created_by":"e2e","comment":"maintenance"}`,
		service, ends.UTC().Format(time.RFC3339Nano)))
	require.Equal(t, http.StatusCreated, a.Code, a.Raw)
	return a.Body["silence"].(map[string]any)["id"].(string)
}

func TestSilencesEndInTimeAndByHand(t *testing.T) {
	eachStore(t, func(t *testing.T, st store) {
		analysis, endpoint := serveAnalysis(t)
		c := startAPICollector(t, st, analysisTo(endpoint))
		short := c.createSilence(t, "maint", time.Now().Add(3*time.Second))
		long := c.createSilence(t, "maint2", time.Now().Add(time.Hour))
		started := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)

		for _, alert := range []string{
			alertJSON("firing", "held-1", "DiskFull", "critical", "maint", started),
			alertJSON("firing", "held-2", "DiskFull", "critical", "maint", started),
			alertJSON("firing", "held-3", "DiskFull", "critical", "maint2", started),
		} {
			answer := c.fire(t, alert)
			assert.Equal(t, "silenced", answer["status"], answer)
		}
		answer := c.fire(t, alertJSON("resolved", "held-2", "DiskFull", "critical", "maint", started))
		assert.Equal(t, "ignored", answer["status"], "a held alert that resolves resolves its row only: %v", answer)
		assert.Empty(t, c.list(t, "status=all"), "nothing opened while held")
		assert.Empty(t, analysis.snapshot(), "nothing notified while held")

		// In time: the short silence ends; held-1 opens within a couple of
		// seconds, detected when it started; held-2 resolved meanwhile.
		eventually(t, 10*time.Second, "held-1's incident", func() bool { return len(c.list(t, "fingerprint=held-1")) == 1 })
		ended := c.get(t, "/api/v1/silences/"+short).Body["silence"].(map[string]any)["ends_at"].(string)
		endedAt, err := time.Parse(time.RFC3339Nano, ended)
		require.NoError(t, err)
		t.Logf("held-1 opened %v after its silence ended", time.Since(endedAt).Round(10*time.Millisecond))
		assert.Less(t, time.Since(endedAt), 5*time.Second)
		inc := c.list(t, "fingerprint=held-1")[0]
		assert.Equal(t, started.Format(time.RFC3339), inc["detected_at"])
		assert.Empty(t, c.list(t, "fingerprint=held-2&status=all"), "it resolved while held: nothing opens")
		assert.Empty(t, c.list(t, "fingerprint=held-3"), "another silence still holds it")

		// By hand: held-3 opens at once.
		expired := c.call(t, http.MethodDelete, "/api/v1/silences/"+long, apiWriteToken, "")
		require.Equal(t, http.StatusOK, expired.Code, expired.Raw)
		assert.Len(t, c.list(t, "fingerprint=held-3"), 1, "open when the DELETE is answered")

		eventually(t, 10*time.Second, "both created events", func() bool { return len(analysis.snapshot()) == 2 })
		for key := range analysis.snapshot() {
			assert.True(t, strings.HasSuffix(key, ":created"), key)
		}
		record(t, "silences end ("+st.driver+")", "3 alerts held by 2 silences, one resolving meanwhile; one silence ends in time, one is deleted",
			fmt.Sprintf("%d incidents opened, each with its created event; the resolved one opened nothing", len(c.list(t, "status=all"))))
	})
}

// Two replicas on one PostgreSQL: a silence created on one holds alerts
// arriving at the other; when it ends, each of the 20 held alerts opens
// exactly one incident.
func TestSilenceAcrossTwoReplicas(t *testing.T) {
	st := postgresStore(t)
	a := startAPICollector(t, st)
	b := startAPICollector(t, st)
	// Both replicas have read the silences before: B must see a change.
	for _, c := range []*apiCollector{a, b} {
		c.fire(t, alertJSON("firing", "warm-"+c.api[len(c.api)-5:], "Warm", "low", "web", apiT0))
	}
	id := a.createSilence(t, "maint", time.Now().Add(time.Hour))
	var wg sync.WaitGroup
	for i := range 20 {
		c := []*apiCollector{a, b}[i%2]
		wg.Go(func() {
			answer, err := testTryFire(c, alertJSON("firing", fmt.Sprintf("replica-held-%02d", i), "DiskFull", "critical", "maint", apiT0))
			if assert.NoError(t, err) {
				assert.Equal(t, "silenced", answer["status"], answer)
			}
		})
	}
	wg.Wait()
	expired := b.call(t, http.MethodDelete, "/api/v1/silences/"+id, apiWriteToken, "")
	require.Equal(t, http.StatusOK, expired.Code, expired.Raw)
	eventually(t, 10*time.Second, "20 incidents", func() bool { return len(a.list(t, "service=maint&limit=100")) == 20 })
	db := st.db(t)
	assert.Equal(t, 20, count(t, db, "service_name = 'maint'"), "each held alert opened exactly one incident")
	var timeline int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM incident_events WHERE event = 'created' AND note LIKE 'held by silence %'`).Scan(&timeline))
	assert.Equal(t, 20, timeline)
}

// testTryFire fires from a goroutine, which must not stop the test itself.
func testTryFire(c *apiCollector, alert string) (map[string]any, error) {
	a, err := testutil.TryPost(c.base+"/webhooks/alertmanager", notification(alert))
	if err != nil {
		return nil, err
	}
	if a.Code != http.StatusOK {
		return nil, fmt.Errorf("answered %d: %s", a.Code, a.Raw)
	}
	return a.Body, nil
}
