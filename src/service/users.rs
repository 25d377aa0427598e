//! Dashboard users and their memberships.

use super::changes::{self, Category, Change, Note};
use super::password::{check_strength, generate_password, hash_password, verify_password};
use super::{Actor, ServiceError};
use crate::domain::Timestamp;
use crate::domain::account::Role;
use crate::store::accounts::{self, NewUser};
use crate::store::{Db, Tx};
use crate::store::{members, sessions};

/// A dashboard user and the workspaces they belong to.
#[derive(Clone, Debug)]
pub struct UserSummary {
    pub id: String,
    pub email: String,
    pub is_instance_admin: bool,
    pub created_at: Timestamp,
    /// (account id, role) of each membership.
    pub memberships: Vec<(String, Role)>,
    /// Whether the user has a second factor on.
    pub second_factor: bool,
}

/// A role that can be given: owner or member (the primary owner is handed over).
pub fn assignable_role(raw: &str, refusal: &str) -> Result<Role, ServiceError> {
    Role::parse_assignable(raw).ok_or_else(|| ServiceError::invalid("role", refusal))
}

/// A plausible address: one `@`, no spaces or control characters, at most 254 characters.
pub fn parse_email(raw: &str) -> Result<String, ServiceError> {
    let email = raw.trim().to_lowercase();
    let ok = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
    if ok {
        Ok(email)
    } else {
        Err(ServiceError::invalid("email", "must be an e-mail address"))
    }
}

/// Creates a user with a one-time password, optionally as a member of an account.
pub fn create_user(
    db: &mut Db,
    actor: &Actor,
    now: Timestamp,
    email: &str,
    membership: Option<(&str, &str)>,
) -> Result<(String, String), ServiceError> {
    let email = parse_email(email)?;
    let membership = match membership {
        Some((account_id, role)) => Some((
            account_id,
            assignable_role(role, "role must be owner or member")?,
        )),
        None => None,
    };
    let (password, hash) = one_time_password()?;
    let tx = db.write()?;
    if accounts::user_id_by_email(&tx, &email)?.is_some() {
        return Err(ServiceError::invalid(
            "email",
            "another user already has this e-mail address",
        ));
    }
    let id = insert_new_user(&tx, &email, &hash, true, now)?;
    let account_id = match membership {
        Some((account_id, role)) => {
            accounts::get_account(&tx, account_id)?
                .filter(|a| a.is_live())
                .ok_or_else(|| {
                    ServiceError::invalid("account", "is not an account of this instance")
                })?;
            accounts::insert_membership(&tx, account_id, &id, role, now)?;
            Some(account_id)
        }
        None => None,
    };
    let description = match membership {
        Some((_, role)) => format!("Created user {email} as {role}"),
        None => format!("Created user {email}"),
    };
    let created = Note::member(account_id, "created", &id, description);
    changes::record(&tx, actor, Change::Note(created), now)?;
    tx.commit()?;
    Ok((id, password))
}

/// Sets a user's password from the command line (a new one-time password when none is given);
/// returns it. The user must choose another at their next sign-in, unless it was typed for the
/// instance administrator: the operator at the command line is that administrator.
pub fn set_password(
    db: &mut Db,
    actor: &Actor,
    now: Timestamp,
    email: &str,
    password: Option<String>,
) -> Result<String, ServiceError> {
    let email = parse_email(email)?;
    let (password, generated) = match password {
        Some(p) => {
            check_strength(&p).map_err(|m| ServiceError::invalid("password", m))?;
            (p, false)
        }
        None => (
            generate_password().map_err(crate::store::StoreError::from)?,
            true,
        ),
    };
    let hash = hash_password(&password).map_err(|e| ServiceError::InvalidState(e.to_string()))?;
    let tx = db.write()?;
    let id = accounts::user_id_by_email(&tx, &email)?.ok_or(ServiceError::NotFound("user"))?;
    let for_admin = accounts::instance_admin_id(&tx)?.as_deref() == Some(id.as_str());
    members::set_password_hash(&tx, &id, &hash, generated || !for_admin)?;
    let set = Note::member(
        None,
        "password_set",
        &id,
        format!("Set the password of {email}"),
    );
    changes::record(&tx, actor, Change::Note(set), now)?;
    tx.commit()?;
    Ok(password)
}

