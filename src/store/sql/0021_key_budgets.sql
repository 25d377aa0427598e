-- A key's credit budget (docs/keys.md, "Per-key budgets"): at most `budget_credits`
-- (thousandths) spent by its generations per `budget_period`. Both NULL: no budget.
ALTER TABLE api_keys ADD COLUMN budget_credits INTEGER CHECK (budget_credits > 0);
ALTER TABLE api_keys ADD COLUMN budget_period TEXT CHECK (budget_period IN ('day', 'week', 'month'));
-- What a key's generations spent since a time, read in the reservation's transaction.
CREATE INDEX generations_by_key ON generations (key_id, created_at);
