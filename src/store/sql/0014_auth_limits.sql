-- Failed authentications counted for the whole cluster (docs/cluster.md, "What each node keeps
-- to itself"): per client address for the pre-auth limiter (`preauth`) and the sign-in block
-- (`signin-ip`), per lower-cased e-mail address for the sign-in delay (`signin-email`); the
-- subject is the keyed hash of the address or e-mail address, never either in clear. A row
-- goes once `expires_at` has passed. (A single SQLite node counts in memory and writes nothing
-- here.)
CREATE TABLE auth_failures (
    kind          TEXT NOT NULL,
    subject       TEXT NOT NULL,
    window_start  INTEGER NOT NULL,
    failures      INTEGER NOT NULL,
    last_failure  INTEGER NOT NULL,
    blocked_until INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    PRIMARY KEY (kind, subject)
) STRICT;

CREATE INDEX auth_failures_expiry ON auth_failures (expires_at);
