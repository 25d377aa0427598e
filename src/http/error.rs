//! The error a handler answers with, rendered in the one JSON error envelope every error uses.

use std::borrow::Cow;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Map, Value};

use crate::service::{ServiceError, cause_chain};
pub use crate::wire::error::ErrorCode;
use crate::wire::error::{ErrorBody, ErrorOut};

/// An error as the client sees it. Rendering needs the request id, which the request-id
/// middleware (or the /v1 dispatcher) supplies.
#[derive(Clone, Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: Cow<'static, str>,
    pub details: Map<String, Value>,
    pub status: StatusCode,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            details: Map::new(),
            status: StatusCode::from_u16(code.status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            retry_after: None,
        }
    }

    /// 408: the body did not arrive within `server.body_timeout_seconds`.
    pub fn body_too_slow() -> ApiError {
        ApiError::invalid("body", "The request body did not arrive in time.")
            .with_status(StatusCode::REQUEST_TIMEOUT)
    }

    pub fn detail(mut self, key: &str, value: impl serde::Serialize) -> ApiError {
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        self.details.insert(key.to_owned(), value);
        self
    }

    pub fn with_status(mut self, status: StatusCode) -> ApiError {
        self.status = status;
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after = Some(seconds);
        self.details
            .insert("retry_after_seconds".into(), seconds.into());
        self
    }

    pub fn invalid(field: &str, message: impl Into<Cow<'static, str>>) -> ApiError {
        ApiError::new(ErrorCode::InvalidInput, message).detail("field", field)
    }

    /// 413 BSE2010, the one wording for a body over `server.max_body_bytes`.
    pub fn payload_too_large() -> ApiError {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            "The request body is larger than this server accepts (server.max_body_bytes).",
        )
    }

    pub fn internal() -> ApiError {
        ApiError::new(
            ErrorCode::InternalError,
            "An internal error occurred. It has been logged with this request_id.",
        )
    }

    pub fn storage_unavailable() -> ApiError {
        ApiError::new(
            ErrorCode::StorageUnavailable,
            "The store is unavailable; the request was not carried out. Try again shortly.",
        )
    }

    /// The error envelope (docs/api.md, "Envelopes").
    pub fn render(&self, request_id: &str) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        if let Some(seconds) = self.retry_after {
            res.insert_header(("Retry-After", seconds.to_string()));
        }
        res.content_type("application/json")
            .body(self.body(request_id))
    }

    /// The envelope's JSON, for an answer written without actix-web.
    pub fn body(&self, request_id: &str) -> Vec<u8> {
        let body = ErrorBody {
            status: "error",
            request_id,
            error: ErrorOut {
                code: self.code.code(),
                kind: self.code.kind(),
                message: &self.message,
                // A wait to honour makes any refusal worth retrying.
                retryable: self.code.retryable() || self.retry_after.is_some(),
                details: &self.details,
            },
        };
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code.code(), self.message)
    }
}

/// Handlers outside /v1 may return `ApiError`; the request-id middleware renders it with the id.
impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        self.render("")
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> ApiError {
        if e.is_unexpected() {
            tracing::error!(error = %cause_chain(&e), "store failure");
            return ApiError::storage_unavailable();
        }
        match e {
            ServiceError::Invalid {
                field,
                message,
                index,
            } => {
                let err = ApiError::invalid(field, message);
                match index {
                    Some(i) => err.detail("index", i),
                    None => err,
                }
            }
            ServiceError::NotFound(what) => ApiError::new(
                ErrorCode::ResourceNotFound,
                format!("The {what} was not found."),
            ),
            ServiceError::InvalidState(message) => ApiError::new(ErrorCode::InvalidState, message),
            ServiceError::Forbidden(message) => {
                ApiError::new(ErrorCode::InsufficientPermissions, message)
            }
            ServiceError::Store(_) => ApiError::storage_unavailable(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_the_documented_status() {
        assert_eq!(
            ApiError::new(ErrorCode::RateLimitExceeded, "").status,
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(ErrorCode::InsufficientCredits.status(), 402);
        assert_eq!(ErrorCode::PayloadTooLarge.code(), "BSE2010");
        assert!(ErrorCode::StorageUnavailable.retryable());
        assert!(!ErrorCode::IpNotAllowed.retryable());
    }
}
