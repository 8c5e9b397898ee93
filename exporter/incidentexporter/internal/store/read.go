package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
)

// The store as people read it (the incident API and web view) and as the
// notifications show it: whole rows, read without locks.

// ErrNotFound: no incident has this id.
var ErrNotFound = errors.New("incident not found")

// TimelineEvent is one row of an incident's timeline.
type TimelineEvent struct {
	ID                           int64
	IncidentID                   string
	At                           time.Time
	Event, By, Note, Fingerprint string
}

var timeline = table[TimelineEvent]{name: "incident_events", alias: "e", fields: []field[TimelineEvent]{
	{"id", colInt, func(r *TimelineEvent) any { return &r.ID }},
	{"incident_id", colUUID, func(r *TimelineEvent) any { return &r.IncidentID }},
	{"at", colTime, func(r *TimelineEvent) any { return &r.At }},
	{"event", colText, func(r *TimelineEvent) any { return &r.Event }},
	{`"by"`, colText, func(r *TimelineEvent) any { return &r.By }},
	{"note", colText, func(r *TimelineEvent) any { return &r.Note }},
	{"fingerprint", colText, func(r *TimelineEvent) any { return &r.Fingerprint }},
}}

var (
	// timelineInsert: the id is the database's.
	timelineInsert = timeline.pick("incident_id", "at", "event", `"by"`, "note", "fingerprint")
	// incidentShown is every column people see; labels and annotations as
	// JSON text.
	incidentShown = incidents.pick("id", "dedup_scope", "group_key", "fingerprint", "project", "source", "title",
		"description", "service_name", "severity", "status", "detected_at", "resolved_at", "resolution_reason",
		"last_seen_at", "occurrences", "alert_count", "firing_alerts", "reopen_count", "labels", "annotations",
		"generator_url", "previous_incident_id", "acknowledged_at", "acknowledged_by", "resolved_by")
	memberShown = members.pick("incident_id", "dedup_scope", "fingerprint", "starts_at", "status", "ends_at", "title",
		"severity", "labels", "annotations", "first_seen_at", "last_seen_at", "occurrences", "silence_id")
)

// jsonText reads a JSON column as text on both engines.
func jsonText[R any](t table[R], fs []field[R]) string {
	list := t.selectList(fs)
	for _, col := range []string{"labels", "annotations"} {
		list = strings.Replace(list, t.alias+"."+col, "CAST("+t.alias+"."+col+" AS TEXT)", 1)
	}
	return list
}

// IncidentFilter selects incidents; zero values select everything.
type IncidentFilter struct {
	// Statuses are shown statuses (open, acknowledged, resolved); none: all.
	Statuses   []string
	Severities []string
	Service    string
	Scope      string // the integration
	Project    string
	// Fingerprint: incidents holding an instance of this alert.
	Fingerprint  string
	Since, Until time.Time // on detected_at: Since ≤ detected_at < Until
	Limit        int
	// After is where the previous page ended (Page.Next), or "".
	After string
}

// Page is one page of incidents, newest detected first, and where the next
// one starts ("" at the end).
type Page struct {
	Incidents []rules.Incident
	Next      string
}

// ErrBadCursor: a cursor this store did not write.
var ErrBadCursor = errors.New("invalid cursor")

// cursor is where a page ended: the last incident's detected_at and id, so
// that the next page starts strictly after it whatever is inserted meanwhile.
func cursor(inc *rules.Incident) string {
	return base64.RawURLEncoding.EncodeToString([]byte(inc.DetectedAt.UTC().Format(time.RFC3339Nano) + "|" + inc.ID))
}

func parseCursor(c string) (time.Time, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", ErrBadCursor
	}
	at, id, ok := strings.Cut(string(raw), "|")
	t, err := time.Parse(time.RFC3339Nano, at)
	if _, idErr := uuid.Parse(id); !ok || err != nil || idErr != nil || len(id) != 36 {
		return time.Time{}, "", ErrBadCursor
	}
	return t, id, nil
}

