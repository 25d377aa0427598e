-- Generations (docs/generation.md, "Accepting a generation" and "Workers"), their provider
-- attempts, and the daily roll-ups that usage reports are built from.

CREATE TABLE generations (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts (id),
    key_id           TEXT,  -- the key that created it; kept after the key is deleted
    environment      TEXT NOT NULL CHECK (environment IN ('live', 'test')),
    model_identifier TEXT NOT NULL,
    model_type       TEXT NOT NULL CHECK (model_type IN ('image', 'video')),
    provider_order   TEXT NOT NULL,  -- JSON array of provider ids
    provider_used    TEXT,
    prediction_id    TEXT,
    status           TEXT NOT NULL
        CHECK (status IN ('pending', 'processing', 'succeeded', 'failed', 'canceled')),
    prompt           TEXT NOT NULL,
    ratio            TEXT NOT NULL,
    output_format    TEXT NOT NULL,
    output_number    INTEGER NOT NULL,
    input_files      TEXT,  -- JSON array
    output_files     TEXT,  -- JSON array of file names under media/<id>/
    duration         INTEGER,
    resolution       TEXT,
    generate_audio   INTEGER CHECK (generate_audio IN (0, 1)),
    specific         TEXT NOT NULL DEFAULT '{}',  -- JSON object of model-specific fields
    cost             INTEGER NOT NULL,  -- thousandths reserved (0 for test keys)
    error            TEXT,
    error_code       TEXT,
    files_removed    INTEGER NOT NULL DEFAULT 0 CHECK (files_removed IN (0, 1)),
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    completed_at     INTEGER,
    predict_ms       INTEGER
) STRICT;
CREATE INDEX generations_by_account ON generations (account_id, created_at, id);
CREATE INDEX generations_in_flight ON generations (account_id, status)
    WHERE status IN ('pending', 'processing');

-- One row per provider attempt: `used` (its output became the result), `failed`, `cancelled`
-- (stopped by a cancel) or `discarded` (finished, but the generation was canceled meanwhile).
CREATE TABLE generation_attempts (
    id            INTEGER PRIMARY KEY,
    generation_id TEXT NOT NULL REFERENCES generations (id) ON DELETE CASCADE,
    provider      TEXT NOT NULL,
    outcome       TEXT NOT NULL CHECK (outcome IN ('used', 'failed', 'cancelled', 'discarded')),
    error_code    TEXT,
    error         TEXT,
    latency_ms    INTEGER NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX generation_attempts_by_generation ON generation_attempts (generation_id);

CREATE TABLE usage_generations_daily (
    day            TEXT NOT NULL,
    account_id     TEXT NOT NULL,
    generations    INTEGER NOT NULL DEFAULT 0,
    estimated_cost INTEGER NOT NULL DEFAULT 0,  -- thousandths charged
    PRIMARY KEY (account_id, day)
) STRICT;

CREATE TABLE usage_providers_daily (
    day             TEXT NOT NULL,
    account_id      TEXT NOT NULL,
    provider        TEXT NOT NULL,
    submissions     INTEGER NOT NULL DEFAULT 0,
    used            INTEGER NOT NULL DEFAULT 0,
    cancelled       INTEGER NOT NULL DEFAULT 0,
    discarded       INTEGER NOT NULL DEFAULT 0,
    failed          INTEGER NOT NULL DEFAULT 0,
    estimated_cost  INTEGER NOT NULL DEFAULT 0,  -- thousandths of used attempts
    wasted_cost     INTEGER NOT NULL DEFAULT 0,  -- thousandths of cancelled and discarded attempts
    PRIMARY KEY (account_id, day, provider)
) STRICT;
