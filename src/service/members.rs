//! Workspace members and roles (keys.md §6). The rules live here so that every path — page,
//! form post, API — is checked the same way.

use rusqlite::{Connection, OptionalExtension, params};

use super::users::{insert_new_user, one_time_password, parse_email};
use super::{Actor, ServiceError};
use crate::domain::Timestamp;
use crate::store::accounts;
use crate::store::activity::{self, NewActivity};
use crate::store::write_tx;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub user_id: String,
    pub email: String,
    pub role: String,
    pub joined_at: Timestamp,
}

pub fn list_members(conn: &Connection, account_id: &str) -> Result<Vec<Member>, ServiceError> {
    let mut stmt = conn.prepare_cached(
        "SELECT u.id, u.email, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.account_id = ?1
         ORDER BY CASE m.role WHEN 'primary-owner' THEN 0 WHEN 'owner' THEN 1 ELSE 2 END, u.email",
    )?;
    let rows = stmt.query_map([account_id], |r| {
        Ok(Member {
            user_id: r.get(0)?,
            email: r.get(1)?,
            role: r.get(2)?,
            joined_at: Timestamp(r.get(3)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The acting person's role, checked against what they want to do.
pub struct Acting<'a> {
    pub actor: &'a Actor,
    pub user_id: &'a str,
    pub role: &'a str,
}

fn denied(what: &str) -> ServiceError {
    ServiceError::Forbidden(format!("your role does not allow you to {what}"))
}

/// Primary owners manage everyone; owners manage members only (they may invite and remove
/// members, not create or remove owners); members manage nobody.
fn may_manage(acting: &Acting<'_>, target_role: &str) -> bool {
    match acting.role {
        "primary-owner" => target_role != "primary-owner",
        "owner" => target_role == "member",
        _ => false,
    }
}

fn role_of(conn: &Connection, account_id: &str, user_id: &str) -> Result<String, ServiceError> {
    conn.query_row(
        "SELECT role FROM memberships WHERE account_id = ?1 AND user_id = ?2",
        params![account_id, user_id],
        |r| r.get(0),
    )
    .optional()?
    .ok_or(ServiceError::NotFound("member"))
}

fn record(
    conn: &Connection,
    acting: &Acting<'_>,
    account_id: &str,
    action: &str,
    target: &str,
    description: &str,
    now: Timestamp,
) -> Result<(), ServiceError> {
    activity::append(
        conn,
        &NewActivity {
            account_id: Some(account_id),
            actor: &acting.actor.label(),
            category: "member",
            action,
            target: Some(target),
            description,
            ip_hash: acting.actor.ip_hash(),
            created_at: now,
        },
    )?;
    Ok(())
}

/// Invites by e-mail: a new user gets a one-time password (returned), an existing one is added.
pub fn invite(
    conn: &mut Connection,
    acting: &Acting<'_>,
    account_id: &str,
    email: &str,
    role: &str,
    now: Timestamp,
) -> Result<Option<String>, ServiceError> {
    if !["owner", "member"].contains(&role) {
        return Err(ServiceError::invalid(
            "role",
            "role must be owner or member",
        ));
    }
    if !may_manage(acting, role) {
        return Err(denied(&format!("invite an {role}")));
    }
    let email = parse_email(email)?;
    // Made before the transaction (hashing is slow); unused when the user already exists.
    let (password, hash) = one_time_password()?;
    let tx = write_tx(conn)?;
    let (user_id, password) = match accounts::user_id_by_email(&tx, &email)? {
        Some(id) => (id, None),
        None => (insert_new_user(&tx, &email, &hash, now)?, Some(password)),
    };
    let already: Option<String> = tx
        .query_row(
            "SELECT role FROM memberships WHERE account_id = ?1 AND user_id = ?2",
            params![account_id, user_id],
            |r| r.get(0),
        )
        .optional()?;
    if already.is_some() {
        return Err(ServiceError::InvalidState(format!(
            "{email} is already a member of this workspace"
        )));
    }
    accounts::insert_membership(&tx, account_id, &user_id, role, now)?;
    record(
        &tx,
        acting,
        account_id,
        "invited",
        &user_id,
        &format!("Invited {email} as {role}"),
        now,
    )?;
    tx.commit()?;
    Ok(password)
}

pub fn change_role(
    conn: &mut Connection,
    acting: &Acting<'_>,
    account_id: &str,
    user_id: &str,
    role: &str,
    now: Timestamp,
) -> Result<(), ServiceError> {
    if !["owner", "member"].contains(&role) {
        return Err(ServiceError::invalid(
            "role",
            "role must be owner or member; use transfer for the primary owner",
        ));
    }
    let tx = write_tx(conn)?;
    let current = role_of(&tx, account_id, user_id)?;
    if !may_manage(acting, &current) || !may_manage(acting, role) {
        return Err(denied("change this member's role"));
    }
    tx.execute(
        "UPDATE memberships SET role = ?3 WHERE account_id = ?1 AND user_id = ?2",
        params![account_id, user_id, role],
    )?;
    let email: String = tx.query_row("SELECT email FROM users WHERE id = ?1", [user_id], |r| {
        r.get(0)
    })?;
    record(
        &tx,
        acting,
        account_id,
        "role_changed",
        user_id,
        &format!("Changed the role of {email} from {current} to {role}"),
        now,
    )?;
    tx.commit()?;
    Ok(())
}

pub fn remove(
    conn: &mut Connection,
    acting: &Acting<'_>,
    account_id: &str,
    user_id: &str,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let tx = write_tx(conn)?;
    let current = role_of(&tx, account_id, user_id)?;
    if !may_manage(acting, &current) {
        return Err(denied("remove this member"));
    }
    let email: String = tx.query_row("SELECT email FROM users WHERE id = ?1", [user_id], |r| {
        r.get(0)
    })?;
    tx.execute(
        "DELETE FROM memberships WHERE account_id = ?1 AND user_id = ?2",
        params![account_id, user_id],
    )?;
    tx.execute(
        "UPDATE sessions SET account_id = NULL WHERE user_id = ?1 AND account_id = ?2",
        params![user_id, account_id],
    )?;
    record(
        &tx,
        acting,
        account_id,
        "removed",
        user_id,
        &format!("Removed {email} ({current})"),
        now,
    )?;
    tx.commit()?;
    Ok(())
}

/// Hands the primary ownership to another member; the previous primary owner becomes an owner.
pub fn transfer(
    conn: &mut Connection,
    acting: &Acting<'_>,
    account_id: &str,
    user_id: &str,
    now: Timestamp,
) -> Result<(), ServiceError> {
    if acting.role != "primary-owner" {
        return Err(denied("transfer the workspace"));
    }
    if acting.user_id == user_id {
        return Err(ServiceError::InvalidState(
            "you are already the primary owner".into(),
        ));
    }
    let tx = write_tx(conn)?;
    role_of(&tx, account_id, user_id)?;
    tx.execute(
        "UPDATE memberships SET role = 'owner' WHERE account_id = ?1 AND user_id = ?2",
        params![account_id, acting.user_id],
    )?;
    tx.execute(
        "UPDATE memberships SET role = 'primary-owner' WHERE account_id = ?1 AND user_id = ?2",
        params![account_id, user_id],
    )?;
    let email: String = tx.query_row("SELECT email FROM users WHERE id = ?1", [user_id], |r| {
        r.get(0)
    })?;
    record(
        &tx,
        acting,
        account_id,
        "transferred",
        user_id,
        &format!("Transferred primary ownership to {email}"),
        now,
    )?;
    tx.commit()?;
    Ok(())
}
