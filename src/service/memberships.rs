//! What the operator does to users from the command line: add them to an account, take them
//! out, delete them. The primary owner of an account is never taken out (the ownership is
//! transferred first), and the instance administrator is never deleted.

use super::changes::{self, Change, Note};
use super::users::{assignable_role, parse_email};
use super::{Actor, ServiceError};
use crate::domain::Timestamp;
use crate::domain::account::Role;
use crate::store::{Db, Tx, accounts, members};

fn user_by_email(tx: &Tx<'_>, email: &str) -> Result<(String, String), ServiceError> {
    let email = parse_email(email)?;
    let id = accounts::user_id_by_email(tx, &email)?.ok_or_else(|| {
        ServiceError::InvalidState(format!("no user with the e-mail address {email}"))
    })?;
    Ok((id, email))
}

/// Adds an existing user to a live account as owner or member.
pub fn add_membership(
    db: &mut Db,
    actor: &Actor,
    now: Timestamp,
    email: &str,
    account_id: &str,
    role: &str,
) -> Result<Role, ServiceError> {
    let role = assignable_role(
        role,
        &format!(
            "unknown role {role:?}; valid roles: owner, member (the primary owner is transferred)"
        ),
    )?;
    let tx = db.write()?;
    let account = super::accounts::live(&tx, account_id)?;
    let (user_id, email) = user_by_email(&tx, email)?;
    if let Some(current) = members::role_of(&tx, account_id, &user_id)? {
        return Err(ServiceError::InvalidState(format!(
            "{email} is already a member of \"{}\" ({current})",
            account.name
        )));
    }
    accounts::insert_membership(&tx, account_id, &user_id, role, now)?;
    let added = format!("Added {email} as {role}");
    let note = Note::member(Some(account_id), "invited", &user_id, added);
    changes::record(&tx, actor, Change::Note(note), now)?;
    tx.commit()?;
    Ok(role)
}

/// Takes a user out of an account; the primary owner stays until the ownership is transferred.
pub fn remove_membership(
    db: &mut Db,
    actor: &Actor,
    now: Timestamp,
    email: &str,
    account_id: &str,
) -> Result<Role, ServiceError> {
    let tx = db.write()?;
    let account = super::accounts::live(&tx, account_id)?;
    let (user_id, email) = user_by_email(&tx, email)?;
    let role = members::role_of(&tx, account_id, &user_id)?.ok_or_else(|| {
        ServiceError::InvalidState(format!("{email} is not a member of \"{}\"", account.name))
    })?;
    if role == Role::PrimaryOwner {
        return Err(ServiceError::InvalidState(format!(
            "{email} is the primary owner of \"{}\"; transfer the ownership to another member \
             first (Members page, Transfer)",
            account.name
        )));
    }
    members::remove(&tx, account_id, &user_id)?;
    let removed = format!("Removed {email} ({role})");
    let note = Note::member(Some(account_id), "removed", &user_id, removed);
    changes::record(&tx, actor, Change::Note(note), now)?;
    tx.commit()?;
    Ok(role)
}

/// Deletes a user and their memberships and sessions; refused for the instance administrator and
/// for the primary owner of any account.
pub fn delete_user(
    db: &mut Db,
    actor: &Actor,
    now: Timestamp,
    email: &str,
) -> Result<String, ServiceError> {
    let tx = db.write()?;
    let (user_id, email) = user_by_email(&tx, email)?;
    if accounts::instance_admin_id(&tx)?.as_deref() == Some(user_id.as_str()) {
        return Err(ServiceError::InvalidState(format!(
            "{email} is the instance administrator and cannot be deleted"
        )));
    }
    let owned = accounts::primary_owner_of(&tx, &user_id)?;
    if !owned.is_empty() {
        let names: Vec<String> = owned
            .iter()
            .map(|(id, name)| format!("\"{name}\" ({id})"))
            .collect();
        return Err(ServiceError::InvalidState(format!(
            "{email} is the primary owner of {}; transfer the ownership first",
            names.join(", ")
        )));
    }
    let memberships = members::workspaces(&tx, &user_id)?;
    accounts::delete_user(&tx, &user_id)?;
    for (account_id, _, role) in &memberships {
        let removed = format!("Removed {email} ({role}): the user was deleted");
        let note = Note::member(Some(account_id), "removed", &user_id, removed);
        changes::record(&tx, actor, Change::Note(note), now)?;
    }
    let deleted = format!("Deleted the user {email}");
    changes::record(
        &tx,
        actor,
        Change::Note(Note::member(None, "deleted", &user_id, deleted)),
        now,
    )?;
    tx.commit()?;
    Ok(user_id)
}
