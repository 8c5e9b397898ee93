package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

// sqlStore is the Store of both engines: the same statements, with the
// dialect converting timestamps.
type sqlStore struct {
	db        *sql.DB
	d         dialect
	now       func() time.Time
	committer *committer
	// Statements of the SQLite write path, prepared once: parsing and
	// planning them for each alert cost more than running them. (pgx caches
	// PostgreSQL's statements per connection itself.)
	upsertFiring, repeatOpen, resolvedInstance, resolveOpen *sql.Stmt

	events   map[string]bool // analysis events to queue
	outboxed chan struct{}
}

func (s *sqlStore) Outboxed() <-chan struct{} { return s.outboxed }

// prepare readies the write-path statements.
func (s *sqlStore) prepare(ctx context.Context) error {
	for _, p := range []struct {
		stmt **sql.Stmt
		text string
	}{{&s.upsertFiring, upsertFiring}, {&s.repeatOpen, repeatOpen}, {&s.resolvedInstance, resolvedInstance}, {&s.resolveOpen, resolveOpen}} {
		stmt, err := s.db.PrepareContext(ctx, p.text)
		if err != nil {
			return fmt.Errorf("preparing statements: %w", err)
		}
		*p.stmt = stmt
	}
	return nil
}

// The firing path is one statement. It inserts a new open incident unless the
// same instance (key + startsAt) was already resolved (a stale retry or an HA
// echo); on conflict with the open incident of the key it counts a repeat.
// The RETURNING id tells which happened: ours is new, another is a duplicate,
// no row is the stale case.
const upsertFiring = `
INSERT INTO incidents (id, dedup_scope, fingerprint, project, source, title, description, service_name,
    severity, status, detected_at, created_at, updated_at, last_seen_at, occurrences,
    labels, annotations, generator_url, previous_incident_id)
SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, 'open', $10, $11, $11, $11, 1, $12, $13, $14,
    (SELECT p.id FROM incidents p WHERE p.dedup_scope = $2 AND p.fingerprint = $3 AND p.status = 'resolved'
      ORDER BY p.resolved_at DESC LIMIT 1)
WHERE NOT EXISTS (SELECT 1 FROM incidents r WHERE r.dedup_scope = $2 AND r.fingerprint = $3
    AND r.detected_at = $10 AND r.status = 'resolved')
ON CONFLICT (dedup_scope, fingerprint) WHERE status = 'open'
DO UPDATE SET last_seen_at = excluded.last_seen_at, updated_at = excluded.updated_at,
    occurrences = incidents.occurrences + 1
RETURNING CAST(id AS TEXT), title`

// A repeat of the open incident's instance (or of a later one) is counted by
// one indexed UPDATE: repeats are most of what Alertmanager sends, and this is
// cheaper than letting the INSERT conflict first.
const repeatOpen = `
UPDATE incidents SET last_seen_at = $3, updated_at = $3, occurrences = occurrences + 1
WHERE dedup_scope = $1 AND fingerprint = $2 AND status = 'open' AND detected_at <= $4
RETURNING CAST(id AS TEXT), title`

const resolvedInstance = `
SELECT CAST(id AS TEXT), title FROM incidents
WHERE dedup_scope = $1 AND fingerprint = $2 AND detected_at = $3 AND status = 'resolved' LIMIT 1`

// A resolved notification closes the open incident of its key, unless that
// incident started after the alert did: then it is a newer instance and the
// notification is a late one about an older instance.
const resolveOpen = `
UPDATE incidents SET status = 'resolved', resolved_at = $3, resolution_reason = 'alert_resolved',
    updated_at = $4, last_seen_at = $4
WHERE dedup_scope = $1 AND fingerprint = $2 AND status = 'open' AND detected_at <= $5
RETURNING CAST(id AS TEXT), title`

const resolveStale = `
UPDATE incidents SET status = 'resolved', resolved_at = $2, resolution_reason = 'auto_resolved', updated_at = $2
WHERE status = 'open' AND last_seen_at < $1`

func (s *sqlStore) DB() *sql.DB { return s.db }

func (s *sqlStore) Apply(ctx context.Context, alerts []Alert) ([]Result, error) {
	if len(alerts) == 0 {
		return nil, nil
	}
	results, err := s.committer.submit(ctx, alerts)
	if err == nil && len(s.events) > 0 {
		for _, r := range results {
			if r.Verdict == incident.VerdictCreated || r.Verdict == incident.VerdictResolved {
				// Wake the dispatcher; one pending signal is enough.
				select {
				case s.outboxed <- struct{}{}:
				default:
				}
				break
			}
		}
	}
	return results, err
}

func (s *sqlStore) Close() error {
	s.committer.close()
	for _, stmt := range []*sql.Stmt{s.upsertFiring, s.repeatOpen, s.resolvedInstance, s.resolveOpen} {
		if stmt != nil { // PostgreSQL goes through pgx and prepares nothing here
			_ = stmt.Close()
		}
	}
	return s.db.Close()
}

