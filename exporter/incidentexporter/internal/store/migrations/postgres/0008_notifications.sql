-- Notifications (README, "Notifications"): the outbox holds the events of
-- every sink, the analysis trigger's ("analysis") and each notify sink's,
-- each delivered on its own; it is renamed for what it holds. An event says
-- who acted, what they wrote and why an incident resolved, as it was then.
ALTER TABLE analysis_outbox RENAME TO outbox;
ALTER SEQUENCE analysis_outbox_id_seq RENAME TO outbox_id_seq;
ALTER TABLE outbox ADD COLUMN sink TEXT NOT NULL DEFAULT 'analysis';
ALTER TABLE outbox ALTER COLUMN sink DROP DEFAULT;
ALTER TABLE outbox ADD COLUMN "by" TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN note TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN reason TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox DROP CONSTRAINT analysis_outbox_one_per_event;
ALTER TABLE outbox ADD CONSTRAINT outbox_one_per_event UNIQUE (sink, incident_id, event, event_key);
DROP INDEX analysis_outbox_due;
DROP INDEX analysis_outbox_pending_by_incident;
CREATE INDEX outbox_due ON outbox (sink, next_attempt_at) WHERE status = 'pending';
-- Each sink claims an incident's earliest pending event only.
CREATE INDEX outbox_pending_by_incident ON outbox (sink, incident_id, id) WHERE status = 'pending';
