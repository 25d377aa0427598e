//! Workspace settings (docs/admin.md, "Settings"): name, plan, credits and low-balance thresholds.
//! Only the primary owner changes them (docs/keys.md, "Roles").

use super::changes::{self, Category, Change, Note};
use super::{Actor, ServiceError};
use crate::config::Config;
use crate::domain::{Money, Name, Timestamp};
use crate::store::settings as store;
use crate::store::{Db, Tx};

pub const MAX_THRESHOLDS: usize = 10;

pub use crate::domain::account::LedgerEntry;

/// The account's last `limit` ledger rows, newest first.
pub fn ledger(db: &mut Db, account_id: &str, limit: i64) -> Result<Vec<LedgerEntry>, ServiceError> {
    Ok(store::ledger(&db.read(), account_id, limit)?)
}

pub use crate::store::email::Status as MailStatus;

/// How the account's notice e-mail is going: waiting, last sent, last failure.
pub fn mail_status(db: &mut Db, account_id: &str) -> Result<MailStatus, ServiceError> {
    Ok(crate::store::email::status(&db.read(), account_id)?)
}

pub fn thresholds(db: &mut Db, account_id: &str) -> Result<Vec<Money>, ServiceError> {
    Ok(store::thresholds(&db.read(), account_id)?)
}

fn record(
    tx: &Tx<'_>,
    actor: &Actor,
    account_id: &str,
    category: Category,
    action: &str,
    description: &str,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let note = Note {
        account_id: Some(account_id),
        category,
        action,
        target: Some(account_id),
        description: description.to_owned(),
    };
    changes::record(tx, actor, Change::Note(note), now)?;
    Ok(())
}

pub fn rename(
    db: &mut Db,
    actor: &Actor,
    account_id: &str,
    name: &str,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let name = Name::parse(name).map_err(|m| ServiceError::invalid("name", m))?;
    let tx = db.write()?;
    super::accounts::live(&tx, account_id)?;
    store::rename_account(&tx, account_id, name.as_str())?;
    record(
        &tx,
        actor,
        account_id,
        Category::Account,
        "renamed",
        &format!("Renamed the workspace to \"{name}\""),
        now,
    )?;
    tx.commit()?;
    Ok(())
}

pub fn set_plan(
    db: &mut Db,
    config: &Config,
    actor: &Actor,
    account_id: &str,
    plan: &str,
    now: Timestamp,
) -> Result<(), ServiceError> {
    if !config.plans.contains_key(plan) {
        return Err(ServiceError::invalid(
            "plan",
            format!("no plan named {plan:?}"),
        ));
    }
    let tx = db.write()?;
    store::set_plan(&tx, account_id, plan, now)?;
    record(
        &tx,
        actor,
        account_id,
        Category::Account,
        "plan_changed",
        &format!("Changed the plan to {plan}"),
        now,
    )?;
    tx.commit()?;
    Ok(())
}

pub fn add_threshold(
    db: &mut Db,
    actor: &Actor,
    account_id: &str,
    threshold: Money,
    now: Timestamp,
) -> Result<(), ServiceError> {
    if threshold.thousandths() < 0 {
        return Err(ServiceError::invalid("threshold", "must not be negative"));
    }
    let tx = db.write()?;
    if store::thresholds(&tx, account_id)?.len() >= MAX_THRESHOLDS {
        return Err(ServiceError::invalid(
            "threshold",
            format!("at most {MAX_THRESHOLDS} thresholds"),
        ));
    }
    if store::add_threshold(&tx, account_id, threshold)? {
        record(
            &tx,
            actor,
            account_id,
            Category::Credits,
            "threshold_added",
            &format!("Added a low-balance alert at {threshold}"),
            now,
        )?;
    }
    tx.commit()?;
    Ok(())
}

pub fn remove_threshold(
    db: &mut Db,
    actor: &Actor,
    account_id: &str,
    threshold: Money,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let tx = db.write()?;
    if store::remove_threshold(&tx, account_id, threshold)? {
        record(
            &tx,
            actor,
            account_id,
            Category::Credits,
            "threshold_removed",
            &format!("Removed the low-balance alert at {threshold}"),
            now,
        )?;
    }
    tx.commit()?;
    Ok(())
}
