-- Sign-in through an OpenID provider and the sign-in link: see the SQLite step 0015_oidc.sql.
CREATE TABLE oidc_attempts (
    state_hash   TEXT PRIMARY KEY,
    binding_hash TEXT NOT NULL,
    nonce        TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX oidc_attempts_by_expiry ON oidc_attempts (expires_at);

CREATE TABLE sign_in_links (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
