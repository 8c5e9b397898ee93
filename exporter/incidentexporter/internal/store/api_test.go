package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
	"github.com/sre-copilot/incident-collector/internal/incident"
	"github.com/sre-copilot/incident-collector/internal/testutil"
)

// The incident API's store side on both engines: what the rules' table tests
// cannot show (the SQL, the locks, replicas).

func act(t *testing.T, s *Store, kind rules.Kind, id string) (incident.Verdict, rules.Incident) {
	t.Helper()
	out, inc, err := s.Act(context.Background(), kind, id, "alice", "looking")
	require.NoError(t, err)
	return out.Verdict, inc
}

func timelineOf(t *testing.T, s *Store, id string) []string {
	t.Helper()
	w, err := s.Incident(context.Background(), id, 0, 100)
	require.NoError(t, err)
	var out []string
	for _, e := range w.Timeline {
		line := []string{e.Event}
		for _, v := range []string{e.By, e.Note, e.Fingerprint} {
			if v != "" {
				line = append(line, v)
			}
		}
		out = append(out, strings.Join(line, " "))
	}
	return out
}

func TestActions(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		s := e.open(Options{Sinks: analysis(rules.EventCreated, rules.EventResolved)})
		id := apply1(t, s, firing("acted", t0)).IncidentID

		v, inc := act(t, s, rules.KindAcknowledge, id)
		assert.Equal(t, incident.VerdictAcknowledged, v)
		assert.Equal(t, rules.StatusAcknowledged, inc.ShownStatus())
		assert.Equal(t, "alice", inc.AcknowledgedBy)
		first := inc.AcknowledgedAt
		v, inc = act(t, s, rules.KindAcknowledge, id)
		assert.Equal(t, incident.VerdictUnchanged, v, "again: unchanged")
		assert.Equal(t, first, inc.AcknowledgedAt, "the first acknowledgement stays")

		// Acknowledged is open for the rules: a repeat is a duplicate.
		assert.Equal(t, incident.VerdictDuplicate, apply1(t, s, firing("acted", t0)).Verdict)

		v, inc = act(t, s, rules.KindUnacknowledge, id)
		assert.Equal(t, incident.VerdictUnacknowledged, v)
		assert.Equal(t, rules.StatusOpen, inc.ShownStatus())
		assert.Empty(t, inc.AcknowledgedBy)

		v, inc = act(t, s, rules.KindResolve, id)
		assert.Equal(t, incident.VerdictResolved, v)
		assert.Equal(t, rules.StatusResolved, inc.ShownStatus())
		assert.Equal(t, rules.ReasonManual, inc.Reason)
		assert.Equal(t, "alice", inc.ResolvedBy)
		assert.Equal(t, 0, countWhere(t, s, "incident_alerts", "fingerprint = 'acted' AND status = 'firing'"), "its alerts resolve with it")
		v, _ = act(t, s, rules.KindResolve, id)
		assert.Equal(t, incident.VerdictUnchanged, v, "again: unchanged")
		for _, kind := range []rules.Kind{rules.KindAcknowledge, rules.KindUnacknowledge} {
			out, _, err := s.Act(context.Background(), kind, id, "bob", "")
			require.NoError(t, err)
			assert.Equal(t, incident.VerdictIgnored, out.Verdict)
			assert.Equal(t, "Incident is resolved", out.Reason)
		}

		// The same instance again is a duplicate; a new one opens a new incident.
		assert.Equal(t, incident.VerdictDuplicate, apply1(t, s, firing("acted", t0)).Verdict)
		next := apply1(t, s, firing("acted", t0.Add(time.Hour)))
		assert.Equal(t, incident.VerdictCreated, next.Verdict)

		assert.Equal(t, []string{
			"created acted", "acknowledged alice looking", "unacknowledged alice looking",
			"alert_resolved acted", "resolved alice manual: looking",
		}, timelineOf(t, s, id))
		assert.Equal(t, []string{rules.EventCreated, rules.EventResolved, rules.EventCreated}, outboxEvents(t, s))

		_, _, err := s.Act(context.Background(), rules.KindAcknowledge, "01930000-0000-7000-8000-00000000dead", "alice", "")
		assert.ErrorIs(t, err, ErrNotFound)
		_, err = s.Incident(context.Background(), "01930000-0000-7000-8000-00000000dead", 10, 10)
		assert.ErrorIs(t, err, ErrNotFound)
	})
}

