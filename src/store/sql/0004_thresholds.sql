-- Low-balance alert thresholds (docs/generation.md, "Low-balance alerts"): up to 10 per account.
-- `armed` is cleared when the balance falls below the threshold (the alert fires once) and set
-- again when it rises to it.
CREATE TABLE low_balance_thresholds (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    threshold  INTEGER NOT NULL CHECK (threshold >= 0),  -- thousandths
    armed      INTEGER NOT NULL DEFAULT 1 CHECK (armed IN (0, 1)),
    PRIMARY KEY (account_id, threshold)
) STRICT;

-- Every account starts with one threshold at 0.500.
INSERT INTO low_balance_thresholds (account_id, threshold) SELECT id, 500 FROM accounts;
CREATE TRIGGER accounts_default_threshold AFTER INSERT ON accounts
BEGIN
    INSERT INTO low_balance_thresholds (account_id, threshold) VALUES (NEW.id, 500);
END;
