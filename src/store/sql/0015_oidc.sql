-- Sign-in through an OpenID provider and the break-glass sign-in link (docs/admin.md,
-- "Sign-in"; docs/operator.md, "Single sign-on").
--
-- One row per sign-in under way at the provider: only the SHA-256 of its `state` (the key
-- the callback brings back) and of the browser's binding cookie are stored; the nonce and the
-- PKCE verifier must be read back at the callback, which any node may serve. A row lives 10
-- minutes and is deleted when its callback comes, so a callback opens at most one session.
CREATE TABLE oidc_attempts (
    state_hash   TEXT PRIMARY KEY,
    binding_hash TEXT NOT NULL,
    nonce        TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX oidc_attempts_by_expiry ON oidc_attempts (expires_at);

-- Single-use sign-in links for the instance administrator (`tidegate users sign-in-link`):
-- only the SHA-256 of the link's token is stored.
CREATE TABLE sign_in_links (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;