func TestListIncidents(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		s := e.open(Options{})
		// 30 incidents, one a minute; every third critical, every fifth in
		// another scope; the last ten resolved.
		ids := make([]string, 30)
		for i := range ids {
			a := firing(fmt.Sprintf("list-%02d", i), t0.Add(time.Duration(i)*time.Minute))
			if i%3 != 0 {
				a.Severity = incident.SeverityMedium
			}
			if i%5 == 0 {
				a.Scope = "other"
			}
			ids[i] = apply1(t, s, a).IncidentID
		}
		for i := 20; i < 30; i++ {
			a := resolved(fmt.Sprintf("list-%02d", i), t0.Add(time.Duration(i)*time.Minute), t0.Add(time.Hour))
			if i%5 == 0 {
				a.Scope = "other"
			}
			assert.Equal(t, incident.VerdictResolved, apply1(t, s, a).Verdict)
		}
		act(t, s, rules.KindAcknowledge, ids[3])

		list := func(f IncidentFilter) []string {
			t.Helper()
			if f.Limit == 0 {
				f.Limit = 100
			}
			page, err := s.ListIncidents(context.Background(), f)
			require.NoError(t, err)
			var out []string
			for _, inc := range page.Incidents {
				out = append(out, inc.Fingerprint)
			}
			return out
		}
		active := list(IncidentFilter{Statuses: []string{"open", "acknowledged"}})
		require.Len(t, active, 20)
		assert.Equal(t, "list-19", active[0], "newest detected first")
		assert.Equal(t, []string{"list-03"}, list(IncidentFilter{Statuses: []string{"acknowledged"}}))
		assert.Len(t, list(IncidentFilter{Statuses: []string{"open"}}), 19)
		assert.Len(t, list(IncidentFilter{Statuses: []string{"resolved"}}), 10)
		assert.Len(t, list(IncidentFilter{}), 30)
		assert.Len(t, list(IncidentFilter{Severities: []string{"critical"}}), 10)
		assert.Len(t, list(IncidentFilter{Severities: []string{"critical", "medium"}}), 30)
		assert.Equal(t, []string{"list-25", "list-20", "list-15", "list-10", "list-05", "list-00"}, list(IncidentFilter{Scope: "other"}))
		assert.Equal(t, []string{"list-07"}, list(IncidentFilter{Fingerprint: "list-07"}))
		assert.Equal(t, []string{"list-07"}, list(IncidentFilter{Fingerprint: "list-07", Scope: "alertmanager"}))
		assert.Empty(t, list(IncidentFilter{Fingerprint: "list-07", Scope: "other"}))
		assert.Len(t, list(IncidentFilter{Service: "api-gateway"}), 30)
		assert.Empty(t, list(IncidentFilter{Service: "nope"}))
		assert.Len(t, list(IncidentFilter{Project: "prod"}), 30)
		assert.Equal(t, []string{"list-11", "list-10"}, list(IncidentFilter{Since: t0.Add(10 * time.Minute), Until: t0.Add(12 * time.Minute)}))

		// Pages of 7 cover every incident once, also while new ones arrive.
		var seen []string
		f := IncidentFilter{Limit: 7}
		for pages := 0; ; pages++ {
			require.Less(t, pages, 10)
			page, err := s.ListIncidents(context.Background(), f)
			require.NoError(t, err)
			for _, inc := range page.Incidents {
				seen = append(seen, inc.Fingerprint)
			}
			// A newer incident arrives between pages: it is not on a later page.
			apply1(t, s, firing(fmt.Sprintf("late-%d", pages), t0.Add(time.Hour+time.Duration(pages)*time.Minute)))
			if page.Next == "" {
				break
			}
			f.After = page.Next
		}
		require.Len(t, seen, 30)
		for i, fp := range seen {
			assert.Equal(t, fmt.Sprintf("list-%02d", 29-i), fp)
		}
		_, err := s.ListIncidents(context.Background(), IncidentFilter{Limit: 5, After: "bm90LWEtY3Vyc29y"})
		assert.ErrorIs(t, err, ErrBadCursor)
	})
}

