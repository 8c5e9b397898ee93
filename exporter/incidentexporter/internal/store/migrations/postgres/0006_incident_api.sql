-- The incident API (README, "Incident API"): who acknowledged or resolved an
-- incident by hand, and each incident's timeline. An acknowledged incident
-- keeps status 'open' here, so every rule and index that holds for open
-- incidents holds for it; the API shows it as acknowledged.
ALTER TABLE incidents ADD COLUMN acknowledged_at TIMESTAMPTZ;
ALTER TABLE incidents ADD COLUMN acknowledged_by TEXT;
ALTER TABLE incidents ADD COLUMN resolved_by TEXT;

-- The API lists incidents newest detected first: active ones through a small
-- partial index, any status through the other.
CREATE INDEX incidents_active_by_detected ON incidents (detected_at, id) WHERE status = 'open';
CREATE INDEX incidents_by_detected ON incidents (detected_at, id);

-- One row per change of an incident, oldest first by id.
CREATE TABLE incident_events (
    id          BIGSERIAL PRIMARY KEY,
    incident_id UUID NOT NULL REFERENCES incidents (id),
    at          TIMESTAMPTZ NOT NULL,
    event       TEXT NOT NULL CHECK (event IN ('created', 'alert_added', 'alert_resolved', 'resolved', 'reopened',
                                               'acknowledged', 'unacknowledged')),
    "by"        TEXT NOT NULL DEFAULT '',
    note        TEXT NOT NULL DEFAULT '',
    fingerprint TEXT NOT NULL DEFAULT ''
);
CREATE INDEX incident_events_by_incident ON incident_events (incident_id, id);
