package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

// The statements of the write path, the same text on both engines. They
// read and write rows by key; what to write is decided in rules.go, under the
// locks of the groups involved, so none of them decides anything itself.

// incidentCols are the incident columns the rules read.
const incidentCols = `CAST(id AS TEXT), dedup_scope, group_key, fingerprint, title, severity, status, detected_at,
    resolved_at, last_seen_at, occurrences, alert_count, firing_alerts, reopen_count`

// selectGroup reads a group's open incident and its latest resolved one.
const selectGroup = `
SELECT ` + incidentCols + ` FROM incidents WHERE dedup_scope = $1 AND group_key = $2 AND status = 'open'
UNION ALL
SELECT * FROM (SELECT ` + incidentCols + ` FROM incidents WHERE dedup_scope = $1 AND group_key = $2 AND status = 'resolved'
               ORDER BY resolved_at DESC LIMIT 1) latest`

const selectIncident = `SELECT ` + incidentCols + ` FROM incidents WHERE id = $1`

// selectMembers reads an alert's firing instance and the instance that
// starts at $3, when they exist (often the same row).
const selectMembers = `
SELECT CAST(incident_id AS TEXT), dedup_scope, fingerprint, status, starts_at, title, occurrences
FROM incident_alerts WHERE dedup_scope = $1 AND fingerprint = $2 AND (status = 'firing' OR starts_at = $3)`

const selectHeartbeat = `SELECT alertname, last_seen_at FROM heartbeats WHERE dedup_scope = $1`

const insertIncident = `
INSERT INTO incidents (id, dedup_scope, group_key, fingerprint, project, source, title, description, service_name,
    severity, status, detected_at, resolved_at, resolution_reason, created_at, updated_at, last_seen_at, occurrences,
    alert_count, firing_alerts, reopen_count, labels, annotations, generator_url, previous_incident_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)`

const updateIncident = `
UPDATE incidents SET status = $2, severity = $3, resolved_at = $4, resolution_reason = $5, updated_at = $6,
    last_seen_at = $7, occurrences = $8, alert_count = $9, firing_alerts = $10, reopen_count = $11
WHERE id = $1`

const insertMember = `
INSERT INTO incident_alerts (incident_id, dedup_scope, fingerprint, status, starts_at, ends_at, title, severity,
    labels, annotations, first_seen_at, last_seen_at, occurrences)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12)`

const updateMember = `
UPDATE incident_alerts SET status = $4, ends_at = $5, last_seen_at = $6, occurrences = $7
WHERE dedup_scope = $1 AND fingerprint = $2 AND starts_at = $3`

// closeMembers resolves the members of a resolved incident that still fire
// and that this transaction did not read; none ends before it started.
const closeMembers = `
UPDATE incident_alerts SET status = 'resolved', last_seen_at = $3,
    ends_at = CASE WHEN starts_at > $2 THEN starts_at ELSE $2 END
WHERE incident_id = $1 AND status = 'firing'`

const upsertHeartbeat = `
INSERT INTO heartbeats (dedup_scope, alertname, first_seen_at, last_seen_at, beats) VALUES ($1, $2, $3, $3, 1)
ON CONFLICT (dedup_scope) DO UPDATE SET alertname = excluded.alertname, last_seen_at = excluded.last_seen_at,
    beats = heartbeats.beats + 1`

const insertOutbox = `
INSERT INTO analysis_outbox (incident_id, event, event_key, created_at, next_attempt_at)
VALUES ($1, $2, $3, $4, $4)
ON CONFLICT (incident_id, event, event_key) DO NOTHING`

// Candidates of the sweeps, read without locks; each is checked again under
// its group's lock before anything changes.
const (
	selectStale = `
SELECT CAST(id AS TEXT), dedup_scope, group_key FROM incidents
WHERE status = 'open' AND last_seen_at < $1 AND source <> 'heartbeat' ORDER BY last_seen_at LIMIT $2`
	selectSilent = `
SELECT dedup_scope FROM heartbeats h WHERE alertname = $1 AND last_seen_at < $2
AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.dedup_scope = h.dedup_scope AND i.group_key = '' AND i.status = 'open')
ORDER BY dedup_scope LIMIT $3`
	selectHeartbeatAges = `SELECT dedup_scope, last_seen_at FROM heartbeats WHERE alertname = $1`
)