// The list reads through an index, not the whole table, on both engines.
func TestListIncidentsUsesAnIndex(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		s := e.open(Options{})
		for i := range 50 {
			apply1(t, s, firing(fmt.Sprintf("plan-%02d", i), t0.Add(time.Duration(i)*time.Minute)))
		}
		_, err := s.db.Exec("ANALYZE")
		require.NoError(t, err)
		for _, statuses := range [][]string{{"open", "acknowledged"}, nil, {"resolved"}} {
			f := IncidentFilter{Statuses: statuses, Limit: 50}
			plan := explainList(t, s, f)
			t.Logf("%v:\n%s", statuses, plan)
			assert.Contains(t, plan, "incidents_", "%v: %s", statuses, plan)
			// SQLite: "SCAN i USING INDEX" walks the index in order and stops
			// at the limit; a bare "SCAN i" reads the table, a temporary
			// B-tree sorts it all.
			assert.NotRegexp(t, `(?im)(Seq Scan|Sort\b|SCAN (i|incidents)$|TEMP B-TREE)`, plan, "%v: %s", statuses, plan)
		}
	})
}

func explainList(t *testing.T, s *Store, f IncidentFilter) string {
	t.Helper()
	ctx := context.Background()
	prefix := "EXPLAIN QUERY PLAN "
	query := s.db.QueryContext
	if s.d.name() == DriverPostgres {
		// Settings hold per connection: one for the settings and the plan.
		// (Not on SQLite: its one connection serves the list too.)
		conn, err := s.db.Conn(ctx)
		require.NoError(t, err)
		defer conn.Close()
		query = conn.QueryContext
		prefix = "EXPLAIN "
		// A 50-row table is read whole and sorted in no time; the point is
		// that an index serves the order once the table is large.
		for _, set := range []string{"enable_seqscan", "enable_bitmapscan", "enable_sort"} {
			_, err := conn.ExecContext(ctx, "SET "+set+" = off")
			require.NoError(t, err)
		}
		defer func() { _, _ = conn.ExecContext(ctx, "RESET ALL") }()
	}
	var captured string
	s.explain = func(q string, args []any) {
		var lines []string
		err := eachRow(query(ctx, prefix+q, args...))(func(scan func(...any) error) error {
			cols := make([]any, 4)
			ptrs := []any{&cols[0], &cols[1], &cols[2], &cols[3]}
			if s.d.name() == DriverPostgres {
				ptrs = ptrs[:1]
			}
			if err := scan(ptrs...); err != nil {
				return err
			}
			lines = append(lines, fmt.Sprint(cols[len(ptrs)-1]))
			return nil
		})
		require.NoError(t, err)
		captured = strings.Join(lines, "\n")
	}
	defer func() { s.explain = nil }()
	_, err := s.ListIncidents(ctx, f)
	require.NoError(t, err)
	return captured
}

