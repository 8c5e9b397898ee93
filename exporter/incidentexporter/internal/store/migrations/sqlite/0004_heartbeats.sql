-- Heartbeats (README, "Heartbeats"): the last heartbeat alert of each scope.
CREATE TABLE heartbeats (
    dedup_scope   TEXT PRIMARY KEY,
    alertname     TEXT NOT NULL,
    first_seen_at TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    beats         INTEGER NOT NULL DEFAULT 1
);
