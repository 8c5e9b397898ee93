package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

import (
	"strings"
)

// The statements of the rules' transactions, one text on both engines but
// for the type names of the casts. They read and write rows by key; what to
// write is decided in rules.go under the locks of the groups involved, so
// none of them decides anything itself. Each reads or writes many rows at
// once: a statement takes a list of tuples (VALUES), so that a transaction
// of a hundred alerts runs a handful of statements, not hundreds.

// colType is the type of a tuple's value, cast where the engine cannot infer
// it (a VALUES list that is not an INSERT's).
type colType int

const (
	colText colType = iota
	colUUID
	colTime
	colInt
)

// tupleSizes are the tuple counts each statement is rendered for; n rows go
// in the largest sizes that fit: 500 alerts take 11 statements of a kind,
// one takes one. Few sizes keep SQLite's preparing them at start cheap.
var tupleSizes = []int{64, 16, 4, 1}

// template is a statement over a list of tuples: head, the tuples, tail.
type template struct {
	head, tail string
	// lateral, when set, is the tail on PostgreSQL: the same lookups as
	// LATERAL subqueries, which PostgreSQL runs once per tuple through the
	// index; as a join it may hash the whole table. (SQLite has no LATERAL,
	// and its planner walks the tuples and probes the index anyway.)
	lateral string
	types   []colType
	// cast: the first tuple's values are cast to their types, because the
	// list is a table of its own (WITH … AS (VALUES …)) whose column types
	// PostgreSQL would otherwise take as text.
	cast bool
}

// rendered is a template's text for each tuple count.
type rendered map[int]string

func (t template) render(d dialect) rendered {
	out := make(rendered, len(tupleSizes))
	for _, n := range tupleSizes {
		var b strings.Builder
		b.WriteString(t.head)
		p := 1
		for i := range n {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			for j, typ := range t.types {
				if j > 0 {
					b.WriteString(", ")
				}
				param := d.placeholder(p)
				p++
				if t.cast && i == 0 {
					param = "CAST(" + param + " AS " + d.sqlType(typ) + ")"
				}
				b.WriteString(param)
			}
			b.WriteByte(')')
		}
		if d.lateral() && t.lateral != "" {
			b.WriteString(t.lateral)
		} else {
			b.WriteString(t.tail)
		}
		out[n] = b.String()
	}
	return out
}

// queries puts rows (one []any per tuple) into as few statements as the
// tuple sizes allow; each reads its rows with row, when set.
func (r rendered) queries(rows [][]any, row func(scan func(...any) error) error) []query {
	var qs []query
	for len(rows) > 0 {
		n := tupleSizes[len(tupleSizes)-1]
		for _, size := range tupleSizes {
			if size <= len(rows) {
				n = size
				break
			}
		}
		args := make([]any, 0, n*len(rows[0]))
		for _, tuple := range rows[:n] {
			args = append(args, tuple...)
		}
		qs = append(qs, query{sql: r[n], args: args, row: row})
		rows = rows[n:]
	}
	return qs
}

// incidentCols are the incident columns the rules read.
const incidentCols = `CAST(i.id AS TEXT), i.dedup_scope, i.group_key, i.fingerprint, i.title, i.severity, i.status,
    i.detected_at, i.resolved_at, i.last_seen_at, i.occurrences, i.alert_count, i.firing_alerts, i.reopen_count`

const memberCols = `CAST(m.incident_id AS TEXT), m.dedup_scope, m.fingerprint, m.status, m.starts_at, m.title, m.occurrences`

