//! The credit ledger: the balance is always the sum of the ledger (generation.md §5).

use rusqlite::{Connection, OptionalExtension, params};

use super::{Actor, ServiceError};
use crate::domain::{Money, Timestamp};
use crate::store::accounts;
use crate::store::activity::{self, NewActivity};
use crate::store::write_tx;

/// Adds credits; with a reference, the same addition made twice is applied once. Returns the new
/// balance and whether this call applied it.
pub fn add_credits(
    conn: &mut Connection,
    actor: &Actor,
    now: Timestamp,
    account_id: &str,
    amount: Money,
    reference: Option<&str>,
) -> Result<(Money, bool), ServiceError> {
    if amount.thousandths() <= 0 {
        return Err(ServiceError::invalid(
            "amount",
            "must be a positive amount with at most 3 decimals",
        ));
    }
    if reference.is_some_and(|r| r.trim().is_empty() || r.len() > 200) {
        return Err(ServiceError::invalid(
            "reference",
            "must be 1-200 characters",
        ));
    }
    let tx = write_tx(conn)?;
    let account = accounts::get_account(&tx, account_id)?
        .filter(|a| a.deleted_at.is_none())
        .ok_or(ServiceError::NotFound("account"))?;
    if let Some(reference) = reference {
        let seen: Option<i64> = tx
            .query_row(
                "SELECT id FROM credit_ledger WHERE account_id = ?1 AND kind = 'add' AND reference = ?2",
                params![account_id, reference],
                |r| r.get(0),
            )
            .optional()?;
        if seen.is_some() {
            return Ok((account.credit_balance, false));
        }
    }
    tx.execute(
        "INSERT INTO credit_ledger (account_id, kind, amount, reference, actor, created_at)
         VALUES (?1, 'add', ?2, ?3, ?4, ?5)",
        params![
            account_id,
            amount.thousandths(),
            reference,
            actor.label(),
            now.0
        ],
    )?;
    tx.execute(
        "UPDATE accounts SET credit_balance = credit_balance + ?2 WHERE id = ?1",
        params![account_id, amount.thousandths()],
    )?;
    let description = match reference {
        Some(r) => format!("Added {amount} credits (reference {r})"),
        None => format!("Added {amount} credits"),
    };
    activity::append(
        &tx,
        &NewActivity {
            account_id: Some(account_id),
            actor: &actor.label(),
            category: "credits",
            action: "added",
            target: Some(account_id),
            description: &description,
            ip_hash: actor.ip_hash(),
            created_at: now,
        },
    )?;
    tx.commit()?;
    Ok((
        Money(account.credit_balance.thousandths() + amount.thousandths()),
        true,
    ))
}

/// Accounts whose cached balance differs from their ledger: (id, balance, ledger sum).
pub fn ledger_mismatches(conn: &Connection) -> Result<Vec<(String, Money, Money)>, ServiceError> {
    let mut stmt = conn.prepare(
        "SELECT a.id, a.credit_balance, COALESCE(SUM(l.amount), 0) AS ledger
         FROM accounts a LEFT JOIN credit_ledger l ON l.account_id = a.id
         GROUP BY a.id HAVING a.credit_balance != ledger",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, Money(r.get(1)?), Money(r.get(2)?))))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
