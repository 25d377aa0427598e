//! The /v1 pipeline (v1-api.md §4): firewall, pre-auth limiter, bearer, format and checksum,
//! lookup, lifecycle, account, region, IP allowlist, scope, rate limit, then the handler. A
//! request with an identified key is answered only after its log row has committed.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use actix_web::http::header::{AUTHORIZATION, HOST, USER_AGENT};
use actix_web::{HttpRequest, HttpResponse, web};

use super::firewall::{self, Matched};
use super::handlers::V1Request;
use crate::config::PlanConfig;
use crate::domain::{KeyStatus, Region, Timestamp};
use crate::http::envelope::success_body;
use crate::http::error::{ApiError, ErrorCode};
use crate::http::metrics::Metrics;
use crate::http::middleware::RequestId;
use crate::http::state::AppState;
use crate::service::auth::{Refused, authorize};
use crate::service::rate_limit::{Decision, Subject};
use crate::store::keys::{self, ApiKey, AuthRecord};
use crate::store::request_log::{LogEntry, Refusal};

const MAX_QUERY_LOG: usize = 512;
const MAX_USER_AGENT: usize = 256;
const MAX_LOGGED_VALUE: usize = 100;
const UNLIMITED: PlanConfig = PlanConfig {
    requests_per_minute: None,
    requests_per_day: None,
    max_in_flight: None,
};

pub async fn dispatch(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let started = Instant::now();
    let now = state.clock.now();
    let peer = req
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let client_ip = state
        .proxies
        .client_ip(peer, header(&req, "x-forwarded-for"));

    let Some(matched) = firewall::check(&req) else {
        Metrics::bump(&state.metrics.firewall_refusals);
        count_refusal(&state, client_ip, now, "firewall");
        return firewall::refusal();
    };
    let request_id = RequestId::of(&req);
    let record = match identify(&req, &state, client_ip, now).await {
        Ok(record) => record,
        Err(error) => {
            count_refusal(&state, client_ip, now, error.code.code());
            state.metrics.count_response(error.status.as_u16());
            return error.render(&request_id);
        }
    };
    let region = request_region(&req, &state);
    let ctx = LogContext {
        req: &req,
        state: &state,
        matched: &matched,
        request_id: &request_id,
        client_ip,
        now,
        region,
        started,
    };
    let principal = match authorize(record, now, region, client_ip, matched.op.scope) {
        Ok(p) => p,
        Err(refused) => {
            let (refused, record) = *refused;
            let authenticated = !matches!(refused, Refused::Lifecycle(_) | Refused::WrongRegion);
            if !authenticated {
                state.preauth.record_failure(client_ip, now);
                Metrics::bump(&state.metrics.auth_failures);
            }
            let plan = plan_named(&state, record.account.as_ref().map(|a| a.plan.as_str()));
            let limits = authenticated
                .then(|| rate_decision(&state, &record.key, plan, now, false))
                .flatten();
            return ctx
                .finish(
                    &record.key,
                    authenticated,
                    Err(refusal_error(refused)),
                    limits,
                )
                .await;
        }
    };
    let plan = plan_named(&state, Some(&principal.plan));
    let limits = rate_decision(&state, &principal.key, plan, now, true);
    if let Some(wait) = limits.and_then(|d| d.retry_after) {
        let limit = limits.and_then(|d| d.exceeded_limit).unwrap_or_default();
        let error = ApiError::new(
            ErrorCode::RateLimitExceeded,
            "Rate limit exceeded. Retry after the indicated time.",
        )
        .retry_after(wait)
        .detail("limit", limit);
        return ctx.finish(&principal.key, true, Err(error), limits).await;
    }
    let body = if matched.op.body {
        match payload
            .to_bytes_limited(state.config.server.max_body_bytes)
            .await
        {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(_)) => {
                let error = ApiError::invalid("body", "The request body could not be read.");
                return ctx.finish(&principal.key, true, Err(error), limits).await;
            }
            Err(_) => {
                let error = ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    "The request body is larger than 100 KB.",
                );
                return ctx.finish(&principal.key, true, Err(error), limits).await;
            }
        }
    } else {
        web::Bytes::new()
    };
    let key = principal.key.clone();
    let v1 = V1Request {
        state: state.clone(),
        principal,
        request_id: request_id.clone(),
        now,
        region,
        generation_id: matched.generation_id.clone(),
        model_identifier: matched.model_identifier.clone(),
        query: matched.query.clone(),
        body,
    };
    let outcome = (matched.op.handler)(v1).await;
    ctx.finish(&key, true, outcome, limits).await
}

