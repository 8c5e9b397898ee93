-- Analysis notifications, written in the same transaction as the incident
-- change and delivered by the dispatcher (at least once).
CREATE TABLE analysis_outbox (
    id              BIGSERIAL PRIMARY KEY,
    incident_id     UUID NOT NULL REFERENCES incidents (id),
    event           TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      TIMESTAMPTZ NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    delivered_at    TIMESTAMPTZ,
    last_error      TEXT,
    UNIQUE (incident_id, event)
);
CREATE INDEX analysis_outbox_due ON analysis_outbox (next_attempt_at) WHERE status = 'pending';
