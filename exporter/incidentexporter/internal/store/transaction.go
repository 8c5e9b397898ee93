package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
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
// rules need, apply the rules (rules.go) and write what changed. It returns
// one result per op.
func (s *Store) transact(ctx context.Context, ops []op) ([]Result, error) {
	held := map[groupRef]bool{}
	for i := range ops {
		held[ops[i].group] = true
	}
	var txErr error
	for attempt := 1; ; attempt++ {
		var results []Result
		var st *state
		var more []groupRef
		txErr = s.exec.inTx(ctx, func(tx txn) ([]query, error) {
			st = newState()
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
			run := ruleRun{Rules: &s.rules, st: st, now: s.now().UTC().Truncate(time.Microsecond), events: s.events}
			results = make([]Result, len(ops))
			for i := range ops {
				results[i] = run.apply(&ops[i])
			}
			return s.writes(st, run.now), nil
		})
		if txErr == nil {
			if st != nil && len(st.events) > 0 {
				s.wakeDispatcher()
			}
			return results, nil
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
func lockKeys(space string, groups map[groupRef]bool) []int64 {
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
func groupLockKey(space string, g groupRef) int64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for _, s := range [3]string{space, g.scope, g.key} {
		for i := range len(s) {
			h = (h ^ uint64(s[i])) * prime
		}
		h = (h ^ 0xff) * prime
	}
	return int64(h) //nolint:gosec // a lock key: any 64 bits do
}

// load takes the locks, then reads, in the same round trip, the rows the
// ops need: each group's open and latest resolved incident, each alert's
// firing instance and the instance it names, each watched heartbeat.
func (s *Store) load(ctx context.Context, tx txn, st *state, ops []op, locks []query) error {
	var groups, instances [][]any
	seenGroup := map[groupRef]bool{}
	seenInstance := map[instanceRef]bool{}
	qs := locks
	for i := range ops {
		o := &ops[i]
		if !seenGroup[o.group] {
			seenGroup[o.group] = true
			groups = append(groups, []any{o.group.scope, o.group.key})
		}
		switch {
		case o.silent:
			scope := o.group.scope
			qs = append(qs, query{sql: selectHeartbeat, args: []any{scope}, row: func(scan func(...any) error) error {
				var name string
				var last any
				if err := scan(&name, &last); err != nil {
					return err
				}
				if name == s.rules.HeartbeatAlertname {
					st.heartbeats[scope] = s.d.parseTS(last)
				}
				return nil
			}})
		case o.alert != nil && o.group.key != heartbeatGroupKey:
			ref := instanceRef{alertRef{o.alert.Scope, o.alert.Fingerprint}, o.alert.StartsAt}
			if !seenInstance[ref] {
				seenInstance[ref] = true
				instances = append(instances, []any{ref.scope, ref.fingerprint, s.d.ts(ref.startsAt)})
			}
		}
	}
	qs = append(qs, s.sql.groups.queries(groups, s.incidentScanner(st))...)
	qs = append(qs, s.sql.members.queries(instances, s.memberScanner(st))...)
	if err := tx.run(ctx, qs); err != nil {
		return fmt.Errorf("reading incidents: %w", err)
	}
	return nil
}

// loadIncidentsOfFiring reads the incidents of firing instances that belong
// to a group not read yet (an alert that fires in another group's incident).
// It returns those groups when this transaction does not hold their lock.
func (s *Store) loadIncidentsOfFiring(ctx context.Context, tx txn, st *state, held map[groupRef]bool) ([]groupRef, error) {
	var qs []query
	asked := map[string]bool{}
	for _, m := range st.firing {
		if st.incidents[m.incidentID] == nil && !asked[m.incidentID] {
			asked[m.incidentID] = true
			qs = append(qs, query{sql: selectIncident, args: []any{m.incidentID}, row: s.incidentScanner(st)})
		}
	}
	if len(qs) == 0 {
		return nil, nil
	}
	if err := tx.run(ctx, qs); err != nil {
		return nil, fmt.Errorf("reading incidents: %w", err)
	}
	// The only writer (SQLite) holds every group.
	oneWriter := s.d.writers() == 1
	var more []groupRef
	for id := range asked {
		inc := st.incidents[id]
		if inc == nil {
			return nil, fmt.Errorf("incident %s of a firing alert is missing", id)
		}
		if g := (groupRef{inc.scope, inc.groupKey}); !oneWriter && !held[g] {
			more = append(more, g)
		}
	}
	return more, nil
}

func (s *Store) incidentScanner(st *state) func(scan func(...any) error) error {
	return func(scan func(...any) error) error {
		r := &incidentRow{}
		var detected, resolved, lastSeen any
		if err := scan(&r.id, &r.scope, &r.groupKey, &r.fingerprint, &r.title, &r.severity, &r.status, &detected,
			&resolved, &lastSeen, &r.occurrences, &r.alertCount, &r.firingAlerts, &r.reopenCount); err != nil {
			return fmt.Errorf("reading an incident: %w", err)
		}
		r.detectedAt, r.lastSeenAt = s.d.parseTS(detected), s.d.parseTS(lastSeen)
		if resolved != nil {
			r.resolvedAt = s.d.parseTS(resolved)
		}
		st.addIncident(r)
		return nil
	}
}

func (s *Store) memberScanner(st *state) func(scan func(...any) error) error {
	return func(scan func(...any) error) error {
		m := &memberRow{}
		var startsAt any
		if err := scan(&m.incidentID, &m.ref.scope, &m.ref.fingerprint, &m.status, &startsAt, &m.title, &m.occurrences); err != nil {
			return fmt.Errorf("reading an alert instance: %w", err)
		}
		m.ref.startsAt = s.d.parseTS(startsAt)
		st.addMember(m)
		return nil
	}
}

// writes are the statements that store what the rules changed. Updates come
// before inserts: an incident or instance resolved in this transaction must
// leave the unique indexes before its successor enters them; incidents come
// before the members and events that refer to them.
func (s *Store) writes(st *state, at time.Time) []query {
	ts := s.d.ts
	now := ts(at)
	var updInc, insInc, updMem, insMem, closed, events [][]any
	for _, inc := range st.incOrder {
		switch {
		case inc.isNew:
			insInc = append(insInc, []any{
				inc.id, inc.scope, inc.groupKey, inc.fingerprint, inc.project, inc.source,
				inc.title, inc.description, inc.serviceName, inc.severity, inc.status, ts(inc.detectedAt),
				s.nullTS(inc.resolvedAt), nullStr(inc.reason), now, now, ts(inc.lastSeenAt), inc.occurrences,
				inc.alertCount, inc.firingAlerts, inc.reopenCount, inc.labels, inc.annotations, inc.generatorURL,
				nullStr(inc.previousID),
			})
		case inc.dirty:
			updInc = append(updInc, []any{
				inc.id, inc.status, inc.severity, s.nullTS(inc.resolvedAt), nullStr(inc.reason),
				now, ts(inc.lastSeenAt), inc.occurrences, inc.alertCount, inc.firingAlerts, inc.reopenCount,
			})
		}
	}
	for _, m := range st.memOrder {
		switch {
		case m.isNew:
			insMem = append(insMem, []any{
				m.incidentID, m.ref.scope, m.ref.fingerprint, m.status, ts(m.ref.startsAt),
				s.nullTS(m.endsAt), m.title, m.severity, m.labels, m.annotations, ts(m.lastSeenAt), ts(m.lastSeenAt), m.occurrences,
			})
		case m.dirty:
			updMem = append(updMem, []any{
				m.ref.scope, m.ref.fingerprint, ts(m.ref.startsAt), m.status,
				s.nullTS(m.endsAt), ts(m.lastSeenAt), m.occurrences,
			})
		}
	}
	for _, c := range st.closed {
		closed = append(closed, []any{c.id, ts(c.endsAt), now})
	}
	for _, e := range st.events {
		events = append(events, []any{e.incidentID, e.name, e.key, now, now})
	}
	var qs []query
	qs = append(qs, s.sql.updateIncidents.queries(updInc, nil)...)
	qs = append(qs, s.sql.insertIncidents.queries(insInc, nil)...)
	qs = append(qs, s.sql.updateMembers.queries(updMem, nil)...)
	qs = append(qs, s.sql.closeMembers.queries(closed, nil)...)
	qs = append(qs, s.sql.insertMembers.queries(insMem, nil)...)
	last := map[string]bool{}
	for i := len(st.beats) - 1; i >= 0; i-- { // one upsert per scope: the last beat
		if b := st.beats[i]; !last[b.scope] {
			last[b.scope] = true
			qs = append(qs, query{sql: upsertHeartbeat, args: []any{b.scope, b.alertname, now, now}})
		}
	}
	return append(qs, s.sql.insertOutbox.queries(events, nil)...)
}

func (s *Store) nullTS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return s.d.ts(t)
}

func nullStr(v string) any {
	if v == "" {
		return nil
	}
	return v
}
