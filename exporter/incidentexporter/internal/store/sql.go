package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

import (
	"strings"
)

// The statements of the rules' transactions, one text on both engines but
// for the type names of the casts. They read and write rows by key; what to
// write is decided by the rules (package rules) under the locks of the groups
// involved, so none of them decides anything itself. Each reads or writes
// many rows at once: a statement takes a list of tuples (VALUES), so that a
// transaction of a hundred alerts runs a handful of statements, not hundreds.

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

// insertInto inserts whole rows.
func insertInto[R any](t table[R], fs []field[R], tail string) template {
	return template{head: "INSERT INTO " + t.name + " (" + names(fs) + ") VALUES ", tail: tail, types: types(fs)}
}

// updateByKey sets the columns after the first keyLen of fs on the rows
// whose key columns match.
func updateByKey[R any](t table[R], fs []field[R], keyLen int) template {
	var set, where []string
	for i, f := range fs {
		if i < keyLen {
			where = append(where, t.name+"."+f.name+" = v."+f.name)
		} else {
			set = append(set, f.name+" = v."+f.name)
		}
	}
	return template{
		head:  "WITH v (" + names(fs) + ") AS (VALUES ",
		tail:  ")\nUPDATE " + t.name + " SET " + strings.Join(set, ", ") + "\nFROM v WHERE " + strings.Join(where, " AND "),
		types: types(fs), cast: true,
	}
}

var (
	incidentCols = incidents.selectList(incidentRead)
	memberCols   = members.selectList(memberRead)
)

var templates = struct {
	groups, incidentsByID, instances, firingOfAlerts, firingOf, updateIncidents, insertIncidents, updateMembers, insertMembers, insertTimeline, insertOutbox template
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
	// Incidents by id.
	incidentsByID: template{
		head: `WITH k (id) AS (VALUES `,
		tail: `)
SELECT ` + incidentCols + ` FROM k JOIN incidents i ON i.id = k.id`,
		types: []colType{colUUID}, cast: true,
	},
	// Each alert's firing instance, and the instance that starts at t; two
	// index lookups each, however often the alert fired before.
	instances: template{
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
	// Every firing instance of the incidents these alerts fire in.
	firingOfAlerts: template{
		head: `WITH k (s, f) AS (VALUES `,
		tail: `)
SELECT ` + memberCols + ` FROM incident_alerts m WHERE m.status = 'firing' AND m.incident_id IN (
    SELECT a.incident_id FROM k JOIN incident_alerts a ON a.dedup_scope = k.s AND a.fingerprint = k.f AND a.status = 'firing')`,
		types: []colType{colText, colText}, cast: true,
	},
	// Every firing instance of these incidents.
	firingOf: template{
		head: `WITH k (id) AS (VALUES `,
		tail: `)
SELECT ` + memberCols + ` FROM k JOIN incident_alerts m ON m.incident_id = k.id AND m.status = 'firing'`,
		types: []colType{colUUID}, cast: true,
	},
	updateIncidents: updateByKey(incidents, incidentUpdate, 1),
	insertIncidents: insertInto(incidents, incidentInsert, ""),
	updateMembers:   updateByKey(members, memberUpdate, 3),
	insertMembers:   insertInto(members, memberInsert, ""),
	insertTimeline:  insertInto(timeline, timelineInsert, ""),
	insertOutbox:    insertInto(outbox, outbox.fields, ` ON CONFLICT (sink, incident_id, event, event_key) DO NOTHING`),
}

// statements are the templates rendered for one engine.
type statements struct {
	groups, incidentsByID, instances, firingOfAlerts, firingOf, updateIncidents, insertIncidents, updateMembers, insertMembers,
	insertTimeline, insertOutbox rendered
}

func renderStatements(d dialect) *statements {
	t := templates
	return &statements{
		groups: t.groups.render(d), incidentsByID: t.incidentsByID.render(d), instances: t.instances.render(d),
		firingOfAlerts: t.firingOfAlerts.render(d), firingOf: t.firingOf.render(d),
		updateIncidents: t.updateIncidents.render(d), insertIncidents: t.insertIncidents.render(d),
		updateMembers: t.updateMembers.render(d), insertMembers: t.insertMembers.render(d),
		insertTimeline: t.insertTimeline.render(d), insertOutbox: t.insertOutbox.render(d),
	}
}

// all lists every text, for SQLite to prepare them once.
func (s *statements) all() []string {
	var out []string
	for _, r := range []rendered{
		s.groups, s.incidentsByID, s.instances, s.firingOfAlerts, s.firingOf, s.updateIncidents, s.insertIncidents, s.updateMembers, s.insertMembers, s.insertTimeline, s.insertOutbox,
	} {
		for _, text := range r {
			out = append(out, text)
		}
	}
	return append(out, selectHeartbeat, upsertHeartbeat, deleteHeartbeat, deleteAnnounced)
}

// Single-row statements of rare paths.
const (
	selectHeartbeat = `SELECT alertname, last_seen_at FROM heartbeats WHERE dedup_scope = $1`
	upsertHeartbeat = `
INSERT INTO heartbeats (dedup_scope, alertname, first_seen_at, last_seen_at, beats) VALUES ($1, $2, $3, $4, 1)
ON CONFLICT (dedup_scope) DO UPDATE SET alertname = excluded.alertname, last_seen_at = excluded.last_seen_at,
    beats = heartbeats.beats + 1`
	deleteHeartbeat = `DELETE FROM heartbeats WHERE dedup_scope = $1`
	// An integration forgotten is forgotten as announced too: announced
	// again, it is watched again.
	deleteAnnounced = `DELETE FROM announced_scopes WHERE dedup_scope = $1`
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
