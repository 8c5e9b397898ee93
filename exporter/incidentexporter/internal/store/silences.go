package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
)

// Silences (README, "Silences"). Every replica keeps the silences that have
// not ended, indexed (rules.Silences); each transaction reads the
// silences' version with its rows, in the same round trip, and reloads them
// first when it moved: a silence created on one replica holds the next
// alert any replica applies.

// ErrSilenceNotFound: no silence has this id.
var ErrSilenceNotFound = errors.New("silence not found")

// InvalidSilenceError lists what is wrong with a silence.
type InvalidSilenceError struct{ Problems []string }

func (e *InvalidSilenceError) Error() string {
	return "invalid silence: " + strings.Join(e.Problems, "; ")
}

// silenceCache is a replica's copy of the silences that had not ended.
type silenceCache struct {
	version int64
	index   *rules.Silences
}

type silenceCacheRef = atomic.Pointer[silenceCache]

// silenceRow is a silences row; the matchers are JSON.
type silenceRow struct {
	ID, Matchers, CreatedBy, Comment, Scope string
	StartsAt, EndsAt, CreatedAt, ReleasedAt time.Time
}

var silences = table[silenceRow]{name: "silences", alias: "s", fields: []field[silenceRow]{
	{"id", colUUID, func(r *silenceRow) any { return &r.ID }},
	{"matchers", colText, func(r *silenceRow) any { return &r.Matchers }},
	{"starts_at", colTime, func(r *silenceRow) any { return &r.StartsAt }},
	{"ends_at", colTime, func(r *silenceRow) any { return &r.EndsAt }},
	{"created_by", colText, func(r *silenceRow) any { return &r.CreatedBy }},
	{"comment", colText, func(r *silenceRow) any { return &r.Comment }},
	{"integration", colText, func(r *silenceRow) any { return &r.Scope }},
	{"created_at", colTime, func(r *silenceRow) any { return &r.CreatedAt }},
	{"updated_at", colTime, nil},
	{"released_at", colNullTime, func(r *silenceRow) any { return &r.ReleasedAt }},
}}

var (
	silenceCols   = strings.Replace(silences.selectList(silences.fields[:8]), "s.matchers", "CAST(s.matchers AS TEXT)", 1)
	silenceRead   = silences.fields[:8]
	silenceInsert = silences.pick("id", "matchers", "starts_at", "ends_at", "created_by", "comment", "integration", "created_at", "updated_at")
)

const (
	selectSilencesVersion = `SELECT version FROM silences_version WHERE id = 1`
	bumpSilencesVersion   = `UPDATE silences_version SET version = version + 1 WHERE id = 1`
)

func (r *silenceRow) silence() (rules.Silence, error) {
	s := rules.Silence{ID: r.ID, StartsAt: r.StartsAt, EndsAt: r.EndsAt, Scope: r.Scope, CreatedBy: r.CreatedBy, Comment: r.Comment}
	if err := json.Unmarshal([]byte(r.Matchers), &s.Matchers); err != nil {
		return s, fmt.Errorf("silence %s: matchers: %w", r.ID, err)
	}
	if problems := s.Compile(); len(problems) > 0 {
		return s, fmt.Errorf("silence %s: %s", r.ID, strings.Join(problems, "; "))
	}
	return s, nil
}

// silencesQuery reads the version; version is set when it returns.
func silencesVersionQuery(version *int64) query {
	return query{sql: selectSilencesVersion, row: func(scan func(...any) error) error { return scan(version) }}
}

// loadSilences gives st the silences, reloaded within tx when version is
// not the cached one.
func (s *Store) loadSilences(ctx context.Context, tx txn, st *rules.State, version int64, now time.Time) error {
	cached := s.silences.Load()
	if cached == nil || cached.version != version {
		var all []rules.Silence
		q := query{
			sql: "SELECT " + silenceCols + " FROM silences s WHERE s.ends_at > " + s.d.placeholder(1), args: []any{s.d.ts(now)},
			row: scanner(silenceRead, s.d, func(r *silenceRow) {
				// A row this release could not have written is left out,
				// not a reason to refuse alerts.
				if sil, err := r.silence(); err == nil {
					all = append(all, sil)
				}
			}),
		}
		if err := tx.run(ctx, []query{q}); err != nil {
			return fmt.Errorf("reading silences: %w", err)
		}
		cached = &silenceCache{version: version, index: rules.NewSilences(all)}
		s.silences.Store(cached)
	}
	st.SetSilences(cached.index)
	return nil
}

// NewSilence is what a person asks for.
type NewSilence struct {
	Matchers         []rules.Matcher
	StartsAt, EndsAt time.Time // StartsAt zero: now
	CreatedBy        string
	Comment          string
	Scope            string // "": every integration
}

