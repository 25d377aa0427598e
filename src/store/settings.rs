//! Instance settings, among them the per-install secret that keys IP hashes.

use super::{StoreError, Tx};
use crate::domain::account::LedgerEntry;
use crate::domain::random::os_random_bytes;
use crate::domain::{Money, Timestamp};

const INSTALL_SECRET: &str = "install_secret";

/// Returns the per-install secret, creating it on first use (safe against a concurrent creator).
pub fn install_secret(tx: &Tx<'_>) -> Result<Vec<u8>, StoreError> {
    let existing: Option<Vec<u8>> = tx.query_opt(
        "SELECT value FROM settings WHERE name = ?1",
        &[&INSTALL_SECRET],
        |r| r.get(0),
    )?;
    if let Some(secret) = existing {
        return Ok(secret);
    }
    let mut fresh = [0u8; 32];
    os_random_bytes(&mut fresh)?;
    tx.execute(
        "INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        &[&INSTALL_SECRET, &fresh.to_vec()],
    )?;
    tx.query_one(
        "SELECT value FROM settings WHERE name = ?1",
        &[&INSTALL_SECRET],
        |r| r.get(0),
    )
}

/// The account's last `limit` ledger rows, newest first.
pub fn ledger(tx: &Tx<'_>, account_id: &str, limit: i64) -> Result<Vec<LedgerEntry>, StoreError> {
    tx.query_all(
        "SELECT kind, amount, reference, actor, created_at FROM credit_ledger
         WHERE account_id = ?1 ORDER BY id DESC LIMIT ?2",
        &[&account_id, &limit],
        |r| {
            Ok(LedgerEntry {
                kind: r.get(0)?,
                amount: Money(r.get(1)?),
                reference: r.get(2)?,
                actor: r.get(3)?,
                created_at: Timestamp(r.get(4)?),
            })
        },
    )
}

/// The account's low-balance thresholds, lowest first.
pub fn thresholds(tx: &Tx<'_>, account_id: &str) -> Result<Vec<Money>, StoreError> {
    tx.query_all(
        "SELECT threshold FROM low_balance_thresholds WHERE account_id = ?1 ORDER BY threshold",
        &[&account_id],
        |r| Ok(Money(r.get(0)?)),
    )
}

/// False when the account has that threshold already.
pub fn add_threshold(tx: &Tx<'_>, account_id: &str, threshold: Money) -> Result<bool, StoreError> {
    Ok(tx.execute(
        "INSERT INTO low_balance_thresholds (account_id, threshold) VALUES (?1, ?2)
         ON CONFLICT DO NOTHING",
        &[&account_id, &threshold.thousandths()],
    )? == 1)
}

/// False when the account has no such threshold.
pub fn remove_threshold(
    tx: &Tx<'_>,
    account_id: &str,
    threshold: Money,
) -> Result<bool, StoreError> {
    Ok(tx.execute(
        "DELETE FROM low_balance_thresholds WHERE account_id = ?1 AND threshold = ?2",
        &[&account_id, &threshold.thousandths()],
    )? == 1)
}

pub fn rename_account(tx: &Tx<'_>, account_id: &str, name: &str) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE accounts SET name = ?2 WHERE id = ?1",
        &[&account_id, &name],
    )?;
    Ok(())
}

pub fn set_plan(
    tx: &Tx<'_>,
    account_id: &str,
    plan: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE accounts SET plan = ?2, billing_updated_at = ?3 WHERE id = ?1",
        &[&account_id, &plan, &now.0],
    )?;
    Ok(())
}
