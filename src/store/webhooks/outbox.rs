//! The outbox: events written in the transaction of the change that produced them, one
//! delivery per listening endpoint, claimed by the deliverer under a lease. Writing a delivery
//! that is due now wakes the deliverer when its transaction commits.

use std::collections::HashMap;

use crate::domain::Timestamp;
use crate::store::{Db, StoreError, Tx, ts};

/// The endpoints of the account that listen to `event`: (id, enabled).
pub fn listeners(
    tx: &Tx<'_>,
    account_id: &str,
    event: &str,
) -> Result<Vec<(String, bool)>, StoreError> {
    // The events an endpoint listens to are a JSON array, matched here rather than in SQL
    // (SQLite's json_each and PostgreSQL's jsonb functions have no form in common); an account
    // has few endpoints.
    let mut listening = Vec::new();
    tx.each(
        "SELECT e.id, e.enabled, e.events FROM webhook_endpoints e
         WHERE e.account_id = ?1
         ORDER BY e.created_at, e.id",
        &[&account_id],
        |r| {
            let events: String = r.get(2)?;
            if listens(&events, event) {
                listening.push((r.get(0)?, r.get::<i64>(1)? != 0));
            }
            Ok(true)
        },
    )?;
    Ok(listening)
}

/// Whether a JSON array of event names holds `event`.
fn listens(events: &str, event: &str) -> bool {
    serde_json::from_str::<Vec<serde_json::Value>>(events)
        .is_ok_and(|names| names.iter().any(|name| name.as_str() == Some(event)))
}

pub fn insert_event(
    tx: &Tx<'_>,
    account_id: &str,
    event: &str,
    generation_id: Option<&str>,
    data: &str,
    now: Timestamp,
) -> Result<i64, StoreError> {
    tx.query_one(
        "INSERT INTO webhook_events (account_id, event, generation_id, data, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         RETURNING id",
        &[&account_id, &event, &generation_id, &data, &now.0],
        |r| r.get(0),
    )
}

/// A delivery of event `event_id` to `endpoint_id`: due now, or queued for a disabled endpoint.
pub fn insert_delivery(
    tx: &Tx<'_>,
    id: &str,
    endpoint_id: &str,
    event_id: i64,
    due: bool,
    replay_of: Option<&str>,
    now: Timestamp,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, status, next_attempt_at,
             replay_of, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        &[
            &id,
            &endpoint_id,
            &event_id,
            &if due { "pending" } else { "queued" },
            &due.then_some(now.0),
            &replay_of,
            &now.0,
        ],
    )?;
    if due {
        tx.wake_deliverer_at_commit();
    }
    Ok(())
}

/// A delivery to make now, with what signing and sending it needs.
#[derive(Clone, Debug)]
pub struct Due {
    pub id: String,
    pub endpoint_id: String,
    pub url: String,
    pub secret: String,
    pub event: String,
    pub data: String,
    pub attempts: i64,
    pub created_at: Timestamp,
}

