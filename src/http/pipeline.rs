//! The HTTP side of the key gate (`service::gate`) shared by /v1 and the management API: the
//! bearer token and the caller out of the request, a denial into its error envelope, and the
//! request line into the log row that every request of an identified key waits for.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use actix_web::http::Method;
use actix_web::http::header::{AUTHORIZATION, HOST, HeaderMap, HeaderName, USER_AGENT};
use actix_web::{HttpMessage, HttpRequest};

use super::error::{ApiError, ErrorCode};
use super::metrics::Metrics;
use super::request_id::RequestId;
use super::state::AppState;
use crate::domain::{KeyStatus, Region, Scope, Timestamp};
use crate::service::auth::{Principal, Refused};
use crate::service::gate::{Attempt, Denial, Denied, Record, Relay, Written};
use crate::service::quota::QuotaLeft;

pub use crate::service::gate::{Audit, Lookup, sanitised_query};

/// Who is calling, from where, when.
#[derive(Clone, Debug)]
pub struct Caller {
    pub request_id: String,
    pub client_ip: IpAddr,
    pub now: Timestamp,
    pub region: Region,
    pub started: Instant,
}

impl Caller {
    pub fn new(req: &HttpRequest, state: &AppState) -> Caller {
        let peer = req
            .peer_addr()
            .map(|a| a.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let host = header(req, HOST.as_str())
            .or_else(|| req.uri().host())
            .unwrap_or("");
        Caller {
            request_id: RequestId::of(req),
            client_ip: state
                .proxies
                .client_ip(peer, header(req, "x-forwarded-for")),
            now: state.clock.now(),
            region: state.regions.of_host(host),
            started: Instant::now(),
        }
    }
}

/// Steps 2–11. On failure, the error and — when the key was identified — what to log.
pub async fn authenticate(
    req: &HttpRequest,
    state: &AppState,
    caller: &Caller,
    scope: Scope,
    lookup: Lookup,
    counted: Option<QuotaLeft>,
) -> Result<(Principal, Audit), (ApiError, Option<Audit>)> {
    let attempt = Attempt {
        token: bearer(req),
        client_ip: caller.client_ip,
        now: caller.now,
        region: caller.region,
        scope,
        lookup,
        counted,
    };
    let admitted = state.gate.admit(attempt).await;
    if let Some(audit) = match &admitted {
        Ok((_, audit)) => Some(audit),
        Err(denied) => denied.audit.as_ref(),
    } {
        tracing::Span::current().record("key", audit.key.key_prefix.as_str());
    }
    admitted.map_err(|denied| {
        let Denied { denial, audit } = denied;
        if denial.is_failed_authentication() {
            Metrics::bump(&state.metrics.auth_failures);
        }
        let error = denial_error(denial, &caller.request_id);
        // Refusals are about the caller; a store that cannot answer is not one.
        if audit.is_none() && error.code != ErrorCode::StorageUnavailable {
            count_refusal(state, caller, error.code.code());
        }
        (error, audit)
    })
}

fn denial_error(denial: Denial, request_id: &str) -> ApiError {
    match denial {
        Denial::Missing => ApiError::new(
            ErrorCode::AuthenticationRequired,
            "An API key is required: send it as 'Authorization: Bearer <key>'.",
        ),
        Denial::Invalid => invalid_key(),
        Denial::Refused(refused) => refusal_error(refused),
        Denial::Blocked(wait) => ApiError::new(
            ErrorCode::AuthRateLimited,
            "Too many failed authentication attempts from this address.",
        )
        .retry_after(wait),
        Denial::RateLimited { retry_after, limit } => ApiError::new(
            ErrorCode::RateLimitExceeded,
            "Rate limit exceeded. Retry after the indicated time.",
        )
        .retry_after(retry_after)
        .detail("limit", limit),
        Denial::QuotaExceeded { left, retry_after } => quota_error(left, retry_after),
        Denial::Unavailable(e) => {
            tracing::error!(request_id, error = %crate::service::cause_chain(&e), "key lookup failed");
            ApiError::storage_unavailable()
        }
    }
}

/// 429 BSE1011: retryable, with `Retry-After`, only when the quota refills.
fn quota_error(left: QuotaLeft, retry_after: Option<u64>) -> ApiError {
    let mut error = ApiError::new(
        ErrorCode::KeyQuotaExceeded,
        match left.refills_at {
            Some(_) => "This API key has used its request quota; it refills at the time given.",
            None => "This API key has used its request quota, which does not refill.",
        },
    )
    .detail("quota_requests", left.requests)
    .detail("quota_remaining", 0);
    if let (Some(at), Some(wait)) = (left.refills_at, retry_after) {
        error = error
            .detail("quota_refills_at", at.to_rfc3339())
            .retry_after(wait);
    }
    error
}

fn invalid_key() -> ApiError {
    ApiError::new(ErrorCode::AuthenticationFailed, "Invalid API key.")
}

fn refusal_error(refused: Refused) -> ApiError {
    match refused {
        Refused::Lifecycle(status) => {
            let message = match status {
                KeyStatus::Revoked => "This API key has been revoked.",
                KeyStatus::Disabled => "This API key is disabled.",
                _ => "This API key has expired.",
            };
            ApiError::new(ErrorCode::AuthenticationFailed, message)
        }
        Refused::WrongRegion => invalid_key(),
        Refused::AccountMissing => ApiError::new(
            ErrorCode::AccountNotFound,
            "The account of this API key no longer exists.",
        ),
        Refused::IpNotAllowed => ApiError::new(
            ErrorCode::IpNotAllowed,
            "This IP address is not in the allowlist for this API key.",
        ),
        Refused::MissingScope(scope) => ApiError::new(
            ErrorCode::InsufficientPermissions,
            format!("This API key does not have the required scope: {scope}."),
        )
        .detail("required_scope", scope.as_str()),
    }
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

pub fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

pub fn count_refusal(state: &AppState, caller: &Caller, reason: &'static str) {
    state
        .gate
        .count_refusal(caller.client_ip, caller.now, reason);
}

/// `X-RateLimit-*` describing the minute window, when there is one, and
/// `X-Key-Quota-Remaining` for a key with a request quota.
pub fn apply_rate_headers(headers: &mut HeaderMap, audit: &Audit) {
    if let Some(left) = audit.quota
        && let Ok(value) = left.remaining.to_string().parse()
    {
        headers.insert(HeaderName::from_static("x-key-quota-remaining"), value);
    }
    let Some((limit, d)) = audit.limits.and_then(|d| d.limit.map(|l| (l, d))) else {
        return;
    };
    for (name, value) in [
        ("x-ratelimit-limit", limit.to_string()),
        ("x-ratelimit-remaining", d.remaining.to_string()),
        ("x-ratelimit-reset", d.reset.to_string()),
    ] {
        if let (Ok(n), Ok(v)) = (name.parse(), value.parse()) {
            headers.insert(n, v);
        }
    }
}

/// What the log row says about the outcome.
pub struct Outcome<'a> {
    pub route: &'a str,
    pub query: Option<String>,
    pub status: u16,
    pub error_code: Option<&'static str>,
    pub idempotency_replayed: bool,
}

/// Commits the request's log row; a failure becomes 503 BSE5002 and the response is withheld.
/// `Written::Stale` (only for a decision from the key cache): nothing was written, a key changed
/// since the decision, and the request must be decided again with `Lookup::Fresh`.
pub async fn commit_log(
    state: &AppState,
    req: &HttpRequest,
    caller: &Caller,
    audit: &Audit,
    outcome: Outcome<'_>,
) -> Result<Written, ApiError> {
    let record = Record {
        request_id: caller.request_id.clone(),
        method: method_name(req.method()),
        endpoint: req.path(),
        route: outcome.route,
        query: outcome.query,
        status: outcome.status,
        error_code: outcome.error_code,
        idempotency_replayed: outcome.idempotency_replayed,
        user_agent: header(req, USER_AGENT.as_str()),
        client_ip: caller.client_ip,
        region: caller.region,
        now: caller.now,
        arrived: caller.started,
    };
    state.gate.commit(audit, record, relay(state)).await.map_err(|_| {
        Metrics::bump(&state.metrics.log_failures);
        ApiError::new(
            ErrorCode::StorageUnavailable,
            "The request could not be recorded in the audit log, so it was not served. Try again shortly.",
        )
    })
}

/// The method's name, without an allocation for the common ones.
fn method_name(method: &Method) -> Cow<'static, str> {
    const COMMON: [(Method, &str); 5] = [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::PATCH, "PATCH"),
        (Method::PUT, "PUT"),
        (Method::DELETE, "DELETE"),
    ];
    COMMON.iter().find(|(m, _)| m == method).map_or_else(
        || Cow::Owned(method.to_string()),
        |&(_, name)| Cow::Borrowed(name),
    )
}

