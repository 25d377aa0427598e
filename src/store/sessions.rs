//! Dashboard sessions: only the SHA-256 of the cookie token is stored.

use super::{StoreError, Tx};
use crate::domain::Timestamp;

pub struct NewSession<'a> {
    pub id_hash: &'a str,
    pub user_id: &'a str,
    pub account_id: Option<&'a str>,
    pub csrf_token: &'a str,
    pub ip_hash: &'a str,
    pub client_ip: &'a str,
    pub user_agent: Option<&'a str>,
    pub method: &'a str,
    /// `active`, or `code` while the second factor is awaited.
    pub stage: &'a str,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

pub fn insert(tx: &Tx<'_>, s: &NewSession<'_>) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO sessions (id_hash, user_id, account_id, csrf_token, ip_hash, client_ip,
                               user_agent, method, stage, created_at, last_seen_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11)",
        &[
            &s.id_hash,
            &s.user_id,
            &s.account_id,
            &s.csrf_token,
            &s.ip_hash,
            &s.client_ip,
            &s.user_agent,
            &s.method,
            &s.stage,
            &s.created_at.0,
            &s.expires_at.0,
        ],
    )?;
    Ok(())
}

/// A live session and its user.
pub struct SessionRow {
    pub id_hash: String,
    pub user_id: String,
    pub email: String,
    pub is_instance_admin: bool,
    pub must_change_password: bool,
    pub csrf_token: String,
    pub account_id: Option<String>,
    pub factor_on: bool,
    pub last_seen_at: Option<i64>,
    /// How the session was opened: `password`, `oidc` or `link`.
    pub method: String,
}

pub fn live(tx: &Tx<'_>, id_hash: &str, now: Timestamp) -> Result<Option<SessionRow>, StoreError> {
    // A password someone else chose is replaced before a password session goes anywhere; a
    // session opened through the identity provider or a sign-in link never used it.
    tx.query_opt(
        "SELECT s.id_hash, u.id, u.email, u.is_instance_admin, s.csrf_token, s.account_id,
                CASE WHEN s.method = 'password' THEN u.must_change_password ELSE 0 END,
                u.totp_secret IS NOT NULL, s.last_seen_at, s.method
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id_hash = ?1 AND s.expires_at > ?2 AND s.stage = 'active'",
        &[&id_hash, &now.0],
        |r| {
            Ok(SessionRow {
                id_hash: r.get(0)?,
                user_id: r.get(1)?,
                email: r.get(2)?,
                is_instance_admin: r.get(3)?,
                csrf_token: r.get(4)?,
                account_id: r.get(5)?,
                must_change_password: r.get(6)?,
                factor_on: r.get(7)?,
                last_seen_at: r.get(8)?,
                method: r.get(9)?,
            })
        },
    )
}

pub fn set_workspace(tx: &Tx<'_>, id_hash: &str, account_id: &str) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE sessions SET account_id = ?2 WHERE id_hash = ?1",
        &[&id_hash, &account_id],
    )?;
    Ok(())
}

pub fn delete(tx: &Tx<'_>, id_hash: &str) -> Result<(), StoreError> {
    tx.execute("DELETE FROM sessions WHERE id_hash = ?1", &[&id_hash])?;
    Ok(())
}

/// Ends every session of the user but `keep`; returns how many ended.
pub fn end_others(tx: &Tx<'_>, user_id: &str, keep: &str) -> Result<usize, StoreError> {
    tx.execute(
        "DELETE FROM sessions WHERE user_id = ?1 AND id_hash <> ?2",
        &[&user_id, &keep],
    )
}

/// A sign-in waiting for its second factor: the user's id and e-mail.
pub fn awaiting_code(
    tx: &Tx<'_>,
    id_hash: &str,
    now: Timestamp,
) -> Result<Option<(String, String)>, StoreError> {
    tx.query_opt(
        "SELECT u.id, u.email FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id_hash = ?1 AND s.expires_at > ?2 AND s.stage = 'code'",
        &[&id_hash, &now.0],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Notes that the session was used; written at most once a minute per session.
pub fn touch(tx: &Tx<'_>, id_hash: &str, now: Timestamp) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE sessions SET last_seen_at = ?2 WHERE id_hash = ?1",
        &[&id_hash, &now.0],
    )?;
    Ok(())
}

/// One of the person's sessions, as their sessions page lists it.
pub struct SessionInfo {
    pub id_hash: String,
    pub method: String,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: i64,
    pub last_seen_at: Option<i64>,
}

/// The user's live sessions, the most recently used first.
pub fn of_user(tx: &Tx<'_>, user_id: &str, now: Timestamp) -> Result<Vec<SessionInfo>, StoreError> {
    tx.query_all(
        "SELECT id_hash, method, client_ip, user_agent, created_at, last_seen_at FROM sessions
         WHERE user_id = ?1 AND expires_at > ?2 AND stage = 'active'
         ORDER BY COALESCE(last_seen_at, created_at) DESC, created_at DESC",
        &[&user_id, &now.0],
        |r| {
            Ok(SessionInfo {
                id_hash: r.get(0)?,
                method: r.get(1)?,
                client_ip: r.get(2)?,
                user_agent: r.get(3)?,
                created_at: r.get(4)?,
                last_seen_at: r.get(5)?,
            })
        },
    )
}

/// Ends one of the user's sessions; `false` when they have no such session.
pub fn end_of_user(tx: &Tx<'_>, user_id: &str, id_hash: &str) -> Result<bool, StoreError> {
    Ok(tx.execute(
        "DELETE FROM sessions WHERE user_id = ?1 AND id_hash = ?2",
        &[&user_id, &id_hash],
    )? == 1)
}
