-- Foundation: accounts, users, memberships, keys, request log, daily usage roll-ups, activity.
-- Times are INTEGER milliseconds since the Unix epoch (UTC); days are 'YYYY-MM-DD' (UTC).

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;

CREATE TABLE accounts (
    id                   TEXT PRIMARY KEY,
    name                 TEXT NOT NULL,
    email                TEXT,
    is_personal          INTEGER NOT NULL CHECK (is_personal IN (0, 1)),
    picture_url          TEXT,
    region               TEXT NOT NULL CHECK (region IN ('us', 'eu', 'jp')),
    plan                 TEXT NOT NULL,
    credit_balance       INTEGER NOT NULL DEFAULT 0,  -- thousandths
    subscription_status  TEXT,
    cancel_at_period_end INTEGER CHECK (cancel_at_period_end IN (0, 1)),
    currency             TEXT,
    period_starts_at     INTEGER,
    period_ends_at       INTEGER,
    billing_created_at   INTEGER,
    billing_updated_at   INTEGER,
    created_at           INTEGER NOT NULL,
    deleted_at           INTEGER
) STRICT;

CREATE TABLE users (
    id                TEXT PRIMARY KEY,
    email             TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash     TEXT NOT NULL,
    is_instance_admin INTEGER NOT NULL DEFAULT 0 CHECK (is_instance_admin IN (0, 1)),
    created_at        INTEGER NOT NULL
) STRICT;

CREATE TABLE memberships (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('primary-owner', 'owner', 'member')),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, user_id)
) STRICT;
CREATE UNIQUE INDEX memberships_one_primary_owner ON memberships (account_id)
    WHERE role = 'primary-owner';
CREATE INDEX memberships_by_user ON memberships (user_id);

CREATE TABLE api_keys (
    id                    TEXT PRIMARY KEY,
    account_id            TEXT NOT NULL REFERENCES accounts (id),
    name                  TEXT NOT NULL,
    key_prefix            TEXT NOT NULL,
    key_hash              TEXT NOT NULL UNIQUE,
    environment           TEXT NOT NULL CHECK (environment IN ('live', 'test')),
    scopes                TEXT NOT NULL,
    ip_allowlist          TEXT,
    allowed_models        TEXT,
    rate_limit_per_minute INTEGER CHECK (rate_limit_per_minute > 0),
    created_at            INTEGER NOT NULL,
    created_by            TEXT,
    last_used_at          INTEGER,
    expires_at            INTEGER,
    rotated_at            INTEGER,
    replaced_by           TEXT REFERENCES api_keys (id) ON DELETE SET NULL,
    replaces              TEXT REFERENCES api_keys (id) ON DELETE SET NULL,
    disabled_at           INTEGER,
    revoked_at            INTEGER
) STRICT;
CREATE INDEX api_keys_by_account ON api_keys (account_id, created_at);
CREATE INDEX api_keys_replaced_by ON api_keys (replaced_by);
CREATE INDEX api_keys_replaces ON api_keys (replaces);

-- Bumped by every change that can alter what authentication decides, so the key reader can
-- cache keys and still see a change made by any process on the very next request.
CREATE TABLE key_generation (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL) STRICT;
INSERT INTO key_generation (id, value) VALUES (1, 0);
CREATE TRIGGER api_keys_changed AFTER UPDATE OF account_id, key_hash, environment, scopes,
    ip_allowlist, allowed_models, rate_limit_per_minute, expires_at, rotated_at, disabled_at,
    revoked_at ON api_keys
BEGIN
    UPDATE key_generation SET value = value + 1 WHERE id = 1;
END;
CREATE TRIGGER api_keys_deleted AFTER DELETE ON api_keys
BEGIN
    UPDATE key_generation SET value = value + 1 WHERE id = 1;
END;
CREATE TRIGGER accounts_changed AFTER UPDATE OF region, plan, deleted_at ON accounts
BEGIN
    UPDATE key_generation SET value = value + 1 WHERE id = 1;
END;
CREATE TRIGGER accounts_deleted AFTER DELETE ON accounts
BEGIN
    UPDATE key_generation SET value = value + 1 WHERE id = 1;
END;

CREATE TABLE request_logs (
    id                   INTEGER PRIMARY KEY,
    request_id           TEXT NOT NULL,
    -- No foreign key: the writer inserts only rows whose key exists, and deleting a key deletes
    -- its rows explicitly; a second parent lookup per insert would slow the hottest path.
    key_id               TEXT NOT NULL,
    account_id           TEXT NOT NULL,
    key_prefix           TEXT NOT NULL,
    environment          TEXT NOT NULL,
    method               TEXT NOT NULL,
    endpoint             TEXT NOT NULL,
    route                TEXT NOT NULL,
    query                TEXT,
    status_code          INTEGER NOT NULL,
    error_code           TEXT,
    idempotency_replayed INTEGER NOT NULL DEFAULT 0,
    ip_hash              TEXT NOT NULL,
    user_agent           TEXT,
    region               TEXT NOT NULL,
    latency_us           INTEGER NOT NULL,
    created_at           INTEGER NOT NULL
) STRICT;
-- Index entries end with the rowid, so these serve "an account's (or key's) newest rows first"
-- straight from the index; rows are appended in time order.
CREATE INDEX request_logs_by_key ON request_logs (key_id);
CREATE INDEX request_logs_by_account ON request_logs (account_id);

-- Daily roll-ups survive log retention and key deletion (key_id becomes NULL).
CREATE TABLE usage_daily (
    day          TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    key_id       TEXT,
    route        TEXT NOT NULL,
    status_class INTEGER NOT NULL CHECK (status_class BETWEEN 1 AND 5),
    requests     INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX usage_daily_key ON usage_daily (account_id, day, key_id, route, status_class);

CREATE TABLE usage_daily_errors (
    day        TEXT NOT NULL,
    account_id TEXT NOT NULL,
    key_id     TEXT,
    route      TEXT NOT NULL,
    error_code TEXT NOT NULL,
    requests   INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX usage_daily_errors_key
    ON usage_daily_errors (account_id, day, key_id, route, error_code);

-- Requests refused before a key was identified: firewall, BSE1001, BSE1002, BSE1006.
CREATE TABLE refusals_daily (
    day      TEXT NOT NULL,
    ip_hash  TEXT NOT NULL,
    reason   TEXT NOT NULL,
    requests INTEGER NOT NULL,
    PRIMARY KEY (day, ip_hash, reason)
) STRICT;

-- Admin audit trail; each row's hash covers its fields and the previous row's hash.
CREATE TABLE activity (
    id          INTEGER PRIMARY KEY,
    account_id  TEXT,
    actor       TEXT NOT NULL,
    category    TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT,
    description TEXT NOT NULL,
    ip_hash     TEXT,
    created_at  INTEGER NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL UNIQUE
) STRICT;
CREATE INDEX activity_by_account ON activity (account_id, id);
