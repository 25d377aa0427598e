//! The schemas of the document: the envelopes and the `data` of the account and health
//! operations. Objects list what is always sent as `required` and stay open to fields added
//! later.

use serde_json::{Map, Value, json};

use super::generations;
use crate::http::error::ErrorCode;

pub fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

pub(super) fn string() -> Value {
    json!({ "type": "string" })
}

pub(super) fn time() -> Value {
    json!({ "type": "string", "format": "date-time" })
}

pub(super) fn uuid() -> Value {
    json!({ "type": "string", "format": "uuid" })
}

pub(super) fn boolean() -> Value {
    json!({ "type": "boolean" })
}

pub(super) fn number() -> Value {
    json!({ "type": "number", "minimum": 0 })
}

/// A whole number of at least 0 (counts, totals).
pub(super) fn count() -> Value {
    json!({ "type": "integer", "minimum": 0 })
}

pub(super) fn one_of(values: &[&str]) -> Value {
    json!({ "type": "string", "enum": values })
}

pub(super) fn nullable(mut schema: Value) -> Value {
    // OpenAPI 3.0.3: an enum must list null itself for `nullable` to admit it.
    if let Some(values) = schema.get_mut("enum").and_then(Value::as_array_mut) {
        values.push(Value::Null);
    }
    schema["nullable"] = Value::Bool(true);
    schema
}

pub(super) fn array(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}

/// A map from names the server chooses to `values`.
pub(super) fn map(values: Value) -> Value {
    json!({ "type": "object", "additionalProperties": values })
}

/// An object whose `(name, schema, always sent)` fields are listed.
pub(super) fn object(fields: Vec<(&str, Value, bool)>) -> Value {
    let required: Vec<&str> = fields.iter().filter(|f| f.2).map(|f| f.0).collect();
    let properties: Map<String, Value> = fields
        .into_iter()
        .map(|(name, schema, _)| (name.to_owned(), schema))
        .collect();
    let mut schema = json!({ "type": "object", "properties": properties });
    // OpenAPI 3.0 wants at least one name in a `required` list.
    if !required.is_empty() {
        schema["required"] = required.into();
    }
    schema
}

/// Every field always sent.
pub(super) fn record(fields: Vec<(&str, Value)>) -> Value {
    object(fields.into_iter().map(|(n, s)| (n, s, true)).collect())
}

/// The success envelope (v1-api.md §1) around `data`.
pub fn envelope(data: Value) -> Value {
    record(vec![
        ("status", one_of(&["success"])),
        ("request_id", reference("RequestId")),
        ("message", string()),
        ("timestamp", time()),
        ("data", data),
    ])
}

pub(super) const MODEL_TYPES: &[&str] = &["image", "video"];
pub(super) const BREAKER_STATUSES: &[&str] = &["healthy", "recovering", "degraded", "unknown"];

pub fn all() -> Value {
    let mut schemas = Map::new();
    for (name, schema) in envelopes()
        .into_iter()
        .chain(account())
        .chain(generations::generations())
        .chain(generations::library())
        .chain(health())
        .chain(generations::bodies())
    {
        schemas.insert(name.to_owned(), schema);
    }
    Value::Object(schemas)
}

fn envelopes() -> Vec<(&'static str, Value)> {
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.code()).collect();
    let provider_error = record(vec![
        ("provider", string()),
        ("code", string()),
        ("type", string()),
        ("message", string()),
        ("retryable", boolean()),
    ]);
    let details = object(vec![
        ("field", string(), false),
        ("retry_after_seconds", count(), false),
        ("limit", count(), false),
        ("required_scope", string(), false),
        ("model_identifier", string(), false),
        ("credit_balance", json!({ "type": "number" }), false),
        ("credits_required", number(), false),
        ("generation_status", string(), false),
        ("index", count(), false),
    ]);
    let error = object(vec![
        ("code", json!({ "type": "string", "enum": codes }), true),
        ("type", string(), true),
        ("message", string(), true),
        ("retryable", boolean(), true),
        ("details", details, false),
        ("provider_errors", array(provider_error), false),
    ]);
    vec![
        (
            "RequestId",
            json!({ "type": "string", "pattern": "^req_[0-9a-f]{32}$" }),
        ),
        (
            "Error",
            record(vec![
                ("status", one_of(&["error"])),
                ("request_id", reference("RequestId")),
                ("error", error),
            ]),
        ),
    ]
}

