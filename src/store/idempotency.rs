//! Idempotency records of the generate routes (docs/api.md, "Idempotency").

use super::{StoreError, Tx};
use crate::domain::Timestamp;

/// Which record: one account's key on one path, and the request that holds the claim.
pub struct Key<'a> {
    pub account_id: &'a str,
    pub route: &'a str,
    pub key: &'a str,
    pub request_id: &'a str,
}

/// A record as stored.
pub struct Stored {
    pub fingerprint: String,
    pub done: bool,
    pub status: Option<i64>,
    pub body: Option<Vec<u8>>,
    pub created_at: Timestamp,
}

pub fn get(tx: &Tx<'_>, k: &Key<'_>) -> Result<Option<Stored>, StoreError> {
    tx.query_opt(
        "SELECT fingerprint, state, status_code, response_body, created_at
             FROM idempotency_keys
             WHERE account_id = ?1 AND route = ?2 AND idempotency_key = ?3",
        &[&k.account_id, &k.route, &k.key],
        |r| {
            Ok(Stored {
                fingerprint: r.get(0)?,
                done: r.get::<String>(1)? == "done",
                status: r.get(2)?,
                body: r.get(3)?,
                created_at: Timestamp(r.get(4)?),
            })
        },
    )
}

/// A claim in progress for `k.request_id`, replacing an expired or abandoned one.
pub fn claim(
    tx: &Tx<'_>,
    k: &Key<'_>,
    fingerprint: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO idempotency_keys
             (account_id, route, idempotency_key, fingerprint, state, request_id, created_at)
         VALUES (?1, ?2, ?3, ?4, 'in_progress', ?5, ?6)
         ON CONFLICT (account_id, route, idempotency_key) DO UPDATE SET
             fingerprint = excluded.fingerprint, state = excluded.state,
             request_id = excluded.request_id, created_at = excluded.created_at,
             status_code = NULL, response_body = NULL",
        &[
            &k.account_id,
            &k.route,
            &k.key,
            &fingerprint,
            &k.request_id,
            &now.0,
        ],
    )?;
    Ok(())
}

/// Stores the response of the request holding the claim; false when it no longer holds it.
pub fn complete(tx: &Tx<'_>, k: &Key<'_>, status: u16, body: &[u8]) -> Result<bool, StoreError> {
    Ok(tx.execute(
        "UPDATE idempotency_keys SET state = 'done', status_code = ?5, response_body = ?6
         WHERE account_id = ?1 AND route = ?2 AND idempotency_key = ?3 AND request_id = ?4
           AND state = 'in_progress'",
        &[
            &k.account_id,
            &k.route,
            &k.key,
            &k.request_id,
            &status,
            &body,
        ],
    )? == 1)
}

pub fn release(tx: &Tx<'_>, k: &Key<'_>) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM idempotency_keys
         WHERE account_id = ?1 AND route = ?2 AND idempotency_key = ?3 AND request_id = ?4
           AND state = 'in_progress'",
        &[&k.account_id, &k.route, &k.key, &k.request_id],
    )?;
    Ok(())
}
