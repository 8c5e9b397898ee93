package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

// Outbox event names.
const (
	EventCreated  = "created"
	EventResolved = "resolved"
)

// OutboxEvent is one analysis notification to deliver, with the incident as
// it is now.
type OutboxEvent struct {
	ID        int64
	Event     string
	Attempts  int
	CreatedAt time.Time
	Incident  IncidentRow
}

// IncidentRow is the notified view of an incident.
type IncidentRow struct {
	ID, Title, Description, ServiceName, Severity, Status string
	DetectedAt                                            time.Time
	ResolvedAt                                            *time.Time
	Fingerprint, Project, Source, GeneratorURL            string
	Labels, Annotations                                   string // JSON objects
}

const insertOutbox = `
INSERT INTO analysis_outbox (incident_id, event, created_at, next_attempt_at)
VALUES ($1, $2, $3, $3)
ON CONFLICT (incident_id, event) DO NOTHING`

// claimOutbox leases due events: their next attempt moves to the lease's end,
// so that a replica that dies while delivering lets another one retry after
// the lease. PostgreSQL's SKIP LOCKED keeps replicas claiming at once from
// waiting on, or taking, each other's rows.
const claimOutbox = `
UPDATE analysis_outbox SET next_attempt_at = $2
WHERE id IN (SELECT id FROM analysis_outbox WHERE status = 'pending' AND next_attempt_at <= $1
             ORDER BY id LIMIT $3%s)
RETURNING id, CAST(incident_id AS TEXT), event, attempts, created_at`

const incidentForOutbox = `
SELECT CAST(id AS TEXT), title, description, service_name, severity, status, detected_at, resolved_at,
       fingerprint, project, source, generator_url, CAST(labels AS TEXT), CAST(annotations AS TEXT)
FROM incidents WHERE id = $1`

// outboxFor queues the events the configuration asks for, in the incident's
// transaction.
func (s *sqlStore) outboxFor(ctx context.Context, tx *sql.Tx, r Result, now any) error {
	event := s.eventOf(r)
	if event == "" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, insertOutbox, r.IncidentID, event, now); err != nil {
		return fmt.Errorf("queueing the %s analysis event: %w", event, err)
	}
	return nil
}

// eventOf is the analysis event a result makes, "" when none is configured.
func (s *sqlStore) eventOf(r Result) string {
	var event string
	switch r.Verdict {
	case incident.VerdictCreated:
		event = EventCreated
	case incident.VerdictResolved:
		event = EventResolved
	}
	if !s.events[event] {
		return ""
	}
	return event
}

func (s *sqlStore) ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]OutboxEvent, error) {
	rows, err := s.db.QueryContext(ctx, fmt.Sprintf(claimOutbox, s.d.skipLocked()), s.d.ts(now), s.d.ts(now.Add(lease)), limit)
	if err != nil {
		return nil, classify(fmt.Errorf("claiming analysis events: %w", err))
	}
	var events []OutboxEvent
	for rows.Next() {
		var e OutboxEvent
		var created any
		if err := rows.Scan(&e.ID, &e.Incident.ID, &e.Event, &e.Attempts, &created); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("reading analysis events: %w", err)
		}
		e.CreatedAt = s.d.parseTS(created)
		events = append(events, e)
	}
	if err := rows.Close(); err != nil {
		return nil, classify(err)
	}
	for i := range events {
		if err := s.loadIncident(ctx, &events[i].Incident); err != nil {
			return nil, err
		}
	}
	return events, nil
}

func (s *sqlStore) loadIncident(ctx context.Context, row *IncidentRow) error {
	var detected, resolved any
	err := s.db.QueryRowContext(ctx, incidentForOutbox, row.ID).Scan(&row.ID, &row.Title, &row.Description, &row.ServiceName,
		&row.Severity, &row.Status, &detected, &resolved, &row.Fingerprint, &row.Project, &row.Source, &row.GeneratorURL,
		&row.Labels, &row.Annotations)
	if err != nil {
		return classify(fmt.Errorf("reading incident %s: %w", row.ID, err))
	}
	row.DetectedAt = s.d.parseTS(detected)
	if resolved != nil {
		t := s.d.parseTS(resolved)
		row.ResolvedAt = &t
	}
	return nil
}

func (s *sqlStore) MarkDelivered(ctx context.Context, id int64, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE analysis_outbox SET status = 'delivered', delivered_at = $2,
		attempts = attempts + 1, last_error = NULL WHERE id = $1`, id, s.d.ts(now))
	return classify(err)
}

func (s *sqlStore) MarkRetry(ctx context.Context, id int64, next time.Time, reason string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE analysis_outbox SET attempts = attempts + 1, next_attempt_at = $2,
		last_error = $3 WHERE id = $1`, id, s.d.ts(next), reason)
	return classify(err)
}

func (s *sqlStore) MarkFailed(ctx context.Context, id int64, reason string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE analysis_outbox SET status = 'failed', attempts = attempts + 1,
		last_error = $2 WHERE id = $1`, id, reason)
	return classify(err)
}

// PruneOutbox deletes events delivered before cutoff; failed ones stay for
// inspection.
func (s *sqlStore) PruneOutbox(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM analysis_outbox WHERE status = 'delivered' AND delivered_at < $1`, s.d.ts(cutoff))
	if err != nil {
		return 0, classify(err)
	}
	return res.RowsAffected()
}

// OutboxBacklog counts pending events and the creation time of the oldest.
func (s *sqlStore) OutboxBacklog(ctx context.Context) (int64, time.Time, error) {
	var n int64
	var oldest any
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*), MIN(created_at) FROM analysis_outbox WHERE status = 'pending'`).Scan(&n, &oldest)
	if err != nil {
		return 0, time.Time{}, classify(err)
	}
	if oldest == nil {
		return n, time.Time{}, nil
	}
	return n, s.d.parseTS(oldest), nil
}