/// A signed-in person's new password.
pub struct PasswordChange<'a> {
    pub user_id: &'a str,
    /// The session the change is made from: it stays open, the user's others end.
    pub session_id_hash: &'a str,
    pub current: &'a str,
    pub new: &'a str,
    pub confirm: &'a str,
}

/// Changes the signed-in person's own password: the current one is required, the new one meets
/// the strength rule and differs from it; their other sessions end.
pub fn change_own_password(
    db: &mut Db,
    actor: &Actor,
    change: &PasswordChange<'_>,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let stored = members::password_hash(&db.read(), change.user_id)?
        .ok_or(ServiceError::NotFound("user"))?;
    // Both hashing steps are slow on purpose; neither holds the write lock.
    if !verify_password(change.current, &stored) {
        return Err(ServiceError::invalid(
            "current_password",
            "is not your current password",
        ));
    }
    check_strength(change.new).map_err(|m| ServiceError::invalid("new_password", m))?;
    if change.new == change.current {
        return Err(ServiceError::invalid(
            "new_password",
            "must differ from the current password",
        ));
    }
    if change.new != change.confirm {
        return Err(ServiceError::invalid(
            "confirm_password",
            "does not match the new password",
        ));
    }
    let hash = hash_password(change.new).map_err(|e| ServiceError::InvalidState(e.to_string()))?;
    let tx = db.write()?;
    members::set_password_hash(&tx, change.user_id, &hash, false)?;
    let ended = sessions::end_others(&tx, change.user_id, change.session_id_hash)?;
    let email = members::email_of(&tx, change.user_id)?.unwrap_or_default();
    let description = match ended {
        0 => format!("{email} changed their password"),
        1 => format!("{email} changed their password; 1 other session ended"),
        n => format!("{email} changed their password; {n} other sessions ended"),
    };
    let changed = Note {
        account_id: None,
        category: Category::Auth,
        action: "password_changed",
        target: Some(change.user_id),
        description,
    };
    changes::record(&tx, actor, Change::Note(changed), now)?;
    tx.commit()?;
    Ok(())
}

pub fn list_users(db: &mut Db) -> Result<Vec<UserSummary>, ServiceError> {
    let users = members::list_users(&db.read())?;
    Ok(users
        .into_iter()
        .map(|u| UserSummary {
            id: u.id,
            email: u.email,
            is_instance_admin: u.is_instance_admin,
            created_at: u.created_at,
            memberships: u.memberships,
            second_factor: u.second_factor,
        })
        .collect())
}

/// A one-time password and its hash. Hashing is slow on purpose, so it happens before any write
/// transaction (which would otherwise hold the store's write lock, and every request's log row,
/// for that long).
pub(super) fn one_time_password() -> Result<(String, String), ServiceError> {
    let password = generate_password().map_err(crate::store::StoreError::from)?;
    let hash = hash_password(&password).map_err(|e| ServiceError::InvalidState(e.to_string()))?;
    Ok((password, hash))
}

/// Inserts an ordinary user with this one-time password's hash (to be replaced at their first
/// sign-in); returns the new id.
/// Inserts a user; `must_change_password` for a password someone else chose.
pub(super) fn insert_new_user(
    tx: &Tx<'_>,
    email: &str,
    hash: &str,
    must_change_password: bool,
    now: Timestamp,
) -> Result<String, ServiceError> {
    let id = uuid::Uuid::new_v4().to_string();
    accounts::insert_user(
        tx,
        &NewUser {
            id: &id,
            email,
            password_hash: hash,
            is_instance_admin: false,
            must_change_password,
            created_at: now,
        },
    )?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(parse_email(" Ada@Example.COM ").unwrap(), "ada@example.com");
        for bad in ["", "ada", "@x", "ada@", "a b@x", "a@b@c"] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
    }
}
