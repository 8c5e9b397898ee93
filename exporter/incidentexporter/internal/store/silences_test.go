package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
	"github.com/sre-copilot/incident-collector/internal/incident"
	"github.com/sre-copilot/incident-collector/internal/testutil"
)

// Silences on both engines: what the rules' table tests cannot show (the
// rows, the sweep, replicas).

func maintenanceOf(t *testing.T, s *Store, service string, from, to time.Time) rules.Silence {
	t.Helper()
	sil, err := s.CreateSilence(context.Background(), NewSilence{
		Matchers: []rules.Matcher{{Name: "service", Value: service, Op: rules.MatchEqual}},
		StartsAt: from, EndsAt: to, CreatedBy: "alice", Comment: "upgrade",
	})
	require.NoError(t, err)
	return sil
}

func withService(a Alert, service string) Alert {
	a.Labels = fmt.Sprintf(`{"alertname":"HighErrorRate","service":%q}`, service)
	return a
}

func TestSilenceHoldsAndReleases(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		clock := newClock(t0)
		s := e.open(Options{Clock: clock.Now, Sinks: analysis(rules.EventCreated, rules.EventResolved)})
		sil := maintenanceOf(t, s, "api", time.Time{}, t0.Add(time.Hour))
		assert.Equal(t, t0, sil.StartsAt, "starts now by default")

		held := withService(firing("held", t0.Add(-time.Minute)), "api")
		out := apply1(t, s, held)
		assert.Equal(t, incident.VerdictSilenced, out.Verdict)
		assert.Equal(t, sil.ID, out.SilenceID)
		assert.Equal(t, incident.VerdictSilenced, apply1(t, s, held).Verdict, "a repeat is silenced again")
		done := withService(firing("done", t0), "api")
		assert.Equal(t, incident.VerdictSilenced, apply1(t, s, done).Verdict)
		assert.Equal(t, incident.VerdictIgnored, apply1(t, s, withService(resolved("done", t0, t0.Add(time.Minute)), "api")).Verdict)
		assert.Equal(t, incident.VerdictCreated, apply1(t, s, withService(firing("other", t0), "web")).Verdict)
		assert.Equal(t, 0, countWhere(t, s, "incidents", "fingerprint IN ('held', 'done')"))
		assert.Equal(t, 2, countWhere(t, s, "incident_alerts", "incident_id IS NULL AND silence_id IS NOT NULL"))
		assert.Equal(t, []string{rules.EventCreated}, outboxEvents(t, s), "nothing queued for held alerts")

		holding, err := s.HeldCounts(context.Background())
		require.NoError(t, err)
		assert.Equal(t, map[string]int64{sil.ID: 1}, holding, "the one that still fires")
		n, err := s.ReleaseSilenced(context.Background())
		require.NoError(t, err)
		assert.Zero(t, n, "still active")

		clock.set(t0.Add(time.Hour))
		n, err = s.ReleaseSilenced(context.Background())
		require.NoError(t, err)
		assert.EqualValues(t, 1, n, "the one still firing")
		rows := groupedRows(t, s, "fingerprint = 'held'")
		require.Len(t, rows, 1)
		assert.Equal(t, ts(t0.Add(-time.Minute)), rows[0].DetectedAt, "detected when it started")
		assert.Equal(t, "open", rows[0].Status)
		assert.Equal(t, 1, countWhere(t, s, "incident_alerts", "fingerprint = 'held' AND last_seen_at = $1", s.d.ts(t0)),
			"released, it keeps when it was last seen")
		assert.Equal(t, 0, countWhere(t, s, "incidents", "fingerprint = 'done'"), "a held alert that resolved opens nothing")
		assert.Equal(t, []string{rules.EventCreated, rules.EventCreated}, outboxEvents(t, s))
		assert.Equal(t, []string{"created held by silence " + sil.ID + " held"}, timelineOf(t, s, rows[0].ID))
		n, err = s.ReleaseSilenced(context.Background())
		require.NoError(t, err)
		assert.Zero(t, n, "once")
		assert.Equal(t, incident.VerdictDuplicate, apply1(t, s, held).Verdict, "its repeat now finds the incident")

		got, err := s.Silences(context.Background(), rules.SilenceExpired)
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, "upgrade", got[0].Comment)
	})
}

