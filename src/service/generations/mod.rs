//! Generation use cases: accept (in-flight cap, credits reserved with the record, idempotency
//! stored), cancel and delete; what the workers record is in [`runs`].

mod roster;
pub(crate) mod runs;

use std::future::Future;
use std::pin::Pin;

use super::Actor;
use super::ServiceError;
use super::changes::{self, Change, GenerationChange, KeyRef};
use super::credits::{self, Settlement};
use super::idempotency::{self, IdempotencyScope};
use super::notify::{self, Notice};
use crate::domain::key::ApiKey;
use crate::domain::key::budget::Budget;
use crate::domain::name::can_match;
use crate::domain::{Money, Timestamp};
use crate::store::generations as store;
use crate::store::{Db, Tx, keys};

pub use crate::domain::generation::{AttemptOutcome, Generation, GenerationStatus};
pub use roster::{Roster, load_catalog};
pub use runs::fail_overdue;

/// What the use cases need of the generation workers, which live in `jobs`; the application
/// fills it in with the worker pool when it starts.
pub trait Workers: Send + Sync {
    /// Puts an accepted generation in this node's queue.
    fn enqueue(&self, id: String);

    /// Stops the worker running `id`, if one of this node's does, and asks the upstream of its
    /// attempt to cancel. True when the running attempt was reached.
    fn stop<'a>(&'a self, id: &'a str) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>>;
}

/// The account's generation; another account's is indistinguishable from a missing one.
pub fn get_in(tx: &Tx<'_>, account_id: &str, id: &str) -> Result<Generation, ServiceError> {
    find_in(tx, account_id, id)?.ok_or(ServiceError::NotFound("generation"))
}

/// The account's generation, if there is one.
pub fn find_in(
    tx: &Tx<'_>,
    account_id: &str,
    id: &str,
) -> Result<Option<Generation>, ServiceError> {
    if !can_match(id) {
        return Ok(None);
    }
    Ok(store::get_in(tx, account_id, id)?)
}

/// The account's generations still pending or processing.
pub fn count_in_flight(tx: &Tx<'_>, account_id: &str) -> Result<i64, ServiceError> {
    Ok(store::count_in_flight(tx, account_id)?)
}

/// A page of the account's generations, newest first, and how many there are.
pub fn list(
    tx: &Tx<'_>,
    account_id: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Generation>, i64), ServiceError> {
    Ok(store::list(tx, account_id, limit, offset)?)
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("in-flight generation cap of {0} reached")]
    InFlightCap(u32),
    #[error("balance {balance} cannot cover {needed}")]
    InsufficientCredits { balance: Money, needed: Money },
    /// The key's budget for the period cannot cover it; `spent` so far, renewed at `resets_at`.
    #[error("the key's budget {} a {} cannot cover {needed} more", .budget.credits, .budget.period.as_str())]
    KeyBudgetExceeded {
        budget: Budget,
        spent: Money,
        needed: Money,
        resets_at: Timestamp,
    },
    /// The idempotency claim stalled and another request with the same key took it over.
    #[error("the idempotency claim was taken over")]
    ClaimLost,
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// A generation to accept, built and validated by the caller.
pub struct Accept<'a> {
    pub generation: &'a Generation,
    /// The node whose queue it joins.
    pub node: &'a str,
    /// The plan's in-flight cap, if any.
    pub max_in_flight: Option<u32>,
    /// Who the ledger names, e.g. `key:bye_AbCd1`.
    pub actor: &'a str,
    /// The claimed idempotency key and the response to store with it.
    pub idempotency: Option<(&'a IdempotencyScope, &'a [u8])>,
}

