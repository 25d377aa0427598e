-- The client's address in clear beside its keyed hash (docs/keys.md, "Request log"): written
-- while `logs.client_ip_days` is above 0, set to NULL by the purge job once older than that.
ALTER TABLE request_logs ADD COLUMN client_ip TEXT;
ALTER TABLE refusals_daily ADD COLUMN client_ip TEXT;
