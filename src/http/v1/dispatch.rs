//! The /v1 entry point: the schema firewall, then the shared key pipeline, then the operation's
//! handler. A request with an identified key is answered only after its log row has committed.

use actix_web::{HttpRequest, HttpResponse, web};

use super::firewall;
use super::handlers::{V1Reply, V1Request};
use crate::http::envelope::success_body;
use crate::http::error::ApiError;
use crate::http::metrics::Metrics;
use crate::http::pipeline::{
    Audit, Caller, Outcome, apply_rate_headers, authenticate, commit_log, count_refusal,
    sanitised_query,
};
use crate::http::state::AppState;

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
    let (principal, audit) = match authenticate(&req, &state, &caller, matched.op.scope).await {
        Ok(ok) => ok,
        Err((error, None)) => {
            state.metrics.count_response(error.status.as_u16());
            return error.render(&caller.request_id);
        }
        Err((error, Some(audit))) => {
            return finish(&req, &state, &caller, &matched, &audit, Err(error)).await;
        }
    };
    let body = if matched.op.body {
        match payload
            .to_bytes_limited(state.config.server.max_body_bytes)
            .await
        {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(_)) => {
                let error = ApiError::invalid("body", "The request body could not be read.");
                return finish(&req, &state, &caller, &matched, &audit, Err(error)).await;
            }
            Err(_) => {
                let error = ApiError::payload_too_large();
                return finish(&req, &state, &caller, &matched, &audit, Err(error)).await;
            }
        }
    } else {
        web::Bytes::new()
    };
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
    let outcome = (matched.op.handler)(v1).await;
    finish(&req, &state, &caller, &matched, &audit, outcome).await
}

/// Renders the outcome, commits its log row, and only then lets the response go.
async fn finish(
    req: &HttpRequest,
    state: &AppState,
    caller: &Caller,
    matched: &firewall::Matched,
    audit: &Audit,
    outcome: Result<V1Reply, ApiError>,
) -> HttpResponse {
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
    apply_rate_headers(response.headers_mut(), audit.limits);
    let logged = Outcome {
        route: matched.op.template,
        query: sanitised_query(&matched.query, |n| {
            matched.op.query.iter().any(|p| p.name == n)
        }),
        status: response.status().as_u16(),
        error_code,
        idempotency_replayed: replayed,
    };
    if let Err(error) = commit_log(state, req, caller, audit, logged).await {
        state.metrics.count_response(error.status.as_u16());
        return error.render(&caller.request_id);
    }
    state.metrics.count_response(response.status().as_u16());
    response
}
