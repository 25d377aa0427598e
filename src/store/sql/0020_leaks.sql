-- What an account does with a key reported leaked (docs/keys.md, "Leaked keys"): `revoke`,
-- `disable` or `notify`. No row: revoke.
CREATE TABLE leak_policies (
    account_id TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    action     TEXT NOT NULL CHECK (action IN ('revoke', 'disable', 'notify')),
    updated_at INTEGER NOT NULL
) STRICT;
