-- Dashboard sessions, stored server-side so that signing out ends them. Only the SHA-256 of the
-- cookie value is kept.
CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id   TEXT REFERENCES accounts (id) ON DELETE SET NULL,
    csrf_token   TEXT NOT NULL,
    ip_hash      TEXT,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
