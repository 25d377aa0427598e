//! `Idempotency-Key` on the generate routes (v1-api.md §7): scope (account, route), fingerprint
//! SHA-256 of the raw body, kept 24 hours; only accepted requests store their response.

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::ServiceError;
use super::maintenance::IDEMPOTENCY_TTL_MS;
use crate::domain::Timestamp;
use crate::domain::random::hex;
use crate::store::write_tx;

/// A claim still `in_progress` after this long belongs to a request that died; it is taken over.
const STALE_CLAIM_MS: i64 = 60_000;
const MAX_LEN: usize = 255;

/// The header value, if it is 1-255 characters of `[A-Za-z0-9_\-:.]`.
pub fn valid_key(key: &str) -> bool {
    (1..=MAX_LEN).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':' | b'.'))
}

pub fn fingerprint(body: &[u8]) -> String {
    hex(&Sha256::digest(body))
}

/// Where a request with an idempotency key stands.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// First use (or an expired or abandoned one): the request runs and must `complete` or
    /// `release` the claim.
    Fresh,
    /// Same key, same body, finished: send this again.
    Replay { status: u16, body: Vec<u8> },
    /// Same key, different body.
    Reused,
    /// Same key while the first request is still running.
    InProgress,
}

/// A stored claim as read back.
struct Stored {
    fingerprint: String,
    done: bool,
    status: Option<i64>,
    body: Option<Vec<u8>>,
    created_at: i64,
}

/// Where an idempotency key applies: one account's requests to one path.
#[derive(Clone, Debug)]
pub struct IdempotencyScope {
    pub account_id: String,
    pub route: String,
    pub key: String,
    /// The request that claims the key; only it may complete or release the claim.
    pub request_id: String,
}

pub fn claim(
    conn: &mut Connection,
    scope: &IdempotencyScope,
    fingerprint: &str,
    now: Timestamp,
) -> Result<Claim, ServiceError> {
    let tx = write_tx(conn)?;
    let existing: Option<Stored> = tx
        .query_row(
            "SELECT fingerprint, state, status_code, response_body, created_at
             FROM idempotency_keys
             WHERE account_id = ?1 AND route = ?2 AND idempotency_key = ?3",
            params![scope.account_id, scope.route, scope.key],
            |r| {
                Ok(Stored {
                    fingerprint: r.get(0)?,
                    done: r.get::<_, String>(1)? == "done",
                    status: r.get(2)?,
                    body: r.get(3)?,
                    created_at: r.get(4)?,
                })
            },
        )
        .optional()?;
    let outcome = existing.and_then(|s| {
        let age = now.millis() - s.created_at;
        if age >= IDEMPOTENCY_TTL_MS || (!s.done && age >= STALE_CLAIM_MS) {
            None
        } else if s.fingerprint != fingerprint {
            Some(Claim::Reused)
        } else if let (true, Some(status), Some(body)) = (s.done, s.status, s.body) {
            Some(Claim::Replay {
                status: u16::try_from(status).unwrap_or(200),
                body,
            })
        } else {
            Some(Claim::InProgress)
        }
    });
    if let Some(claim) = outcome {
        return Ok(claim);
    }
    tx.execute(
        "INSERT OR REPLACE INTO idempotency_keys
             (account_id, route, idempotency_key, fingerprint, state, request_id, created_at)
         VALUES (?1, ?2, ?3, ?4, 'in_progress', ?5, ?6)",
        params![
            scope.account_id,
            scope.route,
            scope.key,
            fingerprint,
            scope.request_id,
            now.millis()
        ],
    )?;
    tx.commit()?;
    Ok(Claim::Fresh)
}

/// Stores the accepted response, inside the transaction that accepted the request. False when
/// the claim is no longer this request's (it stalled and another request took it over): the
/// caller must then roll back.
pub fn complete(
    conn: &Connection,
    scope: &IdempotencyScope,
    status: u16,
    body: &[u8],
) -> Result<bool, ServiceError> {
    Ok(conn.execute(
        "UPDATE idempotency_keys SET state = 'done', status_code = ?5, response_body = ?6
         WHERE account_id = ?1 AND route = ?2 AND idempotency_key = ?3 AND request_id = ?4
           AND state = 'in_progress'",
        params![
            scope.account_id,
            scope.route,
            scope.key,
            scope.request_id,
            status,
            body
        ],
    )? == 1)
}

/// Forgets a claim whose request was refused, so the same key may be retried.
pub fn release(conn: &Connection, scope: &IdempotencyScope) -> Result<(), ServiceError> {
    conn.execute(
        "DELETE FROM idempotency_keys
         WHERE account_id = ?1 AND route = ?2 AND idempotency_key = ?3 AND request_id = ?4
           AND state = 'in_progress'",
        params![scope.account_id, scope.route, scope.key, scope.request_id],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_limited_to_the_documented_alphabet() {
        assert!(valid_key("order-42:v1.retry_2"));
        assert!(valid_key(&"a".repeat(255)));
        for bad in ["", "has space", "slash/x", "ü", &"a".repeat(256)] {
            assert!(!valid_key(bad), "{bad}");
        }
    }
}
