package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
	"github.com/sre-copilot/incident-collector/internal/incident"
)

// The outbox: the events each sink (the analysis trigger, each notify sink)
// is to be told of, written in the transaction of the change and delivered
// by that sink's dispatcher, at least once and in order per incident.

// MaxNotifiedAlerts bounds the member alerts a notification carries.
const MaxNotifiedAlerts = 50

// Sink says which events one sink is told of.
type Sink struct {
	Name   string
	Events []string
	// MinSeverity: only incidents at least this severe; "" for all.
	MinSeverity string
	// Scopes: only incidents of these integrations; none for all.
	Scopes []string
}

// wants: the sink is told of e, about inc.
func (k *Sink) wants(e *rules.Event, inc *rules.Incident) bool {
	return slices.Contains(k.Events, e.Name) && k.severe(inc.Severity) && k.ofScope(inc)
}

// escalatedInto: an escalation of inc (from e.From) makes it severe enough
// for the sink; it is then told the incident was created, as if it had
// been this severe from the start.
func (k *Sink) escalatedInto(e *rules.Event, inc *rules.Incident) bool {
	return e.Name == rules.EventEscalated && k.MinSeverity != "" && !k.severe(e.From) && k.severe(inc.Severity) &&
		k.ofScope(inc) && slices.Contains(k.Events, rules.EventCreated)
}

func (k *Sink) severe(severity string) bool {
	return k.MinSeverity == "" || incident.SeverityRank(severity) >= incident.SeverityRank(k.MinSeverity)
}

func (k *Sink) ofScope(inc *rules.Incident) bool {
	return len(k.Scopes) == 0 || slices.Contains(k.Scopes, inc.Scope)
}

// OutboxEvent is one event to deliver to a sink, with the incident as it is
// now.
type OutboxEvent struct {
	ID    int64
	Sink  string
	Event string
	Key   string // tells apart events of one incident with the same name
	// By, Note: the person of an action and what they wrote; Reason: why
	// a resolved incident resolved; as they were when it happened.
	By, Note, Reason string
	Attempts         int
	CreatedAt        time.Time
	Incident         rules.Incident
	// Alerts are the incident's members, the first MaxNotifiedAlerts, oldest
	// first.
	Alerts []rules.Member
}

// claimOutbox leases a sink's due events: their next attempt moves to the
// lease's end, so that a replica that dies while delivering lets another one
// retry after the lease. Only an incident's earliest pending event can be
// claimed: the next one waits until it is delivered or failed for good, on
// every replica, so that a consumer sees an incident's events in the order
// they happened (an incident's events are written under its group's lock, so
// their ids follow that order). A claim thus holds at most one event per
// incident. PostgreSQL's SKIP LOCKED keeps replicas claiming at once from
// waiting on, or taking, each other's rows; an earlier event another replica
// is claiming still counts as pending.
const claimOutbox = `
UPDATE outbox SET next_attempt_at = $3
WHERE id IN (
    SELECT o.id FROM outbox o
    WHERE o.sink = $1 AND o.status = 'pending' AND o.next_attempt_at <= $2
      AND NOT EXISTS (SELECT 1 FROM outbox e
                      WHERE e.sink = o.sink AND e.incident_id = o.incident_id AND e.status = 'pending' AND e.id < o.id)
    ORDER BY o.id LIMIT $4%s)
RETURNING id, sink, CAST(incident_id AS TEXT), event, event_key, "by", note, reason, attempts, created_at`

// ClaimOutbox leases up to limit of sink's due events, at most one per
// incident, until now + lease.
func (s *Store) ClaimOutbox(ctx context.Context, sink string, now time.Time, lease time.Duration, limit int) ([]OutboxEvent, error) {
	var events []OutboxEvent
	err := eachRow(s.db.QueryContext(ctx, fmt.Sprintf(claimOutbox, s.d.skipLocked()), sink, s.d.ts(now), s.d.ts(now.Add(lease)), limit))(
		func(scan func(...any) error) error {
			var e OutboxEvent
			var created any
			if err := scan(&e.ID, &e.Sink, &e.Incident.ID, &e.Event, &e.Key, &e.By, &e.Note, &e.Reason, &e.Attempts, &created); err != nil {
				return err
			}
			e.CreatedAt = s.d.parseTS(created)
			events = append(events, e)
			return nil
		})
	if err != nil {
		return nil, classify(fmt.Errorf("claiming %s events: %w", sink, err))
	}
	for i := range events {
		e := &events[i]
		w, err := s.Incident(ctx, e.Incident.ID, MaxNotifiedAlerts, 0)
		if err != nil {
			return nil, err
		}
		e.Incident, e.Alerts = w.Incident, w.Members
	}
	return events, nil
}

