-- The integrity checks are already here (0003); SQLite gets them in its 0005.

-- Events of one incident are delivered in the order they happened: the
-- dispatcher claims an incident's earliest pending event only.
CREATE INDEX analysis_outbox_pending_by_incident ON analysis_outbox (incident_id, id) WHERE status = 'pending';