// Two replicas: 30 incidents resolved by a person on A while their alerts
// resolve on B at the same moment. Every call succeeds, each incident is
// resolved once, and no member is left firing.
func TestManualResolveRacingAlertResolves(t *testing.T) {
	dsn := testutil.PostgresSchema(t)
	a := openOptions(t, Options{Driver: DriverPostgres, DSN: dsn, Sinks: analysis(rules.EventResolved)})
	b := openOptions(t, Options{Driver: DriverPostgres, DSN: dsn, Sinks: analysis(rules.EventResolved)})
	ids := make([]string, 30)
	for i := range ids {
		ids[i] = apply1(t, a, firing(fmt.Sprintf("race-api-%02d", i), t0)).IncidentID
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	verdicts := make([][2]incident.Verdict, len(ids))
	for i, id := range ids {
		wg.Go(func() {
			<-start
			out, _, err := a.Act(context.Background(), rules.KindResolve, id, "alice", "")
			if assert.NoError(t, err) {
				verdicts[i][0] = out.Verdict
			}
		})
		wg.Go(func() {
			<-start
			res, err := b.Apply(context.Background(), []Alert{resolved(fmt.Sprintf("race-api-%02d", i), t0, t0.Add(time.Minute))})
			if assert.NoError(t, err) {
				verdicts[i][1] = res[0].Verdict
			}
		})
	}
	close(start)
	wg.Wait()
	for i, v := range verdicts {
		// One of them resolved it; the other found it resolved.
		resolvedBy := 0
		if v[0] == incident.VerdictResolved {
			resolvedBy++
			assert.Equal(t, incident.VerdictIgnored, v[1], "the alert's resolve after the person's: nothing fires")
		}
		if v[1] == incident.VerdictResolved {
			resolvedBy++
			assert.Equal(t, incident.VerdictUnchanged, v[0], "the person's resolve after the alert's")
		}
		assert.Equal(t, 1, resolvedBy, "incident %d: %v", i, v)
	}
	assert.Equal(t, 30, countWhere(t, a, "incidents", "status = 'resolved' AND firing_alerts = 0"))
	assert.Equal(t, 0, countWhere(t, a, "incident_alerts", "status = 'firing'"))
	assert.Equal(t, 30, countWhere(t, a, "outbox", "event = 'resolved'"), "one resolved event each")
	assert.Equal(t, 30, countWhere(t, a, "incident_events", "event = 'resolved'"))
}

// A database of the current release (migrations up to 0004, written as that
// release wrote it) upgrades in place: incidents, members, events and
// heartbeats are kept, the API reads them, and people act on them.
func TestUpgradeFromTheCurrentRelease(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		db, d := e.releaseDB(4)
		at := func(m int) any { return d.ts(t0.Add(time.Duration(m) * time.Minute)) }
		exec := func(q string, args ...any) {
			t.Helper()
			_, err := db.Exec(q, args...)
			require.NoError(t, err)
		}
		const open, done = "01930000-0000-7000-8000-0000000000a1", "01930000-0000-7000-8000-0000000000a2"
		exec(`INSERT INTO incidents (id, dedup_scope, group_key, fingerprint, title, severity, status, detected_at,
			created_at, updated_at, last_seen_at, occurrences, alert_count, firing_alerts, labels)
			VALUES ($1, 'prod', 'g', 'fa', 'Open', 'high', 'open', $2, $2, $2, $2, 3, 2, 2, '{"alertname":"A"}')`, open, at(0))
		exec(`INSERT INTO incidents (id, dedup_scope, group_key, fingerprint, title, severity, status, detected_at, resolved_at,
			resolution_reason, created_at, updated_at, last_seen_at, alert_count, firing_alerts)
			VALUES ($1, 'prod', 'h', 'fc', 'Done', 'low', 'resolved', $2, $3, 'alert_resolved', $2, $3, $3, 1, 0)`, done, at(0), at(5))
		for _, m := range []struct {
			id, fp, status string
			ends           any
		}{{open, "fa", "firing", nil}, {open, "fb", "firing", nil}, {done, "fc", "resolved", at(5)}} {
			exec(`INSERT INTO incident_alerts (incident_id, dedup_scope, fingerprint, status, starts_at, ends_at, title, severity,
				first_seen_at, last_seen_at) VALUES ($1, 'prod', $2, $3, $4, $5, $2, 'high', $4, $4)`, m.id, m.fp, m.status, at(0), m.ends)
		}
		exec(`INSERT INTO analysis_outbox (incident_id, event, event_key, status, created_at, next_attempt_at)
			VALUES ($1, 'created', '', 'pending', $2, $2)`, open, at(0))
		exec(`INSERT INTO heartbeats (dedup_scope, alertname, first_seen_at, last_seen_at) VALUES ('prod', 'Watchdog', $1, $1)`, at(0))
		require.NoError(t, db.Close())

		s := e.open(Options{Rules: rules.Config{HeartbeatAlertname: "Watchdog", HeartbeatTimeout: time.Hour}})
		assert.Equal(t, 2, countWhere(t, s, "incidents", "1 = 1"))
		assert.Equal(t, 3, countWhere(t, s, "incident_alerts", "1 = 1"))
		assert.Equal(t, 1, countWhere(t, s, "outbox", "sink = 'analysis' AND status = 'pending'"), "the analysis trigger's events are the analysis sink's")
		page, err := s.ListIncidents(context.Background(), IncidentFilter{Limit: 10})
		require.NoError(t, err)
		require.Len(t, page.Incidents, 2)
		w, err := s.Incident(context.Background(), open, 10, 10)
		require.NoError(t, err)
		inc, ms, events := w.Incident, w.Members, w.Timeline
		assert.Equal(t, "open", inc.ShownStatus())
		assert.JSONEq(t, `{"alertname":"A"}`, inc.Labels)
		assert.Len(t, ms, 2)
		assert.Empty(t, events, "no timeline before this release")
		beats, err := s.Heartbeats(context.Background())
		require.NoError(t, err)
		require.Len(t, beats, 1)

		v, _ := act(t, s, rules.KindAcknowledge, open)
		assert.Equal(t, incident.VerdictAcknowledged, v)
		grouped := firing("fd", t0)
		grouped.Scope, grouped.GroupKey = "prod", "g"
		assert.Equal(t, incident.VerdictGrouped, apply1(t, s, grouped).Verdict, "the acknowledged incident takes new alerts")
		v, inc = act(t, s, rules.KindResolve, open)
		assert.Equal(t, incident.VerdictResolved, v)
		assert.EqualValues(t, 0, inc.FiringAlerts)
		assert.Equal(t, 0, countWhere(t, s, "incident_alerts", "status = 'firing'"))
	})
}