/// This worker thread's relay of log outcomes (see `Relay`), started on first use. Handlers run
/// on actix worker threads, each with a local task set; anywhere else outcomes come directly.
fn relay(state: &AppState) -> Option<Relay> {
    thread_local! {
        static RELAY: std::cell::OnceCell<Option<Relay>> = const { std::cell::OnceCell::new() };
    }
    RELAY.with(|relay| {
        relay
            .get_or_init(|| actix_web::rt::System::try_current().map(|_| state.gate.spawn_relay()))
            .clone()
    })
}

/// The audit of the current request, left by the management API's extractor for its log layer.
pub fn stash_audit(req: &HttpRequest, audit: Audit, caller: Caller) {
    req.extensions_mut().insert((audit, caller));
}

pub fn take_audit(req: &HttpRequest) -> Option<(Audit, Caller)> {
    req.extensions_mut().remove::<(Audit, Caller)>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bearer_token_needs_the_scheme_and_a_value() {
        use actix_web::test::TestRequest;
        let with = |v: &str| {
            TestRequest::default()
                .insert_header((AUTHORIZATION, v))
                .to_http_request()
        };
        assert_eq!(bearer(&with("Bearer abc")), Some("abc"));
        assert_eq!(bearer(&with("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(&with("Bearer ")), None);
        assert_eq!(bearer(&with("Basic abc")), None);
        assert_eq!(bearer(&TestRequest::default().to_http_request()), None);
    }
}
