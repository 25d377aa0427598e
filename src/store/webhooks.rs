//! Webhook endpoints and their outbox: events written with the change that produced them, one
//! delivery per listening endpoint, claimed by the deliverer under a lease.

use std::cell::Cell;
use std::collections::HashMap;

use super::Tx;
use super::engine::Row;
use super::{StoreError, ts};
use crate::domain::Timestamp;

#[derive(Clone, Debug)]
pub struct Endpoint {
    pub id: String,
    pub account_id: String,
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub consecutive_failures: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub secret_rotated_at: Option<Timestamp>,
}

/// An endpoint as lists show it: with its last delivery and how many events wait for it.
#[derive(Clone, Debug)]
pub struct EndpointSummary {
    pub endpoint: Endpoint,
    pub last_delivery_status: Option<String>,
    pub last_delivery_code: Option<i64>,
    pub last_delivery_at: Option<Timestamp>,
    pub queued: i64,
}

const ENDPOINT_COLUMNS: &str = "e.id, e.account_id, e.url, e.description, e.events, e.enabled,
    e.disabled_reason, e.consecutive_failures, e.created_at, e.updated_at, e.secret_rotated_at";

fn endpoint_from(r: &Row<'_>) -> Result<Endpoint, StoreError> {
    let events: String = r.get(4)?;
    Ok(Endpoint {
        id: r.get(0)?,
        account_id: r.get(1)?,
        url: r.get(2)?,
        description: r.get(3)?,
        events: serde_json::from_str(&events).unwrap_or_default(),
        enabled: r.get::<i64>(5)? != 0,
        disabled_reason: r.get(6)?,
        consecutive_failures: r.get(7)?,
        created_at: Timestamp(r.get(8)?),
        updated_at: Timestamp(r.get(9)?),
        secret_rotated_at: ts(r.get(10)?),
    })
}

fn events_json(events: &[&str]) -> String {
    serde_json::to_string(events).unwrap_or_else(|_| "[]".into())
}

pub struct NewEndpoint<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    pub url: &'a str,
    pub description: &'a str,
    pub events: &'a [&'a str],
    pub secret: &'a str,
    pub enabled: bool,
    pub now: Timestamp,
}

pub fn insert_endpoint(tx: &Tx<'_>, e: &NewEndpoint<'_>) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO webhook_endpoints (id, account_id, url, description, events, secret, enabled,
             disabled_reason, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
        &[
            &e.id,
            &e.account_id,
            &e.url,
            &e.description,
            &events_json(e.events),
            &e.secret,
            &e.enabled,
            &(!e.enabled).then_some("manual"),
            &e.now.0,
        ],
    )?;
    Ok(())
}

pub fn count_endpoints(tx: &Tx<'_>, account_id: &str) -> Result<i64, StoreError> {
    tx.query_one(
        "SELECT count(*) FROM webhook_endpoints WHERE account_id = ?1",
        &[&account_id],
        |r| r.get(0),
    )
}

/// The account's endpoint `id`.
pub fn get_endpoint(
    tx: &Tx<'_>,
    account_id: &str,
    id: &str,
) -> Result<Option<Endpoint>, StoreError> {
    tx.query_opt(
        &format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints e
             WHERE e.account_id = ?1 AND e.id = ?2"
        ),
        &[&account_id, &id],
        endpoint_from,
    )
}

/// Endpoint `id`, whichever account it is of.
pub fn get_endpoint_any(tx: &Tx<'_>, id: &str) -> Result<Option<Endpoint>, StoreError> {
    tx.query_opt(
        &format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints e WHERE e.id = ?1"),
        &[&id],
        endpoint_from,
    )
}

/// The signing secret of endpoint `id`.
pub fn endpoint_secret(tx: &Tx<'_>, id: &str) -> Result<Option<String>, StoreError> {
    tx.query_opt(
        "SELECT secret FROM webhook_endpoints WHERE id = ?1",
        &[&id],
        |r| r.get(0),
    )
}

