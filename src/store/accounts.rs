//! Accounts, users and memberships.

use super::Tx;
use super::engine::Row;
use super::{StoreError, ts};
use crate::domain::account::{Account, AccountOverview, Role};
use crate::domain::{Money, Region, Timestamp};

const ACCOUNT_COLUMNS: &str = "id, name, email, is_personal, picture_url, region, plan, \
     credit_balance, subscription_status, cancel_at_period_end, currency, period_starts_at, \
     period_ends_at, billing_created_at, billing_updated_at, created_at, deleted_at";

fn account_from_row(r: &Row<'_>) -> Result<Account, StoreError> {
    let region: String = r.get(5)?;
    Ok(Account {
        id: r.get(0)?,
        name: r.get(1)?,
        email: r.get(2)?,
        is_personal: r.get(3)?,
        picture_url: r.get(4)?,
        region: Region::parse(&region).unwrap_or(Region::Us),
        plan: r.get(6)?,
        credit_balance: Money(r.get(7)?),
        subscription_status: r.get(8)?,
        cancel_at_period_end: r.get(9)?,
        currency: r.get(10)?,
        period_starts_at: ts(r.get(11)?),
        period_ends_at: ts(r.get(12)?),
        billing_created_at: ts(r.get(13)?),
        billing_updated_at: ts(r.get(14)?),
        created_at: Timestamp(r.get(15)?),
        deleted_at: ts(r.get(16)?),
    })
}

pub struct NewAccount<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub email: Option<&'a str>,
    pub is_personal: bool,
    pub region: Region,
    pub plan: &'a str,
    pub created_at: Timestamp,
}

pub fn insert_account(tx: &Tx<'_>, a: &NewAccount<'_>) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO accounts (id, name, email, is_personal, region, plan, currency, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'USD', ?7)",
        &[
            &a.id,
            &a.name,
            &a.email,
            &a.is_personal,
            &a.region.as_str(),
            &a.plan,
            &a.created_at.0,
        ],
    )?;
    Ok(())
}

pub fn get_account(tx: &Tx<'_>, id: &str) -> Result<Option<Account>, StoreError> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1");
    tx.query_opt(&sql, &[&id], account_from_row)
}

pub fn list_accounts(tx: &Tx<'_>) -> Result<Vec<Account>, StoreError> {
    let sql = format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE deleted_at IS NULL ORDER BY created_at, id"
    );
    tx.query_all(&sql, &[], account_from_row)
}

/// Every live account with its members, keys and last activity, by name.
pub fn overview(tx: &Tx<'_>, now: Timestamp) -> Result<Vec<AccountOverview>, StoreError> {
    let columns = ACCOUNT_COLUMNS
        .split(", ")
        .map(|c| format!("a.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {columns},
            (SELECT count(*) FROM memberships m WHERE m.account_id = a.id),
            (SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id
              WHERE m.account_id = a.id AND m.role = 'primary-owner'),
            (SELECT count(*) FROM api_keys k WHERE k.account_id = a.id AND k.revoked_at IS NULL
              AND k.disabled_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > ?1)),
            (SELECT count(*) FROM api_keys k WHERE k.account_id = a.id),
            (SELECT max(created_at) FROM activity v WHERE v.account_id = a.id),
            (SELECT max(last_used_at) FROM api_keys k WHERE k.account_id = a.id)
         FROM accounts a WHERE a.deleted_at IS NULL ORDER BY lower(a.name), a.id"
    );
    tx.query_all(&sql, &[&now.0], |r| {
        let activity: Option<i64> = r.get(21)?;
        let used: Option<i64> = r.get(22)?;
        Ok(AccountOverview {
            account: account_from_row(r)?,
            members: r.get(17)?,
            primary_owner: r.get(18)?,
            active_keys: r.get(19)?,
            keys: r.get(20)?,
            last_activity: activity.max(used).map(Timestamp),
        })
    })
}

