//! Dashboard sign-in and sessions (admin.md "Sign in / sign out"). The cookie carries a random
//! token; the store keeps only its SHA-256, so a copy of the database opens no session.

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::password::verify_password;
use super::users::parse_email;
use super::{Actor, ServiceError};
use crate::domain::Timestamp;
use crate::domain::random::{base62_string, hex};
use crate::store::activity::{self, NewActivity};
use crate::store::write_tx;

/// A hash of a password nobody has, verified when the e-mail is unknown so that both failures
/// take as long.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0Qm1y9Rr0b3pGgfY0u1jW0Jj2bVtW8yV0E0k7m8w1rI";

pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// The signed-in person, their current workspace and role, and the workspaces they can switch to.
#[derive(Clone, Debug)]
pub struct Session {
    pub id_hash: String,
    pub user_id: String,
    pub email: String,
    pub is_instance_admin: bool,
    pub csrf_token: String,
    pub account_id: Option<String>,
    pub role: Option<String>,
    pub workspaces: Vec<Workspace>,
}

#[derive(Clone, Debug)]
pub struct Workspace {
    pub account_id: String,
    pub name: String,
    pub role: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("The e-mail address or password is incorrect.")]
    BadCredentials,
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// Checks the password and opens a session; returns the cookie token (shown only to the browser).
pub fn sign_in(
    conn: &mut Connection,
    email: &str,
    password: &str,
    now: Timestamp,
    ttl_hours: u32,
    ip_hash: &str,
) -> Result<String, SignInError> {
    let email = parse_email(email).map_err(|_| SignInError::BadCredentials)?;
    let user: Option<(String, String)> = conn
        .query_row(
            "SELECT id, password_hash FROM users WHERE email = ?1",
            [&email],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(ServiceError::from)?;
    let stored = user.as_ref().map_or(DUMMY_HASH, |(_, h)| h.as_str());
    let matches = verify_password(password, stored);
    let actor = Actor::User {
        email: email.clone(),
        ip_hash: Some(ip_hash.to_owned()),
    };
    let tx = write_tx(conn).map_err(ServiceError::from)?;
    let Some((user_id, _)) = user.filter(|_| matches) else {
        record(
            &tx,
            &actor,
            None,
            "sign_in_failed",
            &format!("Failed sign-in for {email}"),
            now,
        )?;
        tx.commit().map_err(ServiceError::from)?;
        return Err(SignInError::BadCredentials);
    };
    let token = base62_string(40)
        .map_err(crate::store::StoreError::from)
        .map_err(ServiceError::from)?;
    let csrf = base62_string(32)
        .map_err(crate::store::StoreError::from)
        .map_err(ServiceError::from)?;
    let account: Option<String> = tx
        .query_row(
            "SELECT m.account_id FROM memberships m JOIN accounts a ON a.id = m.account_id
             WHERE m.user_id = ?1 AND a.deleted_at IS NULL ORDER BY m.created_at LIMIT 1",
            [&user_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(ServiceError::from)?;
    let expires = now.plus_millis(i64::from(ttl_hours) * 3_600_000);
    tx.execute(
        "INSERT INTO sessions (id_hash, user_id, account_id, csrf_token, ip_hash, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![token_hash(&token), user_id, account, csrf, ip_hash, now.0, expires.0],
    )
    .map_err(ServiceError::from)?;
    record(
        &tx,
        &actor,
        account.as_deref(),
        "signed_in",
        &format!("{email} signed in"),
        now,
    )?;
    tx.commit().map_err(ServiceError::from)?;
    Ok(token)
}

fn record(
    conn: &Connection,
    actor: &Actor,
    account_id: Option<&str>,
    action: &str,
    description: &str,
    now: Timestamp,
) -> Result<(), ServiceError> {
    activity::append(
        conn,
        &NewActivity {
            account_id,
            actor: &actor.label(),
            category: "auth",
            action,
            target: None,
            description,
            ip_hash: actor.ip_hash(),
            created_at: now,
        },
    )?;
    Ok(())
}

/// The live session behind a cookie token, if any.
pub fn load(
    conn: &Connection,
    token: &str,
    now: Timestamp,
) -> Result<Option<Session>, ServiceError> {
    let row: Option<(String, String, String, bool, String, Option<String>)> = conn
        .prepare_cached(
            "SELECT s.id_hash, u.id, u.email, u.is_instance_admin, s.csrf_token, s.account_id
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id_hash = ?1 AND s.expires_at > ?2",
        )?
        .query_row(params![token_hash(token), now.0], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .optional()?;
    let Some((id_hash, user_id, email, is_instance_admin, csrf_token, account_id)) = row else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT a.id, a.name, m.role FROM memberships m JOIN accounts a ON a.id = m.account_id
         WHERE m.user_id = ?1 AND a.deleted_at IS NULL ORDER BY a.name, a.id",
    )?;
    let workspaces: Vec<Workspace> = stmt
        .query_map([&user_id], |r| {
            Ok(Workspace {
                account_id: r.get(0)?,
                name: r.get(1)?,
                role: r.get(2)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let role = account_id
        .as_ref()
        .and_then(|a| workspaces.iter().find(|w| &w.account_id == a))
        .map(|w| w.role.clone());
    Ok(Some(Session {
        id_hash,
        user_id,
        email,
        is_instance_admin,
        csrf_token,
        account_id,
        role,
        workspaces,
    }))
}

/// Switches the session to another workspace the user belongs to; `false` when they do not.
pub fn switch_workspace(
    conn: &Connection,
    session: &Session,
    account_id: &str,
) -> Result<bool, ServiceError> {
    if !session
        .workspaces
        .iter()
        .any(|w| w.account_id == account_id)
    {
        return Ok(false);
    }
    conn.execute(
        "UPDATE sessions SET account_id = ?2 WHERE id_hash = ?1",
        params![session.id_hash, account_id],
    )?;
    Ok(true)
}

/// Ends a session: the cookie opens nothing afterwards.
pub fn sign_out(conn: &Connection, id_hash: &str) -> Result<(), ServiceError> {
    conn.execute("DELETE FROM sessions WHERE id_hash = ?1", [id_hash])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_is_a_valid_argon2id_string_that_matches_nothing_useful() {
        assert!(!verify_password("", DUMMY_HASH));
        assert!(argon2::password_hash::phc::PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