pub fn list_endpoints(tx: &Tx<'_>, account_id: &str) -> Result<Vec<EndpointSummary>, StoreError> {
    // NULLS LAST: SQLite's order for DESC, which PostgreSQL would otherwise reverse.
    tx.query_all(
        &format!(
            "SELECT {ENDPOINT_COLUMNS}, last.status, last.last_status_code,
                    COALESCE(last.completed_at, last.created_at),
                    (SELECT count(*) FROM webhook_deliveries q
                     WHERE q.endpoint_id = e.id AND q.status = 'queued')
             FROM webhook_endpoints e
             LEFT JOIN webhook_deliveries last ON last.id = (
                 SELECT d.id FROM webhook_deliveries d
                 WHERE d.endpoint_id = e.id AND d.status IN ('succeeded', 'failed')
                 ORDER BY d.completed_at DESC NULLS LAST, d.rowid DESC LIMIT 1)
             WHERE e.account_id = ?1
             ORDER BY e.created_at, e.id"
        ),
        &[&account_id],
        |r| {
            Ok(EndpointSummary {
                endpoint: endpoint_from(r)?,
                last_delivery_status: r.get(11)?,
                last_delivery_code: r.get(12)?,
                last_delivery_at: ts(r.get(13)?),
                queued: r.get(14)?,
            })
        },
    )
}

pub fn update_endpoint(
    tx: &Tx<'_>,
    id: &str,
    url: &str,
    description: &str,
    events: &[&str],
    now: Timestamp,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE webhook_endpoints SET url = ?2, description = ?3, events = ?4, updated_at = ?5
         WHERE id = ?1",
        &[&id, &url, &description, &events_json(events), &now.0],
    )?;
    Ok(())
}

/// Enables the endpoint (its failure count starts over), or disables it for `reason`: what was
/// waiting to be sent to it is queued instead.
pub fn set_enabled(
    tx: &Tx<'_>,
    id: &str,
    enabled: Option<&str>,
    now: Timestamp,
) -> Result<(), StoreError> {
    match enabled {
        None => {
            tx.execute(
                "UPDATE webhook_endpoints SET enabled = 1, disabled_reason = NULL,
                     consecutive_failures = 0, updated_at = ?2
                 WHERE id = ?1",
                &[&id, &now.0],
            )?;
        }
        Some(reason) => {
            tx.execute(
                "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ?2, updated_at = ?3
                 WHERE id = ?1",
                &[&id, &reason, &now.0],
            )?;
            tx.execute(
                "UPDATE webhook_deliveries SET status = 'queued', next_attempt_at = NULL
                 WHERE endpoint_id = ?1 AND status = 'pending'",
                &[&id],
            )?;
        }
    }
    Ok(())
}

pub fn set_secret(tx: &Tx<'_>, id: &str, secret: &str, now: Timestamp) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE webhook_endpoints SET secret = ?2, secret_rotated_at = ?3, updated_at = ?3
         WHERE id = ?1",
        &[&id, &secret, &now.0],
    )?;
    Ok(())
}

/// Deletes the endpoint and its deliveries.
pub fn delete_endpoint(tx: &Tx<'_>, id: &str) -> Result<(), StoreError> {
    tx.execute("DELETE FROM webhook_endpoints WHERE id = ?1", &[&id])?;
    Ok(())
}

// ---- the outbox ----------------------------------------------------------------------------

thread_local! {
    /// Set when this thread wrote a delivery that is due now; `Store::run` wakes the deliverer
    /// once the work that wrote it has returned (and so committed).
    static DUE_WRITTEN: Cell<bool> = const { Cell::new(false) };
}

pub(super) fn take_due_written() -> bool {
    DUE_WRITTEN.replace(false)
}

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
        DUE_WRITTEN.set(true);
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
    db: &mut super::Db,
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

/// A delivery as the delivery log shows it.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub id: String,
    pub endpoint_id: String,
    pub event_id: i64,
    pub event: String,
    pub generation_id: Option<String>,
    pub data: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<Timestamp>,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub duration_ms: Option<i64>,
    pub replay_of: Option<String>,
    pub created_at: Timestamp,
    pub completed_at: Option<Timestamp>,
    /// Position in the log, for paging.
    pub seq: i64,
}

const DELIVERY_COLUMNS: &str = "d.id, d.endpoint_id, d.event_id, v.event, v.generation_id,
    v.data, d.status, d.attempts, d.next_attempt_at, d.last_status_code, d.last_error,
    d.duration_ms, d.replay_of, d.created_at, d.completed_at, d.rowid";

fn delivery_from(r: &Row<'_>) -> Result<Delivery, StoreError> {
    Ok(Delivery {
        id: r.get(0)?,
        endpoint_id: r.get(1)?,
        event_id: r.get(2)?,
        event: r.get(3)?,
        generation_id: r.get(4)?,
        data: r.get(5)?,
        status: r.get(6)?,
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
    status: Option<&str>,
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
        &[&endpoint_id, &status, &before, &limit],
        delivery_from,
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
        DUE_WRITTEN.set(true);
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