// CreateSilence stores a silence; *InvalidSilenceError lists what is wrong.
func (s *Store) CreateSilence(ctx context.Context, n NewSilence) (rules.Silence, error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	sil := rules.Silence{
		ID: uuid.Must(uuid.NewV7()).String(), Matchers: n.Matchers, StartsAt: n.StartsAt.UTC().Truncate(time.Microsecond),
		EndsAt: n.EndsAt.UTC().Truncate(time.Microsecond), Scope: n.Scope, CreatedBy: n.CreatedBy, Comment: n.Comment,
	}
	if sil.StartsAt.IsZero() {
		sil.StartsAt = now
	}
	if problems := sil.Compile(); len(problems) > 0 {
		return sil, &InvalidSilenceError{Problems: problems}
	}
	if problem, err := s.silenceBudget(ctx, &sil, now); err != nil || problem != "" {
		if err != nil {
			return sil, err
		}
		return sil, &InvalidSilenceError{Problems: []string{problem}}
	}
	matchers, err := json.Marshal(sil.Matchers)
	if err != nil {
		return sil, fmt.Errorf("encoding matchers: %w", err)
	}
	row := silenceRow{
		ID: sil.ID, Matchers: string(matchers), StartsAt: sil.StartsAt, EndsAt: sil.EndsAt, CreatedBy: sil.CreatedBy,
		Comment: sil.Comment, Scope: sil.Scope, CreatedAt: now,
	}
	insert := insertInto(silences, silenceInsert, "").render(s.d)[1]
	err = s.exec.inTx(ctx, func(txn) ([]query, error) {
		return []query{{sql: insert, args: bind(nil, &row, silenceInsert, s.d, now)}, {sql: bumpSilencesVersion}}, nil
	})
	if err != nil {
		return sil, classify(fmt.Errorf("storing a silence: %w", err))
	}
	return sil, nil
}

// silenceBudget says why sil would be one silence too many, or "": every
// alert that would open an incident is checked against the silences that
// have not ended, so their number and their regular expressions are
// bounded. Replicas creating at once may each pass it: they overshoot by
// what they create at that moment.
func (s *Store) silenceBudget(ctx context.Context, sil *rules.Silence, now time.Time) (string, error) {
	silences, regexps := 1, sil.Regexps()
	err := eachRow(s.db.QueryContext(ctx, "SELECT "+silenceCols+" FROM silences s WHERE s.ends_at > $1", s.d.ts(now)))(
		scanner(silenceRead, s.d, func(r *silenceRow) {
			silences++
			if other, err := r.silence(); err == nil {
				regexps += other.Regexps()
			}
		}))
	if err != nil {
		return "", classify(fmt.Errorf("counting silences: %w", err))
	}
	switch {
	case silences > rules.MaxActiveSilences:
		return fmt.Sprintf("silences: %d have not ended, the most there may be is %d: end some first", silences-1, rules.MaxActiveSilences), nil
	case regexps > rules.MaxActiveRegexps:
		return fmt.Sprintf("matchers: the silences that have not ended would hold %d regular expressions, more than %d: "+
			"use equality matchers, or end some silences first", regexps, rules.MaxActiveRegexps), nil
	}
	return "", nil
}

// Silences lists the silences whose status (at now) is one of statuses
// (none: all), newest first.
func (s *Store) Silences(ctx context.Context, statuses ...string) ([]rules.Silence, error) {
	now := s.now()
	var out []rules.Silence
	var bad error
	err := eachRow(s.db.QueryContext(ctx, "SELECT "+silenceCols+" FROM silences s ORDER BY s.starts_at DESC, s.id DESC"))(
		scanner(silenceRead, s.d, func(r *silenceRow) {
			sil, err := r.silence()
			if err != nil {
				bad = err
				return
			}
			if len(statuses) == 0 || slices.Contains(statuses, sil.Status(now)) {
				out = append(out, sil)
			}
		}))
	if err == nil {
		err = bad
	}
	if err != nil {
		return nil, classify(fmt.Errorf("listing silences: %w", err))
	}
	return out, nil
}

// Silence reads one silence.
func (s *Store) Silence(ctx context.Context, id string) (rules.Silence, error) {
	if _, err := uuid.Parse(id); err != nil {
		return rules.Silence{}, ErrSilenceNotFound
	}
	var row *silenceRow
	err := eachRow(s.db.QueryContext(ctx, "SELECT "+silenceCols+" FROM silences s WHERE s.id = CAST($1 AS "+s.d.sqlType(colUUID)+")", id))(
		scanner(silenceRead, s.d, func(r *silenceRow) { row = r }))
	if err != nil {
		return rules.Silence{}, classify(fmt.Errorf("reading silence %s: %w", id, err))
	}
	if row == nil {
		return rules.Silence{}, ErrSilenceNotFound
	}
	return row.silence()
}

