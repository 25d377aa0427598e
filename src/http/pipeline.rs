//! The key pipeline shared by /v1 and the management API (v1-api.md §4 steps 2–11) and the
//! commit of the request-log row that every request of an identified key waits for.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

use actix_web::http::Method;
use actix_web::http::header::{AUTHORIZATION, HOST, HeaderMap, USER_AGENT};
use actix_web::{HttpMessage, HttpRequest};

use super::error::{ApiError, ErrorCode};
use super::metrics::Metrics;
use super::middleware::RequestId;
use super::state::AppState;
use crate::config::PlanConfig;
use crate::domain::{KeyStatus, Region, Scope, Timestamp};
use crate::service::auth::{Principal, Refused, authorize};
use crate::service::rate_limit::{Decision, Subject};
use crate::store::keys::{ApiKey, AuthRecord};
use crate::store::request_log::{LogEntry, Refusal, Relay, Written};

const MAX_QUERY_LOG: usize = 512;
const MAX_USER_AGENT: usize = 256;
const MAX_LOGGED_VALUE: usize = 100;
const UNLIMITED: PlanConfig = PlanConfig {
    requests_per_minute: None,
    requests_per_day: None,
    max_in_flight: None,
};

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
        let server = &state.config.server;
        Caller {
            request_id: RequestId::of(req),
            client_ip: state
                .proxies
                .client_ip(peer, header(req, "x-forwarded-for")),
            now: state.clock.now(),
            region: Region::from_host(host, &server.regions, server.default_region),
            started: Instant::now(),
        }
    }
}

/// An identified key whose request must be logged, whatever the outcome.
#[derive(Clone, Debug)]
pub struct Audit {
    pub key: Arc<ApiKey>,
    /// Passed the lifecycle and region checks: the request counts as a use of the key.
    pub authenticated: bool,
    pub limits: Option<Decision>,
    /// Decided from the key cache at this key generation; the commit confirms it.
    pub decided_at: Option<i64>,
}

/// Where the key of a request is looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The key cache, confirmed when the log row commits: for operations that change nothing,
    /// which can simply be decided again if a key changed meanwhile.
    Cached,
    /// The store as it is now, before anything runs.
    Fresh,
}

/// Steps 2–11. On failure, the error and — when the key was identified — what to log.
pub async fn authenticate(
    req: &HttpRequest,
    state: &AppState,
    caller: &Caller,
    scope: Scope,
    lookup: Lookup,
) -> Result<(Principal, Audit), (ApiError, Option<Audit>)> {
    let blocked = state.preauth.blocked_for(&caller.client_ip, caller.now);
    let (record, decided_at) = identify(req, state, caller, lookup, blocked)
        .await
        .map_err(|error| {
            // Refusals are about the caller; a store that cannot answer is not one.
            if error.code != ErrorCode::StorageUnavailable {
                count_refusal(state, caller, error.code.code());
            }
            (error, None)
        })?;
    let principal = match authorize(record, caller.now, caller.region, caller.client_ip, scope) {
        Ok(p) => p,
        Err(refused) => {
            let (refused, record) = *refused;
            // A key that is not usable here (revoked, disabled, expired, another region's) is a
            // failed authentication like an unknown one; past that, the key is the caller's.
            let usable = !matches!(refused, Refused::Lifecycle(_) | Refused::WrongRegion);
            let mut limits = None;
            let error = if usable {
                let plan = plan_named(state, record.account.as_ref().map(|a| a.plan.as_str()));
                limits = rate_decision(state, &record.key, plan, caller.now, false);
                refusal_error(refused)
            } else {
                failed_authentication(state, caller, blocked, refusal_error(refused))
            };
            let audit = Audit {
                key: record.key,
                authenticated: usable,
                limits,
                decided_at,
            };
            return Err((error, Some(audit)));
        }
    };
    let plan = plan_named(state, Some(&principal.plan));
    let limits = rate_decision(state, &principal.key, plan, caller.now, true);
    let audit = Audit {
        key: Arc::clone(&principal.key),
        authenticated: true,
        limits,
        decided_at,
    };
    if let Some(wait) = limits.and_then(|d| d.retry_after) {
        let limit = limits.and_then(|d| d.exceeded_limit).unwrap_or_default();
        let error = ApiError::new(
            ErrorCode::RateLimitExceeded,
            "Rate limit exceeded. Retry after the indicated time.",
        )
        .retry_after(wait)
        .detail("limit", limit);
        return Err((error, Some(audit)));
    }
    Ok((principal, audit))
}