/// (active, all) keys of the account; active: neither revoked, disabled nor expired at `now`.
pub fn key_counts(tx: &Tx<'_>, account_id: &str, now: Timestamp) -> Result<(i64, i64), StoreError> {
    tx.query_one(
        "SELECT
            (SELECT count(*) FROM api_keys k WHERE k.account_id = ?1 AND k.revoked_at IS NULL
              AND k.disabled_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > ?2)),
            (SELECT count(*) FROM api_keys k WHERE k.account_id = ?1)",
        &[&account_id, &now.0],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Ends what a deleted account held: its keys are revoked (their rows and request logs stay for
/// the record), its memberships removed, the sessions in it lose their workspace, and the
/// account row is marked deleted (its ledger, generations and activity refer to it). Returns
/// (keys revoked, memberships removed).
pub fn mark_deleted(
    tx: &Tx<'_>,
    account_id: &str,
    now: Timestamp,
) -> Result<(u64, u64), StoreError> {
    let keys = tx.execute(
        "UPDATE api_keys SET revoked_at = ?2 WHERE account_id = ?1 AND revoked_at IS NULL",
        &[&account_id, &now.0],
    )?;
    let members = tx.execute(
        "DELETE FROM memberships WHERE account_id = ?1",
        &[&account_id],
    )?;
    tx.execute(
        "UPDATE sessions SET account_id = NULL WHERE account_id = ?1",
        &[&account_id],
    )?;
    tx.execute(
        "UPDATE accounts SET deleted_at = ?2 WHERE id = ?1",
        &[&account_id, &now.0],
    )?;
    Ok((keys as u64, members as u64))
}

/// The live accounts the user is the primary owner of: (id, name).
pub fn primary_owner_of(tx: &Tx<'_>, user_id: &str) -> Result<Vec<(String, String)>, StoreError> {
    tx.query_all(
        "SELECT a.id, a.name FROM memberships m JOIN accounts a ON a.id = m.account_id
         WHERE m.user_id = ?1 AND m.role = 'primary-owner' AND a.deleted_at IS NULL
         ORDER BY a.name, a.id",
        &[&user_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Deletes a user; their memberships and sessions go with them (foreign keys).
pub fn delete_user(tx: &Tx<'_>, user_id: &str) -> Result<(), StoreError> {
    tx.execute("DELETE FROM memberships WHERE user_id = ?1", &[&user_id])?;
    tx.execute("DELETE FROM sessions WHERE user_id = ?1", &[&user_id])?;
    tx.execute("DELETE FROM sign_in_links WHERE user_id = ?1", &[&user_id])?;
    tx.execute("DELETE FROM users WHERE id = ?1", &[&user_id])?;
    Ok(())
}

pub struct NewUser<'a> {
    pub id: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub is_instance_admin: bool,
    /// The password was chosen by someone else: the user replaces it at the next sign-in.
    pub must_change_password: bool,
    pub created_at: Timestamp,
}

/// The id of the user with this e-mail (compared without case), if any.
pub fn user_id_by_email(tx: &Tx<'_>, email: &str) -> Result<Option<String>, StoreError> {
    tx.query_opt(
        "SELECT id FROM users WHERE lower(email) = lower(?1)",
        &[&email],
        |r| r.get(0),
    )
}

pub fn insert_user(tx: &Tx<'_>, u: &NewUser<'_>) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO users (id, email, password_hash, is_instance_admin, must_change_password,
                            created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &[
            &u.id,
            &u.email,
            &u.password_hash,
            &u.is_instance_admin,
            &u.must_change_password,
            &u.created_at.0,
        ],
    )?;
    Ok(())
}

/// The instance administrator's id (the oldest, should there be several).
pub fn instance_admin_id(tx: &Tx<'_>) -> Result<Option<String>, StoreError> {
    tx.query_opt(
        "SELECT id FROM users WHERE is_instance_admin = 1 ORDER BY created_at, id LIMIT 1",
        &[],
        |r| r.get(0),
    )
}

/// Live accounts that have no primary owner: (id, name).
pub fn without_primary_owner(tx: &Tx<'_>) -> Result<Vec<(String, String)>, StoreError> {
    tx.query_all(
        "SELECT a.id, a.name FROM accounts a
         WHERE a.deleted_at IS NULL AND NOT EXISTS (
             SELECT 1 FROM memberships m WHERE m.account_id = a.id AND m.role = 'primary-owner')
         ORDER BY a.created_at, a.id",
        &[],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// The account's longest-standing owner, if it has one.
pub fn oldest_owner(tx: &Tx<'_>, account_id: &str) -> Result<Option<String>, StoreError> {
    tx.query_opt(
        "SELECT user_id FROM memberships WHERE account_id = ?1 AND role = 'owner'
         ORDER BY created_at, user_id LIMIT 1",
        &[&account_id],
        |r| r.get(0),
    )
}

/// Moves every account on plan `from` to plan `to`; returns the ids of those moved.
pub fn rename_plan(tx: &Tx<'_>, from: &str, to: &str) -> Result<Vec<String>, StoreError> {
    let ids = tx.query_all(
        "SELECT id FROM accounts WHERE plan = ?1 ORDER BY created_at, id",
        &[&from],
        |r| r.get(0),
    )?;
    tx.execute(
        "UPDATE accounts SET plan = ?2 WHERE plan = ?1",
        &[&from, &to],
    )?;
    Ok(ids)
}

pub fn count_users(tx: &Tx<'_>) -> Result<i64, StoreError> {
    tx.query_one("SELECT count(*) FROM users", &[], |r| r.get(0))
}

pub fn insert_membership(
    tx: &Tx<'_>,
    account_id: &str,
    user_id: &str,
    role: Role,
    now: Timestamp,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO memberships (account_id, user_id, role, created_at) VALUES (?1, ?2, ?3, ?4)",
        &[&account_id, &user_id, &role.as_str(), &now.0],
    )?;
    Ok(())
}
