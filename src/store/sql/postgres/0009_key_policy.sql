-- An account's key lifetime policy: see the SQLite step 0016_key_policy.sql.
CREATE TABLE key_policies (
    account_id               TEXT PRIMARY KEY REFERENCES accounts (id),
    default_expiry_days      BIGINT CHECK (default_expiry_days >= 1),
    max_lifetime_days        BIGINT CHECK (max_lifetime_days >= 1),
    require_expiry           BIGINT NOT NULL DEFAULT 0 CHECK (require_expiry IN (0, 1)),
    max_rotation_grace_hours BIGINT CHECK (max_rotation_grace_hours >= 1),
    allowed_presets          TEXT,
    enforce_on_use           BIGINT NOT NULL DEFAULT 0 CHECK (enforce_on_use IN (0, 1)),
    updated_at               BIGINT NOT NULL
);

-- A policy change bumps the key generation, like a key or account change.
CREATE TRIGGER key_policies_changed AFTER INSERT OR UPDATE OR DELETE ON key_policies
    FOR EACH ROW EXECUTE FUNCTION key_generation_bump();

-- The instance's default and ceiling (docs/keys.md, "Key policy"), set by the instance
-- administrator: the policy of an account without its own, and the strictest an account's may
-- be loose. One row at most.
CREATE TABLE instance_key_policy (
    id                       BIGINT PRIMARY KEY CHECK (id = 1),
    default_expiry_days      BIGINT CHECK (default_expiry_days >= 1),
    max_lifetime_days        BIGINT CHECK (max_lifetime_days >= 1),
    require_expiry           BIGINT NOT NULL DEFAULT 0 CHECK (require_expiry IN (0, 1)),
    max_rotation_grace_hours BIGINT CHECK (max_rotation_grace_hours >= 1),
    allowed_presets          TEXT,
    enforce_on_use           BIGINT NOT NULL DEFAULT 0 CHECK (enforce_on_use IN (0, 1)),
    updated_at               BIGINT NOT NULL
);
CREATE TRIGGER instance_key_policy_changed AFTER INSERT OR UPDATE OR DELETE
    ON instance_key_policy FOR EACH ROW EXECUTE FUNCTION key_generation_bump();