fn account() -> Vec<(&'static str, Value)> {
    let endpoint = record(vec![
        ("endpoint", string()),
        ("total_requests", count()),
        ("success_count", count()),
        ("client_error_count", count()),
        ("server_error_count", count()),
        ("error_codes", map(count())),
    ]);
    let provider = record(vec![
        ("provider", string()),
        ("total_submissions", count()),
        ("used_count", count()),
        ("cancelled_count", count()),
        ("discarded_count", count()),
        ("failed_count", count()),
        ("total_estimated_cost", number()),
        ("wasted_estimated_cost", number()),
    ]);
    vec![
        (
            "StatusData",
            record(vec![
                ("account_id", uuid()),
                ("apikey_id", uuid()),
                ("apikey_name", string()),
                ("apikey_prefix", string()),
                ("apikey_created_at", time()),
                ("apikey_last_used_at", time()),
                ("apikey_expires_at", nullable(time())),
            ]),
        ),
        (
            "UsageData",
            record(vec![
                ("account_id", uuid()),
                (
                    "usage_period_days",
                    json!({ "type": "integer", "minimum": 1, "maximum": crate::service::usage::MAX_DAYS }),
                ),
                ("usage_credit_balance", json!({ "type": "number" })),
                ("usage_total_requests", count()),
                ("usage_total_success", count()),
                ("usage_total_client_errors", count()),
                ("usage_total_server_errors", count()),
                ("usage_total_generations", count()),
                ("usage_total_provider_submissions", count()),
                ("usage_total_estimated_cost", number()),
                ("usage_endpoints", array(endpoint)),
                ("usage_providers", array(provider)),
            ]),
        ),
        (
            "AccountData",
            record(vec![
                ("account_id", uuid()),
                ("account_name", string()),
                ("account_email", nullable(string())),
                ("account_is_personal", boolean()),
                ("account_picture_url", nullable(string())),
                ("account_created_at", time()),
            ]),
        ),
        (
            "BillingData",
            record(vec![
                ("account_id", uuid()),
                ("billing_plan", string()),
                ("billing_credit_balance", json!({ "type": "number" })),
                ("billing_subscription_status", nullable(string())),
                ("billing_cancel_at_period_end", nullable(boolean())),
                ("billing_currency", nullable(string())),
                ("billing_period_starts_at", nullable(time())),
                ("billing_period_ends_at", nullable(time())),
                ("billing_created_at", nullable(time())),
                ("billing_updated_at", nullable(time())),
            ]),
        ),
    ]
}

fn health() -> Vec<(&'static str, Value)> {
    let window = record(vec![
        ("total_attempts", count()),
        ("failures", count()),
        ("successes", count()),
        ("duration_seconds", count()),
    ]);
    let provider = record(vec![
        ("provider", string()),
        ("status", one_of(BREAKER_STATUSES)),
        (
            "failure_rate",
            json!({ "type": "number", "minimum": 0, "maximum": 1 }),
        ),
        ("window", window),
    ]);
    let served_by = record(vec![("available", boolean()), ("raw_model_id", string())]);
    let model = object(vec![
        ("model_identifier", string(), true),
        ("model_type", one_of(MODEL_TYPES), true),
        ("model_pricing", number(), false),
        ("model_pricing_by_resolution", map(number()), false),
        ("providers", map(served_by), true),
    ]);
    let probe = |service: &str, what: (&'static str, Value)| {
        object(vec![
            ("service", one_of(&[service]), true),
            ("healthy", boolean(), true),
            ("latency_ms", number(), true),
            (what.0, what.1, true),
            ("error", string(), false),
        ])
    };
    vec![
        (
            "ProvidersHealth",
            record(vec![
                ("service", one_of(&["providers"])),
                ("healthy", boolean()),
                ("providers_total", count()),
                ("providers", array(provider)),
            ]),
        ),
        (
            "ModelsHealth",
            record(vec![
                ("service", one_of(&["models"])),
                ("healthy", boolean()),
                ("models_total", count()),
                ("models", array(model)),
            ]),
        ),
        ("StorageHealth", probe("storage", ("bucket", string()))),
        (
            "CacheHealth",
            probe("cache", ("engine", one_of(&["sqlite"]))),
        ),
    ]
}
