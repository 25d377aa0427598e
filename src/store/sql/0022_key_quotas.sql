-- A key's request quota (docs/keys.md, "Request quotas"): at most `quota_requests` requests per
-- refill period (`quota_refill`, with `quota_refill_day` for a monthly refill). All NULL: no
-- quota. `quota_used` counts the requests of the period that starts at `quota_period_start`;
-- a use in a later period starts it again from 0, so no job refills anything.
ALTER TABLE api_keys ADD COLUMN quota_requests INTEGER CHECK (quota_requests > 0);
ALTER TABLE api_keys ADD COLUMN quota_refill TEXT
    CHECK (quota_refill IN ('none', 'daily', 'weekly', 'monthly'));
ALTER TABLE api_keys ADD COLUMN quota_refill_day INTEGER CHECK (quota_refill_day BETWEEN 1 AND 31);
ALTER TABLE api_keys ADD COLUMN quota_used INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN quota_period_start INTEGER NOT NULL DEFAULT 0;
-- A rotated key keeps counting on the quota of the key that replaced it (the last of its
-- chain), so a grace period adds no requests. NULL: its own (again its own, as counted at
-- the rotation, if that key is deleted).
ALTER TABLE api_keys ADD COLUMN quota_owner TEXT REFERENCES api_keys (id) ON DELETE SET NULL;
CREATE INDEX api_keys_quota_owner ON api_keys (quota_owner) WHERE quota_owner IS NOT NULL;
-- Whether a key has a quota changes what authentication does: a change bumps the key
-- generation like the other key fields (src/store/key_reader.rs).
CREATE TRIGGER api_keys_quota_changed AFTER UPDATE OF quota_requests, quota_refill,
    quota_refill_day, quota_owner ON api_keys
BEGIN
    UPDATE key_generation SET value = value + 1 WHERE id = 1;
END;