var templates = struct {
	groups, members, updateIncidents, insertIncidents, updateMembers, closeMembers, insertMembers, insertOutbox template
}{
	// Each group's open incident and its latest resolved one.
	groups: template{
		head: `WITH k (s, g) AS (VALUES `,
		tail: `)
SELECT ` + incidentCols + ` FROM k JOIN incidents i ON i.dedup_scope = k.s AND i.group_key = k.g AND i.status = 'open'
UNION ALL
SELECT ` + incidentCols + ` FROM k JOIN incidents i ON i.id = (
    SELECT r.id FROM incidents r WHERE r.dedup_scope = k.s AND r.group_key = k.g AND r.status = 'resolved'
    ORDER BY r.resolved_at DESC LIMIT 1)`,
		lateral: `)
SELECT x.* FROM k CROSS JOIN LATERAL (
    SELECT ` + incidentCols + ` FROM incidents i WHERE i.dedup_scope = k.s AND i.group_key = k.g AND i.status = 'open'
    UNION ALL
    (SELECT ` + incidentCols + ` FROM incidents i WHERE i.dedup_scope = k.s AND i.group_key = k.g AND i.status = 'resolved'
     ORDER BY i.resolved_at DESC LIMIT 1)) x`,
		types: []colType{colText, colText}, cast: true,
	},
	// Each alert's firing instance, and the instance that starts at t; two
	// index lookups each, however often the alert fired before.
	members: template{
		head: `WITH k (s, f, t) AS (VALUES `,
		tail: `)
SELECT ` + memberCols + ` FROM k JOIN incident_alerts m ON m.dedup_scope = k.s AND m.fingerprint = k.f AND m.status = 'firing'
UNION ALL
SELECT ` + memberCols + ` FROM k JOIN incident_alerts m ON m.dedup_scope = k.s AND m.fingerprint = k.f AND m.starts_at = k.t`,
		lateral: `)
SELECT x.* FROM k CROSS JOIN LATERAL (
    SELECT ` + memberCols + ` FROM incident_alerts m WHERE m.dedup_scope = k.s AND m.fingerprint = k.f AND m.status = 'firing'
    UNION ALL
    SELECT ` + memberCols + ` FROM incident_alerts m WHERE m.dedup_scope = k.s AND m.fingerprint = k.f AND m.starts_at = k.t) x`,
		types: []colType{colText, colText, colTime}, cast: true,
	},
	updateIncidents: template{
		head: `WITH v (id, status, severity, resolved_at, resolution_reason, updated_at, last_seen_at, occurrences,
    alert_count, firing_alerts, reopen_count) AS (VALUES `,
		tail: `)
UPDATE incidents SET status = v.status, severity = v.severity, resolved_at = v.resolved_at,
    resolution_reason = v.resolution_reason, updated_at = v.updated_at, last_seen_at = v.last_seen_at,
    occurrences = v.occurrences, alert_count = v.alert_count, firing_alerts = v.firing_alerts, reopen_count = v.reopen_count
FROM v WHERE incidents.id = v.id`,
		types: []colType{colUUID, colText, colText, colTime, colText, colTime, colTime, colInt, colInt, colInt, colInt}, cast: true,
	},
	insertIncidents: template{
		head: `INSERT INTO incidents (id, dedup_scope, group_key, fingerprint, project, source, title, description,
    service_name, severity, status, detected_at, resolved_at, resolution_reason, created_at, updated_at, last_seen_at,
    occurrences, alert_count, firing_alerts, reopen_count, labels, annotations, generator_url, previous_incident_id) VALUES `,
		types: make([]colType, 25), // an INSERT's values take the columns' types
	},
	updateMembers: template{
		head: `WITH v (s, f, t, status, ends_at, last_seen_at, occurrences) AS (VALUES `,
		tail: `)
UPDATE incident_alerts SET status = v.status, ends_at = v.ends_at, last_seen_at = v.last_seen_at, occurrences = v.occurrences
FROM v WHERE incident_alerts.dedup_scope = v.s AND incident_alerts.fingerprint = v.f AND incident_alerts.starts_at = v.t`,
		types: []colType{colText, colText, colTime, colText, colTime, colTime, colInt}, cast: true,
	},
	// The members of resolved incidents that still fire and that the
	// transaction did not read; none ends before it started.
	closeMembers: template{
		head: `WITH v (id, ends_at, now) AS (VALUES `,
		tail: `)
UPDATE incident_alerts SET status = 'resolved', last_seen_at = v.now,
    ends_at = CASE WHEN incident_alerts.starts_at > v.ends_at THEN incident_alerts.starts_at ELSE v.ends_at END
FROM v WHERE incident_alerts.incident_id = v.id AND incident_alerts.status = 'firing'`,
		types: []colType{colUUID, colTime, colTime}, cast: true,
	},
	insertMembers: template{
		head: `INSERT INTO incident_alerts (incident_id, dedup_scope, fingerprint, status, starts_at, ends_at, title,
    severity, labels, annotations, first_seen_at, last_seen_at, occurrences) VALUES `,
		types: make([]colType, 13),
	},
	insertOutbox: template{
		head:  `INSERT INTO analysis_outbox (incident_id, event, event_key, created_at, next_attempt_at) VALUES `,
		tail:  ` ON CONFLICT (incident_id, event, event_key) DO NOTHING`,
		types: make([]colType, 5),
	},
}

// statements are the templates rendered for one engine.
type statements struct {
	groups, members, updateIncidents, insertIncidents, updateMembers, closeMembers, insertMembers, insertOutbox rendered
}

func renderStatements(d dialect) *statements {
	t := templates
	return &statements{
		groups: t.groups.render(d), members: t.members.render(d),
		updateIncidents: t.updateIncidents.render(d), insertIncidents: t.insertIncidents.render(d),
		updateMembers: t.updateMembers.render(d), closeMembers: t.closeMembers.render(d),
		insertMembers: t.insertMembers.render(d), insertOutbox: t.insertOutbox.render(d),
	}
}

// all lists every text, for SQLite to prepare them once.
func (s *statements) all() []string {
	var out []string
	for _, r := range []rendered{
		s.groups, s.members, s.updateIncidents, s.insertIncidents, s.updateMembers,
		s.closeMembers, s.insertMembers, s.insertOutbox,
	} {
		for _, text := range r {
			out = append(out, text)
		}
	}
	return append(out, selectIncident, selectHeartbeat, upsertHeartbeat)
}

// Single-row statements of rare paths.
const (
	selectIncident  = `SELECT ` + incidentCols + ` FROM incidents i WHERE i.id = $1`
	selectHeartbeat = `SELECT alertname, last_seen_at FROM heartbeats WHERE dedup_scope = $1`
	upsertHeartbeat = `
INSERT INTO heartbeats (dedup_scope, alertname, first_seen_at, last_seen_at, beats) VALUES ($1, $2, $3, $4, 1)
ON CONFLICT (dedup_scope) DO UPDATE SET alertname = excluded.alertname, last_seen_at = excluded.last_seen_at,
    beats = heartbeats.beats + 1`
)

// Candidates of the sweeps, read without locks; each is checked again under
// its group's lock before anything changes.
const (
	selectStale = `
SELECT CAST(id AS TEXT), dedup_scope, group_key FROM incidents
WHERE status = 'open' AND last_seen_at < $1 AND group_key <> '' ORDER BY last_seen_at LIMIT $2`
	selectSilent = `
SELECT dedup_scope FROM heartbeats h WHERE alertname = $1 AND last_seen_at < $2
AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.dedup_scope = h.dedup_scope AND i.group_key = '' AND i.status = 'open')
ORDER BY dedup_scope LIMIT $3`
	selectHeartbeatAges = `SELECT dedup_scope, last_seen_at FROM heartbeats WHERE alertname = $1`
)
