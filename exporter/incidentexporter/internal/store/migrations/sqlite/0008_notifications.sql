-- Notifications (README, "Notifications"): the outbox holds the events of
-- every sink, the analysis trigger's ("analysis") and each notify sink's,
-- each delivered on its own; it is renamed for what it holds. An event says
-- who acted, what they wrote and why an incident resolved, as it was then.
-- SQLite cannot change a table's UNIQUE constraint: the table is rebuilt.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    sink            TEXT NOT NULL,
    incident_id     TEXT NOT NULL REFERENCES incidents (id),
    event           TEXT NOT NULL,
    event_key       TEXT NOT NULL DEFAULT '',
    "by"            TEXT NOT NULL DEFAULT '',
    note            TEXT NOT NULL DEFAULT '',
    reason          TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    delivered_at    TEXT,
    last_error      TEXT,
    CONSTRAINT outbox_one_per_event UNIQUE (sink, incident_id, event, event_key)
);
INSERT INTO outbox (id, sink, incident_id, event, event_key, status, attempts, created_at, next_attempt_at, delivered_at, last_error)
SELECT id, 'analysis', incident_id, event, event_key, status, attempts, created_at, next_attempt_at, delivered_at, last_error
FROM analysis_outbox;
DROP TABLE analysis_outbox;
CREATE INDEX outbox_due ON outbox (sink, next_attempt_at) WHERE status = 'pending';
-- Each sink claims an incident's earliest pending event only.
CREATE INDEX outbox_pending_by_incident ON outbox (sink, incident_id, id) WHERE status = 'pending';