// DELETE ends a silence at once: what it held opens now, and another active
// silence that matches holds on.
func TestExpireSilenceReleasesAtOnce(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		clock := newClock(t0)
		s := e.open(Options{Clock: clock.Now})
		short := maintenanceOf(t, s, "api", t0, t0.Add(time.Hour))
		assert.Equal(t, incident.VerdictSilenced, apply1(t, s, withService(firing("a", t0), "api")).Verdict)
		long, err := s.CreateSilence(context.Background(), NewSilence{
			Matchers: []rules.Matcher{{Name: "alertname", Value: "High.*", Op: rules.MatchRegexp}, {Name: "service", Value: "db", Op: rules.MatchEqual}},
			EndsAt:   t0.Add(2 * time.Hour), CreatedBy: "bob",
		})
		require.NoError(t, err)
		assert.Equal(t, incident.VerdictSilenced, apply1(t, s, withService(firing("b", t0), "db")).Verdict)

		clock.set(t0.Add(10 * time.Minute))
		expired, err := s.ExpireSilence(context.Background(), short.ID)
		require.NoError(t, err)
		assert.Equal(t, rules.SilenceExpired, expired.Status(clock.Now()))
		assert.Equal(t, t0.Add(10*time.Minute), expired.EndsAt)
		assert.Equal(t, 1, countWhere(t, s, "incidents", "fingerprint = 'a' AND status = 'open'"), "released at once")
		assert.Equal(t, 1, countWhere(t, s, "incident_alerts", "fingerprint = 'b' AND incident_id IS NULL"), "the other silence still holds b")

		_, err = s.ExpireSilence(context.Background(), "01930000-0000-7000-8000-00000000dead")
		assert.ErrorIs(t, err, ErrSilenceNotFound)
		_, err = s.Silence(context.Background(), "not-a-uuid")
		assert.ErrorIs(t, err, ErrSilenceNotFound)
		active, err := s.Silences(context.Background(), rules.SilenceActive)
		require.NoError(t, err)
		require.Len(t, active, 1)
		assert.Equal(t, long.ID, active[0].ID)

		_, err = s.CreateSilence(context.Background(), NewSilence{Matchers: []rules.Matcher{{Name: "x", Value: ".*", Op: "=~"}}, EndsAt: t0.Add(time.Hour)})
		var invalid *InvalidSilenceError
		require.ErrorAs(t, err, &invalid)
		assert.Contains(t, invalid.Problems[0], "must not match the empty string")
	})
}

// Two replicas on one PostgreSQL: a silence created on A holds alerts
// arriving at B at once; when it ends, both sweep, and each held alert opens
// exactly one incident.
func TestSilenceAcrossReplicas(t *testing.T) {
	dsn := testutil.PostgresSchema(t)
	clock := newClock(t0)
	a := openOptions(t, Options{Driver: DriverPostgres, DSN: dsn, Clock: clock.Now, Sinks: analysis(rules.EventCreated)})
	b := openOptions(t, Options{Driver: DriverPostgres, DSN: dsn, Clock: clock.Now, Sinks: analysis(rules.EventCreated)})
	// Both replicas have read (and cached) the silences before.
	apply1(t, a, withService(firing("warm-a", t0), "web"))
	apply1(t, b, withService(firing("warm-b", t0), "web"))
	maintenanceOf(t, a, "api", t0, t0.Add(time.Hour))
	for i := range 20 {
		s := []*Store{a, b}[i%2]
		assert.Equal(t, incident.VerdictSilenced, apply1(t, s, withService(firing(fmt.Sprintf("held-%02d", i), t0), "api")).Verdict)
	}
	clock.set(t0.Add(time.Hour))
	var wg sync.WaitGroup
	var released [2]int64
	for i, s := range []*Store{a, b} {
		wg.Go(func() {
			n, err := s.ReleaseSilenced(context.Background())
			assert.NoError(t, err)
			released[i] = n
		})
	}
	wg.Wait()
	assert.EqualValues(t, 20, released[0]+released[1], "each released once, by one of them")
	assert.Equal(t, 20, countWhere(t, a, "incidents", "fingerprint LIKE 'held-%' AND status = 'open'"))
	assert.Equal(t, 0, countWhere(t, a, "incident_alerts", "incident_id IS NULL AND status = 'firing'"))
	assert.Equal(t, 22, countWhere(t, a, "outbox", "event = 'created'"))
}

// The silences that have not ended hold at most 250 regular expressions:
// each alert that would open an incident is checked against them.
func TestSilenceBudget(t *testing.T) {
	s := newEngine(t, DriverSQLite).open(Options{})
	regexps := make([]rules.Matcher, rules.MaxMatchers)
	for i := range regexps {
		regexps[i] = rules.Matcher{Name: fmt.Sprintf("l%d", i), Value: "v.+", Op: rules.MatchRegexp}
	}
	for range rules.MaxActiveRegexps / rules.MaxMatchers {
		_, err := s.CreateSilence(context.Background(), NewSilence{Matchers: regexps, EndsAt: time.Now().Add(time.Hour), CreatedBy: "a"})
		require.NoError(t, err)
	}
	_, err := s.CreateSilence(context.Background(), NewSilence{Matchers: regexps, EndsAt: time.Now().Add(time.Hour), CreatedBy: "a"})
	var invalid *InvalidSilenceError
	require.ErrorAs(t, err, &invalid)
	assert.Contains(t, invalid.Problems[0], "more than 250")
	_, err = s.CreateSilence(context.Background(), NewSilence{
		Matchers: []rules.Matcher{{Name: "service", Value: "api", Op: rules.MatchEqual}}, EndsAt: time.Now().Add(time.Hour), CreatedBy: "a",
	})
	assert.NoError(t, err, "an equality matcher costs no budget")
}
