-- Failed authentications counted for the whole cluster: see the SQLite step 0014_auth_limits.sql.
CREATE TABLE auth_failures (
    kind          TEXT NOT NULL,
    subject       TEXT NOT NULL,
    window_start  BIGINT NOT NULL,
    failures      BIGINT NOT NULL,
    last_failure  BIGINT NOT NULL,
    blocked_until BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    PRIMARY KEY (kind, subject)
);

CREATE INDEX auth_failures_expiry ON auth_failures (expires_at);
