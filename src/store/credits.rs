//! The credit ledger and the cached balance beside it (docs/generation.md, "Credits"), and the
//! low-balance thresholds.

use super::{StoreError, Tx};
use crate::domain::{Money, Timestamp};

/// One ledger row.
pub struct Entry<'a> {
    pub account_id: &'a str,
    /// `add`, `reserve`, `charge` or `refund`.
    pub kind: &'a str,
    pub amount: Money,
    pub reference: Option<&'a str>,
    pub reservation_id: Option<&'a str>,
    pub actor: &'a str,
    pub created_at: Timestamp,
}

pub fn insert(tx: &Tx<'_>, e: &Entry<'_>) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO credit_ledger (account_id, kind, amount, reference, reservation_id, actor,
             created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        &[
            &e.account_id,
            &e.kind,
            &e.amount.thousandths(),
            &e.reference,
            &e.reservation_id,
            &e.actor,
            &e.created_at.0,
        ],
    )?;
    Ok(())
}

/// A settlement of a reservation; false when it already has one (the schema allows one).
pub fn insert_settlement(tx: &Tx<'_>, e: &Entry<'_>) -> Result<bool, StoreError> {
    Ok(tx.execute(
        "INSERT INTO credit_ledger
             (account_id, kind, amount, reservation_id, actor, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
        &[
            &e.account_id,
            &e.kind,
            &e.amount.thousandths(),
            &e.reservation_id,
            &e.actor,
            &e.created_at.0,
        ],
    )? == 1)
}

/// Whether an addition with this reference was made to the account already.
pub fn reference_used(tx: &Tx<'_>, account_id: &str, reference: &str) -> Result<bool, StoreError> {
    Ok(tx.query_opt(
            "SELECT id FROM credit_ledger WHERE account_id = ?1 AND kind = 'add' AND reference = ?2",
            &[&account_id, &reference],
            |r| r.get::<i64>(0),
        )?
        .is_some())
}

/// The reservation's account and the amount reserved (positive).
pub fn reservation(
    tx: &Tx<'_>,
    reservation_id: &str,
) -> Result<Option<(String, Money)>, StoreError> {
    tx.query_opt(
        "SELECT account_id, -amount FROM credit_ledger
             WHERE reservation_id = ?1 AND kind = 'reserve'",
        &[&reservation_id],
        |r| Ok((r.get(0)?, Money(r.get(1)?))),
    )
}

pub fn balance(tx: &Tx<'_>, account_id: &str) -> Result<Money, StoreError> {
    Ok(Money(tx.query_one(
        "SELECT credit_balance FROM accounts WHERE id = ?1",
        &[&account_id],
        |r| r.get(0),
    )?))
}

/// What an account spent on generations from `since` on: its reservations less its refunds.
pub fn spent_since(tx: &Tx<'_>, account_id: &str, since: i64) -> Result<Money, StoreError> {
    Ok(Money(tx.query_one(
        "SELECT COALESCE(-SUM(amount), 0) FROM credit_ledger
         WHERE account_id = ?1 AND kind IN ('reserve', 'refund') AND created_at >= ?2",
        &[&account_id, &since],
        |r| r.get(0),
    )?))
}

/// Adds `delta` to the cached balance; returns the new balance.
pub fn move_balance(tx: &Tx<'_>, account_id: &str, delta: Money) -> Result<Money, StoreError> {
    Ok(Money(tx.query_one(
        "UPDATE accounts SET credit_balance = credit_balance + ?2 WHERE id = ?1
         RETURNING credit_balance",
        &[&account_id, &delta.thousandths()],
        |r| r.get(0),
    )?))
}

/// Re-arms the thresholds the balance has risen to, disarms the armed ones it is below, and
/// returns those (they fire now).
pub fn cross_thresholds(
    tx: &Tx<'_>,
    account_id: &str,
    balance: Money,
) -> Result<Vec<i64>, StoreError> {
    tx.execute(
        "UPDATE low_balance_thresholds SET armed = 1
         WHERE account_id = ?1 AND armed = 0 AND threshold <= ?2",
        &[&account_id, &balance.thousandths()],
    )?;
    tx.query_all(
        "UPDATE low_balance_thresholds SET armed = 0
         WHERE account_id = ?1 AND armed = 1 AND threshold > ?2 RETURNING threshold",
        &[&account_id, &balance.thousandths()],
        |r| r.get(0),
    )
}

/// Accounts whose cached balance differs from their ledger: (id, balance, ledger sum).
pub fn mismatches(tx: &Tx<'_>) -> Result<Vec<(String, Money, Money)>, StoreError> {
    tx.query_all(
        "SELECT a.id, a.credit_balance, COALESCE(SUM(l.amount), 0) AS ledger
         FROM accounts a LEFT JOIN credit_ledger l ON l.account_id = a.id
         GROUP BY a.id HAVING a.credit_balance != COALESCE(SUM(l.amount), 0)",
        &[],
        |r| Ok((r.get(0)?, Money(r.get(1)?), Money(r.get(2)?))),
    )
}
