package store

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
	"github.com/sre-copilot/incident-collector/internal/incident"
	"github.com/sre-copilot/incident-collector/internal/testutil"
)

func watchdog(scope string, status string) Alert {
	a := firing("wd-"+scope, t0)
	a.Scope, a.AlertName, a.Title, a.Status = scope, "Watchdog", "Watchdog", status
	return a
}

var heartbeatRules = rules.Config{HeartbeatAlertname: "Watchdog", HeartbeatTimeout: 2 * time.Second}

// Heartbeats (README, "Heartbeats") on both engines, with an injected clock.
func TestHeartbeats(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		clock := newClock(t0)
		s := e.open(Options{Clock: clock.Now, Rules: heartbeatRules, Sinks: analysis(rules.EventCreated, rules.EventResolved)})

		// A firing Watchdog is a heartbeat, not an incident; a resolved one is not a heartbeat.
		assert.Equal(t, []incident.Verdict{incident.VerdictHeartbeat, incident.VerdictIgnored},
			verdicts(t, s, watchdog("prod", incident.StatusFiring), watchdog("prod", incident.StatusResolved)))
		assert.Zero(t, countWhere(t, s, "incidents", "1 = 1"))
		assert.Zero(t, countWhere(t, s, "incident_alerts", "1 = 1"))
		// Another scope's ordinary alert is an incident as usual.
		other := firing("other", t0)
		other.Scope = "staging"
		assert.Equal(t, []incident.Verdict{incident.VerdictCreated}, verdicts(t, s, other))

		// Within the timeout nothing happens.
		clock.set(t0.Add(time.Second))
		opened, beats, err := s.CheckHeartbeats(context.Background())
		require.NoError(t, err)
		assert.Zero(t, opened)
		require.Len(t, beats, 1)
		assert.Equal(t, "prod", beats[0].Scope)
		assert.Equal(t, ts(t0), ts(beats[0].LastSeen))

		// 5 s of silence: one critical incident, once, whatever the sweeps.
		clock.set(t0.Add(5 * time.Second))
		for range 3 {
			_, _, err = s.CheckHeartbeats(context.Background())
			require.NoError(t, err)
		}
		var title, description, severity, source, fingerprint, status string
		require.NoError(t, s.db.QueryRow(`SELECT title, description, severity, source, fingerprint, status FROM incidents
			WHERE dedup_scope = 'prod'`).Scan(&title, &description, &severity, &source, &fingerprint, &status))
		assert.Equal(t, "Heartbeat missing: Watchdog", title)
		assert.Contains(t, description, "integration prod")
		assert.Contains(t, description, t0.Format(time.RFC3339))
		assert.Equal(t, []string{"critical", "heartbeat", "heartbeat", "open"}, []string{severity, source, fingerprint, status})
		assert.Equal(t, 1, countWhere(t, s, "outbox", "event = 'created' AND incident_id IN (SELECT id FROM incidents WHERE source = 'heartbeat')"))

		// Auto-resolve never closes it: only a heartbeat does.
		_, err = s.ResolveStale(context.Background(), t0.Add(time.Hour))
		require.NoError(t, err)
		assert.Equal(t, 1, countWhere(t, s, "incidents", "source = 'heartbeat' AND status = 'open'"))

		// The next heartbeat resolves it, with the resolved event.
		clock.set(t0.Add(6 * time.Second))
		res, err := s.Apply(context.Background(), []Alert{watchdog("prod", incident.StatusFiring)})
		require.NoError(t, err)
		assert.Equal(t, incident.VerdictHeartbeat, res[0].Verdict)
		assert.NotEmpty(t, res[0].IncidentID, "the heartbeat incident it resolved")
		assert.Equal(t, 1, countWhere(t, s, "incidents", "source = 'heartbeat' AND status = 'resolved' AND resolution_reason = 'heartbeat_received'"))
		assert.Equal(t, 1, countWhere(t, s, "outbox", "event = 'resolved' AND incident_id IN (SELECT id FROM incidents WHERE source = 'heartbeat')"))

		// Silent again: a new incident, linked to the previous one.
		clock.set(t0.Add(20 * time.Second))
		opened, _, err = s.CheckHeartbeats(context.Background())
		require.NoError(t, err)
		assert.Equal(t, int64(1), opened)
		assert.Equal(t, 1, countWhere(t, s, "incidents", "source = 'heartbeat' AND status = 'open' AND previous_incident_id IS NOT NULL"))

		// The staging scope never sent a heartbeat: not watched.
		assert.Zero(t, countWhere(t, s, "incidents", "dedup_scope = 'staging' AND source = 'heartbeat'"))
	})
}

