package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
	"github.com/sre-copilot/incident-collector/internal/incident"
)

func inGroup(a Alert, key string) Alert {
	a.GroupKey = key
	return a
}

func verdicts(t *testing.T, s *Store, alerts ...Alert) []incident.Verdict {
	t.Helper()
	res, err := s.Apply(context.Background(), alerts)
	require.NoError(t, err)
	out := make([]incident.Verdict, len(res))
	for i, r := range res {
		out[i] = r.Verdict
	}
	return out
}

// incidentRowOf reads the grouping columns of one incident.
type groupedRow struct {
	ID, Status, Severity, GroupKey           string
	AlertCount, FiringAlerts, ReopenCount    int64
	Occurrences                              int64
	PreviousID                               string
	DetectedAt, ResolvedAt, ResolutionReason string
}

func groupedRows(t *testing.T, s *Store, where string, args ...any) []groupedRow {
	t.Helper()
	var out []groupedRow
	err := eachRow(s.db.Query(`SELECT CAST(id AS TEXT), status, severity, group_key, alert_count, firing_alerts, reopen_count,
		occurrences, COALESCE(CAST(previous_incident_id AS TEXT), ''), detected_at, resolved_at, COALESCE(resolution_reason, '')
		FROM incidents WHERE `+where+` ORDER BY created_at, id`, args...))(func(scan func(...any) error) error {
		var r groupedRow
		var detected, resolved any
		if err := scan(&r.ID, &r.Status, &r.Severity, &r.GroupKey, &r.AlertCount, &r.FiringAlerts, &r.ReopenCount,
			&r.Occurrences, &r.PreviousID, &detected, &resolved, &r.ResolutionReason); err != nil {
			return err
		}
		r.DetectedAt = tsText(detected)
		if resolved != nil {
			r.ResolvedAt = tsText(resolved)
		}
		out = append(out, r)
		return nil
	})
	require.NoError(t, err)
	return out
}

func countWhere(t *testing.T, s *Store, table, where string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, s.db.QueryRow("SELECT COUNT(*) FROM "+table+" WHERE "+where, args...).Scan(&n))
	return n
}

// outboxEvents lists the queued analysis events as "event[:key]".
func outboxEvents(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	err := eachRow(s.db.Query(`SELECT event, event_key FROM outbox ORDER BY id`))(func(scan func(...any) error) error {
		var e, k string
		if err := scan(&e, &k); err != nil {
			return err
		}
		if k != "" {
			e += ":" + k
		}
		out = append(out, e)
		return nil
	})
	require.NoError(t, err)
	return out
}

var allEvents = []string{rules.EventCreated, rules.EventResolved, rules.EventReopened, rules.EventAlertAdded}