// A sender's acknowledgement (PagerDuty's acknowledge) acknowledges the open
// incident holding the alert, also when it is another group's.
func TestSenderAcknowledgesTheIncidentHoldingTheAlert(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		s := e.open(Options{})
		fired := firing("paged", t0)
		id := apply1(t, s, fired).IncidentID
		ack := fired
		ack.Status, ack.Source, ack.GroupKey = incident.StatusAcknowledged, "pagerduty", "another-group"
		out := apply1(t, s, ack)
		assert.Equal(t, incident.VerdictAcknowledged, out.Verdict)
		assert.Equal(t, id, out.IncidentID)
		w, err := s.Incident(context.Background(), id, 0, 10)
		require.NoError(t, err)
		inc, events := w.Incident, w.Timeline
		assert.Equal(t, rules.StatusAcknowledged, inc.ShownStatus())
		assert.Equal(t, "pagerduty", inc.AcknowledgedBy)
		assert.Equal(t, rules.EventAcknowledged, events[len(events)-1].Event)
		assert.Equal(t, incident.VerdictUnchanged, apply1(t, s, ack).Verdict)
		ack.Fingerprint = "never-fired"
		assert.Equal(t, incident.VerdictIgnored, apply1(t, s, ack).Verdict)
	})
}

// One incident is read with its first members and latest timeline events,
// and says whether there were more: a group may hold tens of thousands.
func TestIncidentReadIsBounded(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		s := e.open(Options{})
		var id string
		for i := range 5 {
			out := apply1(t, s, inGroup(firing(fmt.Sprintf("member-%d", i), t0.Add(time.Duration(i)*time.Minute)), "big"))
			id = out.IncidentID
		}
		w, err := s.Incident(context.Background(), id, 3, 2)
		require.NoError(t, err)
		require.Len(t, w.Members, 3)
		assert.True(t, w.MoreMembers)
		assert.Equal(t, "member-0", w.Members[0].Ref.Fingerprint, "the first, oldest first")
		require.Len(t, w.Timeline, 2)
		assert.True(t, w.MoreTimeline)
		assert.Equal(t, []string{"member-3", "member-4"}, []string{w.Timeline[0].Fingerprint, w.Timeline[1].Fingerprint}, "the latest, oldest first")
		w, err = s.Incident(context.Background(), id, 5, 5)
		require.NoError(t, err)
		assert.False(t, w.MoreMembers)
		assert.False(t, w.MoreTimeline)
	})
}
