-- Silences (README, "Silences"): maintenance windows that hold the alerts
-- that would open an incident. A held alert is stored as a member without
-- an incident (incident_id NULL), with the silence that holds it and the
-- alert as it arrived (held_alert, JSON) to open its incident with when the
-- silence ends.
ALTER TABLE incident_alerts ALTER COLUMN incident_id DROP NOT NULL;
ALTER TABLE incident_alerts ADD COLUMN silence_id UUID;
ALTER TABLE incident_alerts ADD COLUMN held_alert TEXT;
ALTER TABLE incident_alerts ADD CONSTRAINT incident_alerts_held_by_a_silence CHECK (incident_id IS NOT NULL OR silence_id IS NOT NULL);
-- The held alerts of a silence, found when it ends.
CREATE INDEX incident_alerts_held ON incident_alerts (silence_id) WHERE incident_id IS NULL;

CREATE TABLE silences (
    id          UUID PRIMARY KEY,
    matchers    JSONB NOT NULL,
    starts_at   TIMESTAMPTZ NOT NULL,
    ends_at     TIMESTAMPTZ NOT NULL,
    created_by  TEXT NOT NULL,
    comment     TEXT NOT NULL DEFAULT '',
    integration TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    -- When the sweep opened the incidents of what it held, after it ended.
    released_at TIMESTAMPTZ,
    CHECK (ends_at > starts_at)
);
CREATE INDEX silences_by_end ON silences (ends_at);
-- Bumped with every change of a silence: each transaction reads it, and a
-- replica reloads its silences when it moved.
CREATE TABLE silences_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO silences_version (id, version) VALUES (1, 0);