// Grouping (README, "Grouping") with by: group_key, on both engines.
func TestGroupByGroupKey(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		s := e.open(Options{Sinks: analysis(rules.EventCreated, rules.EventResolved)})
		const g = `{}/{}:{service="db"}`
		a, b, c, d := inGroup(firing("a", t0), g), inGroup(firing("b", t0), g), inGroup(firing("c", t0), g), inGroup(firing("d", t0.Add(time.Minute)), g)
		a.Severity, b.Severity, c.Severity, d.Severity = "medium", "high", "low", "critical"

		// One notification of three alerts → one incident with three members.
		assert.Equal(t, []incident.Verdict{incident.VerdictCreated, incident.VerdictGrouped, incident.VerdictGrouped}, verdicts(t, s, a, b, c))
		rows := groupedRows(t, s, "group_key = $1", g)
		require.Len(t, rows, 1)
		assert.Equal(t, int64(3), rows[0].AlertCount)
		assert.Equal(t, int64(3), rows[0].FiringAlerts)
		assert.Equal(t, "high", rows[0].Severity, "the highest of its members")
		assert.Equal(t, 3, countWhere(t, s, "incident_alerts", "incident_id = $1 AND status = 'firing'", rows[0].ID))

		// A fourth alert of the group joins it and raises the severity.
		assert.Equal(t, []incident.Verdict{incident.VerdictGrouped}, verdicts(t, s, d))
		rows = groupedRows(t, s, "group_key = $1", g)
		require.Len(t, rows, 1)
		assert.Equal(t, "critical", rows[0].Severity)
		assert.Equal(t, int64(4), rows[0].AlertCount)

		// The same alert again is a duplicate.
		assert.Equal(t, []incident.Verdict{incident.VerdictDuplicate}, verdicts(t, s, a))

		// resolve_on: all: resolving three of four leaves it open; the fourth resolves it.
		assert.Equal(t, []incident.Verdict{incident.VerdictAlertResolved, incident.VerdictAlertResolved, incident.VerdictAlertResolved},
			verdicts(t, s, resolved("a", t0, t0.Add(time.Hour)), resolved("b", t0, t0.Add(time.Hour)), resolved("c", t0, t0.Add(time.Hour))))
		rows = groupedRows(t, s, "group_key = $1", g)
		assert.Equal(t, "open", rows[0].Status)
		assert.Equal(t, int64(1), rows[0].FiringAlerts)
		assert.Equal(t, []incident.Verdict{incident.VerdictResolved}, verdicts(t, s, resolved("d", t0.Add(time.Minute), t0.Add(2*time.Hour))))
		rows = groupedRows(t, s, "group_key = $1", g)
		assert.Equal(t, "resolved", rows[0].Status)
		assert.Equal(t, ts(t0.Add(2*time.Hour)), rows[0].ResolvedAt)
		assert.Equal(t, 0, countWhere(t, s, "incident_alerts", "status = 'firing'"))

		// Events per incident, not per alert.
		assert.Equal(t, []string{rules.EventCreated, rules.EventResolved}, outboxEvents(t, s))
	})
}

func TestResolveOnFirst(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		s := e.open(Options{Rules: rules.Config{ResolveOn: rules.ResolveOnFirst}})
		const g = "group-1"
		verdicts(t, s, inGroup(firing("a", t0), g), inGroup(firing("b", t0), g), inGroup(firing("c", t0), g))
		assert.Equal(t, []incident.Verdict{incident.VerdictResolved}, verdicts(t, s, resolved("a", t0, t0.Add(time.Hour))))
		rows := groupedRows(t, s, "group_key = $1", g)
		require.Len(t, rows, 1)
		assert.Equal(t, "resolved", rows[0].Status)
		// The incident's other alerts end with it; their repeats stay on the resolved incident.
		assert.Equal(t, 0, countWhere(t, s, "incident_alerts", "status = 'firing'"))
		assert.Equal(t, []incident.Verdict{incident.VerdictDuplicate}, verdicts(t, s, inGroup(firing("b", t0), g)))
		assert.Equal(t, []incident.Verdict{incident.VerdictIgnored}, verdicts(t, s, resolved("c", t0, t0.Add(time.Hour))))
		assert.Len(t, groupedRows(t, s, "group_key = $1", g), 1)
		// A new alert of the group opens the next incident, linked to this one.
		assert.Equal(t, []incident.Verdict{incident.VerdictCreated}, verdicts(t, s, inGroup(firing("e", t0.Add(3*time.Hour)), g)))
		rows = groupedRows(t, s, "group_key = $1", g)
		require.Len(t, rows, 2)
		assert.Equal(t, rows[0].ID, rows[1].PreviousID)
	})
}

// by: labels with [service]: 50 alerts over 5 services → 5 incidents, 50 members.
func TestGroupByLabels(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		s := e.open(Options{})
		grouping := rules.Grouping{By: rules.GroupByLabels, Labels: []string{"service"}}
		alerts := make([]Alert, 50)
		for i := range alerts {
			service := fmt.Sprintf("svc-%d", i%5)
			fp := fmt.Sprintf("fp-%02d", i)
			alerts[i] = firing(fp, t0)
			alerts[i].GroupKey = grouping.KeyOf("", func(name string) (string, bool) { return service, name == "service" })
		}
		got := verdicts(t, s, alerts...)
		counts := map[incident.Verdict]int{}
		for _, v := range got {
			counts[v]++
		}
		assert.Equal(t, map[incident.Verdict]int{incident.VerdictCreated: 5, incident.VerdictGrouped: 45}, counts)
		assert.Equal(t, 5, countWhere(t, s, "incidents", "status = 'open'"))
		assert.Equal(t, 50, countWhere(t, s, "incident_alerts", "status = 'firing'"))
		assert.Equal(t, 5, countWhere(t, s, "incidents", "alert_count = 10"))
	})
}