// ListIncidents reads a page of incidents, newest detected_at first, then
// id. Active ones are read through a partial index of open incidents, the
// others through the index on (detected_at, id): a page costs its rows,
// not the table.
func (s *Store) ListIncidents(ctx context.Context, f IncidentFilter) (Page, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return s.d.placeholder(len(args))
	}
	if cond := statusCondition(f.Statuses); cond != "" {
		where = append(where, cond)
	}
	if len(f.Severities) > 0 {
		ph := make([]string, len(f.Severities))
		for i, sev := range f.Severities {
			ph[i] = arg(sev)
		}
		where = append(where, "i.severity IN ("+strings.Join(ph, ", ")+")")
	}
	for _, eq := range []struct{ col, v string }{{"service_name", f.Service}, {"dedup_scope", f.Scope}, {"project", f.Project}} {
		if eq.v != "" {
			where = append(where, "i."+eq.col+" = "+arg(eq.v))
		}
	}
	if f.Fingerprint != "" {
		sub := "SELECT m.incident_id FROM incident_alerts m WHERE m.fingerprint = " + arg(f.Fingerprint)
		if f.Scope != "" {
			sub += " AND m.dedup_scope = " + arg(f.Scope)
		}
		where = append(where, "i.id IN ("+sub+")")
	}
	if !f.Since.IsZero() {
		where = append(where, "i.detected_at >= "+arg(s.d.ts(f.Since)))
	}
	if !f.Until.IsZero() {
		where = append(where, "i.detected_at < "+arg(s.d.ts(f.Until)))
	}
	if f.After != "" {
		at, id, err := parseCursor(f.After)
		if err != nil {
			return Page{}, err
		}
		where = append(where, "(i.detected_at, i.id) < ("+arg(s.d.ts(at))+", CAST("+arg(id)+" AS "+s.d.sqlType(colUUID)+"))")
	}
	limit := max(f.Limit, 1)
	q := "SELECT " + jsonText(incidents, incidentShown) + " FROM incidents i"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	// One more than the page: whether there is a next one.
	q += " ORDER BY i.detected_at DESC, i.id DESC LIMIT " + arg(limit+1)
	if s.explain != nil {
		s.explain(q, args)
	}
	var page Page
	err := eachRow(s.db.QueryContext(ctx, q, args...))(scanner(incidentShown, s.d, func(r *rules.Incident) {
		page.Incidents = append(page.Incidents, *r)
	}))
	if err != nil {
		return Page{}, classify(fmt.Errorf("listing incidents: %w", err))
	}
	if len(page.Incidents) > limit {
		page.Incidents = page.Incidents[:limit]
		page.Next = cursor(&page.Incidents[limit-1])
	}
	return page, nil
}

// statusCondition selects shown statuses; "" when they are all.
func statusCondition(statuses []string) string {
	var open, acked, resolved bool
	for _, st := range statuses {
		switch st {
		case rules.StatusOpen:
			open = true
		case rules.StatusAcknowledged:
			acked = true
		case rules.StatusResolved:
			resolved = true
		}
	}
	switch {
	case open && acked && resolved, !open && !acked && !resolved:
		return ""
	case open && acked:
		return "i.status = 'open'"
	case open && resolved:
		return "(i.status = 'resolved' OR i.acknowledged_at IS NULL)"
	case acked && resolved:
		return "(i.status = 'resolved' OR i.acknowledged_at IS NOT NULL)"
	case open:
		return "i.status = 'open' AND i.acknowledged_at IS NULL"
	case acked:
		return "i.status = 'open' AND i.acknowledged_at IS NOT NULL"
	default:
		// Not "= 'resolved'": that would match the partial index of resolved
		// incidents by group, and SQLite would sort them all.
		return "i.status <> 'open'"
	}
}

