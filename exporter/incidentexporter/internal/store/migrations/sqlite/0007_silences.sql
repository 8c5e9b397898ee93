-- rebuilds-tables
-- Silences (README, "Silences"): maintenance windows that hold the alerts
-- that would open an incident. A held alert is stored as a member without
-- an incident (incident_id NULL), with the silence that holds it and the
-- alert as it arrived (held_alert, JSON) to open its incident with when the
-- silence ends. SQLite cannot drop a NOT NULL: incident_alerts is rebuilt.
CREATE TABLE incident_alerts_v7 (
    incident_id   TEXT REFERENCES incidents (id),
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
    silence_id    TEXT,
    held_alert    TEXT,
    CHECK (ends_at IS NULL OR ends_at >= starts_at),
    CONSTRAINT incident_alerts_held_by_a_silence CHECK (incident_id IS NOT NULL OR silence_id IS NOT NULL),
    PRIMARY KEY (dedup_scope, fingerprint, starts_at)
) WITHOUT ROWID;
INSERT INTO incident_alerts_v7 (incident_id, dedup_scope, fingerprint, status, starts_at, ends_at, title, severity, labels,
                                annotations, first_seen_at, last_seen_at, occurrences)
SELECT incident_id, dedup_scope, fingerprint, status, starts_at, ends_at, title, severity, labels, annotations,
       first_seen_at, last_seen_at, occurrences
FROM incident_alerts;
DROP TABLE incident_alerts;
ALTER TABLE incident_alerts_v7 RENAME TO incident_alerts;
CREATE UNIQUE INDEX incident_alerts_one_firing ON incident_alerts (dedup_scope, fingerprint) WHERE status = 'firing';
CREATE INDEX incident_alerts_by_incident ON incident_alerts (incident_id);
-- The held alerts of a silence, found when it ends.
CREATE INDEX incident_alerts_held ON incident_alerts (silence_id) WHERE incident_id IS NULL;

CREATE TABLE silences (
    id          TEXT PRIMARY KEY,
    matchers    TEXT NOT NULL,
    starts_at   TEXT NOT NULL,
    ends_at     TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    comment     TEXT NOT NULL DEFAULT '',
    integration TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    -- When the sweep opened the incidents of what it held, after it ended.
    released_at TEXT,
    CHECK (ends_at > starts_at)
);
CREATE INDEX silences_by_end ON silences (ends_at);
-- Bumped with every change of a silence: each transaction reads it, and a
-- replica reloads its silences when it moved.
CREATE TABLE silences_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO silences_version (id, version) VALUES (1, 0);
