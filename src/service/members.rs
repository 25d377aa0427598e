//! Workspace members and roles (docs/keys.md, "Roles"). The rules live here so that every path —
//! page, form post, API — is checked the same way.

use super::changes::{self, Change, Note};
use super::users::{assignable_role, insert_new_user, one_time_password, parse_email};
use super::{Actor, ServiceError};
use crate::domain::Timestamp;
use crate::domain::name::can_match;
use crate::store::{Db, Tx};
use crate::store::{accounts, members};

pub use crate::domain::account::{Member, Role};

pub fn list_members(db: &mut Db, account_id: &str) -> Result<Vec<Member>, ServiceError> {
    Ok(members::list(&db.read(), account_id)?)
}

/// The acting person's role, checked against what they want to do.
pub struct Acting<'a> {
    pub actor: &'a Actor,
    pub user_id: &'a str,
    pub role: Role,
}

fn denied(what: &str) -> ServiceError {
    ServiceError::Forbidden(format!("your role does not allow you to {what}"))
}

/// Primary owners manage everyone; owners manage members only (they may invite and remove
/// members, not create or remove owners); members manage nobody.
fn may_manage(acting: &Acting<'_>, target_role: Role) -> bool {
    acting.role.manages(target_role)
}

fn role_of(tx: &Tx<'_>, account_id: &str, user_id: &str) -> Result<Role, ServiceError> {
    if !can_match(user_id) {
        return Err(ServiceError::NotFound("membership"));
    }
    members::role_of(tx, account_id, user_id)?.ok_or(ServiceError::NotFound("membership"))
}

fn email_of(tx: &Tx<'_>, user_id: &str) -> Result<String, ServiceError> {
    members::email_of(tx, user_id)?.ok_or(ServiceError::NotFound("user"))
}

fn record(
    tx: &Tx<'_>,
    acting: &Acting<'_>,
    account_id: &str,
    action: &str,
    target: &str,
    description: &str,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let note = Note::member(Some(account_id), action, target, description.to_owned());
    changes::record(tx, acting.actor, Change::Note(note), now)?;
    Ok(())
}

/// Invites by e-mail: a new user gets a one-time password (returned), an existing one is added.
pub fn invite(
    db: &mut Db,
    acting: &Acting<'_>,
    account_id: &str,
    email: &str,
    role: &str,
    now: Timestamp,
) -> Result<Option<String>, ServiceError> {
    let role = assignable_role(role, "role must be owner or member")?;
    if !may_manage(acting, role) {
        return Err(denied(&format!("invite an {role}")));
    }
    let email = parse_email(email)?;
    // Made before the transaction (hashing is slow); unused when the user already exists.
    let (password, hash) = one_time_password()?;
    let tx = db.write()?;
    let (user_id, password) = match accounts::user_id_by_email(&tx, &email)? {
        Some(id) => (id, None),
        None => (
            insert_new_user(&tx, &email, &hash, true, now)?,
            Some(password),
        ),
    };
    if members::role_of(&tx, account_id, &user_id)?.is_some() {
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
    db: &mut Db,
    acting: &Acting<'_>,
    account_id: &str,
    user_id: &str,
    role: &str,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let role = assignable_role(
        role,
        "role must be owner or member; use transfer for the primary owner",
    )?;
    let tx = db.write()?;
    let current = role_of(&tx, account_id, user_id)?;
    if !may_manage(acting, current) || !may_manage(acting, role) {
        return Err(denied("change this member's role"));
    }
    members::set_role(&tx, account_id, user_id, role)?;
    let email = email_of(&tx, user_id)?;
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
    db: &mut Db,
    acting: &Acting<'_>,
    account_id: &str,
    user_id: &str,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let tx = db.write()?;
    let current = role_of(&tx, account_id, user_id)?;
    if !may_manage(acting, current) {
        return Err(denied("remove this member"));
    }
    let email = email_of(&tx, user_id)?;
    members::remove(&tx, account_id, user_id)?;
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
    db: &mut Db,
    acting: &Acting<'_>,
    account_id: &str,
    user_id: &str,
    now: Timestamp,
) -> Result<(), ServiceError> {
    if !acting.role.is_primary() {
        return Err(denied("transfer the workspace"));
    }
    if acting.user_id == user_id {
        return Err(ServiceError::InvalidState(
            "you are already the primary owner".into(),
        ));
    }
    let tx = db.write()?;
    if role_of(&tx, account_id, user_id)? == Role::PrimaryOwner {
        return Err(ServiceError::InvalidState(
            "that member is already the primary owner".into(),
        ));
    }
    // The current primary owner (the acting person, or the one the instance administrator
    // acts for) becomes an owner.
    if let Some(current) = members::primary_owner(&tx, account_id)? {
        members::set_role(&tx, account_id, &current, Role::Owner)?;
    }
    members::set_role(&tx, account_id, user_id, Role::PrimaryOwner)?;
    let email = email_of(&tx, user_id)?;
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
