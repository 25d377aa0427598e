//! `Idempotency-Key` on the generate routes (docs/api.md, "Idempotency"): scope (account, route),
//! fingerprint SHA-256 of the raw body, kept 24 hours; only accepted requests store their response.

use sha2::{Digest, Sha256};

use super::ServiceError;
use super::maintenance::IDEMPOTENCY_TTL_MS;
use crate::domain::Timestamp;
use crate::domain::random::hex;
use crate::store::idempotency as store;
use crate::store::{Db, Tx};

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

/// Where an idempotency key applies: one account's requests to one path.
#[derive(Clone, Debug)]
pub struct IdempotencyScope {
    pub account_id: String,
    pub route: String,
    pub key: String,
    /// The request that claims the key; only it may complete or release the claim.
    pub request_id: String,
}

impl IdempotencyScope {
    fn key(&self) -> store::Key<'_> {
        store::Key {
            account_id: &self.account_id,
            route: &self.route,
            key: &self.key,
            request_id: &self.request_id,
        }
    }
}

pub fn claim(
    db: &mut Db,
    scope: &IdempotencyScope,
    fingerprint: &str,
    now: Timestamp,
) -> Result<Claim, ServiceError> {
    let tx = db.write()?;
    let existing = store::get(&tx, &scope.key())?;
    let outcome = existing.and_then(|s| {
        let age = now.millis() - s.created_at.millis();
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
    store::claim(&tx, &scope.key(), fingerprint, now)?;
    tx.commit()?;
    Ok(Claim::Fresh)
}

/// Stores the accepted response, inside the transaction that accepted the request. False when
/// the claim is no longer this request's (it stalled and another request took it over): the
/// caller must then roll back.
pub fn complete(
    tx: &Tx<'_>,
    scope: &IdempotencyScope,
    status: u16,
    body: &[u8],
) -> Result<bool, ServiceError> {
    Ok(store::complete(tx, &scope.key(), status, body)?)
}

/// Forgets a claim whose request was refused, so the same key may be retried.
pub fn release(tx: &Tx<'_>, scope: &IdempotencyScope) -> Result<(), ServiceError> {
    Ok(store::release(tx, &scope.key())?)
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
