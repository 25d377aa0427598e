//! Webhook endpoints; their outbox (events written with the change that produced them, one
//! delivery per listening endpoint, claimed by the deliverer under a lease) and the delivery
//! log are beside.

mod deliveries;
mod outbox;

pub use deliveries::{
    deliveries, expire_queued, failed_since, get_delivery, purge_deliveries, release_queued,
};
pub use outbox::{
    Attempted, Due, claim_due, insert_delivery, insert_event, listeners, next_due_at,
    record_attempt, release_leases,
};

use super::engine::Row;
use super::{StoreError, Tx, ts};
use crate::domain::Timestamp;
use crate::domain::webhook::{
    DeliveryStatus, DisabledReason, Endpoint, EndpointSummary, EventSet, LastDelivery,
};

const ENDPOINT_COLUMNS: &str = "e.id, e.account_id, e.url, e.description, e.events, e.enabled,
    e.disabled_reason, e.consecutive_failures, e.created_at, e.updated_at, e.secret_rotated_at";

fn endpoint_from(r: &Row<'_>) -> Result<Endpoint, StoreError> {
    let events: String = r.get(4)?;
    let events: Vec<String> = serde_json::from_str(&events).unwrap_or_default();
    let reason: Option<String> = r.get(6)?;
    Ok(Endpoint {
        id: r.get(0)?,
        account_id: r.get(1)?,
        url: r.get(2)?,
        description: r.get(3)?,
        events: EventSet::from_stored(&events),
        enabled: r.get::<i64>(5)? != 0,
        disabled_reason: reason.as_deref().map(DisabledReason::parse),
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
            &(!e.enabled).then_some(DisabledReason::Manual.as_str()),
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
            let status: Option<String> = r.get(11)?;
            let last_delivery = match status.as_deref().and_then(DeliveryStatus::parse) {
                Some(status) => Some(LastDelivery {
                    status,
                    status_code: r.get(12)?,
                    at: ts(r.get(13)?),
                }),
                None => None,
            };
            Ok(EndpointSummary {
                endpoint: endpoint_from(r)?,
                last_delivery,
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
    disabled: Option<DisabledReason>,
    now: Timestamp,
) -> Result<(), StoreError> {
    match disabled {
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
                &[&id, &reason.as_str(), &now.0],
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

/// Deletes every endpoint of the account (their deliveries go with them); returns how many.
pub fn delete_endpoints_of(tx: &Tx<'_>, account_id: &str) -> Result<u64, StoreError> {
    let n = tx.execute(
        "DELETE FROM webhook_endpoints WHERE account_id = ?1",
        &[&account_id],
    )?;
    Ok(n as u64)
}
