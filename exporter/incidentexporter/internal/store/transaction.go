package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
	"github.com/sre-copilot/incident-collector/internal/incident"
)

// maxAttempts bounds how often one transaction starts again: to take the
// lock of a group it found only while reading (an alert firing in another
// group's incident: each attempt holds more groups), or after a conflict
// between replicas that a fresh read resolves (a unique index stopped a
// write, a deadlock was broken).
const maxAttempts = 10

// errRelock starts the transaction again with more groups locked.
var errRelock = errors.New("more groups to lock")

// transact runs ops in one transaction: lock their groups, read the rows the
// rules need, run the rules and write what changed. It returns one outcome
// per op.
func (s *Store) transact(ctx context.Context, ops []rules.Op) ([]incident.Outcome, error) {
	held := map[rules.GroupRef]bool{}
	for i := range ops {
		held[ops[i].Group()] = true
	}
	var txErr error
	for attempt := 1; ; attempt++ {
		var outcomes []incident.Outcome
		var st *rules.State
		var more []rules.GroupRef
		txErr = s.exec.inTx(ctx, func(tx txn) ([]query, error) {
			st = rules.NewState()
			if err := s.load(ctx, tx, st, ops, s.d.lockGroups(lockKeys(s.lockSpace, held))); err != nil {
				return nil, err
			}
			unheld, err := s.loadIncidentsOfFiring(ctx, tx, st, held)
			if err != nil {
				return nil, err
			}
			if len(unheld) > 0 {
				more = unheld
				return nil, errRelock
			}
			now := s.now().UTC().Truncate(time.Microsecond)
			outcomes = s.rules.Run(st, ops, now)
			return s.writes(st, now), nil
		})
		if txErr == nil {
			if len(st.Events()) > 0 {
				s.wakeDispatchers()
			}
			return outcomes, nil
		}
		if attempt >= maxAttempts || ctx.Err() != nil {
			break
		}
		switch {
		case errors.Is(txErr, errRelock):
			for _, g := range more {
				held[g] = true
			}
		case !isConflict(txErr):
			return nil, classify(txErr)
		}
	}
	return nil, classify(txErr)
}

// isConflict: another writer got there first; a new attempt reads what it
// wrote. PostgreSQL: unique violation, serialization failure, deadlock.
func isConflict(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505", "40001", "40P01":
			return true
		}
	}
	return false
}

