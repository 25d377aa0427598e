//! Workspace settings (admin.md "Settings"): name, plan, credits and low-balance thresholds. Only
//! the primary owner changes them (keys.md §6: credits, plan, low-balance alerts).

use rusqlite::{Connection, params};

use super::{Actor, ServiceError};
use crate::config::Config;
use crate::domain::{Money, Name, Timestamp};
use crate::store::activity::{self, NewActivity};
use crate::store::write_tx;

pub const MAX_THRESHOLDS: usize = 10;

pub struct LedgerRow {
    pub kind: String,
    pub amount: Money,
    pub reference: Option<String>,
    pub actor: String,
    pub created_at: Timestamp,
}

pub fn ledger(
    conn: &Connection,
    account_id: &str,
    limit: i64,
) -> Result<Vec<LedgerRow>, ServiceError> {
    let mut stmt = conn.prepare_cached(
        "SELECT kind, amount, reference, actor, created_at FROM credit_ledger
         WHERE account_id = ?1 ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![account_id, limit], |r| {
        Ok(LedgerRow {
            kind: r.get(0)?,
            amount: Money(r.get(1)?),
            reference: r.get(2)?,
            actor: r.get(3)?,
            created_at: Timestamp(r.get(4)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn thresholds(conn: &Connection, account_id: &str) -> Result<Vec<Money>, ServiceError> {
    let mut stmt = conn.prepare_cached(
        "SELECT threshold FROM low_balance_thresholds WHERE account_id = ?1 ORDER BY threshold",
    )?;
    let rows = stmt.query_map([account_id], |r| Ok(Money(r.get(0)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn record(
    conn: &Connection,
    actor: &Actor,
    account_id: &str,
    category: &str,
    action: &str,
    description: &str,
    now: Timestamp,
) -> Result<(), ServiceError> {
    activity::append(
        conn,
        &NewActivity {
            account_id: Some(account_id),
            actor: &actor.label(),
            category,
            action,
            target: Some(account_id),
            description,
            ip_hash: actor.ip_hash(),
            created_at: now,
        },
    )?;
    Ok(())
}

pub fn rename(
    conn: &mut Connection,
    actor: &Actor,
    account_id: &str,
    name: &str,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let name = Name::parse(name).map_err(|m| ServiceError::invalid("name", m))?;
    let tx = write_tx(conn)?;
    tx.execute(
        "UPDATE accounts SET name = ?2 WHERE id = ?1",
        params![account_id, name.as_str()],
    )?;
    record(
        &tx,
        actor,
        account_id,
        "account",
        "renamed",
        &format!("Renamed the workspace to \"{name}\""),
        now,
    )?;
    tx.commit()?;
    Ok(())
}

pub fn set_plan(
    conn: &mut Connection,
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
    let tx = write_tx(conn)?;
    tx.execute(
        "UPDATE accounts SET plan = ?2, billing_updated_at = ?3 WHERE id = ?1",
        params![account_id, plan, now.0],
    )?;
    record(
        &tx,
        actor,
        account_id,
        "account",
        "plan_changed",
        &format!("Changed the plan to {plan}"),
        now,
    )?;
    tx.commit()?;
    Ok(())
}

pub fn add_threshold(
    conn: &mut Connection,
    actor: &Actor,
    account_id: &str,
    threshold: Money,
    now: Timestamp,
) -> Result<(), ServiceError> {
    if threshold.thousandths() < 0 {
        return Err(ServiceError::invalid("threshold", "must not be negative"));
    }
    let tx = write_tx(conn)?;
    if thresholds(&tx, account_id)?.len() >= MAX_THRESHOLDS {
        return Err(ServiceError::invalid(
            "threshold",
            format!("at most {MAX_THRESHOLDS} thresholds"),
        ));
    }
    let added = tx.execute(
        "INSERT OR IGNORE INTO low_balance_thresholds (account_id, threshold) VALUES (?1, ?2)",
        params![account_id, threshold.thousandths()],
    )?;
    if added == 1 {
        record(
            &tx,
            actor,
            account_id,
            "credits",
            "threshold_added",
            &format!("Added a low-balance alert at {threshold}"),
            now,
        )?;
    }
    tx.commit()?;
    Ok(())
}

pub fn remove_threshold(
    conn: &mut Connection,
    actor: &Actor,
    account_id: &str,
    threshold: Money,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let tx = write_tx(conn)?;
    let removed = tx.execute(
        "DELETE FROM low_balance_thresholds WHERE account_id = ?1 AND threshold = ?2",
        params![account_id, threshold.thousandths()],
    )?;
    if removed == 1 {
        record(
            &tx,
            actor,
            account_id,
            "credits",
            "threshold_removed",
            &format!("Removed the low-balance alert at {threshold}"),
            now,
        )?;
    }
    tx.commit()?;
    Ok(())
}
