//! The management API under /api/v1 (docs/keys.md, "Management API"): the whole API as one
//! table (`operations`), which also registers the routes and drives the OpenAPI document
//! (`openapi`). Every request is authenticated by a key with `keys:read` (GET) or `keys:write`
//! (everything else), for `/api/v1/webhooks` `webhooks:read` / `webhooks:write`, for
//! `/api/v1/activity` `activity:read`, limited to
//! that key's account, and logged like a /v1 request.

mod extract;
mod keys;
mod logs;
pub(crate) mod openapi;
pub(crate) mod operation;
pub(crate) mod operations;
pub(crate) mod params;
mod policy;
mod webhooks;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{Next, from_fn};
use actix_web::{Error, HttpResponse, web};

use super::envelope::{Page, success_body};
use super::middleware::error_of;
use super::pipeline::{
    Caller, Outcome, apply_rate_headers, commit_log, sanitised_query, take_audit,
};
use super::state::AppState;

pub use extract::{ApiJson, ApiPrincipal};

/// Query parameters of the management API kept in the request log.
const LOGGED_PARAMS: &[&str] = &[
    "status",
    "search",
    "limit",
    "offset",
    "days",
    "key_id",
    "error_code",
    "since",
    "until",
    "cursor",
    "format",
];

/// The scope under `operations::PREFIX`, one route per operation of the table, in its order.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let scope = web::scope(operations::PREFIX).wrap(from_fn(audit_layer));
    let scope = operations::OPERATIONS.iter().fold(scope, |scope, op| {
        scope.route(op.path, (op.to)().method(op.method.clone()))
    });
    cfg.service(scope);
}

/// Commits the log row of every request whose key was identified, after its handler ran and
/// before its response leaves.
async fn audit_layer(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    // Authentication first, whatever the handler extracts; routing inside the scope then needs
    // the only reference to the request, so nothing is cloned before the call.
    ApiPrincipal::resolve(req.request()).await;
    let mut res = next.call(req).await?.map_into_boxed_body();
    let http = res.request().clone();
    let state = http.app_data::<web::Data<AppState>>().cloned();
    let (Some((audit, caller)), Some(state)) = (take_audit(&http), state) else {
        return Ok(res);
    };
    let error = error_of(&res);
    let pattern = http
        .match_pattern()
        .unwrap_or_else(|| http.path().to_owned());
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(http.query_string()).unwrap_or_default();
    let outcome = Outcome {
        route: &pattern,
        query: sanitised_query(&pairs, |n| LOGGED_PARAMS.contains(&n)),
        status: error.as_ref().map_or(res.status(), |e| e.status).as_u16(),
        error_code: error.as_ref().map(|e| e.code.code()),
        idempotency_replayed: false,
    };
    // Decided with `Lookup::Fresh`, so the row is never stale.
    if let Err(failed) = commit_log(&state, &http, &caller, &audit, outcome).await {
        return Ok(ServiceResponse::new(http, HttpResponse::from_error(failed)));
    }
    apply_rate_headers(res.headers_mut(), &audit);
    Ok(res)
}

/// A success envelope for the caller's request.
fn reply(
    caller: &Caller,
    message: &str,
    data: impl serde::Serialize,
    page: Option<Page>,
) -> HttpResponse {
    let body = success_body(&caller.request_id, message, caller.now, &data, page);
    HttpResponse::Ok()
        .content_type("application/json")
        .body(body)
}
