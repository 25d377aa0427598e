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
    let balance = move_balance(&tx, account_id, amount)?;
    check_thresholds(&tx, account_id, balance, now)?;
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

/// Adds `delta` to the cached balance and returns the new balance.
fn move_balance(conn: &Connection, account_id: &str, delta: Money) -> Result<Money, ServiceError> {
    let balance: i64 = conn.query_row(
        "UPDATE accounts SET credit_balance = credit_balance + ?2 WHERE id = ?1
         RETURNING credit_balance",
        params![account_id, delta.thousandths()],
        |r| r.get(0),
    )?;
    Ok(Money(balance))
}

/// Reserves `amount` for `reservation_id` inside the caller's transaction. Returns the new
/// balance, or (changing nothing) `Err` with the balance that cannot cover it.
pub fn reserve(
    conn: &Connection,
    account_id: &str,
    reservation_id: &str,
    amount: Money,
    actor: &str,
    now: Timestamp,
) -> Result<Result<Money, Money>, ServiceError> {
    let balance: i64 = conn.query_row(
        "SELECT credit_balance FROM accounts WHERE id = ?1",
        [account_id],
        |r| r.get(0),
    )?;
    if balance < amount.thousandths() {
        return Ok(Err(Money(balance)));
    }
    conn.execute(
        "INSERT INTO credit_ledger (account_id, kind, amount, reservation_id, actor, created_at)
         VALUES (?1, 'reserve', ?2, ?3, ?4, ?5)",
        params![
            account_id,
            -amount.thousandths(),
            reservation_id,
            actor,
            now.0
        ],
    )?;
    let balance = move_balance(conn, account_id, Money(-amount.thousandths()))?;
    check_thresholds(conn, account_id, balance, now)?;
    Ok(Ok(balance))
}

/// How a reservation was settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settlement {
    Charge,
    Refund,
}

/// Settles a reservation once: a charge makes it final, a refund returns it. The schema allows
/// one settlement per reservation, so a second call changes nothing and returns `None`;
/// otherwise returns the amount returned to the balance (zero for a charge).
pub fn settle(
    conn: &Connection,
    reservation_id: &str,
    how: Settlement,
    actor: &str,
    now: Timestamp,
) -> Result<Option<Money>, ServiceError> {
    let reserved: Option<(String, i64)> = conn
        .query_row(
            "SELECT account_id, -amount FROM credit_ledger
             WHERE reservation_id = ?1 AND kind = 'reserve'",
            [reservation_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((account_id, amount)) = reserved else {
        return Ok(None);
    };
    let (kind, returned) = match how {
        Settlement::Charge => ("charge", 0),
        Settlement::Refund => ("refund", amount),
    };
    let inserted = conn.execute(
        "INSERT OR IGNORE INTO credit_ledger
             (account_id, kind, amount, reservation_id, actor, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![account_id, kind, returned, reservation_id, actor, now.0],
    )?;
    if inserted == 0 {
        return Ok(None);
    }
    if returned != 0 {
        let balance = move_balance(conn, &account_id, Money(returned))?;
        check_thresholds(conn, &account_id, balance, now)?;
    }
    Ok(Some(Money(returned)))
}

/// Fires each armed low-balance threshold the balance has fallen below (once: it is disarmed and
/// an activity row records it) and re-arms those the balance has risen to again.
fn check_thresholds(
    conn: &Connection,
    account_id: &str,
    balance: Money,
    now: Timestamp,
) -> Result<(), ServiceError> {
    conn.execute(
        "UPDATE low_balance_thresholds SET armed = 1
         WHERE account_id = ?1 AND armed = 0 AND threshold <= ?2",
        params![account_id, balance.thousandths()],
    )?;
    let crossed: Vec<i64> = conn
        .prepare(
            "UPDATE low_balance_thresholds SET armed = 0
             WHERE account_id = ?1 AND armed = 1 AND threshold > ?2 RETURNING threshold",
        )?
        .query_map(params![account_id, balance.thousandths()], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if crossed.is_empty() {
        return Ok(());
    }
    super::events::low_balance(conn, account_id, balance, &crossed, now)?;
    let list: Vec<String> = crossed.iter().map(|t| Money(*t).to_string()).collect();
    activity::append(
        conn,
        &NewActivity {
            account_id: Some(account_id),
            actor: "system",
            category: "credits",
            action: "low_balance",
            target: Some(account_id),
            description: &format!(
                "The balance fell to {balance}, below the low-balance alert at {}",
                list.join(", ")
            ),
            ip_hash: None,
            created_at: now,
        },
    )?;
    Ok(())
}
