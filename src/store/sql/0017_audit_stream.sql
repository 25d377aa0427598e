-- The activity log read through the management API needs `activity:read` (docs/decisions.md,
-- "Audit export"). Keys that read it before, with `keys:read`, keep doing so.
UPDATE api_keys SET scopes = scopes || ',activity:read'
 WHERE ',' || scopes || ',' LIKE '%,keys:read,%'
   AND ',' || scopes || ',' NOT LIKE '%,activity:read,%';

-- Streaming the activity log to syslog (docs/operator.md, "Audit streaming"): one row, the id
-- of the last entry the receiver took, and the node holding the lease to send (one at a time).
CREATE TABLE audit_stream (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    last_sent_id INTEGER NOT NULL,
    holder       TEXT,
    lease_until  INTEGER
) STRICT;
