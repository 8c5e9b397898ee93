-- rebuilds-tables
-- The integrity checks PostgreSQL has had since 0003, under the same names:
-- a resolved incident has no firing alert and does not end before it
-- began. SQLite cannot add a constraint to a table, so incidents is rebuilt
-- (with foreign keys off, as SQLite's ALTER TABLE page prescribes; the
-- migration runner turns them off around this file and checks them after).
-- Rows an earlier release may have left outside the checks are brought in.
CREATE TABLE incidents_v5 (
    id                   TEXT PRIMARY KEY,
    dedup_scope          TEXT NOT NULL,
    fingerprint          TEXT NOT NULL,
    project              TEXT NOT NULL DEFAULT '',
    source               TEXT NOT NULL DEFAULT '',
    title                TEXT NOT NULL DEFAULT '',
    description          TEXT NOT NULL DEFAULT '',
    service_name         TEXT NOT NULL DEFAULT '',
    severity             TEXT NOT NULL DEFAULT 'medium',
    status               TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    detected_at          TEXT NOT NULL,
    resolved_at          TEXT,
    resolution_reason    TEXT,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    last_seen_at         TEXT NOT NULL,
    occurrences          INTEGER NOT NULL DEFAULT 1,
    labels               TEXT NOT NULL DEFAULT '{}',
    annotations          TEXT NOT NULL DEFAULT '{}',
    generator_url        TEXT NOT NULL DEFAULT '',
    previous_incident_id TEXT REFERENCES incidents (id),
    group_key            TEXT NOT NULL DEFAULT '',
    alert_count          INTEGER NOT NULL DEFAULT 1,
    firing_alerts        INTEGER NOT NULL DEFAULT 0,
    reopen_count         INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT incidents_resolved_fire_nothing CHECK (status = 'open' OR firing_alerts = 0),
    CONSTRAINT incidents_resolved_after_detected CHECK (resolved_at IS NULL OR resolved_at >= detected_at)
);
INSERT INTO incidents_v5 (id, dedup_scope, fingerprint, project, source, title, description, service_name, severity,
                          status, detected_at, resolved_at, resolution_reason, created_at, updated_at, last_seen_at,
                          occurrences, labels, annotations, generator_url, previous_incident_id, group_key,
                          alert_count, firing_alerts, reopen_count)
SELECT id, dedup_scope, fingerprint, project, source, title, description, service_name, severity,
       status, detected_at, CASE WHEN resolved_at < detected_at THEN detected_at ELSE resolved_at END,
       resolution_reason, created_at, updated_at, last_seen_at, occurrences, labels, annotations, generator_url,
       previous_incident_id, group_key, alert_count, CASE WHEN status = 'open' THEN firing_alerts ELSE 0 END, reopen_count
FROM incidents;
DROP TABLE incidents;
ALTER TABLE incidents_v5 RENAME TO incidents;
CREATE UNIQUE INDEX incidents_one_open_per_group ON incidents (dedup_scope, group_key) WHERE status = 'open';
CREATE INDEX incidents_resolved_by_group ON incidents (dedup_scope, group_key, resolved_at) WHERE status = 'resolved';

-- Events of one incident are delivered in the order they happened: the
-- dispatcher claims an incident's earliest pending event only.
CREATE INDEX analysis_outbox_pending_by_incident ON analysis_outbox (incident_id, id) WHERE status = 'pending';
