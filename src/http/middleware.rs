//! Every response gets an `X-Request-Id`, and every error, including those actix raises itself
//! (bad JSON, unknown path, wrong method, payload too large), leaves in the JSON envelope.

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::{
    JsonPayloadError, PathError, PayloadError, QueryPayloadError, UrlencodedError,
};
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use tracing::Instrument;

use std::rc::Rc;
use std::time::Duration;

use actix_web::http::ConnectionType;
use actix_web::web;

use super::body_deadline;
use super::error::{ApiError, ErrorCode};
use super::listener::{self, Connection};
use super::request_id::RequestId;
use super::state::AppState;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

pub async fn request_context(
    mut req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let request_id = RequestId::generate();
    req.extensions_mut().insert(request_id.clone());
    // A stopping server closes each connection after the response it is giving.
    let closing = req
        .conn_data::<Rc<Connection>>()
        .is_some_and(|conn| listener::request_started(conn));
    let body_timeout = body_deadline::announced(&req)
        .then(|| req.app_data::<web::Data<AppState>>())
        .flatten()
        .map(|state| Duration::from_secs(state.config.server.body_timeout_seconds));
    let missed = body_timeout.map(|timeout| body_deadline::limit(&mut req, timeout));
    // Whatever the request waits for in the store counts against one deadline from here.
    let arrived = std::time::Instant::now();
    // Every log line of the request carries its id, method and route; the key pipeline adds the
    // key's prefix once it knows it.
    let span = tracing::info_span!(
        "request",
        request_id = %request_id.0,
        method = %req.method(),
        route = tracing::field::Empty,
        key = tracing::field::Empty,
    );
    // /v1 is one catch-all scope, whose dispatcher records the operation's template itself;
    // matching the resource map again would only find the scope.
    if !req.path().starts_with("/v1/")
        && let Some(pattern) = req.match_pattern()
    {
        span.record("route", pattern);
    }
    let served = async move {
        let res = crate::service::request_scope(arrived, next.call(req)).await;
        if let Ok(res) = &res {
            tracing::debug!(
                status = res.status().as_u16(),
                elapsed_us = arrived.elapsed().as_micros() as u64,
                "request finished"
            );
        }
        res
    };
    let mut res = served.instrument(span).await?;
    // The rest of a body that came too late would be read as the next request.
    if closing || missed.is_some_and(|m| m.get()) {
        res.response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    if let Some(error) = error_of(&res) {
        let request = res.request().clone();
        let mut rendered = if super::page_error::is_page_path(request.path()) {
            // A person's browser gets a page; the APIs keep the envelope.
            let status = actix_web::ResponseError::status_code(&error);
            super::page_error::render(status, super::page_error::message_for(status))
        } else {
            error.render(&request_id.0)
        };
        // Headers the handler set (rate limits, Retry-After) stay; the body's own do not.
        for (name, value) in res.headers() {
            if name != CONTENT_TYPE && name != CONTENT_LENGTH {
                rendered.headers_mut().append(name.clone(), value.clone());
            }
        }
        res = ServiceResponse::new(request, rendered);
    }
    if let Ok(value) = HeaderValue::from_str(&request_id.0) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    Ok(res)
}

/// The error a response stands for, unless it is already a finished body of ours.
pub fn error_of(res: &ServiceResponse<BoxBody>) -> Option<ApiError> {
    let status = res.status();
    if let Some(error) = res.response().error() {
        // The admin pages answer in HTML (or with a redirect), never in the JSON envelope.
        if error.as_error::<super::session::AdminError>().is_some() {
            return None;
        }
        if let Some(api) = error.as_error::<ApiError>() {
            return Some(api.clone());
        }
        if status.is_server_error() {
            tracing::error!(request_id = %RequestId::of(res.request()), error = %error, "request failed");
        }
        return Some(from_actix(error, status));
    }
    let ours = res.headers().contains_key(CONTENT_TYPE);
    (!ours && (status.is_client_error() || status.is_server_error())).then(|| by_status(status))
}

fn from_actix(error: &Error, status: StatusCode) -> ApiError {
    let body_error = match (
        error.as_error::<JsonPayloadError>(),
        error.as_error::<UrlencodedError>(),
    ) {
        (Some(JsonPayloadError::Payload(e)), _) | (_, Some(UrlencodedError::Payload(e))) => Some(e),
        _ => None,
    };
    if body_error.is_some_and(body_deadline::is_too_slow) {
        return ApiError::body_too_slow();
    }
    if let Some(e) = error.as_error::<JsonPayloadError>() {
        return match e {
            JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
                ApiError::payload_too_large()
            }
            JsonPayloadError::ContentType => ApiError::invalid(
                "body",
                "The body must be JSON (Content-Type: application/json).",
            ),
            JsonPayloadError::Deserialize(e) => {
                ApiError::invalid("body", format!("The JSON body is invalid: {e}"))
            }
            _ => ApiError::invalid("body", "The JSON body could not be read."),
        };
    }
    if let Some(e) = error.as_error::<QueryPayloadError>() {
        return ApiError::invalid("query", format!("Invalid query string: {e}"));
    }
    if error.as_error::<PathError>().is_some() {
        return ApiError::invalid("path", "Invalid path parameter.");
    }
    match error.as_error::<PayloadError>() {
        Some(PayloadError::Overflow) => return ApiError::payload_too_large(),
        Some(e) if body_deadline::is_too_slow(e) => return ApiError::body_too_slow(),
        _ => {}
    }
    by_status(status)
}

fn by_status(status: StatusCode) -> ApiError {
    match status.as_u16() {
        404 => ApiError::new(ErrorCode::ResourceNotFound, "No such resource."),
        405 => ApiError::new(
            ErrorCode::InvalidInput,
            "This method is not allowed on this resource.",
        )
        .with_status(status),
        413 => ApiError::payload_too_large(),
        s if s < 500 => {
            ApiError::new(ErrorCode::InvalidInput, "The request is invalid.").with_status(status)
        }
        _ => ApiError::internal().with_status(status),
    }
}
