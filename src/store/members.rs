//! Users and their memberships of accounts (docs/keys.md, "Roles").

use super::{StoreError, Tx};
use crate::domain::Timestamp;
use crate::domain::account::{Member, Role};

/// A stored role; one a newer version wrote reads as the least privileged.
pub(super) fn role(stored: &str) -> Role {
    Role::parse(stored).unwrap_or(Role::Member)
}

/// The account's members, primary owner first, then owners, then members, by e-mail.
pub fn list(tx: &Tx<'_>, account_id: &str) -> Result<Vec<Member>, StoreError> {
    tx.query_all(
        "SELECT u.id, u.email, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.account_id = ?1
         ORDER BY CASE m.role WHEN 'primary-owner' THEN 0 WHEN 'owner' THEN 1 ELSE 2 END, u.email", &[&account_id], |r| {
        let stored: String = r.get(2)?;
        Ok(Member {
            user_id: r.get(0)?,
            email: r.get(1)?,
            role: role(&stored),
            joined_at: Timestamp(r.get(3)?),
        })
    })
}

pub fn role_of(tx: &Tx<'_>, account_id: &str, user_id: &str) -> Result<Option<Role>, StoreError> {
    tx.query_opt(
        "SELECT role FROM memberships WHERE account_id = ?1 AND user_id = ?2",
        &[&account_id, &user_id],
        |r| Ok(role(&r.get::<String>(0)?)),
    )
}

/// The account's primary owner, if it has one.
pub fn primary_owner(tx: &Tx<'_>, account_id: &str) -> Result<Option<String>, StoreError> {
    tx.query_opt(
        "SELECT user_id FROM memberships WHERE account_id = ?1 AND role = 'primary-owner'",
        &[&account_id],
        |r| r.get(0),
    )
}

pub fn set_role(
    tx: &Tx<'_>,
    account_id: &str,
    user_id: &str,
    role: Role,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE memberships SET role = ?3 WHERE account_id = ?1 AND user_id = ?2",
        &[&account_id, &user_id, &role.as_str()],
    )?;
    Ok(())
}

/// Takes the user out of the account; their sessions in it lose their workspace.
pub fn remove(tx: &Tx<'_>, account_id: &str, user_id: &str) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM memberships WHERE account_id = ?1 AND user_id = ?2",
        &[&account_id, &user_id],
    )?;
    tx.execute(
        "UPDATE sessions SET account_id = NULL WHERE user_id = ?1 AND account_id = ?2",
        &[&user_id, &account_id],
    )?;
    Ok(())
}

pub fn email_of(tx: &Tx<'_>, user_id: &str) -> Result<Option<String>, StoreError> {
    tx.query_opt("SELECT email FROM users WHERE id = ?1", &[&user_id], |r| {
        r.get(0)
    })
}

/// (id, password hash) of the user with this e-mail.
pub fn credentials(tx: &Tx<'_>, email: &str) -> Result<Option<(String, String)>, StoreError> {
    tx.query_opt(
        "SELECT id, password_hash FROM users WHERE lower(email) = lower(?1)",
        &[&email],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Sets a user's password hash; `must_change`: the user replaces it at the next sign-in.
pub fn set_password_hash(
    tx: &Tx<'_>,
    user_id: &str,
    hash: &str,
    must_change: bool,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE users SET password_hash = ?2, must_change_password = ?3 WHERE id = ?1",
        &[&user_id, &hash, &must_change],
    )?;
    Ok(())
}

/// The user's password hash, by id.
pub fn password_hash(tx: &Tx<'_>, user_id: &str) -> Result<Option<String>, StoreError> {
    tx.query_opt(
        "SELECT password_hash FROM users WHERE id = ?1",
        &[&user_id],
        |r| r.get(0),
    )
}

/// A user as the instance pages list them, with (account id, role) of each membership.
#[derive(Clone, Debug)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub is_instance_admin: bool,
    pub created_at: Timestamp,
    pub memberships: Vec<(String, Role)>,
    pub second_factor: bool,
}

pub fn list_users(tx: &Tx<'_>) -> Result<Vec<UserRow>, StoreError> {
    let users: Vec<(String, String, bool, i64, bool)> = tx.query_all(
        "SELECT id, email, is_instance_admin, created_at, totp_secret IS NOT NULL FROM users
         ORDER BY created_at, email",
        &[],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )?;
    users
        .into_iter()
        .map(|(id, email, is_instance_admin, created, second_factor)| {
            let memberships = tx.query_all(
                "SELECT account_id, role FROM memberships WHERE user_id = ?1 ORDER BY created_at",
                &[&id],
                |r| Ok((r.get(0)?, role(&r.get::<String>(1)?))),
            )?;
            Ok(UserRow {
                id,
                email,
                is_instance_admin,
                created_at: Timestamp(created),
                memberships,
                second_factor,
            })
        })
        .collect()
}

/// The workspace a new session starts in: the user's oldest membership of a live account.
pub fn first_workspace(tx: &Tx<'_>, user_id: &str) -> Result<Option<String>, StoreError> {
    tx.query_opt(
        "SELECT m.account_id FROM memberships m JOIN accounts a ON a.id = m.account_id
             WHERE m.user_id = ?1 AND a.deleted_at IS NULL ORDER BY m.created_at LIMIT 1",
        &[&user_id],
        |r| r.get(0),
    )
}

/// A workspace the user can switch to: (account id, name, role), by name.
pub fn workspaces(tx: &Tx<'_>, user_id: &str) -> Result<Vec<(String, String, Role)>, StoreError> {
    tx.query_all(
        "SELECT a.id, a.name, m.role FROM memberships m JOIN accounts a ON a.id = m.account_id
         WHERE m.user_id = ?1 AND a.deleted_at IS NULL ORDER BY a.name, a.id",
        &[&user_id],
        |r| Ok((r.get(0)?, r.get(1)?, role(&r.get::<String>(2)?))),
    )
}