// lockKeys are the groups' advisory lock keys, sorted.
func lockKeys(space string, groups map[rules.GroupRef]bool) []int64 {
	keys := make([]int64, 0, len(groups))
	for g := range groups {
		keys = append(keys, groupLockKey(space, g))
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// groupLockKey is FNV-1a 64 of the lock space (the database and schema:
// advisory locks are shared by a whole PostgreSQL server) and the group.
// Two groups that share a key only wait for each other.
func groupLockKey(space string, g rules.GroupRef) int64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for _, s := range [3]string{space, g.Scope, g.Key} {
		for i := range len(s) {
			h = (h ^ uint64(s[i])) * prime
		}
		h = (h ^ 0xff) * prime
	}
	return int64(h) //nolint:gosec // a lock key: any 64 bits do
}

// load takes the locks, then reads, in the same round trip, the rows the
// ops need (rules.Reads): each group's open and latest resolved incident,
// and what else each op asks for.
func (s *Store) load(ctx context.Context, tx txn, st *rules.State, ops []rules.Op, locks []query) error {
	var groups, byID, instances, alertsFiring, incidentsFiring [][]any
	seen := map[any]bool{}
	once := func(k any) bool {
		if seen[k] {
			return false
		}
		seen[k] = true
		return true
	}
	var silencesVersion int64
	qs := append(slices.Clip(locks), silencesVersionQuery(&silencesVersion))
	for i := range ops {
		o := &ops[i]
		if g := o.Group(); once(g) {
			groups = append(groups, []any{g.Scope, g.Key})
		}
		reads := s.rules.Reads(o)
		if reads.Instance && once(o.Alert.Instance()) {
			ref := o.Alert.Instance()
			instances = append(instances, []any{ref.Scope, ref.Fingerprint, s.d.ts(ref.StartsAt)})
		}
		if reads.FiringOfAlert && once(o.Alert.Ref()) {
			alertsFiring = append(alertsFiring, []any{o.Alert.Scope, o.Alert.Fingerprint})
		}
		if reads.Incident != "" && once("incident "+reads.Incident) {
			byID = append(byID, []any{reads.Incident})
		}
		if reads.FiringOf != "" && once("firing of "+reads.FiringOf) {
			incidentsFiring = append(incidentsFiring, []any{reads.FiringOf})
		}
		if reads.Heartbeat && once("heartbeat of "+o.Scope()) {
			scope := o.Scope()
			qs = append(qs, query{sql: selectHeartbeat, args: []any{scope}, row: func(scan func(...any) error) error {
				var name string
				var last any
				if err := scan(&name, &last); err != nil {
					return err
				}
				if name == s.rules.HeartbeatAlertname {
					st.SetHeartbeat(scope, s.d.parseTS(last))
				}
				return nil
			}})
		}
	}
	readIncident := scanner(incidentRead, s.d, func(r *rules.Incident) { st.AddIncident(r) })
	readMember := scanner(memberRead, s.d, st.AddMember)
	qs = append(qs, s.sql.groups.queries(groups, readIncident)...)
	qs = append(qs, s.sql.incidentsByID.queries(byID, readIncident)...)
	qs = append(qs, s.sql.instances.queries(instances, readMember)...)
	qs = append(qs, s.sql.firingOfAlerts.queries(alertsFiring, readMember)...)
	qs = append(qs, s.sql.firingOf.queries(incidentsFiring, readMember)...)
	if err := tx.run(ctx, qs); err != nil {
		return fmt.Errorf("reading incidents: %w", err)
	}
	return s.loadSilences(ctx, tx, st, silencesVersion, s.now())
}

// loadIncidentsOfFiring reads the incidents of firing instances that belong
// to a group not read yet (an alert that fires in another group's incident).
// It returns those groups when this transaction does not hold their lock.
func (s *Store) loadIncidentsOfFiring(ctx context.Context, tx txn, st *rules.State, held map[rules.GroupRef]bool) ([]rules.GroupRef, error) {
	ids := st.UnreadIncidents()
	if len(ids) == 0 {
		return nil, nil
	}
	rows := make([][]any, len(ids))
	for i, id := range ids {
		rows[i] = []any{id}
	}
	readIncident := scanner(incidentRead, s.d, func(r *rules.Incident) { st.AddIncident(r) })
	if err := tx.run(ctx, s.sql.incidentsByID.queries(rows, readIncident)); err != nil {
		return nil, fmt.Errorf("reading incidents: %w", err)
	}
	// The only writer (SQLite) holds every group.
	oneWriter := s.d.writers() == 1
	var more []rules.GroupRef
	for _, id := range ids {
		inc := st.Incident(id)
		if inc == nil {
			return nil, fmt.Errorf("incident %s of a firing alert is missing", id)
		}
		if g := inc.Group(); !oneWriter && !held[g] {
			more = append(more, g)
		}
	}
	return more, nil
}

// writes are the statements that store what the rules changed. Updates come
// before inserts: an incident or instance resolved in this transaction must
// leave the unique indexes before its successor enters them; incidents come
// before the members and events that refer to them.
func (s *Store) writes(st *rules.State, at time.Time) []query {
	var updInc, insInc, updMem, insMem, timelineRows [][]any
	for _, inc := range st.Incidents() {
		switch inc.Change {
		case rules.Created:
			insInc = append(insInc, bind(nil, inc, incidentInsert, s.d, at))
		case rules.Updated:
			updInc = append(updInc, bind(nil, inc, incidentUpdate, s.d, at))
		}
	}
	for _, m := range st.Members() {
		switch m.Change {
		case rules.Created:
			insMem = append(insMem, bind(nil, m, memberInsert, s.d, at))
		case rules.Updated:
			updMem = append(updMem, bind(nil, m, memberUpdate, s.d, at))
		}
	}
	now := s.d.ts(at)
	for _, e := range st.Events() {
		if e.Name == rules.EventEscalated {
			continue // no change people see of its own
		}
		row := TimelineEvent{IncidentID: e.IncidentID, At: at, Event: e.Name, By: e.By, Note: timelineNote(e), Fingerprint: e.Fingerprint}
		timelineRows = append(timelineRows, bind(nil, &row, timelineInsert, s.d, at))
	}
	var qs []query
	qs = append(qs, s.sql.updateIncidents.queries(updInc, nil)...)
	qs = append(qs, s.sql.insertIncidents.queries(insInc, nil)...)
	qs = append(qs, s.sql.updateMembers.queries(updMem, nil)...)
	qs = append(qs, s.sql.insertMembers.queries(insMem, nil)...)
	beats := st.Beats()
	last := map[string]bool{}
	for i := len(beats) - 1; i >= 0; i-- { // one upsert per scope: the last beat
		if b := beats[i]; !last[b.Scope] {
			last[b.Scope] = true
			qs = append(qs, query{sql: upsertHeartbeat, args: []any{b.Scope, b.Alertname, now, now}})
		}
	}
	for _, scope := range st.Forgotten() {
		qs = append(qs, query{sql: deleteHeartbeat, args: []any{scope}}, query{sql: deleteAnnounced, args: []any{scope}})
	}
	qs = append(qs, s.sql.insertTimeline.queries(timelineRows, nil)...)
	return append(qs, s.sql.insertOutbox.queries(s.queued(st, at), nil)...)
}

// timelineNote is an event's note on the timeline: a resolution's reason,
// before what the person wrote.
func timelineNote(e rules.Event) string {
	switch {
	case e.Reason == "":
		return e.Note
	case e.Note == "":
		return e.Reason
	default:
		return e.Reason + ": " + e.Note
	}
}
