-- The client's address in clear beside its keyed hash (docs/keys.md, "Request log"): written
-- while `logs.client_ip_days` is above 0, set to NULL by the purge job once older than that.
ALTER TABLE request_logs ADD COLUMN client_ip TEXT;
ALTER TABLE refusals_daily ADD COLUMN client_ip TEXT;
-- Only the rows still holding an address: the purge clears the oldest of them without reading
-- the rows cleared before.
CREATE INDEX request_logs_client_ip ON request_logs (id) WHERE client_ip IS NOT NULL;
