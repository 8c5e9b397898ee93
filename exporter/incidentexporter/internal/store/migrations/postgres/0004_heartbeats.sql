-- Heartbeats (README, "Heartbeats"): the last heartbeat alert of each scope.
CREATE TABLE heartbeats (
    dedup_scope   TEXT PRIMARY KEY,
    alertname     TEXT NOT NULL,
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ NOT NULL,
    beats         BIGINT NOT NULL DEFAULT 1
);
