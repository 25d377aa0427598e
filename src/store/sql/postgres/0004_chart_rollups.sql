-- Roll-ups for the charts, the dashboard and the usage page.

-- Hourly roll-ups of the request log for the charts and the dashboard (docs/admin.md, "Charts"):
-- per account and hour, one row per key and one with key_id '' for the whole account, holding
-- the requests by outcome and a latency histogram. Bucket lNN counts requests whose latency is
-- at most the NNth bound in microseconds (100, 250, 500, 1000, 2500, 5000, 10000, 25000,
-- 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000, 30000000), l17 the
-- slower ones. Kept 90 days; written by the log writer with the rows they count.
CREATE TABLE usage_hourly (
    account_id   TEXT NOT NULL,
    key_id       TEXT NOT NULL,
    hour         BIGINT NOT NULL,
    success      BIGINT NOT NULL DEFAULT 0,
    client_error BIGINT NOT NULL DEFAULT 0,
    auth_refused BIGINT NOT NULL DEFAULT 0,
    rate_limited BIGINT NOT NULL DEFAULT 0,
    server_error BIGINT NOT NULL DEFAULT 0,
    l00          BIGINT NOT NULL DEFAULT 0,
    l01          BIGINT NOT NULL DEFAULT 0,
    l02          BIGINT NOT NULL DEFAULT 0,
    l03          BIGINT NOT NULL DEFAULT 0,
    l04          BIGINT NOT NULL DEFAULT 0,
    l05          BIGINT NOT NULL DEFAULT 0,
    l06          BIGINT NOT NULL DEFAULT 0,
    l07          BIGINT NOT NULL DEFAULT 0,
    l08          BIGINT NOT NULL DEFAULT 0,
    l09          BIGINT NOT NULL DEFAULT 0,
    l10          BIGINT NOT NULL DEFAULT 0,
    l11          BIGINT NOT NULL DEFAULT 0,
    l12          BIGINT NOT NULL DEFAULT 0,
    l13          BIGINT NOT NULL DEFAULT 0,
    l14          BIGINT NOT NULL DEFAULT 0,
    l15          BIGINT NOT NULL DEFAULT 0,
    l16          BIGINT NOT NULL DEFAULT 0,
    l17          BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, key_id, hour)
);

-- For the retention purge.
CREATE INDEX usage_hourly_by_hour ON usage_hourly (hour);

-- The request log still kept is rolled up once, so the charts show it from the start.
INSERT INTO usage_hourly (account_id, key_id, hour, success, client_error, auth_refused, rate_limited, server_error, l00, l01, l02, l03, l04, l05, l06, l07, l08, l09, l10, l11, l12, l13, l14, l15, l16, l17)
SELECT account_id, key_id, created_at / 3600000,
       SUM(CASE WHEN status_code < 400 THEN 1 ELSE 0 END),
       SUM(CASE WHEN status_code >= 400 AND status_code < 500 AND status_code NOT IN (401, 403, 429) THEN 1 ELSE 0 END),
       SUM(CASE WHEN status_code IN (401, 403) THEN 1 ELSE 0 END),
       SUM(CASE WHEN status_code = 429 THEN 1 ELSE 0 END),
       SUM(CASE WHEN status_code >= 500 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us <= 100 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 100 AND latency_us <= 250 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 250 AND latency_us <= 500 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 500 AND latency_us <= 1000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 1000 AND latency_us <= 2500 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 2500 AND latency_us <= 5000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 5000 AND latency_us <= 10000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 10000 AND latency_us <= 25000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 25000 AND latency_us <= 50000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 50000 AND latency_us <= 100000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 100000 AND latency_us <= 250000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 250000 AND latency_us <= 500000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 500000 AND latency_us <= 1000000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 1000000 AND latency_us <= 2500000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 2500000 AND latency_us <= 5000000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 5000000 AND latency_us <= 10000000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 10000000 AND latency_us <= 30000000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 30000000 THEN 1 ELSE 0 END)
FROM request_logs GROUP BY account_id, key_id, created_at / 3600000;
INSERT INTO usage_hourly (account_id, key_id, hour, success, client_error, auth_refused, rate_limited, server_error, l00, l01, l02, l03, l04, l05, l06, l07, l08, l09, l10, l11, l12, l13, l14, l15, l16, l17)
SELECT account_id, '', created_at / 3600000,
       SUM(CASE WHEN status_code < 400 THEN 1 ELSE 0 END),
       SUM(CASE WHEN status_code >= 400 AND status_code < 500 AND status_code NOT IN (401, 403, 429) THEN 1 ELSE 0 END),
       SUM(CASE WHEN status_code IN (401, 403) THEN 1 ELSE 0 END),
       SUM(CASE WHEN status_code = 429 THEN 1 ELSE 0 END),
       SUM(CASE WHEN status_code >= 500 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us <= 100 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 100 AND latency_us <= 250 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 250 AND latency_us <= 500 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 500 AND latency_us <= 1000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 1000 AND latency_us <= 2500 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 2500 AND latency_us <= 5000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 5000 AND latency_us <= 10000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 10000 AND latency_us <= 25000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 25000 AND latency_us <= 50000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 50000 AND latency_us <= 100000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 100000 AND latency_us <= 250000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 250000 AND latency_us <= 500000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 500000 AND latency_us <= 1000000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 1000000 AND latency_us <= 2500000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 2500000 AND latency_us <= 5000000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 5000000 AND latency_us <= 10000000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 10000000 AND latency_us <= 30000000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_us > 30000000 THEN 1 ELSE 0 END)
FROM request_logs GROUP BY account_id, created_at / 3600000;

-- Per account and UTC day, the requests of each route and status class, beside usage_daily
-- (which also splits them by key): a workspace's per-endpoint totals read one row per route,
-- class and day. Kept for good, like usage_daily.
CREATE TABLE usage_daily_routes (
    account_id   TEXT NOT NULL,
    day          TEXT NOT NULL,
    route        TEXT NOT NULL,
    status_class BIGINT NOT NULL,
    requests     BIGINT NOT NULL,
    PRIMARY KEY (account_id, day, route, status_class)
);
INSERT INTO usage_daily_routes (account_id, day, route, status_class, requests)
SELECT account_id, day, route, status_class, SUM(requests) FROM usage_daily
GROUP BY account_id, day, route, status_class;

-- Per account, key and week (days since 1970-01-01 divided by 7): ranking the keys of a range
-- sums a row per key and whole week, and usage_daily for the days before the first of them.
-- Kept for good; a deleted key's rows go with it.
CREATE TABLE usage_weekly_keys (
    account_id TEXT NOT NULL,
    week       BIGINT NOT NULL,
    key_id     TEXT NOT NULL,
    requests   BIGINT NOT NULL,
    PRIMARY KEY (account_id, week, key_id)
);
INSERT INTO usage_weekly_keys (account_id, week, key_id, requests)
SELECT account_id, (day::date - DATE '1970-01-01') / 7, key_id, SUM(requests) FROM usage_daily
WHERE key_id IS NOT NULL GROUP BY account_id, (day::date - DATE '1970-01-01') / 7, key_id;
