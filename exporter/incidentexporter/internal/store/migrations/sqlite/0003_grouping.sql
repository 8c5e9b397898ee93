-- Grouping (README, "Grouping"): an incident is the open incident of a group of alerts,
-- and every alert instance is a member row. Existing incidents become groups
-- of one (group_key = fingerprint, one member each), which is exactly the
-- default `grouping.by: alert`.
ALTER TABLE incidents ADD COLUMN group_key TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN alert_count INTEGER NOT NULL DEFAULT 1;
-- Members still firing: the incident resolves (resolve_on: all) when it reaches 0.
ALTER TABLE incidents ADD COLUMN firing_alerts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN reopen_count INTEGER NOT NULL DEFAULT 0;
UPDATE incidents SET group_key = fingerprint, firing_alerts = CASE WHEN status = 'open' THEN 1 ELSE 0 END;
-- Earlier releases stored a resolve's endsAt as sent, even before the alert
-- started; an incident never ends before it began.
UPDATE incidents SET resolved_at = detected_at WHERE resolved_at < detected_at;

DROP INDEX incidents_one_open_per_key;
DROP INDEX incidents_resolved_instance;
-- At most one open incident per group.
CREATE UNIQUE INDEX incidents_one_open_per_group ON incidents (dedup_scope, group_key) WHERE status = 'open';
-- The group's latest resolved incident: the previous_incident_id link and reopen_window.
CREATE INDEX incidents_resolved_by_group ON incidents (dedup_scope, group_key, resolved_at) WHERE status = 'resolved';

-- One row per alert instance (dedup scope + fingerprint + startsAt).
CREATE TABLE incident_alerts (
    incident_id   TEXT NOT NULL REFERENCES incidents (id),
    dedup_scope   TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
    starts_at     TEXT NOT NULL,
    ends_at       TEXT,
    title         TEXT NOT NULL DEFAULT '',
    severity      TEXT NOT NULL DEFAULT 'medium',
    labels        TEXT NOT NULL DEFAULT '{}',
    annotations   TEXT NOT NULL DEFAULT '{}',
    first_seen_at TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    occurrences   INTEGER NOT NULL DEFAULT 1,
    CHECK (ends_at IS NULL OR ends_at >= starts_at),
    -- An instance is stored once: a firing retry of a resolved instance (a
    -- stale retry, an HA echo) finds it and stays a duplicate.
    PRIMARY KEY (dedup_scope, fingerprint, starts_at)
) WITHOUT ROWID;
-- At most one firing instance per alert.
CREATE UNIQUE INDEX incident_alerts_one_firing ON incident_alerts (dedup_scope, fingerprint) WHERE status = 'firing';
CREATE INDEX incident_alerts_by_incident ON incident_alerts (incident_id);

-- Open incidents first, so that an instance stored twice keeps its member with the open one.
INSERT INTO incident_alerts (incident_id, dedup_scope, fingerprint, status, starts_at, ends_at, title, severity,
                             labels, annotations, first_seen_at, last_seen_at, occurrences)
SELECT id, dedup_scope, fingerprint, 'firing', detected_at, NULL, title, severity, labels, annotations,
       created_at, last_seen_at, occurrences
FROM incidents WHERE status = 'open'
ON CONFLICT DO NOTHING;
INSERT INTO incident_alerts (incident_id, dedup_scope, fingerprint, status, starts_at, ends_at, title, severity,
                             labels, annotations, first_seen_at, last_seen_at, occurrences)
SELECT id, dedup_scope, fingerprint, 'resolved', detected_at, resolved_at, title, severity, labels, annotations,
       created_at, last_seen_at, occurrences
FROM incidents WHERE status = 'resolved'
ON CONFLICT DO NOTHING;

-- An incident can now be resolved and reopened several times, and receive
-- many alerts: an event is unique per (incident, event, key). SQLite cannot
-- drop a table constraint, so the table is rebuilt.
CREATE TABLE analysis_outbox_v3 (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id     TEXT NOT NULL REFERENCES incidents (id),
    event           TEXT NOT NULL,
    event_key       TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    delivered_at    TEXT,
    last_error      TEXT,
    UNIQUE (incident_id, event, event_key)
);
INSERT INTO analysis_outbox_v3 (id, incident_id, event, status, attempts, created_at, next_attempt_at, delivered_at, last_error)
SELECT id, incident_id, event, status, attempts, created_at, next_attempt_at, delivered_at, last_error FROM analysis_outbox;
DROP TABLE analysis_outbox;
ALTER TABLE analysis_outbox_v3 RENAME TO analysis_outbox;
CREATE INDEX analysis_outbox_due ON analysis_outbox (next_attempt_at) WHERE status = 'pending';