// Two replicas on one PostgreSQL, both sweeping at once: one incident.
func TestHeartbeatSweepAcrossReplicas(t *testing.T) {
	dsn := testutil.PostgresSchema(t)
	clock := newClock(t0)
	o := Options{Driver: DriverPostgres, DSN: dsn, Clock: clock.Now, Rules: heartbeatRules}
	a, b := openOptions(t, o), openOptions(t, o)
	verdicts(t, a, watchdog("prod", incident.StatusFiring), watchdog("payments", incident.StatusFiring))
	clock.set(t0.Add(time.Minute))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 5 {
		for _, s := range []*Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, _, err := s.CheckHeartbeats(context.Background())
				assert.NoError(t, err)
			}()
		}
	}
	close(start)
	wg.Wait()
	assert.Equal(t, 2, countWhere(t, a, "incidents", "source = 'heartbeat'"), "one per silent scope")
	assert.Equal(t, 1, countWhere(t, a, "incidents", "source = 'heartbeat' AND dedup_scope = 'prod'"))
}

// An integration that was announced and that no live collector announces
// any more is no longer watched: its open heartbeat incident resolves, its
// heartbeat is forgotten, and no incident opens for it again. One another
// replica still announces, or one never announced, stays watched.
func TestForgetRemovedIntegrations(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		clock := newClock(t0)
		s := e.open(Options{Clock: clock.Now, Rules: heartbeatRules, Sinks: analysis(rules.EventCreated, rules.EventResolved)})
		ctx := context.Background()
		require.NoError(t, s.Announce(ctx, "replica-a", "alertwebhook", []string{"p1", "p2", "p3"}))
		require.NoError(t, s.Announce(ctx, "replica-b", "alertwebhook", []string{"p1"}))
		beats := []Alert{
			watchdog("p1", incident.StatusFiring), watchdog("p2", incident.StatusFiring), watchdog("p3", incident.StatusFiring),
			watchdog("never-announced", incident.StatusFiring),
		}
		verdicts(t, s, beats...)
		clock.set(t0.Add(time.Minute))
		opened, _, err := s.CheckHeartbeats(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 4, opened)

		// Replica A's config drops p2 and p3; replica B (still on the old
		// one) serves p3.
		require.NoError(t, s.Announce(ctx, "replica-a", "alertwebhook", []string{"p1"}))
		require.NoError(t, s.Announce(ctx, "replica-b", "alertwebhook", []string{"p1", "p3"}))
		resolved, err := s.ForgetRemovedIntegrations(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 1, resolved)
		assert.Equal(t, 1, countWhere(t, s, "incidents", "dedup_scope = 'p2' AND status = 'resolved' AND resolution_reason = 'integration_removed'"))
		for _, scope := range []string{"p1", "p3", "never-announced"} {
			assert.Equal(t, 1, countWhere(t, s, "incidents", "dedup_scope = $1 AND status = 'open'", scope), "%s stays watched", scope)
		}
		assert.Equal(t, 0, countWhere(t, s, "heartbeats", "dedup_scope = 'p2'"))
		assert.Equal(t, []string{rules.EventCreated, rules.EventCreated, rules.EventCreated, rules.EventCreated, rules.EventResolved}, outboxEvents(t, s))

		// Replica B stops: p3 is no longer announced by anyone.
		require.NoError(t, s.Withdraw(ctx, "replica-b"))
		resolved, err = s.ForgetRemovedIntegrations(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 1, resolved, "p3")

		// Replica A crashes: its announcements count for AnnouncementTTL.
		clock.set(t0.Add(time.Minute + AnnouncementTTL - time.Second))
		resolved, err = s.ForgetRemovedIntegrations(ctx)
		require.NoError(t, err)
		assert.Zero(t, resolved, "p1 is still announced")
		clock.set(t0.Add(time.Minute + AnnouncementTTL + time.Second))
		resolved, err = s.ForgetRemovedIntegrations(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 1, resolved, "p1's announcement is over")
		assert.Equal(t, 1, countWhere(t, s, "incidents", "dedup_scope = 'never-announced' AND status = 'open'"))

		clock.set(t0.Add(time.Hour))
		opened, _, err = s.CheckHeartbeats(ctx)
		require.NoError(t, err)
		assert.Zero(t, opened, "forgotten ones open nothing; the never-announced one is already open")
	})
}

// With heartbeats off, the open heartbeat incidents resolve: nothing else
// would ever resolve them.
func TestForgetAllHeartbeats(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		clock := newClock(t0)
		on := e.open(Options{Clock: clock.Now, Rules: heartbeatRules})
		verdicts(t, on, watchdog("p1", incident.StatusFiring))
		clock.set(t0.Add(time.Hour))
		_, _, err := on.CheckHeartbeats(context.Background())
		require.NoError(t, err)
		off := e.open(Options{Clock: clock.Now})
		resolved, err := off.ForgetAllHeartbeats(context.Background())
		require.NoError(t, err)
		assert.EqualValues(t, 1, resolved)
		assert.Equal(t, 1, countWhere(t, off, "incidents", "source = 'heartbeat' AND resolution_reason = 'heartbeats_off'"))
		assert.Equal(t, 0, countWhere(t, off, "heartbeats", "1 = 1"))
	})
}
