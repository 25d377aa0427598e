//! The delivery log: what was sent to an endpoint, and the queue of what waits for a disabled
//! one.

use crate::domain::Timestamp;
use crate::domain::webhook::{Delivery, DeliveryStatus};
use crate::store::engine::Row;
use crate::store::{StoreError, Tx, ts};

const DELIVERY_COLUMNS: &str = "d.id, d.endpoint_id, d.event_id, v.event, v.generation_id,
    v.data, d.status, d.attempts, d.next_attempt_at, d.last_status_code, d.last_error,
    d.duration_ms, d.replay_of, d.created_at, d.completed_at, d.rowid";

fn delivery_from(r: &Row<'_>) -> Result<Delivery, StoreError> {
    let status: String = r.get(6)?;
    Ok(Delivery {
        id: r.get(0)?,
        endpoint_id: r.get(1)?,
        event_id: r.get(2)?,
        event: r.get(3)?,
        generation_id: r.get(4)?,
        data: r.get(5)?,
        // A status a newer version wrote reads as still on its way.
        status: DeliveryStatus::parse(&status).unwrap_or(DeliveryStatus::Pending),
        attempts: r.get(7)?,
        next_attempt_at: ts(r.get(8)?),
        last_status_code: r.get(9)?,
        last_error: r.get(10)?,
        duration_ms: r.get(11)?,
        replay_of: r.get(12)?,
        created_at: Timestamp(r.get(13)?),
        completed_at: ts(r.get(14)?),
        seq: r.get(15)?,
    })
}

/// The endpoint's deliveries, newest first, before position `before`, of one status if given.
pub fn deliveries(
    tx: &Tx<'_>,
    endpoint_id: &str,
    status: Option<DeliveryStatus>,
    before: Option<i64>,
    limit: usize,
) -> Result<Vec<Delivery>, StoreError> {
    // The casts give PostgreSQL the parameters' types where they are only tested for NULL.
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    tx.query_all(
        &format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d
             JOIN webhook_events v ON v.id = d.event_id
             WHERE d.endpoint_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR d.status = ?2)
               AND (CAST(?3 AS BIGINT) IS NULL OR d.rowid < ?3)
             ORDER BY d.rowid DESC LIMIT ?4"
        ),
        &[
            &endpoint_id,
            &status.map(DeliveryStatus::as_str),
            &before,
            &limit,
        ],
        delivery_from,
    )
}

/// Per endpoint of the account, its deliveries created from `since` on that failed for good:
/// (endpoint id, count).
pub fn failed_since(
    tx: &Tx<'_>,
    account_id: &str,
    since: i64,
) -> Result<Vec<(String, i64)>, StoreError> {
    tx.query_all(
        "SELECT e.id, count(*) FROM webhook_endpoints e
         JOIN webhook_deliveries d ON d.endpoint_id = e.id
         WHERE e.account_id = ?1 AND d.created_at >= ?2 AND d.status = 'failed'
         GROUP BY e.id",
        &[&account_id, &since],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

pub fn get_delivery(
    tx: &Tx<'_>,
    endpoint_id: &str,
    id: &str,
) -> Result<Option<Delivery>, StoreError> {
    tx.query_opt(
        &format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d
             JOIN webhook_events v ON v.id = d.event_id
             WHERE d.endpoint_id = ?1 AND d.id = ?2"
        ),
        &[&endpoint_id, &id],
        delivery_from,
    )
}

/// Queued events of the endpoint created since `since` become due now; older ones expire.
/// Returns (due now, expired).
pub fn release_queued(
    tx: &Tx<'_>,
    endpoint_id: &str,
    since: Timestamp,
    now: Timestamp,
) -> Result<(usize, usize), StoreError> {
    let expired = tx.execute(
        "UPDATE webhook_deliveries SET status = 'expired', completed_at = ?3
         WHERE endpoint_id = ?1 AND status = 'queued' AND created_at < ?2",
        &[&endpoint_id, &since.0, &now.0],
    )?;
    let due = tx.execute(
        "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?2
         WHERE endpoint_id = ?1 AND status = 'queued'",
        &[&endpoint_id, &now.0],
    )?;
    if due > 0 {
        tx.wake_deliverer_at_commit();
    }
    Ok((due, expired))
}

/// Queued events older than `before` (of every endpoint) expire.
pub fn expire_queued(tx: &Tx<'_>, before: Timestamp, now: Timestamp) -> Result<usize, StoreError> {
    tx.execute(
        "UPDATE webhook_deliveries SET status = 'expired', completed_at = ?2
         WHERE status = 'queued' AND created_at < ?1",
        &[&before.0, &now.0],
    )
}

/// Deletes up to `chunk` finished deliveries created before `before`, then the events no delivery
/// refers to any more. Returns the deliveries deleted.
pub fn purge_deliveries(tx: &Tx<'_>, before: Timestamp, chunk: i64) -> Result<u64, StoreError> {
    let deleted = tx.execute(
        "DELETE FROM webhook_deliveries WHERE rowid IN (
             SELECT rowid FROM webhook_deliveries
             WHERE created_at < ?1 AND status IN ('succeeded', 'failed', 'expired')
             LIMIT ?2)",
        &[&before.0, &chunk],
    )?;
    tx.execute(
        "DELETE FROM webhook_events WHERE created_at < ?1
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)",
        &[&before.0],
    )?;
    Ok(deleted as u64)
}
