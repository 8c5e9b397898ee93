-- Incidents, one row per alert instance; at most one open per (dedup_scope, fingerprint).
CREATE TABLE incidents (
    id                   UUID PRIMARY KEY,
    dedup_scope          TEXT NOT NULL,
    fingerprint          TEXT NOT NULL,
    project              TEXT NOT NULL DEFAULT '',
    source               TEXT NOT NULL DEFAULT '',
    title                TEXT NOT NULL DEFAULT '',
    description          TEXT NOT NULL DEFAULT '',
    service_name         TEXT NOT NULL DEFAULT '',
    severity             TEXT NOT NULL DEFAULT 'medium',
    status               TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    detected_at          TIMESTAMPTZ NOT NULL,
    resolved_at          TIMESTAMPTZ,
    resolution_reason    TEXT,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL,
    last_seen_at         TIMESTAMPTZ NOT NULL,
    occurrences          BIGINT NOT NULL DEFAULT 1,
    labels               JSONB NOT NULL DEFAULT '{}',
    annotations          JSONB NOT NULL DEFAULT '{}',
    generator_url        TEXT NOT NULL DEFAULT '',
    previous_incident_id UUID REFERENCES incidents (id)
);
CREATE UNIQUE INDEX incidents_one_open_per_key ON incidents (dedup_scope, fingerprint) WHERE status = 'open';
-- Resolved instances, for the stale-firing check and the link to the previous
-- incident. Partial, so that creating and repeating open incidents (the hot
-- path) never touches it.
CREATE INDEX incidents_resolved_instance ON incidents (dedup_scope, fingerprint, detected_at) WHERE status = 'resolved';
-- The auto-resolve sweep reads open incidents through incidents_one_open_per_key;
-- an index on last_seen_at would be rewritten by every repeat.