/// Steps 2–5: everything up to finding the key by its digest. Failures here are not key rows.
async fn identify(
    req: &HttpRequest,
    state: &AppState,
    client_ip: IpAddr,
    now: Timestamp,
) -> Result<AuthRecord, ApiError> {
    if let Some(wait) = state.preauth.blocked_for(client_ip, now) {
        return Err(ApiError::new(
            ErrorCode::AuthRateLimited,
            "Too many failed authentication attempts from this address.",
        )
        .retry_after(wait));
    }
    let failed = |error: ApiError| {
        state.preauth.record_failure(client_ip, now);
        Metrics::bump(&state.metrics.auth_failures);
        error
    };
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
    let hash = parsed.digest.to_hex();
    let record = state
        .store
        .run(move |c| keys::find_for_auth(c, &hash))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "key lookup failed");
            ApiError::storage_unavailable()
        })?
        .ok_or_else(|| failed(invalid_key()))?;
    // The index found the row; compare the digests again in constant time.
    if !parsed.digest.matches_hex(&record.key.key_hash) {
        return Err(failed(invalid_key()));
    }
    Ok(record)
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
fn plan_named<'a>(state: &'a AppState, name: Option<&str>) -> &'a PlanConfig {
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

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn request_region(req: &HttpRequest, state: &AppState) -> Region {
    let host = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().host())
        .unwrap_or("");
    Region::from_host(
        host,
        &state.config.server.regions,
        state.config.server.default_region,
    )
}

fn count_refusal(state: &AppState, ip: IpAddr, now: Timestamp, reason: &'static str) {
    state.log.count_refusal(Refusal {
        day: now.day(),
        ip_hash: state.ip_hasher.hash(ip),
        reason,
    });
}

struct LogContext<'a> {
    req: &'a HttpRequest,
    state: &'a web::Data<AppState>,
    matched: &'a Matched,
    request_id: &'a str,
    client_ip: IpAddr,
    now: Timestamp,
    region: Region,
    started: Instant,
}

impl LogContext<'_> {
    /// Renders the outcome, commits its log row, and only then lets the response go.
    async fn finish(
        self,
        key: &ApiKey,
        authenticated: bool,
        outcome: Result<super::handlers::V1Reply, ApiError>,
        limits: Option<Decision>,
    ) -> HttpResponse {
        let (mut response, error_code) = match outcome {
            Ok(reply) => {
                let body = success_body(
                    self.request_id,
                    reply.message,
                    self.now,
                    &reply.data,
                    reply.page,
                );
                (
                    HttpResponse::Ok()
                        .content_type("application/json")
                        .body(body),
                    None,
                )
            }
            Err(error) => {
                if error.status.is_server_error() && error.status.as_u16() != 501 {
                    tracing::error!(request_id = self.request_id, code = error.code.code(), message = %error.message, "request failed");
                }
                (error.render(self.request_id), Some(error.code.code()))
            }
        };
        if let Some((limit, d)) = limits.and_then(|d| d.limit.map(|l| (l, d))) {
            let headers = response.headers_mut();
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
        let entry = LogEntry {
            request_id: self.request_id.to_owned(),
            key_id: key.id.clone(),
            account_id: key.account_id.clone(),
            key_prefix: key.key_prefix.clone(),
            environment: key.environment.as_str(),
            method: self.req.method().to_string(),
            endpoint: self.req.path().to_owned(),
            route: self.matched.op.template,
            query: sanitised_query(self.matched),
            status_code: response.status().as_u16(),
            error_code,
            idempotency_replayed: false,
            ip_hash: self.state.ip_hasher.hash(self.client_ip),
            user_agent: header(self.req, USER_AGENT.as_str())
                .map(|ua| truncate(ua, MAX_USER_AGENT).to_owned()),
            region: self.region.as_str(),
            latency_us: i64::try_from(self.started.elapsed().as_micros()).unwrap_or(i64::MAX),
            created_at: self.now.millis(),
            authenticated,
        };
        if self.state.log.commit(entry).await.is_err() {
            Metrics::bump(&self.state.metrics.log_failures);
            let error = ApiError::new(
                ErrorCode::StorageUnavailable,
                "The request could not be recorded in the audit log, so it was not served. Try again shortly.",
            );
            self.state.metrics.count_response(error.status.as_u16());
            return error.render(self.request_id);
        }
        self.state
            .metrics
            .count_response(response.status().as_u16());
        response
    }
}

/// Known parameters keep their (shortened) values; anything else is masked.
fn sanitised_query(matched: &Matched) -> Option<String> {
    if matched.query.is_empty() {
        return None;
    }
    let pairs: Vec<(&str, &str)> = matched
        .query
        .iter()
        .map(|(name, value)| {
            let known = matched.op.query.iter().any(|p| p.name == name);
            (
                name.as_str(),
                if known {
                    truncate(value, MAX_LOGGED_VALUE)
                } else {
                    "[masked]"
                },
            )
        })
        .collect();
    let encoded = serde_urlencoded::to_string(pairs).ok()?;
    Some(truncate(&encoded, MAX_QUERY_LOG).to_owned())
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
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
