//! Errors on the wire: the stable codes and the envelope every error is sent in.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Serialize;
use serde_json::{Map, Value};

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
    KeyBudgetExceeded,
    KeyQuotaExceeded,
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
    pub const ALL: [ErrorCode; 27] = {
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
            KeyBudgetExceeded,
            KeyQuotaExceeded,
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
            KeyBudgetExceeded => ("BSE1010", "key_budget_exceeded", 402, false),
            // Retryable when the quota refills: the answer's `Retry-After` says when.
            KeyQuotaExceeded => ("BSE1011", "key_quota_exceeded", 429, false),
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

    /// The HTTP status an error with this code is answered with.
    pub fn status(self) -> u16 {
        self.spec().2
    }

    pub fn retryable(self) -> bool {
        self.spec().3
    }

    /// The code named by its text (`BSE1002`).
    pub fn parse(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.code() == code)
    }

    /// What the code means, for the people reading a log (docs/api.md, "Error codes").
    pub fn meaning(self) -> &'static str {
        use ErrorCode::*;
        match self {
            AuthenticationRequired => "No key was sent.",
            AuthenticationFailed => {
                "The key was malformed, unknown, revoked, disabled, expired or of another region."
            }
            InsufficientPermissions => {
                "The key lacks the scope, or the model is not among its allowed models."
            }
            InsufficientCredits => "The account's credits could not cover the generation.",
            RateLimitExceeded => "Over the plan's or the key's rate limit.",
            AuthRateLimited => "Too many failed authentications from this address.",
            IpNotAllowed => "The client address is not in the key's IP allowlist.",
            AccountNotFound => "The key's account was deleted.",
            ConcurrencyLimitExceeded => "Over the plan's cap of generations in flight.",
            KeyBudgetExceeded => {
                "The generation would pass the key's credit budget for the period."
            }
            KeyQuotaExceeded => "The key has used its request quota until its refill.",
            InvalidInput => "A parameter, header or body field was invalid.",
            PayloadTooLarge => "The body was larger than the server accepts.",
            ModelNotFound => "The model is not in the catalog.",
            GenerationNotFound => "No such generation in the key's account.",
            GenerationNotCancelable => "The generation had already finished.",
            IdempotencyKeyReused => "The idempotency key was used before with another body.",
            IdempotencyRequestInProgress => {
                "The first request with this idempotency key was still running."
            }
            ResourceNotFound => "No such key, endpoint or delivery in the account.",
            InvalidState => "The change does not fit the state of what it changes.",
            ProviderError => "A provider failed.",
            ProviderTimeout => "A provider did not answer in time.",
            AllProvidersFailed => "Every provider of the model failed.",
            ProviderCreditsExhausted => "The provider's own account ran out of credit.",
            ProviderUnavailable => "No provider of the model was available.",
            InternalError => "The server failed; its log has the cause.",
            StorageUnavailable => "The store could not be written.",
        }
    }
}

/// The meaning of a code as it is stored in a log row; empty for a code this version does not
/// know.
pub fn meaning_of(code: &str) -> &'static str {
    ErrorCode::parse(code).map_or("", ErrorCode::meaning)
}

/// The error envelope.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Error")]
pub struct ErrorBody<'a> {
    #[schemars(extend("enum" = ["error"]))]
    pub status: &'static str,
    #[schemars(with = "RequestId")]
    pub request_id: &'a str,
    pub error: ErrorOut<'a>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline, transform = with_provider_errors)]
pub struct ErrorOut<'a> {
    #[schemars(with = "CodeName")]
    pub code: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub message: &'a str,
    pub retryable: bool,
    #[serde(skip_serializing_if = "Map::is_empty")]
    #[schemars(with = "Details")]
    pub details: &'a Map<String, Value>,
}

/// The envelope also allows `provider_errors`: each provider's answer to a generation no
/// provider could make.
fn with_provider_errors(schema: &mut Schema) {
    if let Some(Value::Object(properties)) = schema.get_mut("properties") {
        properties.insert("provider_errors".into(), provider_errors().to_value());
    }
}

/// `req_` and 32 lowercase hex digits: the `X-Request-Id` of the answer.
pub struct RequestId;

impl JsonSchema for RequestId {
    fn schema_name() -> Cow<'static, str> {
        "RequestId".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": "^req_[0-9a-f]{32}$" })
    }
}

/// One of the stable codes.
struct CodeName;

impl JsonSchema for CodeName {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "ErrorCodeName".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.code()).collect();
        json_schema!({ "type": "string", "enum": codes })
    }
}

/// What an error adds about itself; each error sends the keys that apply to it.
struct Details;

impl JsonSchema for Details {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "ErrorDetails".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let count = json_schema!({ "type": "integer", "minimum": 0 });
        let string = json_schema!({ "type": "string" });
        json_schema!({
            "type": "object",
            "properties": {
                "field": string,
                "retry_after_seconds": count,
                "limit": count,
                "required_scope": string,
                "model_identifier": string,
                "credit_balance": { "type": "number" },
                "credits_required": { "type": "number", "minimum": 0 },
                "generation_status": string,
                "index": count,
            },
        })
    }
}

fn provider_errors() -> Schema {
    let string = json_schema!({ "type": "string" });
    json_schema!({
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "provider": string,
                "code": string,
                "type": string,
                "message": string,
                "retryable": { "type": "boolean" },
            },
            "required": ["provider", "code", "type", "message", "retryable"],
        },
    })
}
