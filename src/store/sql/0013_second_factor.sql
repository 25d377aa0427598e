-- A second factor and the sessions page (docs/admin.md, "Sign-in").
--
-- The TOTP secret is stored encrypted with a key derived from the install secret; while an
-- enrolment waits for its first code the new secret is in `totp_pending`, and the factor is on
-- once `totp_enabled_at` is set. `totp_last_step` is the 30-second step of the last accepted
-- code: a code of that step or an earlier one is refused, so a code opens at most once.
ALTER TABLE users ADD COLUMN totp_secret BLOB;
ALTER TABLE users ADD COLUMN totp_pending BLOB;
ALTER TABLE users ADD COLUMN totp_enabled_at INTEGER;
ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;

-- Ten single-use recovery codes per user, as SHA-256 digests.
CREATE TABLE recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at   INTEGER,
    PRIMARY KEY (user_id, code_hash)
) STRICT;

-- What the sessions page shows, and the stage of a sign-in: `code` while the second factor is
-- awaited (such a row opens no page but the code form).
ALTER TABLE sessions ADD COLUMN stage TEXT NOT NULL DEFAULT 'active' CHECK (stage IN ('active', 'code'));
ALTER TABLE sessions ADD COLUMN method TEXT NOT NULL DEFAULT 'password';
ALTER TABLE sessions ADD COLUMN client_ip TEXT;
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER;
