-- The nodes serving this store, each renewing its lease while it runs. What a node took on (a
-- generation) is taken over by another node once its lease has run out.
CREATE TABLE nodes (
    id          TEXT PRIMARY KEY,
    started_at  BIGINT NOT NULL,
    lease_until BIGINT NOT NULL
);

-- The node that queued or runs a generation.
ALTER TABLE generations ADD COLUMN node TEXT;

-- Scheduled job runs: one row per job and schedule tick, written by the first node to fire, so
-- a schedule runs once however many nodes follow it. Ticks are milliseconds of the whole
-- second the schedule fired in.
CREATE TABLE job_runs (
    job  TEXT NOT NULL,
    tick BIGINT NOT NULL,
    node TEXT NOT NULL,
    PRIMARY KEY (job, tick)
);

-- Requests granted per rate-limit window, cluster-wide: a node takes permits in small blocks
-- and serves from them, so the nodes together never grant more than the limit.
CREATE TABLE rate_grants (
    subject      TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    granted      BIGINT NOT NULL,
    PRIMARY KEY (subject, window_start)
);
