-- What an account does with a key reported leaked: see the SQLite step 0020_leaks.sql.
CREATE TABLE leak_policies (
    account_id TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    action     TEXT NOT NULL CHECK (action IN ('revoke', 'disable', 'notify')),
    updated_at BIGINT NOT NULL
);