// reopen_window: five fire/resolve cycles of one alert make one incident
// reopened four times, with one created event; without it, five incidents
// linked one to the next.
func TestReopenWindow(t *testing.T) {
	cycles := func(t *testing.T, s *Store) {
		t.Helper()
		for i := range 5 {
			start := t0.Add(time.Duration(i) * 10 * time.Minute)
			want := incident.VerdictCreated
			if i > 0 && s.rules.ReopenWindow > 0 {
				want = incident.VerdictReopened
			}
			assert.Equal(t, []incident.Verdict{want}, verdicts(t, s, firing("flap", start)), "cycle %d", i)
			assert.Equal(t, []incident.Verdict{incident.VerdictResolved}, verdicts(t, s, resolved("flap", start, start.Add(5*time.Minute))))
		}
	}
	eachEngine(t, func(t *testing.T, e engine) {
		t.Run("window 1h", func(t *testing.T) {
			s := newEngine(t, e.driver).open(Options{Rules: rules.Config{ReopenWindow: time.Hour}, Sinks: analysis(allEvents...)})
			cycles(t, s)
			rows := groupedRows(t, s, "fingerprint = 'flap'")
			require.Len(t, rows, 1)
			assert.Equal(t, int64(4), rows[0].ReopenCount)
			assert.Equal(t, int64(5), rows[0].AlertCount, "one member per instance")
			assert.Equal(t, "resolved", rows[0].Status)
			assert.Equal(t, []string{
				rules.EventCreated, rules.EventResolved, rules.EventReopened + ":1", rules.EventResolved + ":1", rules.EventReopened + ":2", rules.EventResolved + ":2",
				rules.EventReopened + ":3", rules.EventResolved + ":3", rules.EventReopened + ":4", rules.EventResolved + ":4",
			}, outboxEvents(t, s))
		})
		t.Run("window 0", func(t *testing.T) {
			s := newEngine(t, e.driver).open(Options{Sinks: analysis(allEvents...)})
			cycles(t, s)
			rows := groupedRows(t, s, "fingerprint = 'flap'")
			require.Len(t, rows, 5)
			for i := 1; i < 5; i++ {
				assert.Equal(t, rows[i-1].ID, rows[i].PreviousID)
				assert.Zero(t, rows[i].ReopenCount)
			}
		})
		t.Run("outside the window", func(t *testing.T) {
			s := newEngine(t, e.driver).open(Options{Rules: rules.Config{ReopenWindow: 5 * time.Minute}})
			verdicts(t, s, firing("slow", t0), resolved("slow", t0, t0.Add(time.Minute)))
			assert.Equal(t, []incident.Verdict{incident.VerdictCreated}, verdicts(t, s, firing("slow", t0.Add(time.Hour))))
		})
	})
}

// A resolve that ends before its alert started is kept, with resolved_at no
// earlier than detected_at; the same on both engines.
func TestResolvedAtNeverBeforeDetectedAt(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		s := e.open(Options{})
		verdicts(t, s, firing("neg", t0))
		assert.Equal(t, []incident.Verdict{incident.VerdictResolved}, verdicts(t, s, resolved("neg", t0, t0.Add(-time.Hour))))
		rows := groupedRows(t, s, "fingerprint = 'neg'")
		require.Len(t, rows, 1)
		assert.Equal(t, rows[0].DetectedAt, rows[0].ResolvedAt)
		var ends any
		require.NoError(t, s.db.QueryRow(`SELECT ends_at FROM incident_alerts WHERE fingerprint = 'neg'`).Scan(&ends))
		assert.Equal(t, ts(t0), tsText(ends))
	})
}

