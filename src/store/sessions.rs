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
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

pub fn insert(tx: &Tx<'_>, s: &NewSession<'_>) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO sessions (id_hash, user_id, account_id, csrf_token, ip_hash, client_ip,
                               user_agent, method, created_at, last_seen_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10)",
        &[
            &s.id_hash,
            &s.user_id,
            &s.account_id,
            &s.csrf_token,
            &s.ip_hash,
            &s.client_ip,
            &s.user_agent,
            &s.method,
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
}

pub fn live(tx: &Tx<'_>, id_hash: &str, now: Timestamp) -> Result<Option<SessionRow>, StoreError> {
    // A password someone else chose is replaced before a password session goes anywhere; a
    // session opened through the identity provider or a sign-in link never used it.
    tx.query_opt(
        "SELECT s.id_hash, u.id, u.email, u.is_instance_admin, s.csrf_token, s.account_id,
                CASE WHEN s.method = 'password' THEN u.must_change_password ELSE 0 END
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id_hash = ?1 AND s.expires_at > ?2",
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
