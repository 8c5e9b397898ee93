package store

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumererror"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

// releaseSchema applies the migrations of an earlier release, up to
// version last, as that release did.
func releaseSchema(t *testing.T, db *sql.DB, d dialect, last int) {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`)
	require.NoError(t, err)
	migrations, err := loadMigrations(d)
	require.NoError(t, err)
	for _, m := range migrations {
		if m.version <= last {
			require.NoError(t, applyMigration(ctx, conn, d, m), m.name)
		}
	}
}

// A database written by the release before grouping upgrades in place: every
// incident is kept, becomes a group of one with its member, and the rules go
// on from where it was, including for the duplicate instance that release
// could leave behind (a resolved incident and an open one for one instance).
func TestUpgradeFromTheReleaseBeforeGrouping(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		db, d := e.releaseDB(2) // 0001 incidents, 0002 outbox
		at := func(m int) any { return d.ts(t0.Add(time.Duration(m) * time.Minute)) }
		const insert = `INSERT INTO incidents (id, dedup_scope, fingerprint, title, severity, status, detected_at, resolved_at,
			resolution_reason, created_at, updated_at, last_seen_at, occurrences, labels, annotations, previous_incident_id)
			VALUES ($1, 'alertmanager', $2, $3, 'high', $4, $5, $6, $7, $5, $5, $5, $8, '{"alertname":"A"}', '{}', $9)`
		rows := []struct {
			id, fp, title, status string
			detected, resolved    any
			reason                any
			occurrences           int
			previous              any
		}{
			{"01930000-0000-7000-8000-000000000001", "open-fp", "Open", "open", at(0), nil, nil, 7, nil},
			{"01930000-0000-7000-8000-000000000002", "done-fp", "Done", "resolved", at(0), at(30), "alert_resolved", 2, nil},
			{"01930000-0000-7000-8000-000000000003", "done-fp", "Done", "open", at(60), nil, nil, 1, "01930000-0000-7000-8000-000000000002"},
			// The phantom pair: one instance stored twice.
			{"01930000-0000-7000-8000-000000000004", "twice-fp", "Twice", "resolved", at(0), at(10), "alert_resolved", 1, nil},
			{"01930000-0000-7000-8000-000000000005", "twice-fp", "Twice", "open", at(0), nil, nil, 1, nil},
			// A resolve whose endsAt came before the alert started, stored as sent.
			{"01930000-0000-7000-8000-000000000006", "early-fp", "Early", "resolved", at(60), at(10), "alert_resolved", 1, nil},
		}
		for _, r := range rows {
			_, err := db.Exec(insert, r.id, r.fp, r.title, r.status, r.detected, r.resolved, r.reason, r.occurrences, r.previous)
			require.NoError(t, err)
		}
		_, err := db.Exec(`INSERT INTO analysis_outbox (incident_id, event, status, created_at, next_attempt_at)
			VALUES ('01930000-0000-7000-8000-000000000001', 'created', 'pending', $1, $1)`, at(0))
		require.NoError(t, err)
		require.NoError(t, db.Close())

		// The new release starts on it.
		s := e.open(Options{})
		assert.Equal(t, 6, countWhere(t, s, "incidents", "1 = 1"), "every incident kept")
		assert.Equal(t, 6, countWhere(t, s, "incidents", "group_key = fingerprint"))
		assert.Equal(t, 0, countWhere(t, s, "incidents", "resolved_at < detected_at"), "never ends before it began")
		assert.Equal(t, 0, countWhere(t, s, "incident_alerts", "ends_at < starts_at"))
		assert.Equal(t, 3, countWhere(t, s, "incidents", "status = 'open' AND firing_alerts = 1"))
		assert.Equal(t, 3, countWhere(t, s, "incident_alerts", "status = 'firing'"))
		assert.Equal(t, 2, countWhere(t, s, "incident_alerts", "status = 'resolved'"), "the phantom's resolved twin has no member")
		assert.Equal(t, 1, countWhere(t, s, "incident_alerts", "fingerprint = 'open-fp' AND occurrences = 7"))
		assert.Equal(t, 1, countWhere(t, s, "outbox", "event = 'created' AND event_key = '' AND status = 'pending'"))
		var versions int
		require.NoError(t, s.db.QueryRow("SELECT COUNT(*) FROM schema_migrations").Scan(&versions))
		all, err := loadMigrations(d)
		require.NoError(t, err)
		assert.Equal(t, len(all), versions)

		// The rules go on from the old rows.
		assert.Equal(t, []incident.Verdict{
			incident.VerdictDuplicate, // the open incident repeats
			incident.VerdictDuplicate, // a stale retry of the resolved instance
			incident.VerdictResolved,  // the newer instance resolves
			incident.VerdictDuplicate, // the phantom's open incident repeats
		}, verdicts(t, s,
			firing("open-fp", t0), firing("done-fp", t0), resolved("done-fp", t0.Add(time.Hour), t0.Add(2*time.Hour)), firing("twice-fp", t0)))
		assert.Equal(t, 1, countWhere(t, s, "incidents", "fingerprint = 'open-fp' AND occurrences = 8"))
		res, err := s.Apply(context.Background(), []Alert{firing("done-fp", t0.Add(3*time.Hour))})
		require.NoError(t, err)
		assert.Equal(t, incident.VerdictCreated, res[0].Verdict)
		assert.Equal(t, 1, countWhere(t, s, "incidents", "CAST(id AS TEXT) = $1 AND CAST(previous_incident_id AS TEXT) = '01930000-0000-7000-8000-000000000003'", res[0].IncidentID))
	})
}

// A replica of the earlier release left running on the upgraded schema: its
// resolve (the statement it ran) is refused, retryably, instead of leaving a
// resolved incident with a firing alert. Both engines refuse the same
// corrupt states, with the same constraint names.
func TestEarlierReleaseResolveIsRefused(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		s := e.open(Options{})
		verdicts(t, s, firing("old-replica", t0))
		const earlierResolve = `
UPDATE incidents SET status = 'resolved', resolved_at = $3, resolution_reason = 'alert_resolved',
    updated_at = $4, last_seen_at = $4
WHERE dedup_scope = $1 AND fingerprint = $2 AND status = 'open' AND detected_at <= $5
RETURNING CAST(id AS TEXT), title`
		ts := s.d.ts
		_, err := s.db.Exec(earlierResolve, "alertmanager", "old-replica", ts(t0.Add(time.Hour)), ts(t0.Add(time.Hour)), ts(t0))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "incidents_resolved_fire_nothing")
		assert.False(t, consumererror.IsPermanent(classify(err)), "a sender retries it (503) until the replica is upgraded")
		assert.Equal(t, 1, countWhere(t, s, "incident_alerts", "fingerprint = 'old-replica' AND status = 'firing'"))

		_, err = s.db.Exec(`UPDATE incidents SET status = 'resolved', firing_alerts = 0, resolved_at = $1 WHERE fingerprint = 'old-replica'`,
			ts(t0.Add(-time.Hour)))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "incidents_resolved_after_detected")
	})
}
