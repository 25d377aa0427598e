//! The scheduler's use cases (docs/keys.md, "Expiry and the scheduled jobs"). Authentication never
//! depends on them: a key's status is derived from its timestamps at request time; these only
//! record events about transitions that already happened and delete rows past their retention.

use super::ServiceError;
use super::changes::KeyRef;
use super::notify::{self, Notice};
use crate::domain::Timestamp;
use crate::store::maintenance::{self as queries, ExpiryCandidate};
use crate::store::{Db, StoreError, Tx, usage_hourly, webhooks};

/// Rows deleted per transaction, so the request-log writer never waits long for the lock.
pub const PURGE_CHUNK: i64 = 5_000;
/// Keys handled per transaction by the expiry jobs.
const KEY_CHUNK: usize = 500;
/// How long an idempotency record is kept.
pub const IDEMPOTENCY_TTL_MS: i64 = 24 * 3_600_000;

/// Records the expiry of every key that expired (rotated or not) and is not revoked: sets
/// `expiry_recorded_at` and sends its `apikey.expired` notice (an activity row and the event).
/// Returns the keys recorded.
pub fn record_expired_keys(db: &mut Db, now: Timestamp) -> Result<u64, ServiceError> {
    let pending = |tx: &Tx<'_>| queries::unrecorded_expiries(tx, now, KEY_CHUNK);
    for_each_chunk(db, pending, |tx, key| {
        queries::set_expiry_recorded(tx, &key.id, now)?;
        let notice = Notice::KeyExpired {
            key: key_ref(key),
            at: key.expires_at,
        };
        notify::send(tx, &notice, now)?;
        Ok(())
    })
}

/// Warns about every key that still authenticates and expires within `warning_days`, and again
/// within its last day: one notice each per key and expiry (a key whose expiry is edited is
/// warned about again). A key found first in its last day gets the last day's notice only.
pub fn warn_expiring_keys(
    db: &mut Db,
    now: Timestamp,
    warning_days: u32,
) -> Result<u64, ServiceError> {
    let last_day = now.plus_millis(Timestamp::MS_PER_DAY);
    let until = now.plus_millis(i64::from(warning_days) * Timestamp::MS_PER_DAY);
    let mut warned = 0;
    for (from, until, days) in [(now, last_day, 1), (last_day, until, warning_days)] {
        let kind = notify::expiring_kind(days);
        let pending = |tx: &Tx<'_>| queries::unwarned_expiring(tx, from, until, &kind, KEY_CHUNK);
        warned += for_each_chunk(db, pending, |tx, key| {
            queries::set_expiry_warned(tx, &key.id, now)?;
            let notice = Notice::KeyExpiring {
                key: key_ref(key),
                at: key.expires_at,
                warning_days: days,
            };
            notify::send(tx, &notice, now)?;
            Ok(())
        })?;
    }
    Ok(warned)
}

/// Handles the keys `pending` selects (at most `KEY_CHUNK` at a time), one transaction per
/// chunk. Handling a key must take it out of the selection, or this would not end.
fn for_each_chunk(
    db: &mut Db,
    pending: impl Fn(&Tx<'_>) -> Result<Vec<ExpiryCandidate>, StoreError>,
    handle: impl Fn(&Tx<'_>, &ExpiryCandidate) -> Result<(), ServiceError>,
) -> Result<u64, ServiceError> {
    let mut done = 0;
    loop {
        let tx = db.write()?;
        let keys = pending(&tx)?;
        for key in &keys {
            handle(&tx, key)?;
        }
        tx.commit()?;
        done += keys.len() as u64;
        if keys.len() < KEY_CHUNK {
            return Ok(done);
        }
    }
}

fn key_ref(key: &ExpiryCandidate) -> KeyRef<'_> {
    KeyRef {
        account_id: &key.account_id,
        id: &key.id,
        name: &key.name,
        prefix: &key.key_prefix,
        expires_at: Some(key.expires_at),
    }
}

/// What the request-log purge removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgedLogs {
    pub request_logs: u64,
    pub refusal_rows: u64,
    pub webhook_deliveries: u64,
    /// Rows (of the log and of the refusal counts) whose client address was cleared.
    pub client_addresses: u64,
}

