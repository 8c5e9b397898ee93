package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

// applyPgx runs a group on PostgreSQL with pgx batches: the statements of all
// its alerts go to the server in one round trip (they still run one after the
// other, in order, in one transaction), where database/sql would wait for
// each. The SQL and the rules are those of applyTx.
func (s *sqlStore) applyPgx(ctx context.Context, alerts []Alert) ([]Result, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("taking a connection: %w", err)
	}
	defer conn.Close()
	var results []Result
	err = conn.Raw(func(driverConn any) error {
		pc := driverConn.(*stdlib.Conn).Conn()
		tx, err := pc.Begin(ctx)
		if err != nil {
			return fmt.Errorf("beginning a transaction: %w", err)
		}
		results, err = s.applyPgxTx(ctx, tx, alerts)
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("committing: %w", err)
		}
		return nil
	})
	return results, err
}

func (s *sqlStore) applyPgxTx(ctx context.Context, tx pgx.Tx, alerts []Alert) ([]Result, error) {
	now := s.d.ts(s.now())
	newIDs := make([]string, len(alerts))
	batch := &pgx.Batch{}
	for i := range alerts {
		a := &alerts[i]
		if a.Status == incident.StatusResolved {
			batch.Queue(resolveOpen, a.Scope, a.Fingerprint, s.d.ts(s.endsAt(a)), now, s.d.ts(a.StartsAt))
			continue
		}
		id, err := uuid.NewV7()
		if err != nil {
			return nil, err
		}
		newIDs[i] = id.String()
		batch.Queue(upsertFiring, newIDs[i], a.Scope, a.Fingerprint, a.Project, a.Source, a.Title, a.Description,
			a.ServiceName, a.Severity, s.d.ts(a.StartsAt), now, a.Labels, a.Annotations, a.GeneratorURL)
	}
	out := make([]Result, len(alerts))
	var stale []int
	br := tx.SendBatch(ctx, batch)
	for i := range alerts {
		a := &alerts[i]
		r := &out[i]
		err := br.QueryRow().Scan(&r.IncidentID, &r.Title)
		found := !errors.Is(err, pgx.ErrNoRows)
		if found && err != nil {
			_ = br.Close()
			return nil, fmt.Errorf("alert %s/%s: %w", a.Scope, a.Fingerprint, err)
		}
		if settle(a, newIDs[i], r, found) {
			stale = append(stale, i)
		}
	}
	if err := br.Close(); err != nil {
		return nil, err
	}
	// Stale firings of a resolved instance are rare: look each up alone.
	for _, i := range stale {
		a := &alerts[i]
		if err := tx.QueryRow(ctx, resolvedInstance, a.Scope, a.Fingerprint, s.d.ts(a.StartsAt)).Scan(&out[i].IncidentID, &out[i].Title); err != nil {
			return nil, fmt.Errorf("looking up the resolved instance: %w", err)
		}
	}
	if len(s.events) > 0 {
		events := &pgx.Batch{}
		for _, r := range out {
			if event := s.eventOf(r); event != "" {
				events.Queue(insertOutbox, r.IncidentID, event, now)
			}
		}
		if events.Len() > 0 {
			if err := tx.SendBatch(ctx, events).Close(); err != nil {
				return nil, fmt.Errorf("queueing analysis events: %w", err)
			}
		}
	}
	return out, nil
}