/// In one transaction: checks the cap, reserves the cost (the generation id is the reservation
/// id), records the generation and stores the idempotent response. Nothing is written when the
/// cap or the balance refuses it.
pub fn accept(db: &mut Db, a: &Accept<'_>) -> Result<(), CreateError> {
    let g = a.generation;
    let tx = db.write().map_err(ServiceError::from)?;
    if let Some(cap) = a.max_in_flight
        && store::count_in_flight(&tx, &g.account_id).map_err(ServiceError::from)? >= i64::from(cap)
    {
        return Err(CreateError::InFlightCap(cap));
    }
    if g.cost.thousandths() > 0 {
        let budgeted = within_budget(&tx, g)?;
        credits::reserve(&tx, &g.account_id, &g.id, g.cost, a.actor, g.created_at)?.map_err(
            |balance| CreateError::InsufficientCredits {
                balance,
                needed: g.cost,
            },
        )?;
        if let Some((key, budget, spent, start)) = budgeted {
            let after = Money(spent.thousandths() + g.cost.thousandths());
            for percent in budget.crossed(spent, after) {
                let notice = Notice::BudgetReached {
                    key: KeyRef::of(&key),
                    percent,
                    budget,
                    spent: after,
                    period_start: start,
                };
                notify::send(&tx, &notice, g.created_at)?;
            }
        }
    }
    store::insert(&tx, g).map_err(ServiceError::from)?;
    store::assign(&tx, &g.id, a.node).map_err(ServiceError::from)?;
    store::count_generation(&tx, &g.account_id, g.created_at).map_err(ServiceError::from)?;
    if let Some((scope, body)) = &a.idempotency
        && !idempotency::complete(&tx, scope, 200, body)?
    {
        return Err(CreateError::ClaimLost);
    }
    tx.commit().map_err(ServiceError::from)?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("generation not found")]
    NotFound,
    #[error("generation is {} and cannot be canceled", .0.as_str())]
    NotCancelable(GenerationStatus),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// What a cancel did.
#[derive(Clone, Debug)]
pub struct Canceled {
    pub generation: Generation,
    pub refunded: Money,
}

fn cancel_in(
    tx: &Tx<'_>,
    g: &Generation,
    actor: &str,
    now: Timestamp,
) -> Result<Money, ServiceError> {
    store::cancel(tx, &g.id, now)?;
    let refunded = credits::settle(tx, &g.id, Settlement::Refund, actor, now)?.unwrap_or_default();
    let canceled = Change::Generation(g, GenerationChange::Canceled { refunded });
    changes::record(tx, &Actor::System, canceled, now)?;
    Ok(refunded)
}

/// Cancels the account's pending or processing generation and refunds its reservation.
pub fn cancel(
    db: &mut Db,
    account_id: &str,
    id: &str,
    actor: &str,
    now: Timestamp,
) -> Result<Canceled, CancelError> {
    let tx = db.write().map_err(ServiceError::from)?;
    let g = find_in(&tx, account_id, id)?.ok_or(CancelError::NotFound)?;
    if !g.status.in_flight() {
        return Err(CancelError::NotCancelable(g.status));
    }
    let refunded = cancel_in(&tx, &g, actor, now)?;
    tx.commit().map_err(ServiceError::from)?;
    Ok(Canceled {
        generation: g,
        refunded,
    })
}

/// Deletes the account's generation record; an in-flight one is canceled and refunded first.
/// Returns the record as it was and whether it was in flight. The caller removes the files.
pub fn delete(
    db: &mut Db,
    account_id: &str,
    id: &str,
    actor: &str,
    now: Timestamp,
) -> Result<Option<Canceled>, ServiceError> {
    let tx = db.write()?;
    let Some(g) = find_in(&tx, account_id, id)? else {
        return Ok(None);
    };
    let refunded = if g.status.in_flight() {
        cancel_in(&tx, &g, actor, now)?
    } else {
        Money::default()
    };
    store::delete(&tx, id)?;
    tx.commit()?;
    Ok(Some(Canceled {
        generation: g,
        refunded,
    }))
}

/// Checks the generation's cost against its key's credit budget for the period, before anything
/// is reserved: the key, its budget, what it spent so far in the period and when that began;
/// `None` when the key has no budget.
#[allow(clippy::type_complexity)]
fn within_budget(
    tx: &Tx<'_>,
    g: &Generation,
) -> Result<Option<(ApiKey, Budget, Money, Timestamp)>, CreateError> {
    let Some(key_id) = g.key_id.as_deref() else {
        return Ok(None);
    };
    let Some(key) = keys::get_key(tx, key_id).map_err(ServiceError::from)? else {
        return Ok(None);
    };
    let Some(budget) = key.budget else {
        return Ok(None);
    };
    let (start, end) = budget.period.bounds(g.created_at);
    let spent = keys::spent_since(tx, key_id, start).map_err(ServiceError::from)?;
    if spent.thousandths() + g.cost.thousandths() > budget.credits.thousandths() {
        return Err(CreateError::KeyBudgetExceeded {
            budget,
            spent,
            needed: g.cost,
            resets_at: end,
        });
    }
    Ok(Some((key, budget, spent, start)))
}
