-- What the receivers serve (README, "Heartbeats"): each collector records
-- the integrations its receivers announce (the alertwebhook.inventory
-- record), every minute, under an instance id of its own, and withdraws
-- them when it stops. A heartbeat is forgotten once an integration that was
-- announced is announced by no live collector any more: a replica that does
-- not serve it, or a receiver that never announces, changes nothing.
CREATE TABLE integration_announcements (
    instance     TEXT NOT NULL,
    receiver     TEXT NOT NULL,
    dedup_scope  TEXT NOT NULL,
    announced_at TEXT NOT NULL,
    PRIMARY KEY (instance, receiver, dedup_scope)
);
CREATE INDEX integration_announcements_by_scope ON integration_announcements (dedup_scope, announced_at);
-- The integrations ever announced, until forgotten.
CREATE TABLE announced_scopes (
    dedup_scope        TEXT PRIMARY KEY,
    first_announced_at TEXT NOT NULL
);