// MarkDelivered records a 2xx from the sink.
func (s *Store) MarkDelivered(ctx context.Context, id int64, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE outbox SET status = 'delivered', delivered_at = $2,
		attempts = attempts + 1, last_error = NULL WHERE id = $1`, id, s.d.ts(now))
	return classify(err)
}

// MarkRetry schedules the next attempt at next.
func (s *Store) MarkRetry(ctx context.Context, id int64, next time.Time, reason string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $2,
		last_error = $3 WHERE id = $1`, id, s.d.ts(next), reason)
	return classify(err)
}

// MarkFailed gives an event up; it stays for inspection.
func (s *Store) MarkFailed(ctx context.Context, id int64, reason string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE outbox SET status = 'failed', attempts = attempts + 1,
		last_error = $2 WHERE id = $1`, id, reason)
	return classify(err)
}

// PruneOutbox deletes sink's events delivered before cutoff; failed ones
// stay for inspection.
func (s *Store) PruneOutbox(ctx context.Context, sink string, cutoff time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM outbox WHERE sink = $1 AND status = 'delivered' AND delivered_at < $2`, sink, s.d.ts(cutoff))
	if err != nil {
		return 0, classify(err)
	}
	return res.RowsAffected()
}

// OutboxBacklog counts sink's pending events and the creation time of the
// oldest.
func (s *Store) OutboxBacklog(ctx context.Context, sink string) (int64, time.Time, error) {
	var n int64
	var oldest any
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*), MIN(created_at) FROM outbox WHERE sink = $1 AND status = 'pending'`, sink).Scan(&n, &oldest)
	if err != nil {
		return 0, time.Time{}, classify(err)
	}
	if oldest == nil {
		return n, time.Time{}, nil
	}
	return n, s.d.parseTS(oldest), nil
}

// outboxRow is one event queued for a sink.
type outboxRow struct {
	Sink, IncidentID, Event, Key, By, Note, Reason string
}

var outbox = table[outboxRow]{name: "outbox", alias: "o", fields: []field[outboxRow]{
	{"sink", colText, func(r *outboxRow) any { return &r.Sink }},
	{"incident_id", colUUID, func(r *outboxRow) any { return &r.IncidentID }},
	{"event", colText, func(r *outboxRow) any { return &r.Event }},
	{"event_key", colText, func(r *outboxRow) any { return &r.Key }},
	{`"by"`, colText, func(r *outboxRow) any { return &r.By }},
	{"note", colText, func(r *outboxRow) any { return &r.Note }},
	{"reason", colText, func(r *outboxRow) any { return &r.Reason }},
	{"created_at", colTime, nil},
	{"next_attempt_at", colTime, nil},
}}

// queued are the outbox rows of st's events: one per sink that wants it.
// An escalation queues created for a sink it made the incident severe
// enough for (nothing when it was told already: the row is unique).
func (s *Store) queued(st *rules.State, at time.Time) [][]any {
	var rows [][]any
	seen := map[outboxRow]bool{}
	for _, e := range st.Events() {
		inc := st.Incident(e.IncidentID)
		for i := range s.sinks {
			k := &s.sinks[i]
			row := outboxRow{Sink: k.Name, IncidentID: e.IncidentID, Event: e.Name, Key: e.Key, By: e.By, Note: e.Note, Reason: e.Reason}
			switch {
			case k.escalatedInto(&e, inc):
				row = outboxRow{Sink: k.Name, IncidentID: e.IncidentID, Event: rules.EventCreated}
			case !k.wants(&e, inc):
				continue
			}
			if !seen[row] {
				seen[row] = true
				rows = append(rows, bind(nil, &row, outbox.fields, s.d, at))
			}
		}
	}
	return rows
}