// ExpireSilence ends a silence now (one that ended already stays as it is)
// and opens, at once, the incidents of the alerts it held that still fire.
func (s *Store) ExpireSilence(ctx context.Context, id string) (rules.Silence, error) {
	if _, err := s.Silence(ctx, id); err != nil {
		return rules.Silence{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	ts := s.d.ts(now)
	err := s.exec.inTx(ctx, func(txn) ([]query, error) {
		return []query{
			// A pending silence ends before it starts: it never held anything.
			{
				sql: `UPDATE silences SET ends_at = $1, starts_at = CASE WHEN starts_at > $1 THEN $2 ELSE starts_at END,
				updated_at = $1 WHERE id = CAST($3 AS ` + s.d.sqlType(colUUID) + `) AND ends_at > $1`,
				args: []any{ts, s.d.ts(now.Add(-time.Microsecond)), id},
			},
			{sql: bumpSilencesVersion},
		}, nil
	})
	if err != nil {
		return rules.Silence{}, classify(fmt.Errorf("expiring silence %s: %w", id, err))
	}
	if _, err := s.ReleaseSilenced(ctx); err != nil {
		return rules.Silence{}, err
	}
	return s.Silence(ctx, id)
}

// ReleaseSilenced opens the incidents of the alerts that silences which
// ended held, once across replicas (each release is checked again under its
// group's lock), and marks those silences released. It returns how many
// held alerts it handled: released, or held on by another silence.
func (s *Store) ReleaseSilenced(ctx context.Context) (int64, error) {
	now := s.now()
	var ended []string
	err := eachRow(s.db.QueryContext(ctx, "SELECT CAST(id AS TEXT) FROM silences WHERE ends_at <= $1 AND released_at IS NULL ORDER BY ends_at LIMIT $2",
		s.d.ts(now), sweepBatch))(func(scan func(...any) error) error {
		var id string
		if err := scan(&id); err != nil {
			return err
		}
		ended = append(ended, id)
		return nil
	})
	if err != nil {
		return 0, classify(fmt.Errorf("finding ended silences: %w", err))
	}
	var released int64
	for _, id := range ended {
		n, err := s.releaseHeldBy(ctx, id)
		released += n
		if err != nil {
			return released, err
		}
		//nolint:gosec // G202: what is concatenated is the engine's type name for a cast, not a value
		if _, err := s.db.ExecContext(ctx, "UPDATE silences SET released_at = $1 WHERE id = CAST($2 AS "+s.d.sqlType(colUUID)+") AND released_at IS NULL",
			s.d.ts(now), id); err != nil {
			return released, classify(fmt.Errorf("marking silence %s released: %w", id, err))
		}
	}
	return released, nil
}

// releaseHeldBy releases the firing alerts silence id holds, batch by batch.
func (s *Store) releaseHeldBy(ctx context.Context, id string) (int64, error) {
	var total int64
	for {
		var ops []rules.Op
		err := eachRow(s.db.QueryContext(ctx, `SELECT held_alert FROM incident_alerts
			WHERE silence_id = CAST($1 AS `+s.d.sqlType(colUUID)+`) AND incident_id IS NULL AND status = 'firing' LIMIT $2`, id, sweepBatch))(
			func(scan func(...any) error) error {
				var held string
				if err := scan(&held); err != nil {
					return err
				}
				var a rules.Alert
				if err := json.Unmarshal([]byte(held), &a); err != nil {
					return fmt.Errorf("a held alert of silence %s: %w", id, err)
				}
				ops = append(ops, s.rules.ReleaseOp(&a))
				return nil
			})
		if err != nil {
			return total, classify(fmt.Errorf("reading the alerts silence %s holds: %w", id, err))
		}
		n, err := s.sweep(ctx, ops)
		total += n
		// Another silence may hold some on: they are not released (n < len)
		// and are no longer this silence's.
		if err != nil || len(ops) < sweepBatch || n == 0 {
			return total, err
		}
	}
}

// HeldCounts counts the firing alerts each silence holds, by silence id.
func (s *Store) HeldCounts(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	err := eachRow(s.db.QueryContext(ctx, `SELECT CAST(silence_id AS TEXT), COUNT(*) FROM incident_alerts
		WHERE incident_id IS NULL AND status = 'firing' GROUP BY silence_id`))(func(scan func(...any) error) error {
		var id string
		var n int64
		if err := scan(&id, &n); err != nil {
			return err
		}
		out[id] = n
		return nil
	})
	if err != nil {
		return nil, classify(fmt.Errorf("counting held alerts: %w", err))
	}
	return out, nil
}
