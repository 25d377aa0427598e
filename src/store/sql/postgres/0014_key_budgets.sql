-- A key's credit budget: see the SQLite step 0021_key_budgets.sql.
ALTER TABLE api_keys ADD COLUMN budget_credits BIGINT CHECK (budget_credits > 0);
ALTER TABLE api_keys ADD COLUMN budget_period TEXT CHECK (budget_period IN ('day', 'week', 'month'));
CREATE INDEX generations_by_key ON generations (key_id, created_at);
