//! The /v1 entry point: the schema firewall, then the shared key pipeline, then the operation's
//! handler. A request with an identified key is answered only after its log row has committed.
//!
//! A GET changes nothing, so it is decided from the key cache and the commit of its row confirms
//! that no key changed since; if one did, the request is decided again from the store and run
//! again. Every other method is decided from the store before its handler runs.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};

use super::firewall;
use super::request::{V1Reply, V1Request};
use crate::http::envelope::success_body;
use crate::http::error::ApiError;
use crate::http::metrics::Metrics;
use crate::http::pipeline::{
    Audit, Caller, Lookup, Outcome, apply_rate_headers, authenticate, commit_log, count_refusal,
    sanitised_query,
};
use crate::http::state::AppState;
use crate::service::gate::Written;

pub async fn dispatch(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let caller = Caller::new(&req, &state);
    let Some(matched) = firewall::check(&req) else {
        Metrics::bump(&state.metrics.firewall_refusals);
        count_refusal(&state, &caller, "firewall");
        return firewall::refusal();
    };
    tracing::Span::current().record("route", matched.op.template);
    // Read once the key is known, never for a refused caller.
    let mut payload = Some(payload);
    let mut lookup = if matched.op.method == Method::GET {
        Lookup::Cached
    } else {
        Lookup::Fresh
    };
    // A request decided again keeps the quota its first decision took.
    let mut counted = None;
    loop {
        let (principal, audit) =
            match authenticate(&req, &state, &caller, matched.op.scope, lookup, counted).await {
                Ok(ok) => ok,
                Err((error, None)) => {
                    state.metrics.count_response(error.status.as_u16());
                    return error.render(&caller.request_id);
                }
                Err((error, Some(audit))) => {
                    match finish(&req, &state, &caller, &matched, &audit, Err(error)).await {
                        Some(response) => return response,
                        None => {
                            lookup = Lookup::Fresh;
                            continue;
                        }
                    }
                }
            };
        counted = audit.quota;
        let body = match payload.take() {
            Some(payload) => read_body(&matched, payload, &state).await,
            // Decided again: only GETs are, and no GET takes a body (the route table's tests).
            None => Ok(web::Bytes::new()),
        };
        let outcome = match body {
            Ok(body) => {
                let v1 = V1Request {
                    state: state.clone(),
                    principal,
                    request_id: caller.request_id.clone(),
                    now: caller.now,
                    region: caller.region,
                    generation_id: matched.generation_id.clone(),
                    model_identifier: matched.model_identifier.clone(),
                    query: matched.query.clone(),
                    body,
                    http: req.clone(),
                };
                (matched.op.handler)(v1).await
            }
            Err(error) => Err(error),
        };
        match finish(&req, &state, &caller, &matched, &audit, outcome).await {
            Some(response) => return response,
            // A key changed after the cached decision: decide again from the store.
            None => lookup = Lookup::Fresh,
        }
    }
}

async fn read_body(
    matched: &firewall::Matched,
    payload: web::Payload,
    state: &AppState,
) -> Result<web::Bytes, ApiError> {
    if matched.op.body.is_none() {
        return Ok(web::Bytes::new());
    }
    match payload
        .to_bytes_limited(state.config.server.max_body_bytes)
        .await
    {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e))
            if e.as_error()
                .is_some_and(crate::http::body_deadline::is_too_slow) =>
        {
            Err(ApiError::body_too_slow())
        }
        Ok(Err(_)) => Err(ApiError::invalid(
            "body",
            "The request body could not be read.",
        )),
        Err(_) => Err(ApiError::payload_too_large()),
    }
}

/// Renders the outcome, commits its log row, and only then lets the response go. `None` when
/// the row was not written because the decision from the key cache is out of date.
async fn finish(
    req: &HttpRequest,
    state: &AppState,
    caller: &Caller,
    matched: &firewall::Matched,
    audit: &Audit,
    outcome: Result<V1Reply, ApiError>,
) -> Option<HttpResponse> {
    let mut replayed = false;
    let (mut response, error_code) = match outcome {
        Ok(V1Reply {
            replay: Some(body), ..
        }) => {
            replayed = true;
            (
                HttpResponse::Ok()
                    .content_type("application/json")
                    .insert_header(("Idempotency-Replayed", "true"))
                    .body(body),
                None,
            )
        }
        Ok(reply) => {
            let body = success_body(
                &caller.request_id,
                reply.message,
                caller.now,
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
                tracing::error!(request_id = %caller.request_id, code = error.code.code(),
                    message = %error.message, "request failed");
            }
            (error.render(&caller.request_id), Some(error.code.code()))
        }
    };
    apply_rate_headers(response.headers_mut(), audit);
    let logged = Outcome {
        route: matched.op.template,
        query: sanitised_query(&matched.query, |n| {
            matched.op.query.iter().any(|p| p.name == n)
        }),
        status: response.status().as_u16(),
        error_code,
        idempotency_replayed: replayed,
    };
    match commit_log(state, req, caller, audit, logged).await {
        Ok(Written::Committed) => {
            state.metrics.count_response(response.status().as_u16());
            Some(response)
        }
        Ok(Written::Stale) => None,
        Err(error) => {
            state.metrics.count_response(error.status.as_u16());
            Some(error.render(&caller.request_id))
        }
    }
}