/// How long the request log keeps what.
#[derive(Clone, Copy, Debug)]
pub struct LogRetention {
    /// Days a row is kept.
    pub days: u32,
    /// Days a row keeps its client address in clear (docs/keys.md, "Request log").
    pub client_ip_days: u32,
}

/// Deletes request-log rows and per-day refusal counts older than `retention.days`, and clears
/// the client addresses older than `retention.client_ip_days` (a day's refusal count loses its
/// address once that day's start is; the hashes stay). The daily usage roll-ups stay; the
/// hourly ones go after 90 days.
/// Webhook deliveries finished before the same cutoff go too, and events queued for a disabled
/// endpoint longer than `queue_hours` expire.
pub fn purge_request_logs(
    db: &mut Db,
    now: Timestamp,
    retention: LogRetention,
    queue_hours: u32,
) -> Result<PurgedLogs, ServiceError> {
    let cutoff = now.plus_millis(-i64::from(retention.days) * Timestamp::MS_PER_DAY);
    let request_logs = delete_in_chunks(db, |c| {
        queries::delete_request_logs_before(c, cutoff, PURGE_CHUNK)
    })?;
    let clear_before =
        now.plus_millis(-i64::from(retention.client_ip_days) * Timestamp::MS_PER_DAY);
    let mut client_addresses = clear_addresses(db, clear_before)?;
    let tx = db.write()?;
    let refusal_rows = queries::delete_refusals_before(&tx, &cutoff.day())?;
    client_addresses += queries::clear_refusal_addresses_through(&tx, &clear_before.day())?;
    let queued_before = now.plus_millis(-i64::from(queue_hours) * 3_600_000);
    webhooks::expire_queued(&tx, queued_before, now)?;
    notify::forget_spent(&tx, now)?;
    tx.commit()?;
    delete_in_chunks(db, |c| crate::store::email::purge(c, cutoff, PURGE_CHUNK))?;
    let webhook_deliveries =
        delete_in_chunks(db, |c| webhooks::purge_deliveries(c, cutoff, PURGE_CHUNK))?;
    // The charts' hourly roll-ups are kept for their longest range, whatever the log retention.
    let first_hour = now.0.div_euclid(Timestamp::MS_PER_HOUR) - usage_hourly::KEPT_HOURS;
    delete_in_chunks(db, |c| {
        usage_hourly::delete_before(c, first_hour, PURGE_CHUNK)
    })?;
    Ok(PurgedLogs {
        request_logs,
        refusal_rows,
        webhook_deliveries,
        client_addresses,
    })
}

/// Clears the client addresses of the rows that arrived before `cutoff`: from the oldest row
/// to the newest that can have arrived before it, `PURGE_CHUNK` ids a transaction.
fn clear_addresses(db: &mut Db, cutoff: Timestamp) -> Result<u64, ServiceError> {
    let (first, through) = {
        let tx = db.read();
        (
            queries::first_log_id(&tx)?,
            crate::store::logs::last_id_before(&tx, cutoff.0)?,
        )
    };
    let (Some(mut from), Some(through)) = (first, through) else {
        return Ok(0);
    };
    let mut cleared = 0;
    while from <= through {
        let tx = db.write()?;
        cleared += queries::clear_log_addresses(&tx, from, through, PURGE_CHUNK, cutoff)?;
        tx.commit()?;
        from += PURGE_CHUNK;
    }
    Ok(cleared)
}

/// Deletes idempotency records older than 24 hours; returns how many went.
pub fn purge_idempotency_keys(db: &mut Db, now: Timestamp) -> Result<u64, ServiceError> {
    let cutoff = now.plus_millis(-IDEMPOTENCY_TTL_MS);
    delete_in_chunks(db, |c| {
        queries::delete_idempotency_keys_before(c, cutoff, PURGE_CHUNK)
    })
}

/// Runs `delete` (at most `PURGE_CHUNK` rows) in its own transaction until it deletes less; a
/// change that clears a column runs the same way.
fn delete_in_chunks(
    db: &mut Db,
    delete: impl Fn(&Tx<'_>) -> Result<u64, StoreError>,
) -> Result<u64, ServiceError> {
    let mut total = 0;
    loop {
        let tx = db.write()?;
        let n = delete(&tx)?;
        tx.commit()?;
        total += n;
        if n < PURGE_CHUNK as u64 {
            return Ok(total);
        }
    }
}
