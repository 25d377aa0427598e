-- Webhooks (docs/generation.md, "Webhooks"): endpoints per account, and the outbox their deliveries
-- are made from. An event is written with the change that produced it, one delivery per endpoint
-- that listens to it, in the change's own transaction.

CREATE TABLE webhook_endpoints (
    id                   TEXT PRIMARY KEY,
    account_id           TEXT NOT NULL REFERENCES accounts (id),
    url                  TEXT NOT NULL,
    description          TEXT NOT NULL DEFAULT '',
    events               TEXT NOT NULL,  -- JSON array of event names
    -- The signing secret itself: a delivery must be signed with it.
    secret               TEXT NOT NULL,
    enabled              INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    -- Why a disabled endpoint is: 'manual', 'failures' (consecutive failed deliveries), 'gone' (410).
    disabled_reason      TEXT CHECK (disabled_reason IN ('manual', 'failures', 'gone')),
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    secret_rotated_at    INTEGER
) STRICT;
CREATE INDEX webhook_endpoints_by_account ON webhook_endpoints (account_id, created_at);

CREATE TABLE webhook_events (
    id            INTEGER PRIMARY KEY,
    account_id    TEXT NOT NULL,
    event         TEXT NOT NULL,
    generation_id TEXT,
    data          TEXT NOT NULL,  -- the `webhook_data` object, as JSON
    created_at    INTEGER NOT NULL
) STRICT;

-- One per (endpoint, event), and one more for every replay. `pending` ones are due at
-- `next_attempt_at`; a sender holds one it is sending until `lease_until`. `queued` ones wait for
-- a disabled endpoint to be enabled and asked to deliver them.
CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,  -- the delivery id the receiver sees
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         INTEGER NOT NULL REFERENCES webhook_events (id),
    status           TEXT NOT NULL
        CHECK (status IN ('pending', 'succeeded', 'failed', 'queued', 'expired')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER,
    lease_until      INTEGER,
    last_status_code INTEGER,
    last_error       TEXT,
    duration_ms      INTEGER,
    replay_of        TEXT,
    created_at       INTEGER NOT NULL,
    completed_at     INTEGER
) STRICT;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, created_at);
CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (event_id);
CREATE INDEX webhook_deliveries_by_age ON webhook_deliveries (created_at);

-- The origin the client called when it created a generation, for the absolute media URLs of its
-- webhook events (the record's URLs follow the caller of each read).
ALTER TABLE generations ADD COLUMN origin TEXT;
