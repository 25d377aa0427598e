-- The request-log indexes hold the last 8 characters of the key and account ids (random in a
-- UUID) instead of all 36. Every request adds an entry to both, and the entries are appended at
-- the end of one id's range, where SQLite rebalances the last leaves on each overflow: with
-- whole ids, the two indexes were half of the pages every log commit wrote. Queries match the
-- tag through the index and the full id on the row (`store::logs`), so two
-- ids sharing a tag only cost a few extra row reads.
DROP INDEX request_logs_by_key;
DROP INDEX request_logs_by_account;
CREATE INDEX request_logs_by_key ON request_logs (substr(key_id, -8));
CREATE INDEX request_logs_by_account ON request_logs (substr(account_id, -8));
