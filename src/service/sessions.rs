//! Dashboard sign-in and sessions (docs/admin.md, "Sign-in"). The cookie carries a random
//! token; the store keeps only its SHA-256, so a copy of the database opens no session.

use sha2::{Digest, Sha256};

use super::changes::{self, Category, Change, Note};
use super::password::verify_password;
use super::users::parse_email;
use super::{Actor, ServiceError};
use crate::domain::Timestamp;
use crate::domain::account::Role;
use crate::domain::log::AddressView;
use crate::domain::random::{base62_string, hex};
use crate::store::sessions::{self, NewSession};
use crate::store::{Db, Tx};
use crate::store::{accounts, members};

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
    /// Someone else chose the password: nothing opens until the user has chosen their own.
    pub must_change_password: bool,
    pub csrf_token: String,
    pub account_id: Option<String>,
    pub role: Option<Role>,
    /// The instance administrator in an account they are no member of: they act there with
    /// the primary owner's rights, and the activity log names them as the administrator.
    pub as_administrator: bool,
    pub workspaces: Vec<Workspace>,
}

impl Session {
    /// The workspaces the person belongs to, then (for the instance administrator) every other
    /// account.
    pub fn own_workspaces(&self) -> impl Iterator<Item = &Workspace> {
        self.workspaces.iter().filter(|w| !w.as_administrator)
    }

    pub fn other_accounts(&self) -> impl Iterator<Item = &Workspace> {
        self.workspaces.iter().filter(|w| w.as_administrator)
    }

    /// The person as the activity log names them: in an account they reach as the instance
    /// administrator, as that administrator.
    pub fn actor(&self, ip_hash: Option<String>) -> Actor {
        let email = self.email.clone();
        if self.as_administrator {
            Actor::Administrator { email, ip_hash }
        } else {
            Actor::User { email, ip_hash }
        }
    }

    /// How the person reads client addresses in the current workspace's logs.
    pub fn address_view(&self) -> AddressView {
        AddressView::of(self.role, self.is_instance_admin)
    }

    /// The current workspace, if one is selected.
    pub fn workspace(&self) -> Option<&Workspace> {
        let current = self.account_id.as_deref()?;
        self.workspaces.iter().find(|w| w.account_id == current)
    }
}

#[derive(Clone, Debug)]
pub struct Workspace {
    pub account_id: String,
    pub name: String,
    pub role: Role,
    /// Reached as the instance administrator, not as a member.
    pub as_administrator: bool,
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
    db: &mut Db,
    email: &str,
    password: &str,
    now: Timestamp,
    ttl_hours: u32,
    client: &Client,
) -> Result<String, SignInError> {
    let email = parse_email(email).map_err(|_| SignInError::BadCredentials)?;
    let user = members::credentials(&db.read(), &email).map_err(ServiceError::from)?;
    let stored = user.as_ref().map_or(DUMMY_HASH, |(_, h)| h.as_str());
    let matches = verify_password(password, stored);
    let actor = Actor::User {
        email: email.clone(),
        ip_hash: Some(client.ip_hash.clone()),
    };
    let tx = db.write().map_err(ServiceError::from)?;
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
    let opened = open(&tx, &user_id, "password", client, now, ttl_hours)?;
    record(
        &tx,
        &actor,
        opened.account_id.as_deref(),
        "signed_in",
        &format!("{email} signed in"),
        now,
    )?;
    tx.commit().map_err(ServiceError::from)?;
    Ok(opened.token)
}

/// Where a sign-in comes from, as the sessions page shows it.
#[derive(Clone, Debug)]
pub struct Client {
    /// The keyed hash of the address (the activity log's form).
    pub ip_hash: String,
    /// The address in clear, shown to the person on their sessions page only.
    pub ip: String,
    pub user_agent: Option<String>,
}

/// A session just opened: the cookie token (shown only to the browser) and its workspace.
pub struct Opened {
    pub token: String,
    pub account_id: Option<String>,
}

/// Opens a session for a user whose identity is proven (`method` says how: `password`,
/// `oidc`), in their oldest workspace, inside the caller's transaction.
pub fn open(
    tx: &Tx<'_>,
    user_id: &str,
    method: &str,
    client: &Client,
    now: Timestamp,
    ttl_hours: u32,
) -> Result<Opened, ServiceError> {
    let random = |len| base62_string(len).map_err(|e| ServiceError::Store(e.into()));
    let (token, csrf) = (random(40)?, random(32)?);
    let account_id = members::first_workspace(tx, user_id)?;
    let expires = now.plus_millis(i64::from(ttl_hours) * 3_600_000);
    sessions::insert(
        tx,
        &NewSession {
            id_hash: &token_hash(&token),
            user_id,
            account_id: account_id.as_deref(),
            csrf_token: &csrf,
            ip_hash: &client.ip_hash,
            client_ip: &client.ip,
            user_agent: client.user_agent.as_deref(),
            method,
            created_at: now,
            expires_at: expires,
        },
    )?;
    Ok(Opened { token, account_id })
}

fn record(
    tx: &Tx<'_>,
    actor: &Actor,
    account_id: Option<&str>,
    action: &str,
    description: &str,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let note = Note {
        account_id,
        category: Category::Auth,
        action,
        target: None,
        description: description.to_owned(),
    };
    changes::record(tx, actor, Change::Note(note), now)?;
    Ok(())
}

/// The live session behind a cookie token, if any.
pub fn load(db: &mut Db, token: &str, now: Timestamp) -> Result<Option<Session>, ServiceError> {
    let tx = db.read();
    let Some(row) = sessions::live(&tx, &token_hash(token), now)? else {
        return Ok(None);
    };
    let mut workspaces: Vec<Workspace> = members::workspaces(&tx, &row.user_id)?
        .into_iter()
        .map(|(account_id, name, role)| Workspace {
            account_id,
            name,
            role,
            as_administrator: false,
        })
        .collect();
    if row.is_instance_admin {
        // The administrator reaches every account, with the primary owner's rights.
        let others: Vec<Workspace> = accounts::list_accounts(&tx)?
            .into_iter()
            .filter(|a| !workspaces.iter().any(|w| w.account_id == a.id))
            .map(|a| Workspace {
                account_id: a.id,
                name: a.name,
                role: Role::PrimaryOwner,
                as_administrator: true,
            })
            .collect();
        workspaces.extend(others);
    }
    let current = row
        .account_id
        .as_ref()
        .and_then(|a| workspaces.iter().find(|w| &w.account_id == a));
    let role = current.map(|w| w.role);
    let as_administrator = current.is_some_and(|w| w.as_administrator);
    Ok(Some(Session {
        id_hash: row.id_hash,
        user_id: row.user_id,
        email: row.email,
        is_instance_admin: row.is_instance_admin,
        must_change_password: row.must_change_password,
        csrf_token: row.csrf_token,
        account_id: row.account_id,
        role,
        as_administrator,
        workspaces,
    }))
}

/// Switches the session to another workspace the user belongs to (or, for the instance
/// administrator, any account); `false` when they may not.
pub fn switch_workspace(
    db: &mut Db,
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
    sessions::set_workspace(&db.read(), &session.id_hash, account_id)?;
    Ok(true)
}

/// Ends a session: the cookie opens nothing afterwards.
pub fn sign_out(db: &mut Db, id_hash: &str) -> Result<(), ServiceError> {
    Ok(sessions::delete(&db.read(), id_hash)?)
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