// An alert firing in one group's incident that arrives under another group
// key stays a duplicate of the incident it fires in (the lock of that group
// is taken on the way).
func TestAlertFiringInAnotherGroup(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		s := e.open(Options{})
		verdicts(t, s, inGroup(firing("x", t0), "route-a"))
		assert.Equal(t, []incident.Verdict{incident.VerdictDuplicate}, verdicts(t, s, inGroup(firing("x", t0), "route-b")))
		assert.Equal(t, 1, countWhere(t, s, "incidents", "1 = 1"))
		assert.Equal(t, []incident.Verdict{incident.VerdictResolved}, verdicts(t, s, inGroup(resolved("x", t0, t0.Add(time.Minute)), "route-b")))
	})
}

func TestAutoResolveQueuesResolvedEvents(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		clock := newClock(t0)
		s := e.open(Options{Clock: clock.Now, Sinks: analysis(rules.EventCreated, rules.EventResolved)})
		verdicts(t, s, firing("a", t0), inGroup(firing("b", t0), "g"), inGroup(firing("c", t0), "g"))
		clock.set(t0.Add(2 * time.Hour))
		n, err := s.ResolveStale(context.Background(), t0.Add(time.Hour))
		require.NoError(t, err)
		assert.Equal(t, int64(2), n)
		assert.Equal(t, 0, countWhere(t, s, "incident_alerts", "status = 'firing'"))
		assert.Equal(t, 2, countWhere(t, s, "outbox", "event = 'resolved'"))
		assert.Equal(t, 2, countWhere(t, s, "incidents", "resolution_reason = 'auto_resolved'"))
		// A second sweep finds nothing more.
		n, err = s.ResolveStale(context.Background(), t0.Add(time.Hour))
		require.NoError(t, err)
		assert.Zero(t, n)
	})
}

// An alert that started long before its group's incident resolved is a late
// message, not a flap: it never reopens that incident.
func TestReopenNeedsTheAlertToStartAfterTheResolution(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		s := e.open(Options{Rules: rules.Config{ReopenWindow: 15 * time.Minute}})
		g := "group"
		verdicts(t, s, inGroup(firing("a", t0), g), inGroup(resolved("a", t0, t0.Add(time.Hour)), g))
		assert.Equal(t, []incident.Verdict{incident.VerdictCreated},
			verdicts(t, s, inGroup(firing("old", t0.Add(-60*24*time.Hour)), g)), "started 60 days before the resolution")
		assert.Equal(t, []incident.Verdict{incident.VerdictResolved, incident.VerdictReopened},
			verdicts(t, s, inGroup(resolved("old", t0.Add(-60*24*time.Hour), t0.Add(2*time.Hour)), g), inGroup(firing("b", t0.Add(2*time.Hour+time.Minute)), g)),
			"started a minute after the resolution")
	})
}

// A new startsAt while the alert fires: the alert ended and fired again (or
// its sender lost its state). The new instance takes the old one's place in
// the incident, so that every message about either instance, in any order,
// lands right: no incident left without its alert, no phantom one.
func TestNewInstanceTakesTheFiringOnesPlace(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		s := e.open(Options{})
		t5 := t0.Add(5 * time.Minute)
		assert.Equal(t, []incident.Verdict{
			incident.VerdictCreated,   // X@t0
			incident.VerdictDuplicate, // X@t5: the same incident goes on
			incident.VerdictIgnored,   // a late resolve of X@t0 does not end X@t5
			incident.VerdictDuplicate, // a late firing of X@t0 changes nothing
			incident.VerdictResolved,  // X@t5 resolves
			incident.VerdictDuplicate, // a late retry of X@t5's firing: stays resolved
		}, verdicts(t, s, firing("x", t0), firing("x", t5), resolved("x", t0, t0.Add(time.Minute)), firing("x", t0),
			resolved("x", t5, t5.Add(time.Minute)), firing("x", t5)))
		rows := groupedRows(t, s, "fingerprint = 'x'")
		require.Len(t, rows, 1, "no phantom incident")
		assert.Equal(t, "resolved", rows[0].Status)
		assert.Equal(t, int64(2), rows[0].AlertCount)
		var ends any
		require.NoError(t, s.db.QueryRow(`SELECT ends_at FROM incident_alerts WHERE fingerprint = 'x' AND starts_at = $1`, s.d.ts(t0)).Scan(&ends))
		assert.Equal(t, ts(t5), tsText(ends), "the old instance ended when the new one started")
	})
}
