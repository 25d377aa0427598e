//! Dashboard sessions (docs/admin.md, "Sign-in" and "Your sessions"). The cookie carries a
//! random token; the store keeps only its SHA-256, so a copy of the database opens no session.

use sha2::{Digest, Sha256};

use super::changes::{self, Category, Change, Note};
use super::second_factor;
use super::{Actor, ServiceError};
use crate::domain::Timestamp;
use crate::domain::account::Role;
use crate::domain::log::AddressView;
use crate::domain::random::{base62_string, hex};
use crate::store::sessions::{self, NewSession};
use crate::store::{Db, Tx};
use crate::store::{accounts, members};

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
    /// A second factor is required of this person and they have none: nothing opens until they
    /// have set one up.
    pub must_enrol: bool,
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
    let ttl = i64::from(ttl_hours) * Timestamp::MS_PER_HOUR;
    insert(tx, user_id, method, "active", client, now, ttl)
}

/// How long a sign-in may wait for its second factor.
const CODE_STAGE_MS: i64 = 10 * 60 * 1000;

/// A sign-in whose password was right, waiting for the second factor: its token opens only
/// the code form, for ten minutes.
pub(crate) fn open_awaiting_code(
    tx: &Tx<'_>,
    user_id: &str,
    client: &Client,
    now: Timestamp,
) -> Result<String, ServiceError> {
    Ok(insert(tx, user_id, "password", "code", client, now, CODE_STAGE_MS)?.token)
}

fn insert(
    tx: &Tx<'_>,
    user_id: &str,
    method: &str,
    stage: &str,
    client: &Client,
    now: Timestamp,
    ttl_ms: i64,
) -> Result<Opened, ServiceError> {
    let random = |len| base62_string(len).map_err(|e| ServiceError::Store(e.into()));
    let (token, csrf) = (random(40)?, random(32)?);
    let account_id = members::first_workspace(tx, user_id)?;
    let expires = now.plus_millis(ttl_ms);
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
            stage,
            created_at: now,
            expires_at: expires,
        },
    )?;
    Ok(Opened { token, account_id })
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
    // Single sign-on leaves factors to the identity provider, and a sign-in link is made on
    // the server by whoever could also reset the factor: only password sessions must set one up.
    let must_enrol = row.method == "password"
        && !row.factor_on
        && second_factor::must_enrol(&tx, &row.user_id, row.is_instance_admin)?;
    // The sessions page shows when each was last used; once a minute is precise enough.
    if row.last_seen_at.is_none_or(|seen| now.0 - seen >= 60_000) {
        sessions::touch(&tx, &row.id_hash, now)?;
    }
    Ok(Some(Session {
        id_hash: row.id_hash,
        user_id: row.user_id,
        email: row.email,
        is_instance_admin: row.is_instance_admin,
        must_change_password: row.must_change_password,
        must_enrol,
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

/// One of the person's sessions, as their sessions page shows it.
#[derive(Clone, Debug)]
pub struct SessionView {
    pub id_hash: String,
    pub current: bool,
    pub method: String,
    pub address: Option<String>,
    pub browser: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
}

/// The person's live sessions, the one in use first.
pub fn of_user(
    db: &mut Db,
    session: &Session,
    now: Timestamp,
) -> Result<Vec<SessionView>, ServiceError> {
    let rows = sessions::of_user(&db.read(), &session.user_id, now)?;
    let mut views: Vec<SessionView> = rows
        .into_iter()
        .map(|r| SessionView {
            current: r.id_hash == session.id_hash,
            id_hash: r.id_hash,
            method: r.method,
            address: r.client_ip,
            browser: crate::domain::browser::describe(r.user_agent.as_deref()),
            created_at: Timestamp(r.created_at),
            last_seen_at: Timestamp(r.last_seen_at.unwrap_or(r.created_at)),
        })
        .collect();
    views.sort_by_key(|v| !v.current);
    Ok(views)
}

/// Ends one of the person's other sessions (`Some`), or all of them (`None`); returns how many
/// ended. The session in use is ended by signing out.
pub fn end(
    db: &mut Db,
    actor: &Actor,
    session: &Session,
    which: Option<&str>,
    now: Timestamp,
) -> Result<usize, ServiceError> {
    let tx = db.write()?;
    let ended = match which {
        Some(id_hash) if id_hash == session.id_hash => {
            return Err(ServiceError::InvalidState(
                "this is the session you are using; sign out to end it".into(),
            ));
        }
        Some(id_hash) => usize::from(sessions::end_of_user(&tx, &session.user_id, id_hash)?),
        None => sessions::end_others(&tx, &session.user_id, &session.id_hash)?,
    };
    if which.is_some() && ended == 0 {
        return Err(ServiceError::NotFound("session"));
    }
    let description = match ended {
        1 => format!("{} ended 1 other session", session.email),
        n => format!("{} ended {n} other sessions", session.email),
    };
    let note = Note {
        account_id: None,
        category: Category::Auth,
        action: "sessions_ended",
        target: Some(&session.user_id),
        description,
    };
    changes::record(&tx, actor, Change::Note(note), now)?;
    tx.commit()?;
    Ok(ended)
}
