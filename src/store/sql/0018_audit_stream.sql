-- The activity log read through the management API needs `activity:read` (docs/decisions.md,
-- "Audit export"). Keys that read it before, with `keys:read`, keep doing so.
UPDATE api_keys SET scopes = scopes || ',activity:read'
 WHERE ',' || scopes || ',' LIKE '%,keys:read,%'
   AND ',' || scopes || ',' NOT LIKE '%,activity:read,%';
