//! Generation use cases: accept (in-flight cap, credits reserved with the record, idempotency
//! stored), finish (charge or refund, once), cancel, delete, and recovery after a crash.

use rusqlite::Connection;

use super::ServiceError;
use super::credits::{self, Settlement};
use super::events::{self, GenerationChange};
use super::idempotency::{self, IdempotencyScope};
use crate::domain::{Money, Timestamp};
use crate::store::generations::{self as store, Attempt, Generation, GenerationStatus, Success};
use crate::store::write_tx;

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("in-flight generation cap of {0} reached")]
    InFlightCap(u32),
    #[error("balance {balance} cannot cover {needed}")]
    InsufficientCredits { balance: Money, needed: Money },
    /// The idempotency claim stalled and another request with the same key took it over.
    #[error("the idempotency claim was taken over")]
    ClaimLost,
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// A generation to accept, built and validated by the caller.
pub struct Accept<'a> {
    pub generation: &'a Generation,
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
pub fn accept(conn: &mut Connection, a: &Accept<'_>) -> Result<(), CreateError> {
    let g = a.generation;
    let tx = write_tx(conn).map_err(ServiceError::from)?;
    if let Some(cap) = a.max_in_flight
        && store::count_in_flight(&tx, &g.account_id).map_err(ServiceError::from)? >= i64::from(cap)
    {
        return Err(CreateError::InFlightCap(cap));
    }
    if g.cost.thousandths() > 0 {
        credits::reserve(&tx, &g.account_id, &g.id, g.cost, a.actor, g.created_at)?.map_err(
            |balance| CreateError::InsufficientCredits {
                balance,
                needed: g.cost,
            },
        )?;
    }
    store::insert(&tx, g).map_err(ServiceError::from)?;
    store::count_generation(&tx, &g.account_id, g.created_at).map_err(ServiceError::from)?;
    if let Some((scope, body)) = &a.idempotency
        && !idempotency::complete(&tx, scope, 200, body)?
    {
        return Err(CreateError::ClaimLost);
    }
    tx.commit().map_err(ServiceError::from)?;
    Ok(())
}

/// Marks a successful attempt: `succeeded`, the reservation charged, the attempt `used`. When the
/// generation was canceled or deleted meanwhile, the attempt is recorded as `discarded` and false
/// is returned (the caller removes the files).
pub fn succeed(
    conn: &mut Connection,
    g: &Generation,
    success: &Success<'_>,
    latency_ms: i64,
    now: Timestamp,
) -> Result<bool, ServiceError> {
    let tx = write_tx(conn)?;
    let done = store::succeed(&tx, &g.id, success, now)?;
    let outcome = if done {
        credits::settle(&tx, &g.id, Settlement::Charge, "system", now)?;
        store::add_charged_cost(&tx, &g.account_id, g.cost, now)?;
        if let Some(succeeded) = store::get(&tx, &g.id)? {
            events::generation(&tx, &succeeded, GenerationChange::Completed, now)?;
        }
        store::AttemptOutcome::Used
    } else {
        store::AttemptOutcome::Discarded
    };
    store::record_attempt(
        &tx,
        &Attempt {
            generation_id: &g.id,
            account_id: &g.account_id,
            provider: success.provider,
            outcome,
            error_code: None,
            error: None,
            latency_ms,
            cost: g.cost,
        },
        now,
    )?;
    tx.commit()?;
    Ok(done)
}

/// Records an attempt that did not produce the result (failed or cancelled).
pub fn record_attempt(
    conn: &mut Connection,
    attempt: &Attempt<'_>,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let tx = write_tx(conn)?;
    store::record_attempt(&tx, attempt, now)?;
    tx.commit()?;
    Ok(())
}

/// An in-flight generation → `failed` with its reservation refunded. False when it had already
/// finished (a cancel won the race).
pub fn fail(
    conn: &mut Connection,
    id: &str,
    error: &str,
    code: &str,
    now: Timestamp,
) -> Result<bool, ServiceError> {
    let tx = write_tx(conn)?;
    let failed = store::fail(&tx, id, error, code, now)?;
    if failed {
        let refunded = credits::settle(&tx, id, Settlement::Refund, "system", now)?;
        if let Some(g) = store::get(&tx, id)? {
            let refunded = refunded.unwrap_or_default();
            events::generation(&tx, &g, GenerationChange::Failed { refunded }, now)?;
        }
    }
    tx.commit()?;
    Ok(failed)
}

/// `pending` → `processing` (with its `generation.started` event); the generation as it now
/// is, or `None` when it is no longer pending (canceled or deleted meanwhile).
pub fn start(
    conn: &mut Connection,
    id: &str,
    now: Timestamp,
) -> Result<Option<Generation>, ServiceError> {
    let tx = write_tx(conn)?;
    if !store::start(&tx, id, now)? {
        return Ok(None);
    }
    let started = store::get(&tx, id)?;
    if let Some(g) = &started {
        events::generation(&tx, g, GenerationChange::Started, now)?;
    }
    tx.commit()?;
    Ok(started)
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
    tx: &Connection,
    g: &Generation,
    actor: &str,
    now: Timestamp,
) -> Result<Money, ServiceError> {
    store::cancel(tx, &g.id, now)?;
    let refunded = credits::settle(tx, &g.id, Settlement::Refund, actor, now)?.unwrap_or_default();
    events::generation(tx, g, GenerationChange::Canceled { refunded }, now)?;
    Ok(refunded)
}

/// Cancels the account's pending or processing generation and refunds its reservation.
pub fn cancel(
    conn: &mut Connection,
    account_id: &str,
    id: &str,
    actor: &str,
    now: Timestamp,
) -> Result<Canceled, CancelError> {
    let tx = write_tx(conn).map_err(ServiceError::from)?;
    let g = store::get_in(&tx, account_id, id)
        .map_err(ServiceError::from)?
        .ok_or(CancelError::NotFound)?;
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
    conn: &mut Connection,
    account_id: &str,
    id: &str,
    actor: &str,
    now: Timestamp,
) -> Result<Option<Canceled>, ServiceError> {
    let tx = write_tx(conn)?;
    let Some(g) = store::get_in(&tx, account_id, id)? else {
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

/// After a crash: generations left `processing` are failed and refunded (their provider attempt
/// is lost); `pending` ones are returned to be run again.
pub fn recover(
    conn: &mut Connection,
    now: Timestamp,
) -> Result<(Vec<String>, usize), ServiceError> {
    let mut pending = Vec::new();
    let mut failed = 0;
    for (id, status) in store::in_flight(conn)? {
        match status {
            GenerationStatus::Processing => {
                let message =
                    "The generation was interrupted by a restart; its credits were refunded.";
                if fail(conn, &id, message, "BSE4001", now)? {
                    failed += 1;
                }
            }
            _ => pending.push(id),
        }
    }
    Ok((pending, failed))
}

/// Fails and refunds every `processing` generation that started longer ago than `allowed` says
/// its provider chain may take: its worker died, or could not record the outcome. Returns how
/// many were failed.
pub fn fail_overdue(
    conn: &mut Connection,
    now: Timestamp,
    allowed: impl Fn(&[String]) -> i64,
) -> Result<u64, ServiceError> {
    let mut failed = 0;
    for (id, started, providers) in store::processing(conn)? {
        if now.millis() - started.millis() <= allowed(&providers) {
            continue;
        }
        let message = "The generation ran longer than its providers' time limits allow and was \
                       stopped; its credits were refunded.";
        if fail(conn, &id, message, "BSE4002", now)? {
            failed += 1;
        }
    }
    Ok(failed)
}
