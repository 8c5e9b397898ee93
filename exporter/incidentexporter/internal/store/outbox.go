package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

import (
	"context"
	"fmt"
	"time"
)

// MaxNotifiedAlerts bounds the member alerts an analysis event carries.
const MaxNotifiedAlerts = 50

// OutboxEvent is one analysis notification to deliver, with the incident as
// it is now.
type OutboxEvent struct {
	ID        int64
	Event     string
	Key       string // tells apart events of one incident with the same name
	Attempts  int
	CreatedAt time.Time
	Incident  IncidentRow
}

// IncidentRow is the notified view of an incident.
type IncidentRow struct {
	ID, Title, Description, ServiceName, Severity, Status string
	DetectedAt                                            time.Time
	ResolvedAt                                            *time.Time
	Fingerprint, GroupKey, Project, Source, GeneratorURL  string
	Labels, Annotations                                   string // JSON objects
	AlertCount, ReopenCount                               int64
	Alerts                                                []AlertRow // the first MaxNotifiedAlerts members, oldest first
}

// AlertRow is one member alert of a notified incident.
type AlertRow struct {
	Fingerprint, Status, Title, Severity string
	StartsAt                             time.Time
	EndsAt                               *time.Time
	Labels                               string // JSON object
}

// claimOutbox leases due events: their next attempt moves to the lease's end,
// so that a replica that dies while delivering lets another one retry after
// the lease. Only an incident's earliest pending event can be claimed: the
// next one waits until it is delivered or failed for good, on every replica,
// so that a consumer sees an incident's events in the order they happened
// (an incident's events are written under its group's lock, so their ids
// follow that order). A claim thus holds at most one event per incident.
// PostgreSQL's SKIP LOCKED keeps replicas claiming at once from waiting on,
// or taking, each other's rows; an earlier event another replica is claiming
// still counts as pending.
const claimOutbox = `
UPDATE analysis_outbox SET next_attempt_at = $2
WHERE id IN (
    SELECT o.id FROM analysis_outbox o
    WHERE o.status = 'pending' AND o.next_attempt_at <= $1
      AND NOT EXISTS (SELECT 1 FROM analysis_outbox e
                      WHERE e.incident_id = o.incident_id AND e.status = 'pending' AND e.id < o.id)
    ORDER BY o.id LIMIT $3%s)
RETURNING id, CAST(incident_id AS TEXT), event, event_key, attempts, created_at`

const incidentForOutbox = `
SELECT CAST(id AS TEXT), title, description, service_name, severity, status, detected_at, resolved_at,
       fingerprint, group_key, project, source, generator_url, CAST(labels AS TEXT), CAST(annotations AS TEXT),
       alert_count, reopen_count
FROM incidents WHERE id = $1`

const alertsForOutbox = `
SELECT fingerprint, status, title, severity, starts_at, ends_at, CAST(labels AS TEXT)
FROM incident_alerts WHERE incident_id = $1 ORDER BY first_seen_at, fingerprint LIMIT $2`

// ClaimOutbox leases up to limit due events, at most one per incident, until
// now + lease.
func (s *Store) ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]OutboxEvent, error) {
	var events []OutboxEvent
	err := eachRow(s.db.QueryContext(ctx, fmt.Sprintf(claimOutbox, s.d.skipLocked()), s.d.ts(now), s.d.ts(now.Add(lease)), limit))(
		func(scan func(...any) error) error {
			var e OutboxEvent
			var created any
			if err := scan(&e.ID, &e.Incident.ID, &e.Event, &e.Key, &e.Attempts, &created); err != nil {
				return err
			}
			e.CreatedAt = s.d.parseTS(created)
			events = append(events, e)
			return nil
		})
	if err != nil {
		return nil, classify(fmt.Errorf("claiming analysis events: %w", err))
	}
	for i := range events {
		if err := s.loadIncident(ctx, &events[i].Incident); err != nil {
			return nil, err
		}
	}
	return events, nil
}

func (s *Store) loadIncident(ctx context.Context, row *IncidentRow) error {
	var detected, resolved any
	err := s.db.QueryRowContext(ctx, incidentForOutbox, row.ID).Scan(&row.ID, &row.Title, &row.Description, &row.ServiceName,
		&row.Severity, &row.Status, &detected, &resolved, &row.Fingerprint, &row.GroupKey, &row.Project, &row.Source,
		&row.GeneratorURL, &row.Labels, &row.Annotations, &row.AlertCount, &row.ReopenCount)
	if err != nil {
		return classify(fmt.Errorf("reading incident %s: %w", row.ID, err))
	}
	row.DetectedAt = s.d.parseTS(detected)
	row.ResolvedAt = s.optionalTS(resolved)
	row.Alerts = row.Alerts[:0]
	err = eachRow(s.db.QueryContext(ctx, alertsForOutbox, row.ID, MaxNotifiedAlerts))(func(scan func(...any) error) error {
		var a AlertRow
		var starts, ends any
		if scanErr := scan(&a.Fingerprint, &a.Status, &a.Title, &a.Severity, &starts, &ends, &a.Labels); scanErr != nil {
			return scanErr
		}
		a.StartsAt, a.EndsAt = s.d.parseTS(starts), s.optionalTS(ends)
		row.Alerts = append(row.Alerts, a)
		return nil
	})
	if err != nil {
		return classify(fmt.Errorf("reading the alerts of incident %s: %w", row.ID, err))
	}
	return nil
}

func (s *Store) optionalTS(v any) *time.Time {
	if v == nil {
		return nil
	}
	t := s.d.parseTS(v)
	return &t
}

// MarkDelivered records a 2xx from the analysis service.
func (s *Store) MarkDelivered(ctx context.Context, id int64, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE analysis_outbox SET status = 'delivered', delivered_at = $2,
		attempts = attempts + 1, last_error = NULL WHERE id = $1`, id, s.d.ts(now))
	return classify(err)
}

// MarkRetry schedules the next attempt at next.
func (s *Store) MarkRetry(ctx context.Context, id int64, next time.Time, reason string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE analysis_outbox SET attempts = attempts + 1, next_attempt_at = $2,
		last_error = $3 WHERE id = $1`, id, s.d.ts(next), reason)
	return classify(err)
}

// MarkFailed gives an event up; it stays for inspection.
func (s *Store) MarkFailed(ctx context.Context, id int64, reason string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE analysis_outbox SET status = 'failed', attempts = attempts + 1,
		last_error = $2 WHERE id = $1`, id, reason)
	return classify(err)
}

// PruneOutbox deletes events delivered before cutoff; failed ones stay for
// inspection.
func (s *Store) PruneOutbox(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM analysis_outbox WHERE status = 'delivered' AND delivered_at < $1`, s.d.ts(cutoff))
	if err != nil {
		return 0, classify(err)
	}
	return res.RowsAffected()
}

// OutboxBacklog counts pending events and the creation time of the oldest.
func (s *Store) OutboxBacklog(ctx context.Context) (int64, time.Time, error) {
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