// Incident reads one incident with its first members, oldest first, and its
// latest timeline events, oldest first: at most maxMembers and maxEvents of
// them (0: none), and whether there were more of either.
func (s *Store) Incident(ctx context.Context, id string, maxMembers, maxEvents int) (Whole, error) {
	var w Whole
	var inc *rules.Incident
	idArg := "CAST($1 AS " + s.d.sqlType(colUUID) + ")"
	err := eachRow(s.db.QueryContext(ctx, "SELECT "+jsonText(incidents, incidentShown)+" FROM incidents i WHERE i.id = "+idArg, id))(
		scanner(incidentShown, s.d, func(r *rules.Incident) { inc = r }))
	if err != nil {
		return w, classify(fmt.Errorf("reading incident %s: %w", id, err))
	}
	if inc == nil {
		return w, ErrNotFound
	}
	w.Incident = *inc
	// One more than shown of each: whether there are more.
	if maxMembers > 0 {
		err = eachRow(s.db.QueryContext(ctx, "SELECT "+jsonText(members, memberShown)+" FROM incident_alerts m WHERE m.incident_id = "+idArg+
			" ORDER BY m.starts_at, m.fingerprint LIMIT $2", id, maxMembers+1))(scanner(memberShown, s.d, func(m *rules.Member) { w.Members = append(w.Members, *m) }))
		if err != nil {
			return w, classify(fmt.Errorf("reading the alerts of incident %s: %w", id, err))
		}
		if len(w.Members) > maxMembers {
			w.Members, w.MoreMembers = w.Members[:maxMembers], true
		}
	}
	if maxEvents > 0 {
		err = eachRow(s.db.QueryContext(ctx, "SELECT "+timeline.selectList(timeline.fields)+" FROM incident_events e WHERE e.incident_id = "+idArg+
			" ORDER BY e.id DESC LIMIT $2", id, maxEvents+1))(scanner(timeline.fields, s.d, func(e *TimelineEvent) { w.Timeline = append(w.Timeline, *e) }))
		if err != nil {
			return w, classify(fmt.Errorf("reading the timeline of incident %s: %w", id, err))
		}
		if len(w.Timeline) > maxEvents {
			w.Timeline, w.MoreTimeline = w.Timeline[:maxEvents], true
		}
		slices.Reverse(w.Timeline)
	}
	return w, nil
}

// Whole is an incident with (some of) its members and timeline.
type Whole struct {
	Incident rules.Incident
	// Members, oldest first; MoreMembers: there are more after them.
	Members     []rules.Member
	MoreMembers bool
	// Timeline, oldest first; MoreTimeline: there are more before it.
	Timeline     []TimelineEvent
	MoreTimeline bool
}

// HeartbeatStatus is one watched scope's heartbeat.
type HeartbeatStatus struct {
	Scope, Alertname string
	LastSeenAt       time.Time
	// Missing: silent for longer than the timeout.
	Missing bool
}

// Heartbeats lists the watched scopes, by scope.
func (s *Store) Heartbeats(ctx context.Context) ([]HeartbeatStatus, error) {
	name := s.rules.HeartbeatAlertname
	if name == "" {
		return nil, nil
	}
	now := s.now()
	var out []HeartbeatStatus
	err := eachRow(s.db.QueryContext(ctx, selectHeartbeatAges+" ORDER BY dedup_scope", name))(func(scan func(...any) error) error {
		h := HeartbeatStatus{Alertname: name}
		var last any
		if err := scan(&h.Scope, &last); err != nil {
			return err
		}
		h.LastSeenAt = s.d.parseTS(last)
		h.Missing = now.Sub(h.LastSeenAt) >= s.rules.HeartbeatTimeout
		out = append(out, h)
		return nil
	})
	if err != nil {
		return nil, classify(fmt.Errorf("reading heartbeats: %w", err))
	}
	return out, nil
}

// groupOf reads the group of incident id, outside any lock: an incident
// never changes group.
func (s *Store) groupOf(ctx context.Context, id string) (rules.GroupRef, error) {
	var g rules.GroupRef
	err := s.db.QueryRowContext(ctx, "SELECT dedup_scope, group_key FROM incidents WHERE id = CAST($1 AS "+s.d.sqlType(colUUID)+")", id).
		Scan(&g.Scope, &g.Key)
	if errors.Is(err, sql.ErrNoRows) {
		return g, ErrNotFound
	}
	if err != nil {
		return g, classify(fmt.Errorf("reading incident %s: %w", id, err))
	}
	return g, nil
}
