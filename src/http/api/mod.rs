//! The management API under /api/v1 (keys.md §8): the whole API as one flat list. Every request
//! is authenticated by a key with `keys:read` (GET) or `keys:write` (everything else), or for
//! `/api/v1/webhooks` `webhooks:read` / `webhooks:write`, limited to that key's account, and
//! logged like a /v1 request.

mod extract;
mod keys;
mod logs;
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

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .wrap(from_fn(audit_layer))
            .route("/api-keys", web::get().to(keys::list))
            .route("/api-keys", web::post().to(keys::create))
            .route("/api-keys/{id}", web::get().to(keys::show))
            .route("/api-keys/{id}", web::patch().to(keys::update))
            .route("/api-keys/{id}", web::delete().to(keys::delete))
            .route("/api-keys/{id}/rotate", web::post().to(keys::rotate))
            .route("/api-keys/{id}/revoke", web::post().to(keys::revoke))
            .route("/api-keys/{id}/expire", web::post().to(keys::expire))
            .route("/api-keys/{id}/usage", web::get().to(keys::usage))
            .route("/webhooks", web::get().to(webhooks::list))
            .route("/webhooks", web::post().to(webhooks::create))
            .route("/webhooks/{id}", web::get().to(webhooks::show))
            .route("/webhooks/{id}", web::patch().to(webhooks::update))
            .route("/webhooks/{id}", web::delete().to(webhooks::delete))
            .route(
                "/webhooks/{id}/rotate-secret",
                web::post().to(webhooks::rotate_secret),
            )
            .route("/webhooks/{id}/test", web::post().to(webhooks::test))
            .route(
                "/webhooks/{id}/deliveries",
                web::get().to(webhooks::deliveries),
            )
            .route(
                "/webhooks/{id}/deliveries/{delivery_id}/replay",
                web::post().to(webhooks::replay),
            )
            .route(
                "/webhooks/{id}/deliver-queued",
                web::post().to(webhooks::deliver_queued),
            )
            .route("/logs", web::get().to(logs::logs))
            .route("/activity", web::get().to(logs::activity)),
    );
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
    apply_rate_headers(res.headers_mut(), audit.limits);
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