/// Takes up to `limit` deliveries that are due, at most `per_endpoint` per endpoint less those
/// already being sent (`sending`: endpoint id → count, as a JSON object), and leases them until
/// `now + lease_ms` so no other sender takes them meanwhile.
pub fn claim_due(
    db: &mut Db,
    now: Timestamp,
    limit: usize,
    per_endpoint: usize,
    sending: &str,
    lease_ms: i64,
) -> Result<Vec<Due>, StoreError> {
    let write = db.write()?;
    let per_endpoint = i64::try_from(per_endpoint).unwrap_or(i64::MAX);
    // What is being sent, per endpoint, is taken off that endpoint's allowance here rather than
    // in SQL (SQLite's json_extract has no form in common with PostgreSQL's jsonb operators).
    let sending: HashMap<String, i64> = serde_json::from_str(sending).unwrap_or_default();
    let allowance = |endpoint_id: &str| {
        per_endpoint.saturating_sub(sending.get(endpoint_id).copied().unwrap_or(0).max(0))
    };
    // That takes at most min(sending, per_endpoint) rows of each endpoint out of what the query
    // returns, so the first `limit` of those left are among its first `limit` plus that many.
    let taken_out = sending
        .values()
        .fold(0i64, |n, s| n.saturating_add((*s).clamp(0, per_endpoint)));
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    // No `skip_locked()`: PostgreSQL refuses FOR UPDATE with a window function. The claim holds
    // the write lock (on PostgreSQL the advisory lock every write transaction takes), and the
    // lease keeps the rows from the next claim.
    let mut due = Vec::new();
    write.each(
        "SELECT d.id, d.endpoint_id, e.url, e.secret, v.event, v.data, d.attempts, d.created_at,
                d.n
         FROM (SELECT d.*, d.rowid AS seq, ROW_NUMBER() OVER (
                   PARTITION BY d.endpoint_id ORDER BY d.next_attempt_at, d.rowid) AS n
               FROM webhook_deliveries d
               WHERE d.status = 'pending' AND d.next_attempt_at <= ?1
                 AND (d.lease_until IS NULL OR d.lease_until <= ?1)) d
         JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled = 1
         JOIN webhook_events v ON v.id = d.event_id
         WHERE d.n <= ?2
         ORDER BY d.next_attempt_at, d.seq
         LIMIT ?3",
        &[&now.0, &per_endpoint, &limit.saturating_add(taken_out)],
        |r| {
            if i64::try_from(due.len()).unwrap_or(i64::MAX) >= limit {
                return Ok(false);
            }
            let endpoint_id: String = r.get(1)?;
            if r.get::<i64>(8)? <= allowance(&endpoint_id) {
                due.push(Due {
                    id: r.get(0)?,
                    endpoint_id,
                    url: r.get(2)?,
                    secret: r.get(3)?,
                    event: r.get(4)?,
                    data: r.get(5)?,
                    attempts: r.get(6)?,
                    created_at: Timestamp(r.get(7)?),
                });
            }
            Ok(true)
        },
    )?;
    for d in &due {
        write.execute(
            "UPDATE webhook_deliveries SET lease_until = ?2 WHERE id = ?1",
            &[&d.id, &(now.0 + lease_ms)],
        )?;
    }
    write.commit()?;
    Ok(due)
}

/// When the next pending delivery is due, if any is.
pub fn next_due_at(tx: &Tx<'_>) -> Result<Option<Timestamp>, StoreError> {
    // The later of the two, as SQLite's two-argument max() gives it (PostgreSQL has GREATEST,
    // SQLite has not): NULL when next_attempt_at is.
    Ok(ts(tx.query_one(
        "SELECT min(CASE WHEN COALESCE(lease_until, 0) > next_attempt_at
                         THEN COALESCE(lease_until, 0) ELSE next_attempt_at END)
         FROM webhook_deliveries
         WHERE status = 'pending'",
        &[],
        |r| r.get(0),
    )?))
}

/// Frees the leases a stopped sender held, so what it was sending is sent again.
pub fn release_leases(tx: &Tx<'_>) -> Result<usize, StoreError> {
    tx.execute(
        "UPDATE webhook_deliveries SET lease_until = NULL
         WHERE status = 'pending' AND lease_until IS NOT NULL",
        &[],
    )
}

/// What one attempt at a delivery came to.
#[derive(Clone, Debug)]
pub struct Attempted<'a> {
    pub id: &'a str,
    pub status_code: Option<u16>,
    pub error: Option<&'a str>,
    pub duration_ms: i64,
    /// `Some(at)`: tried again at `at`; `None`: done, succeeded or failed for good.
    pub retry_at: Option<Timestamp>,
    pub succeeded: bool,
}

/// Records an attempt; returns the endpoint's consecutive failed deliveries after it.
pub fn record_attempt(
    tx: &Tx<'_>,
    endpoint_id: &str,
    a: &Attempted<'_>,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let status = match (a.succeeded, a.retry_at) {
        (true, _) => "succeeded",
        (false, Some(_)) => "pending",
        (false, None) => "failed",
    };
    let changed = tx.execute(
        "UPDATE webhook_deliveries SET status = ?2, attempts = attempts + 1, next_attempt_at = ?3,
             lease_until = NULL, last_status_code = ?4, last_error = ?5, duration_ms = ?6,
             completed_at = ?7
         WHERE id = ?1",
        &[
            &a.id,
            &status,
            &a.retry_at.map(|t| t.0),
            &a.status_code,
            &a.error,
            &a.duration_ms,
            &(status != "pending").then_some(now.0),
        ],
    )?;
    // A delivery deleted with its endpoint meanwhile changes nothing.
    if changed == 0 || status == "pending" {
        return Ok(0);
    }
    let sql = if a.succeeded {
        "UPDATE webhook_endpoints SET consecutive_failures = 0 WHERE id = ?1
         RETURNING consecutive_failures"
    } else {
        "UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1
         WHERE id = ?1 RETURNING consecutive_failures"
    };
    Ok(tx
        .query_opt(sql, &[&endpoint_id], |r| r.get(0))?
        .unwrap_or(0))
}
