//! The credit ledger: the balance is always the sum of the ledger (docs/generation.md, "Credits").

use super::changes::{self, Category, Change, Note};
use super::notify::{self, Notice};
use super::{Actor, ServiceError};
use crate::domain::{Money, Timestamp};
use crate::store::credits::{self as ledger, Entry};
use crate::store::{Db, Tx, accounts};

/// Adds credits; with a reference, the same addition made twice is applied once. Returns the new
/// balance and whether this call applied it.
pub fn add_credits(
    db: &mut Db,
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
    let tx = db.write()?;
    let account = accounts::get_account(&tx, account_id)?
        .filter(|a| a.is_live())
        .ok_or(ServiceError::NotFound("account"))?;
    if let Some(reference) = reference
        && ledger::reference_used(&tx, account_id, reference)?
    {
        return Ok((account.credit_balance, false));
    }
    let balance = add_in(&tx, actor, now, account_id, amount, reference)?;
    tx.commit()?;
    Ok((balance, true))
}

/// Adds `amount` to the ledger and the balance inside the caller's transaction, with its
/// activity row; returns the new balance.
pub(super) fn add_in(
    tx: &Tx<'_>,
    actor: &Actor,
    now: Timestamp,
    account_id: &str,
    amount: Money,
    reference: Option<&str>,
) -> Result<Money, ServiceError> {
    let label = actor.label();
    ledger::insert(
        tx,
        &Entry {
            account_id,
            kind: "add",
            amount,
            reference,
            reservation_id: None,
            actor: &label,
            created_at: now,
        },
    )?;
    let balance = ledger::move_balance(tx, account_id, amount)?;
    check_thresholds(tx, account_id, balance, now)?;
    let description = match reference {
        Some(r) => format!("Added {amount} credits (reference {r})"),
        None => format!("Added {amount} credits"),
    };
    let added = Note {
        account_id: Some(account_id),
        category: Category::Credits,
        action: "added",
        target: Some(account_id),
        description,
    };
    changes::record(tx, actor, Change::Note(added), now)?;
    Ok(balance)
}

/// Accounts whose cached balance differs from their ledger: (id, balance, ledger sum).
pub fn ledger_mismatches(tx: &Tx<'_>) -> Result<Vec<(String, Money, Money)>, ServiceError> {
    Ok(ledger::mismatches(tx)?)
}

/// Reserves `amount` for `reservation_id` inside the caller's transaction. Returns the new
/// balance, or (changing nothing) `Err` with the balance that cannot cover it.
pub fn reserve(
    tx: &Tx<'_>,
    account_id: &str,
    reservation_id: &str,
    amount: Money,
    actor: &str,
    now: Timestamp,
) -> Result<Result<Money, Money>, ServiceError> {
    let balance = ledger::balance(tx, account_id)?;
    if balance.thousandths() < amount.thousandths() {
        return Ok(Err(balance));
    }
    ledger::insert(
        tx,
        &Entry {
            account_id,
            kind: "reserve",
            amount: Money(-amount.thousandths()),
            reference: None,
            reservation_id: Some(reservation_id),
            actor,
            created_at: now,
        },
    )?;
    let balance = ledger::move_balance(tx, account_id, Money(-amount.thousandths()))?;
    check_thresholds(tx, account_id, balance, now)?;
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
    tx: &Tx<'_>,
    reservation_id: &str,
    how: Settlement,
    actor: &str,
    now: Timestamp,
) -> Result<Option<Money>, ServiceError> {
    let Some((account_id, reserved)) = ledger::reservation(tx, reservation_id)? else {
        return Ok(None);
    };
    let (kind, returned) = match how {
        Settlement::Charge => ("charge", Money::default()),
        Settlement::Refund => ("refund", reserved),
    };
    let settled = ledger::insert_settlement(
        tx,
        &Entry {
            account_id: &account_id,
            kind,
            amount: returned,
            reference: None,
            reservation_id: Some(reservation_id),
            actor,
            created_at: now,
        },
    )?;
    if !settled {
        return Ok(None);
    }
    if returned.thousandths() != 0 {
        let balance = ledger::move_balance(tx, &account_id, returned)?;
        check_thresholds(tx, &account_id, balance, now)?;
    }
    Ok(Some(returned))
}

/// Fires each armed low-balance threshold the balance has fallen below (once: it is disarmed,
/// and its notice sent: an activity row, `credits.low_balance` and the e-mail) and re-arms those the
/// balance has risen to again.
fn check_thresholds(
    tx: &Tx<'_>,
    account_id: &str,
    balance: Money,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let crossed = ledger::cross_thresholds(tx, account_id, balance)?;
    if crossed.is_empty() {
        return Ok(());
    }
    let low = Notice::LowBalance {
        account_id,
        balance,
        crossed: &crossed,
        at: now,
    };
    notify::send(tx, &low, now)?;
    Ok(())
}
