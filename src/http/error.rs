//! Stable error codes (v1-api.md §9) and the one JSON error envelope every error uses.

use std::borrow::Cow;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::service::{ServiceError, cause_chain};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    AuthenticationRequired,
    AuthenticationFailed,
    InsufficientPermissions,
    InsufficientCredits,
    RateLimitExceeded,
    AuthRateLimited,
    IpNotAllowed,
    AccountNotFound,
    ConcurrencyLimitExceeded,
    InvalidInput,
    PayloadTooLarge,
    ModelNotFound,
    GenerationNotFound,
    GenerationNotCancelable,
    IdempotencyKeyReused,
    IdempotencyRequestInProgress,
    ResourceNotFound,
    InvalidState,
    ProviderError,
    ProviderTimeout,
    AllProvidersFailed,
    ProviderCreditsExhausted,
    ProviderUnavailable,
    InternalError,
    StorageUnavailable,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 25] = {
        use ErrorCode::*;
        [
            AuthenticationRequired,
            AuthenticationFailed,
            InsufficientPermissions,
            InsufficientCredits,
            RateLimitExceeded,
            AuthRateLimited,
            IpNotAllowed,
            AccountNotFound,
            ConcurrencyLimitExceeded,
            InvalidInput,
            PayloadTooLarge,
            ModelNotFound,
            GenerationNotFound,
            GenerationNotCancelable,
            IdempotencyKeyReused,
            IdempotencyRequestInProgress,
            ResourceNotFound,
            InvalidState,
            ProviderError,
            ProviderTimeout,
            AllProvidersFailed,
            ProviderCreditsExhausted,
            ProviderUnavailable,
            InternalError,
            StorageUnavailable,
        ]
    };

    /// (code, type, HTTP status, retryable)
    fn spec(self) -> (&'static str, &'static str, u16, bool) {
        use ErrorCode::*;
        match self {
            AuthenticationRequired => ("BSE1001", "authentication_required", 401, false),
            AuthenticationFailed => ("BSE1002", "authentication_failed", 401, false),
            InsufficientPermissions => ("BSE1003", "insufficient_permissions", 403, false),
            InsufficientCredits => ("BSE1004", "insufficient_credits", 402, false),
            RateLimitExceeded => ("BSE1005", "rate_limit_exceeded", 429, true),
            AuthRateLimited => ("BSE1006", "auth_rate_limited", 429, true),
            IpNotAllowed => ("BSE1007", "ip_not_allowed", 403, false),
            AccountNotFound => ("BSE1008", "account_not_found", 404, false),
            ConcurrencyLimitExceeded => ("BSE1009", "concurrency_limit_exceeded", 429, true),
            InvalidInput => ("BSE2001", "invalid_input", 400, false),
            PayloadTooLarge => ("BSE2010", "payload_too_large", 413, false),
            ModelNotFound => ("BSE2011", "model_not_found", 404, false),
            GenerationNotFound => ("BSE2012", "generation_not_found", 404, false),
            GenerationNotCancelable => ("BSE2013", "generation_not_cancelable", 409, false),
            IdempotencyKeyReused => ("BSE2015", "idempotency_key_reused", 409, false),
            IdempotencyRequestInProgress => {
                ("BSE2016", "idempotency_request_in_progress", 409, true)
            }
            ResourceNotFound => ("BSE2017", "resource_not_found", 404, false),
            InvalidState => ("BSE2018", "invalid_state", 409, false),
            ProviderError => ("BSE4001", "provider_error", 502, true),
            ProviderTimeout => ("BSE4002", "provider_timeout", 504, true),
            AllProvidersFailed => ("BSE4003", "all_providers_failed", 502, true),
            ProviderCreditsExhausted => ("BSE4004", "provider_credits_exhausted", 503, false),
            ProviderUnavailable => ("BSE4005", "provider_unavailable", 503, true),
            InternalError => ("BSE5001", "internal_error", 500, true),
            StorageUnavailable => ("BSE5002", "storage_unavailable", 503, true),
        }
    }

    pub fn code(self) -> &'static str {
        self.spec().0
    }

    pub fn kind(self) -> &'static str {
        self.spec().1
    }

    pub fn status(self) -> StatusCode {
        StatusCode::from_u16(self.spec().2).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn retryable(self) -> bool {
        self.spec().3
    }
}

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
            status: code.status(),
            retry_after: None,
        }
    }

    /// 408: the body did not arrive within `server.body_timeout_seconds`.
    pub fn body_too_slow() -> ApiError {
        ApiError::invalid("body", "The request body did not arrive in time.")
            .with_status(StatusCode::REQUEST_TIMEOUT)
    }

    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> ApiError {
        self.details.insert(key.to_owned(), value.into());
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

    /// The envelope of v1-api.md §1.
    pub fn render(&self, request_id: &str) -> HttpResponse {
        #[derive(Serialize)]
        struct Body<'a> {
            status: &'static str,
            request_id: &'a str,
            error: Inner<'a>,
        }
        #[derive(Serialize)]
        struct Inner<'a> {
            code: &'static str,
            #[serde(rename = "type")]
            kind: &'static str,
            message: &'a str,
            retryable: bool,
            #[serde(skip_serializing_if = "Map::is_empty")]
            details: &'a Map<String, Value>,
        }
        let body = Body {
            status: "error",
            request_id,
            error: Inner {
                code: self.code.code(),
                kind: self.code.kind(),
                message: &self.message,
                retryable: self.code.retryable(),
                details: &self.details,
            },
        };
        let mut res = HttpResponse::build(self.status);
        if let Some(seconds) = self.retry_after {
            res.insert_header(("Retry-After", seconds.to_string()));
        }
        res.content_type("application/json")
            .body(serde_json::to_vec(&body).unwrap_or_default())
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
            ErrorCode::RateLimitExceeded.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(ErrorCode::InsufficientCredits.status().as_u16(), 402);
        assert_eq!(ErrorCode::PayloadTooLarge.code(), "BSE2010");
        assert!(ErrorCode::StorageUnavailable.retryable());
        assert!(!ErrorCode::IpNotAllowed.retryable());
    }
}
