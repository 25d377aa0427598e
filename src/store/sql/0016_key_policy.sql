-- An account's key lifetime policy (docs/keys.md, "Key policy"). No row: no rules. A NULL
-- number is a rule not set; `allowed_presets` is a comma-separated list of preset ids.
CREATE TABLE key_policies (
    account_id               TEXT PRIMARY KEY REFERENCES accounts (id),
    default_expiry_days      INTEGER CHECK (default_expiry_days >= 1),
    max_lifetime_days        INTEGER CHECK (max_lifetime_days >= 1),
    require_expiry           INTEGER NOT NULL DEFAULT 0 CHECK (require_expiry IN (0, 1)),
    max_rotation_grace_hours INTEGER CHECK (max_rotation_grace_hours >= 1),
    allowed_presets          TEXT,
    enforce_on_use           INTEGER NOT NULL DEFAULT 0 CHECK (enforce_on_use IN (0, 1)),
    updated_at               INTEGER NOT NULL
) STRICT;

-- A policy with `enforce_on_use` changes authentication decisions: a change bumps the key
-- generation like a key or account change (src/store/key_reader.rs).
CREATE TRIGGER key_policies_added AFTER INSERT ON key_policies
BEGIN
    UPDATE key_generation SET value = value + 1 WHERE id = 1;
END;
CREATE TRIGGER key_policies_changed AFTER UPDATE ON key_policies
BEGIN
    UPDATE key_generation SET value = value + 1 WHERE id = 1;
END;
CREATE TRIGGER key_policies_deleted AFTER DELETE ON key_policies
BEGIN
    UPDATE key_generation SET value = value + 1 WHERE id = 1;
END;

-- The instance's default and ceiling (docs/keys.md, "Key policy"), set by the instance
-- administrator: the policy of an account without its own, and the strictest an account's may
-- be loose. One row at most.
CREATE TABLE instance_key_policy (
    id                       INTEGER PRIMARY KEY CHECK (id = 1),
    default_expiry_days      INTEGER CHECK (default_expiry_days >= 1),
    max_lifetime_days        INTEGER CHECK (max_lifetime_days >= 1),
    require_expiry           INTEGER NOT NULL DEFAULT 0 CHECK (require_expiry IN (0, 1)),
    max_rotation_grace_hours INTEGER CHECK (max_rotation_grace_hours >= 1),
    allowed_presets          TEXT,
    enforce_on_use           INTEGER NOT NULL DEFAULT 0 CHECK (enforce_on_use IN (0, 1)),
    updated_at               INTEGER NOT NULL
) STRICT;
CREATE TRIGGER instance_key_policy_added AFTER INSERT ON instance_key_policy
BEGIN
    UPDATE key_generation SET value = value + 1 WHERE id = 1;
END;
CREATE TRIGGER instance_key_policy_changed AFTER UPDATE ON instance_key_policy
BEGIN
    UPDATE key_generation SET value = value + 1 WHERE id = 1;
END;
