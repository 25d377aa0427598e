-- A key's request quota: see the SQLite step 0022_key_quotas.sql.
ALTER TABLE api_keys ADD COLUMN quota_requests BIGINT CHECK (quota_requests > 0);
ALTER TABLE api_keys ADD COLUMN quota_refill TEXT
    CHECK (quota_refill IN ('none', 'daily', 'weekly', 'monthly'));
ALTER TABLE api_keys ADD COLUMN quota_refill_day BIGINT CHECK (quota_refill_day BETWEEN 1 AND 31);
ALTER TABLE api_keys ADD COLUMN quota_used BIGINT NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN quota_period_start BIGINT NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN quota_owner TEXT REFERENCES api_keys (id) ON DELETE SET NULL;
CREATE INDEX api_keys_quota_owner ON api_keys (quota_owner) WHERE quota_owner IS NOT NULL;
CREATE TRIGGER api_keys_quota_changed AFTER UPDATE OF quota_requests, quota_refill,
    quota_refill_day, quota_owner ON api_keys
    FOR EACH ROW EXECUTE FUNCTION key_generation_bump();