// applySQL runs the rules for alerts in one database/sql transaction, one
// statement after the other: the SQLite path, where a statement costs no
// round trip. PostgreSQL goes through applyPgx.
func (s *sqlStore) applySQL(ctx context.Context, alerts []Alert) ([]Result, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("beginning a transaction: %w", err)
	}
	results, err := s.applyTx(ctx, tx, alerts)
	if err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("committing: %w", err)
	}
	return results, nil
}

// applyTx runs the rules for alerts inside tx, in order.
func (s *sqlStore) applyTx(ctx context.Context, tx *sql.Tx, alerts []Alert) ([]Result, error) {
	now := s.d.ts(s.now())
	out := make([]Result, len(alerts))
	// Bound to tx once for the whole group, not once per alert; the
	// transaction closes them.
	st := &txStmts{
		repeat:   tx.StmtContext(ctx, s.repeatOpen),
		upsert:   tx.StmtContext(ctx, s.upsertFiring),
		instance: tx.StmtContext(ctx, s.resolvedInstance),
		resolve:  tx.StmtContext(ctx, s.resolveOpen),
	}
	for i := range alerts {
		a := &alerts[i]
		var err error
		if a.Status == incident.StatusResolved {
			out[i], err = s.resolve(ctx, st, a, now)
		} else {
			out[i], err = s.fire(ctx, st, a, now)
		}
		if err != nil {
			return nil, fmt.Errorf("alert %s/%s: %w", a.Scope, a.Fingerprint, err)
		}
		if len(s.events) > 0 {
			if err := s.outboxFor(ctx, tx, out[i], now); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// txStmts are the write-path statements of one transaction.
type txStmts struct{ repeat, upsert, instance, resolve *sql.Stmt }

func (s *sqlStore) fire(ctx context.Context, st *txStmts, a *Alert, now any) (Result, error) {
	startsAt := s.d.ts(a.StartsAt)
	var r Result
	// Statements cost no round trip here (SQLite, in process): trying the
	// repeat first saves the upsert's work on the most common notification.
	err := st.repeat.QueryRowContext(ctx, a.Scope, a.Fingerprint, now, startsAt).Scan(&r.IncidentID, &r.Title)
	if err == nil {
		r.Verdict = incident.VerdictDuplicate
		return r, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return Result{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Result{}, err
	}
	newID := id.String()
	err = st.upsert.QueryRowContext(ctx,
		newID, a.Scope, a.Fingerprint, a.Project, a.Source, a.Title, a.Description, a.ServiceName,
		a.Severity, startsAt, now, a.Labels, a.Annotations, a.GeneratorURL,
	).Scan(&r.IncidentID, &r.Title)
	found := !errors.Is(err, sql.ErrNoRows)
	if found && err != nil {
		return Result{}, err
	}
	if settle(a, newID, &r, found) {
		if err := st.instance.QueryRowContext(ctx, a.Scope, a.Fingerprint, startsAt).Scan(&r.IncidentID, &r.Title); err != nil {
			return Result{}, fmt.Errorf("looking up the resolved instance: %w", err)
		}
	}
	return r, nil
}

// settle names the verdict of an upsert (firing) or resolve statement from
// whether it returned a row. It reports true for a firing whose instance was
// already resolved (the upsert returned nothing): a duplicate whose incident
// the caller looks up.
func settle(a *Alert, newID string, r *Result, found bool) (stale bool) {
	switch {
	case a.Status == incident.StatusResolved && !found:
		// Nothing open to close: a re-sent resolve, or one for an unknown alert.
		*r = Result{Verdict: incident.VerdictIgnored, Title: a.Title}
	case a.Status == incident.StatusResolved:
		r.Verdict = incident.VerdictResolved
	case !found:
		r.Verdict = incident.VerdictDuplicate
		return true
	case r.IncidentID == newID:
		r.Verdict = incident.VerdictCreated
	default:
		r.Verdict = incident.VerdictDuplicate
	}
	return false
}

// endsAt is when a resolved alert ended: its endsAt, or now when it has none.
func (s *sqlStore) endsAt(a *Alert) time.Time {
	if a.EndsAt.IsZero() {
		return s.now()
	}
	return a.EndsAt
}

func (s *sqlStore) resolve(ctx context.Context, st *txStmts, a *Alert, now any) (Result, error) {
	var r Result
	err := st.resolve.QueryRowContext(ctx, a.Scope, a.Fingerprint, s.d.ts(s.endsAt(a)), now, s.d.ts(a.StartsAt)).
		Scan(&r.IncidentID, &r.Title)
	found := !errors.Is(err, sql.ErrNoRows)
	if found && err != nil {
		return Result{}, err
	}
	settle(a, "", &r, found)
	return r, nil
}

func (s *sqlStore) ResolveStale(ctx context.Context, cutoff, now time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, resolveStale, s.d.ts(cutoff), s.d.ts(now))
	if err != nil {
		return 0, classify(fmt.Errorf("resolving stale incidents: %w", err))
	}
	return res.RowsAffected()
}
