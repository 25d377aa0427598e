-- Key lifecycle bookkeeping, idempotency records and the credit ledger.

-- When the scheduler recorded the key's expiry and its expiring-soon warning (each happens once).
ALTER TABLE api_keys ADD COLUMN expiry_recorded_at INTEGER;
ALTER TABLE api_keys ADD COLUMN expiry_warned_at INTEGER;
CREATE INDEX api_keys_expiring ON api_keys (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE idempotency_keys (
    account_id      TEXT NOT NULL,
    route           TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('in_progress', 'done')),
    status_code     INTEGER,
    response_body   BLOB,
    request_id      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (account_id, route, idempotency_key)
) STRICT;
CREATE INDEX idempotency_keys_by_time ON idempotency_keys (created_at);

-- The balance is always the sum of the ledger; accounts.credit_balance caches it.
CREATE TABLE credit_ledger (
    id             INTEGER PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts (id),
    kind           TEXT NOT NULL CHECK (kind IN ('add', 'reserve', 'charge', 'refund')),
    amount         INTEGER NOT NULL,  -- thousandths; reserve is negative, refund positive
    reference      TEXT,
    reservation_id TEXT,
    actor          TEXT NOT NULL,
    created_at     INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX credit_ledger_add_reference ON credit_ledger (account_id, reference)
    WHERE kind = 'add' AND reference IS NOT NULL;
-- At most one charge-or-refund settles a reservation.
CREATE UNIQUE INDEX credit_ledger_settlement ON credit_ledger (reservation_id)
    WHERE kind IN ('charge', 'refund');
CREATE INDEX credit_ledger_by_account ON credit_ledger (account_id, id);
