//! Sign-ins under way at an OpenID provider, and the instance administrator's single-use
//! sign-in links (docs/admin.md, "Sign-in"). Only digests of the state, the browser binding and
//! the link token are stored.

use super::{StoreError, Tx};
use crate::domain::Timestamp;

/// A sign-in sent to the provider, waiting for its callback.
pub struct Attempt {
    pub state_hash: String,
    pub binding_hash: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub redirect_uri: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

pub fn insert_attempt(tx: &Tx<'_>, a: &Attempt) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO oidc_attempts (state_hash, binding_hash, nonce, pkce_verifier, redirect_uri,
                                    created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        &[
            &a.state_hash,
            &a.binding_hash,
            &a.nonce,
            &a.pkce_verifier,
            &a.redirect_uri,
            &a.created_at.0,
            &a.expires_at.0,
        ],
    )?;
    Ok(())
}

/// The attempt whose state has this digest, expired or not.
pub fn attempt(tx: &Tx<'_>, state_hash: &str) -> Result<Option<Attempt>, StoreError> {
    tx.query_opt(
        "SELECT state_hash, binding_hash, nonce, pkce_verifier, redirect_uri, created_at,
                expires_at
         FROM oidc_attempts WHERE state_hash = ?1",
        &[&state_hash],
        |r| {
            Ok(Attempt {
                state_hash: r.get(0)?,
                binding_hash: r.get(1)?,
                nonce: r.get(2)?,
                pkce_verifier: r.get(3)?,
                redirect_uri: r.get(4)?,
                created_at: Timestamp(r.get(5)?),
                expires_at: Timestamp(r.get(6)?),
            })
        },
    )
}

/// Deletes an attempt; whether it was still there (a second callback finds it gone).
pub fn delete_attempt(tx: &Tx<'_>, state_hash: &str) -> Result<bool, StoreError> {
    Ok(tx.execute(
        "DELETE FROM oidc_attempts WHERE state_hash = ?1",
        &[&state_hash],
    )? == 1)
}

/// Deletes the attempts and sign-in links that expired before `now`.
pub fn purge_expired(tx: &Tx<'_>, now: Timestamp) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM oidc_attempts WHERE expires_at <= ?1",
        &[&now.0],
    )?;
    tx.execute(
        "DELETE FROM sign_in_links WHERE expires_at <= ?1",
        &[&now.0],
    )?;
    Ok(())
}

pub fn insert_link(
    tx: &Tx<'_>,
    token_hash: &str,
    user_id: &str,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO sign_in_links (token_hash, user_id, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4)",
        &[&token_hash, &user_id, &now.0, &expires_at.0],
    )?;
    Ok(())
}

/// Marks an unused, unexpired link used; its user, or `None` when the link opens nothing.
pub fn use_link(
    tx: &Tx<'_>,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<String>, StoreError> {
    tx.query_opt(
        "UPDATE sign_in_links SET used_at = ?2
         WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2
         RETURNING user_id",
        &[&token_hash, &now.0],
        |r| r.get(0),
    )
}