/// Steps 2–5: everything up to finding the key by its digest. Failures here are not key rows.
/// A key from the cache comes with the key generation its decision must be confirmed at.
///
/// `blocked` is what is left of the pre-auth block of the caller's address. It refuses only
/// attempts that cannot be tied to a usable key, so a valid key is served from an address that
/// another client (behind the same NAT, say) got blocked; see `failed_authentication`.
async fn identify(
    req: &HttpRequest,
    state: &AppState,
    caller: &Caller,
    lookup: Lookup,
    blocked: Option<u64>,
) -> Result<(AuthRecord, Option<i64>), ApiError> {
    let failed = |error: ApiError| failed_authentication(state, caller, blocked, error);
    let token = bearer(req).ok_or_else(|| {
        failed(ApiError::new(
            ErrorCode::AuthenticationRequired,
            "An API key is required: send it as 'Authorization: Bearer <key>'.",
        ))
    })?;
    let parsed = state
        .key_format
        .parse(token)
        .ok_or_else(|| failed(invalid_key()))?;
    let cached = match lookup {
        Lookup::Cached => state.key_reader.cached(&parsed.digest),
        Lookup::Fresh => None,
    };
    let (record, decided_at) = match cached {
        Some(hit) => (hit.record, Some(hit.generation)),
        None => {
            let found = state.key_reader.find(parsed.digest).await.map_err(|e| {
                tracing::error!(error = %e, "key lookup failed");
                ApiError::storage_unavailable()
            })?;
            (found.ok_or_else(|| failed(invalid_key()))?, None)
        }
    };
    // The index (or the cache) found the row; compare the digests again in constant time.
    if !parsed.digest.matches_hex(&record.key.key_hash) {
        return Err(failed(invalid_key()));
    }
    Ok((record, decided_at))
}

/// An attempt that cannot be tied to a usable key: it counts towards the pre-auth limit of the
/// caller's address, and while that address is blocked it is refused with BSE1006 instead.
fn failed_authentication(
    state: &AppState,
    caller: &Caller,
    blocked: Option<u64>,
    error: ApiError,
) -> ApiError {
    state.preauth.record_failure(caller.client_ip, caller.now);
    Metrics::bump(&state.metrics.auth_failures);
    match blocked {
        Some(wait) => ApiError::new(
            ErrorCode::AuthRateLimited,
            "Too many failed authentication attempts from this address.",
        )
        .retry_after(wait),
        None => error,
    }
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

/// An account whose plan is no longer configured gets the default plan.
pub fn plan_named<'a>(state: &'a AppState, name: Option<&str>) -> &'a PlanConfig {
    let plans = &state.config.plans;
    name.and_then(|n| plans.get(n))
        .or_else(|| plans.get(&state.config.accounts.default_plan))
        .unwrap_or(&UNLIMITED)
}

fn rate_decision(
    state: &AppState,
    key: &ApiKey,
    plan: &PlanConfig,
    now: Timestamp,
    consume: bool,
) -> Option<Decision> {
    let subject = Subject {
        account_id: &key.account_id,
        plan,
        key_id: &key.id,
        key_per_minute: key.rate_limit_per_minute,
    };
    state.limiter.check(&subject, now, consume)
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
    let ip_hash = state.ip_hasher.hash(caller.client_ip);
    state.log.count_refusal(Refusal {
        day: caller.now.day(),
        ip_hash,
        reason,
    });
}

/// `X-RateLimit-*` describing the minute window, when there is one.
pub fn apply_rate_headers(headers: &mut HeaderMap, limits: Option<Decision>) {
    let Some((limit, d)) = limits.and_then(|d| d.limit.map(|l| (l, d))) else {
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
    let key = &audit.key;
    let entry = LogEntry {
        request_id: caller.request_id.clone(),
        key: Arc::clone(key),
        method: method_name(req.method()),
        endpoint: req.path().to_owned(),
        route: outcome.route.to_owned(),
        query: outcome.query,
        status_code: outcome.status,
        error_code: outcome.error_code,
        idempotency_replayed: outcome.idempotency_replayed,
        ip_hash: state.ip_hasher.hash(caller.client_ip),
        user_agent: header(req, USER_AGENT.as_str())
            .map(|ua| truncate(ua, MAX_USER_AGENT).to_owned()),
        region: caller.region.as_str(),
        latency_us: i64::try_from(caller.started.elapsed().as_micros()).unwrap_or(i64::MAX),
        created_at: caller.now.millis(),
        authenticated: audit.authenticated,
        decided_at: audit.decided_at,
        arrived: caller.started,
    };
    state.log.commit(entry, relay()).await.map_err(|_| {
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
fn relay() -> Option<Relay> {
    thread_local! {
        static RELAY: std::cell::OnceCell<Option<Relay>> = const { std::cell::OnceCell::new() };
    }
    RELAY.with(|relay| {
        relay
            .get_or_init(|| actix_web::rt::System::try_current().map(|_| Relay::spawn_local()))
            .clone()
    })
}

/// Known parameters keep their (shortened) values; anything else is masked.
pub fn sanitised_query(
    pairs: &[(String, String)],
    is_known: impl Fn(&str) -> bool,
) -> Option<String> {
    if pairs.is_empty() {
        return None;
    }
    let shown: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(name, value)| {
            let keep = is_known(name);
            (
                name.as_str(),
                if keep {
                    truncate(value, MAX_LOGGED_VALUE)
                } else {
                    "[masked]"
                },
            )
        })
        .collect();
    let encoded = serde_urlencoded::to_string(shown).ok()?;
    Some(truncate(&encoded, MAX_QUERY_LOG).to_owned())
}

pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
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
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 5), "abc");
    }

    #[test]
    fn unknown_query_parameters_are_masked() {
        let pairs = vec![
            ("days".to_owned(), "7".to_owned()),
            ("token".to_owned(), "s3cret".to_owned()),
        ];
        assert_eq!(
            sanitised_query(&pairs, |n| n == "days").as_deref(),
            Some("days=7&token=%5Bmasked%5D")
        );
        assert_eq!(sanitised_query(&[], |n| n == "days"), None);
    }

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
