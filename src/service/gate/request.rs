//! A request at the gate and what comes back: the attempt as the caller describes it, the audit
//! of an identified key, a denial and why, and the request line and outcome its log row records.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::domain::key::ApiKey;
use crate::domain::{Region, Scope, Timestamp};
use crate::service::auth::Refused;
use crate::service::quota::QuotaLeft;
use crate::service::rate_limit::Decision;
use crate::store::StoreError;

/// Where the key of a request is looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The key cache, confirmed when the log row commits: for operations that change nothing,
    /// which can simply be decided again if a key changed meanwhile.
    Cached,
    /// The store as it is now, before anything runs.
    Fresh,
}

/// One request at the gate.
#[derive(Clone, Copy, Debug)]
pub struct Attempt<'a> {
    /// The bearer token, when the request carries one.
    pub token: Option<&'a str>,
    pub client_ip: IpAddr,
    pub now: Timestamp,
    pub region: Region,
    pub scope: Scope,
    pub lookup: Lookup,
    /// The quota already taken by an earlier decision of this very request (one decided again
    /// after its cached decision went stale): not taken twice.
    pub counted: Option<QuotaLeft>,
}

/// An identified key whose request must be logged, whatever the outcome.
#[derive(Clone, Debug)]
pub struct Audit {
    pub key: Arc<ApiKey>,
    /// Passed the lifecycle and region checks: the request counts as a use of the key.
    pub authenticated: bool,
    pub limits: Option<Decision>,
    /// The key's request quota after this request, when it has one.
    pub quota: Option<QuotaLeft>,
    /// Decided from the key cache at this key generation; the commit confirms it.
    pub decided_at: Option<i64>,
}

/// Why the gate stopped a request.
#[derive(Debug)]
pub enum Denial {
    /// No bearer token.
    Missing,
    /// Not a key of this install: malformed, unknown, or another region's.
    Invalid,
    /// A key that no longer authenticates (revoked, disabled, expired), or one that may not make
    /// this request (account gone, address not allowed, scope missing).
    Refused(Refused),
    /// Too many failed attempts from this address: seconds left of its block.
    Blocked(u64),
    /// Over a rate limit: seconds to wait, and the limit that was exceeded.
    RateLimited { retry_after: u64, limit: u32 },
    /// The key's request quota is used up; the seconds until its refill, if it refills.
    QuotaExceeded {
        left: QuotaLeft,
        retry_after: Option<u64>,
    },
    /// The key could not be looked up.
    Unavailable(StoreError),
}

impl Denial {
    /// Whether it counts as a failed authentication of the caller's address: an attempt that
    /// cannot be tied to a usable key.
    pub fn is_failed_authentication(&self) -> bool {
        matches!(
            self,
            Denial::Missing
                | Denial::Invalid
                | Denial::Blocked(_)
                | Denial::Refused(Refused::Lifecycle(_))
        )
    }
}

/// A denial, and what to log when the key was identified.
#[derive(Debug)]
pub struct Denied {
    pub denial: Denial,
    pub audit: Option<Audit>,
}

/// The request line and outcome that a log row records.
pub struct Record<'a> {
    pub request_id: String,
    pub method: Cow<'static, str>,
    pub endpoint: &'a str,
    pub route: &'a str,
    pub query: Option<String>,
    pub status: u16,
    pub error_code: Option<&'static str>,
    pub idempotency_replayed: bool,
    pub user_agent: Option<&'a str>,
    pub client_ip: IpAddr,
    pub region: Region,
    pub now: Timestamp,
    pub arrived: Instant,
}

#[derive(Debug, thiserror::Error)]
#[error("the request could not be recorded in the audit log")]
pub struct NotLogged;
