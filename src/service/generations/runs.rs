//! What the generation workers record as they run a generation: the start, each provider
//! attempt, and the outcome (charged or refunded, once), each write in its own transaction on
//! the blocking pool; and what a restart or an overdue generation needs undone.

use super::super::Actor;
use super::super::ServiceError;
use super::super::changes::{self, Change, GenerationChange};
use super::super::credits::{self, Settlement};
use super::{AttemptOutcome, Generation, GenerationStatus};
use crate::domain::{Money, Timestamp};
use crate::store::generations::{self as store, Attempt, Success};
use crate::store::{Db, Store};

/// What became of one provider attempt that did not produce the result.
#[derive(Clone, Debug)]
pub struct AttemptReport {
    pub provider: String,
    pub outcome: AttemptOutcome,
    /// The BSE code and the reason of a failed attempt.
    pub error: Option<(&'static str, String)>,
    pub latency_ms: i64,
}

/// The attempt that produced the result, and the files stored from it.
#[derive(Clone, Debug)]
pub struct SuccessReport {
    pub provider: String,
    pub prediction_id: Option<String>,
    pub files: Vec<String>,
    pub predict_ms: Option<i64>,
    pub latency_ms: i64,
}

/// `pending` → `processing` (with its `generation.started` event); the generation as it now
/// is, or `None` when it is no longer pending (canceled or deleted meanwhile).
pub async fn start(
    store: &Store,
    id: &str,
    now: Timestamp,
) -> Result<Option<Generation>, ServiceError> {
    let id = id.to_owned();
    let node = store.node().to_owned();
    store
        .run(move |db| {
            let tx = db.write()?;
            if !store::start(&tx, &id, now, &node)? {
                return Ok(None);
            }
            let started = store::get(&tx, &id)?;
            if let Some(g) = &started {
                let started = Change::Generation(g, GenerationChange::Started);
                changes::record(&tx, &Actor::System, started, now)?;
            }
            tx.commit()?;
            Ok(started)
        })
        .await
}

/// Records an attempt that did not produce the result (failed, cancelled or discarded).
pub async fn record_attempt(
    store: &Store,
    g: &Generation,
    report: &AttemptReport,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let (gid, account, cost) = (g.id.clone(), g.account_id.clone(), g.cost);
    let report = report.clone();
    store
        .run(move |db| {
            let tx = db.write()?;
            let error = report.error.as_ref();
            let attempt = Attempt {
                generation_id: &gid,
                account_id: &account,
                provider: &report.provider,
                outcome: report.outcome,
                error_code: error.map(|e| e.0),
                error: error.map(|e| e.1.as_str()),
                latency_ms: report.latency_ms,
                cost,
            };
            store::record_attempt(&tx, &attempt, now)?;
            tx.commit()?;
            Ok(())
        })
        .await
}

/// Marks a successful attempt: `succeeded`, the reservation charged, the attempt `used`. When the
/// generation was canceled or deleted meanwhile, the attempt is recorded as `discarded` and false
/// is returned (the caller removes the files).
pub async fn succeed(
    store: &Store,
    g: &Generation,
    report: &SuccessReport,
    now: Timestamp,
) -> Result<bool, ServiceError> {
    let (g, report) = (g.clone(), report.clone());
    store
        .run(move |db| {
            let tx = db.write()?;
            let success = Success {
                provider: &report.provider,
                prediction_id: report.prediction_id.as_deref(),
                files: &report.files,
                predict_ms: report.predict_ms,
            };
            let done = store::succeed(&tx, &g.id, &success, now)?;
            let outcome = if done {
                credits::settle(&tx, &g.id, Settlement::Charge, "system", now)?;
                store::add_charged_cost(&tx, &g.account_id, g.cost, now)?;
                if let Some(succeeded) = store::get(&tx, &g.id)? {
                    let completed = Change::Generation(&succeeded, GenerationChange::Completed);
                    changes::record(&tx, &Actor::System, completed, now)?;
                }
                AttemptOutcome::Used
            } else {
                AttemptOutcome::Discarded
            };
            let attempt = Attempt {
                generation_id: &g.id,
                account_id: &g.account_id,
                provider: &report.provider,
                outcome,
                error_code: None,
                error: None,
                latency_ms: report.latency_ms,
                cost: g.cost,
            };
            store::record_attempt(&tx, &attempt, now)?;
            tx.commit()?;
            Ok(done)
        })
        .await
}

/// An in-flight generation → `failed` with its reservation refunded. False when it had already
/// finished (a cancel won the race).
pub async fn fail(
    store: &Store,
    id: &str,
    error: &str,
    code: &'static str,
    now: Timestamp,
) -> Result<bool, ServiceError> {
    let (id, error) = (id.to_owned(), error.to_owned());
    store
        .run(move |db| fail_in_flight(db, &id, &error, code, now))
        .await
}

fn fail_in_flight(
    db: &mut Db,
    id: &str,
    error: &str,
    code: &str,
    now: Timestamp,
) -> Result<bool, ServiceError> {
    let tx = db.write()?;
    let failed = store::fail(&tx, id, error, code, now)?;
    if failed {
        let refunded = credits::settle(&tx, id, Settlement::Refund, "system", now)?;
        if let Some(g) = store::get(&tx, id)? {
            let refunded: Money = refunded.unwrap_or_default();
            let failed = Change::Generation(&g, GenerationChange::Failed { refunded });
            changes::record(&tx, &Actor::System, failed, now)?;
        }
    }
    tx.commit()?;
    Ok(failed)
}

/// After a crash: generations left `processing` are failed and refunded (their provider attempt
/// is lost); `pending` ones are returned to be run again, with how many were failed. On SQLite
/// the store has one node, so that is everything in flight; on PostgreSQL it is what nodes that
/// are gone (their lease ran out) left, which every node also takes over while it runs
/// (`take_over`).
pub async fn recover(store: &Store, now: Timestamp) -> Result<(Vec<String>, usize), ServiceError> {
    if store.engine() == crate::store::Engine::Postgres {
        return take_over(store, now).await;
    }
    store
        .run(move |db| {
            let mut pending = Vec::new();
            let mut failed = 0;
            let in_flight = store::in_flight(&db.read())?;
            for (id, status) in in_flight {
                match status {
                    GenerationStatus::Processing => {
                        let message = "The generation was interrupted by a restart; its credits \
                                       were refunded.";
                        if fail_in_flight(db, &id, message, "BSE4001", now)? {
                            failed += 1;
                        }
                    }
                    _ => pending.push(id),
                }
            }
            Ok((pending, failed))
        })
        .await
}

/// What nodes that are gone left in flight: their `processing` generations are failed and
/// refunded, their `pending` ones become this node's to run (returned, with how many failed).
pub async fn take_over(
    store: &Store,
    now: Timestamp,
) -> Result<(Vec<String>, usize), ServiceError> {
    let me = store.node().to_owned();
    store
        .run(move |db| {
            let mut pending = Vec::new();
            let mut failed = 0;
            let orphans = store::orphans(&db.read(), &me, now)?;
            for (id, status, from) in orphans {
                match status {
                    GenerationStatus::Processing => {
                        let message = "The generation was interrupted: the node running it \
                                       stopped. Its credits were refunded.";
                        if fail_in_flight(db, &id, message, "BSE4001", now)? {
                            failed += 1;
                        }
                    }
                    _ => {
                        let tx = db.write()?;
                        if store::adopt(&tx, &id, from.as_deref(), &me)? {
                            pending.push(id);
                        }
                        tx.commit()?;
                    }
                }
            }
            Ok((pending, failed))
        })
        .await
}

/// Fails and refunds every `processing` generation that started longer ago than `allowed` says
/// its provider chain may take: its worker died, or could not record the outcome. Returns how
/// many were failed.
pub fn fail_overdue(
    db: &mut Db,
    now: Timestamp,
    allowed: impl Fn(&[String]) -> i64,
) -> Result<u64, ServiceError> {
    let mut failed = 0;
    let processing = store::processing(&db.read())?;
    for (id, started, providers) in processing {
        if now.millis() - started.millis() <= allowed(&providers) {
            continue;
        }
        let message = "The generation ran longer than its providers' time limits allow and was \
                       stopped; its credits were refunded.";
        if fail_in_flight(db, &id, message, "BSE4002", now)? {
            failed += 1;
        }
    }
    Ok(failed)
}
