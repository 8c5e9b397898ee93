-- Grouping (README, "Grouping"): an incident is the open incident of a group of alerts,
-- and every alert instance is a member row. Existing incidents become groups
-- of one (group_key = fingerprint, one member each), which is exactly the
-- default `grouping.by: alert`.
ALTER TABLE incidents ADD COLUMN group_key TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN alert_count BIGINT NOT NULL DEFAULT 1;
-- Members still firing: the incident resolves (resolve_on: all) when it reaches 0.
ALTER TABLE incidents ADD COLUMN firing_alerts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN reopen_count BIGINT NOT NULL DEFAULT 0;
UPDATE incidents SET group_key = fingerprint, firing_alerts = CASE WHEN status = 'open' THEN 1 ELSE 0 END;
-- Earlier releases stored a resolve's endsAt as sent, even before the alert
-- started; an incident never ends before it began.
UPDATE incidents SET resolved_at = detected_at WHERE resolved_at < detected_at;

-- Held by the database: a resolved incident has no firing alert and does not
-- end before it began. (A replica of an earlier release left running on this
-- schema has its resolves refused here, retryably, instead of leaving a
-- resolved incident with a firing alert.)
ALTER TABLE incidents ADD CONSTRAINT incidents_resolved_fire_nothing CHECK (status = 'open' OR firing_alerts = 0);
ALTER TABLE incidents ADD CONSTRAINT incidents_resolved_after_detected CHECK (resolved_at IS NULL OR resolved_at >= detected_at);

DROP INDEX incidents_one_open_per_key;
DROP INDEX incidents_resolved_instance;
-- At most one open incident per group: two replicas receiving the same group
-- at once still make one incident.
CREATE UNIQUE INDEX incidents_one_open_per_group ON incidents (dedup_scope, group_key) WHERE status = 'open';
-- The group's latest resolved incident: the previous_incident_id link and reopen_window.
CREATE INDEX incidents_resolved_by_group ON incidents (dedup_scope, group_key, resolved_at) WHERE status = 'resolved';

-- One row per alert instance (dedup scope + fingerprint + startsAt).
CREATE TABLE incident_alerts (
    incident_id   UUID NOT NULL REFERENCES incidents (id),
    dedup_scope   TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
    starts_at     TIMESTAMPTZ NOT NULL,
    ends_at       TIMESTAMPTZ,
    title         TEXT NOT NULL DEFAULT '',
    severity      TEXT NOT NULL DEFAULT 'medium',
    labels        JSONB NOT NULL DEFAULT '{}',
    annotations   JSONB NOT NULL DEFAULT '{}',
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ NOT NULL,
    occurrences   BIGINT NOT NULL DEFAULT 1,
    CHECK (ends_at IS NULL OR ends_at >= starts_at),
    -- An instance is stored once: a firing retry of a resolved instance (a
    -- stale retry, an HA echo) finds it and stays a duplicate.
    PRIMARY KEY (dedup_scope, fingerprint, starts_at)
);
-- At most one firing instance per alert.
CREATE UNIQUE INDEX incident_alerts_one_firing ON incident_alerts (dedup_scope, fingerprint) WHERE status = 'firing';
CREATE INDEX incident_alerts_by_incident ON incident_alerts (incident_id);

-- Open incidents first, so that when an earlier release stored one instance
-- twice (a resolved incident and an open one), the open one keeps the member.
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
-- many alerts: an event is unique per (incident, event, key).
ALTER TABLE analysis_outbox ADD COLUMN event_key TEXT NOT NULL DEFAULT '';
ALTER TABLE analysis_outbox DROP CONSTRAINT analysis_outbox_incident_id_event_key;
ALTER TABLE analysis_outbox ADD CONSTRAINT analysis_outbox_one_per_event UNIQUE (incident_id, event, event_key);
