-- `activity:read` for the keys that read the activity log with `keys:read`: see the SQLite
-- step 0017_audit_stream.sql.
UPDATE api_keys SET scopes = scopes || ',activity:read'
 WHERE ',' || scopes || ',' LIKE '%,keys:read,%'
   AND ',' || scopes || ',' NOT LIKE '%,activity:read,%';

-- Streaming the activity log to syslog: see the SQLite step 0017_audit_stream.sql.
CREATE TABLE audit_stream (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    last_sent_id BIGINT NOT NULL,
    holder       TEXT,
    lease_until  BIGINT
);
