//! The schemas of the generation and library operations, and the generate bodies.

use serde_json::{Value, json};

use super::schemas::{
    BREAKER_STATUSES, MODEL_TYPES, array, boolean, count, map, nullable, number, object, one_of,
    record, reference, string, time, uuid,
};
use crate::domain::generation::request::{MAX_INPUT_FILES, MAX_PROMPT_CHARS};

pub(super) fn generations() -> Vec<(&'static str, Value)> {
    let statuses = &["pending", "processing", "succeeded", "failed", "canceled"];
    let generation = object(vec![
        ("account_id", uuid(), true),
        ("generation_id", uuid(), true),
        ("model_identifier", string(), true),
        ("generation_provider_order", array(string()), true),
        ("generation_provider_used", nullable(string()), true),
        ("generation_prediction_id", nullable(string()), true),
        ("generation_status", one_of(statuses), true),
        ("generation_prompt", string(), true),
        ("generation_ratio", string(), true),
        ("generation_output_format", string(), true),
        (
            "generation_output_number",
            json!({ "type": "integer", "minimum": 1 }),
            true,
        ),
        ("generation_input_file", nullable(array(string())), true),
        ("generation_output_file", nullable(array(string())), true),
        ("generation_created_at", time(), true),
        ("generation_started_at", nullable(time()), true),
        ("generation_completed_at", nullable(time()), true),
        ("generation_metrics_total_time", nullable(number()), true),
        ("generation_metrics_predict_time", nullable(number()), true),
        (
            "generation_duration",
            json!({ "type": "integer", "minimum": 1 }),
            false,
        ),
        ("generation_resolution", string(), false),
        ("generation_generate_audio", boolean(), false),
        ("generation_error", string(), false),
        (
            "generation_error_code",
            json!({ "type": "string", "pattern": "^BSE[0-9]{4}$" }),
            false,
        ),
        (
            "generation_removed",
            json!({ "type": "boolean", "enum": [true] }),
            false,
        ),
    ]);
    vec![
        (
            "EstimateData",
            object(vec![
                ("model_identifier", string(), true),
                ("model_type", one_of(MODEL_TYPES), true),
                (
                    "assets_count",
                    json!({ "type": "integer", "minimum": 1, "maximum": 100 }),
                    true,
                ),
                ("cost_per_second", number(), false),
                (
                    "duration_seconds",
                    json!({ "type": "integer", "minimum": 1 }),
                    false,
                ),
                ("resolution", string(), false),
                ("cost_per_generation", number(), true),
                ("cost_total_consumed", number(), true),
                ("credit_balance", json!({ "type": "number" }), true),
                ("credit_balance_can_afford", boolean(), true),
                ("credit_balance_max_affordable", count(), true),
            ]),
        ),
        (
            "GenerationInitialized",
            record(vec![
                ("model_identifier", string()),
                ("generation_provider_order", array(string())),
                ("generation_prediction_id", string()),
                ("generation_id", uuid()),
                (
                    "generation_initialized",
                    json!({ "type": "boolean", "enum": [true] }),
                ),
            ]),
        ),
        (
            "GenerationCanceledSince",
            record(vec![
                ("generation_id", uuid()),
                ("generation_status", one_of(&["canceled"])),
            ]),
        ),
        (
            "GenerationStarted",
            json!({
                "description": "A new generation, or the replay of one canceled since (same Idempotency-Key and body).",
                "oneOf": [reference("GenerationInitialized"), reference("GenerationCanceledSince")],
            }),
        ),
        ("GenerationRecord", generation),
        (
            "GenerationList",
            record(vec![("generations", array(reference("GenerationRecord")))]),
        ),
        (
            "GenerationDeleted",
            record(vec![("generation_id", uuid()), ("files_deleted", count())]),
        ),
        (
            "GenerationCanceled",
            record(vec![
                ("generation_id", uuid()),
                ("generation_status", one_of(&["canceled"])),
                ("provider_cancel_sent", boolean()),
                ("credits_refunded", boolean()),
                ("credits_refunded_amount", number()),
            ]),
        ),
    ]
}

pub(super) fn library() -> Vec<(&'static str, Value)> {
    let schema = object(vec![
        ("generation_prompt", boolean(), true),
        ("generation_ratio", array(string()), true),
        ("generation_output_format", array(string()), true),
        (
            "generation_output_number",
            json!({ "type": "integer", "minimum": 1 }),
            true,
        ),
        ("generation_input_file", boolean(), true),
        (
            "generation_duration",
            array(json!({ "type": "integer" })),
            false,
        ),
        ("generation_resolution", array(string()), false),
        ("generation_generate_audio", boolean(), false),
    ]);
    let parameter = object(vec![
        ("name", string(), true),
        (
            "type",
            one_of(&["string", "integer", "number", "boolean"]),
            true,
        ),
        ("description", string(), true),
        ("values", array(string()), false),
        ("min", json!({ "type": "number" }), false),
        ("max", json!({ "type": "number" }), false),
    ]);
    let model = record(vec![
        ("model_type", one_of(MODEL_TYPES)),
        ("model_identifier", string()),
        (
            "model_pricing",
            json!({ "oneOf": [number(), map(number())] }),
        ),
        ("model_supported_provider", array(string())),
        ("schema", schema),
        ("specific_schema", array(string())),
        ("specific_parameters", array(parameter)),
    ]);
    let implementation = record(vec![
        (
            "delivery_method",
            one_of(&["webhook_with_polling", "synchronous", "polling"]),
        ),
        (
            "cancel_method",
            nullable(one_of(&["prediction_cancel_api", "queue_cancel_api"])),
        ),
        (
            "webhook_verification",
            nullable(one_of(&["hmac_sha256", "ed25519"])),
        ),
        (
            "tidegate_delivery_method",
            one_of(&["direct", "sync_response", "polling"]),
        ),
        (
            "tidegate_cancel_method",
            one_of(&["worker_abort", "not_supported", "api_cancel"]),
        ),
        ("error_mapping", one_of(&["bse_error_codes"])),
        ("cost_tracking", one_of(&["per_generation_usd"])),
        ("schema_conversion", one_of(&["unified_to_native"])),
        ("failover_strategy", one_of(&["sequential_provider_chain"])),
        ("health_monitoring", one_of(&["circuit_breaker"])),
        ("supported_media_types", array(one_of(MODEL_TYPES))),
        ("supported_models_total", count()),
    ]);
    let provider = record(vec![
        ("provider_id", string()),
        ("provider_name", string()),
        ("provider_description", string()),
        ("provider_website", string()),
        ("provider_docs", string()),
        ("provider_status", one_of(BREAKER_STATUSES)),
        ("babysea_implementation", implementation),
    ]);
    vec![
        (
            "ModelList",
            record(vec![("models", array(model)), ("models_total", count())]),
        ),
        (
            "ProviderList",
            record(vec![
                ("providers", array(provider)),
                ("providers_total", count()),
            ]),
        ),
    ]
}

/// The generate bodies (generation.md §1). Model-specific fields, named in the model's
/// `specific_schema`, are allowed beside these.
pub(super) fn bodies() -> Vec<(&'static str, Value)> {
    let url = json!({ "type": "string", "pattern": "^https?://\\S{2,}$", "maxLength": 2048 });
    let common = || {
        vec![
            (
                "generation_prompt",
                json!({ "type": "string", "minLength": 1, "maxLength": MAX_PROMPT_CHARS, "pattern": "\\S" }),
                true,
            ),
            ("generation_ratio", string(), false),
            ("generation_output_format", string(), false),
            (
                "generation_output_number",
                json!({ "type": "integer", "minimum": 1 }),
                false,
            ),
            (
                "generation_input_file",
                json!({ "type": "array", "items": url.clone(), "maxItems": MAX_INPUT_FILES }),
                false,
            ),
            (
                "generation_provider_order",
                json!({ "type": "string", "description": "\"fastest\" or a comma list of providers serving the model" }),
                false,
            ),
        ]
    };
    let mut video = common();
    video.extend([
        (
            "generation_duration",
            json!({ "type": "integer", "minimum": 1 }),
            true,
        ),
        ("generation_resolution", string(), false),
        ("generation_generate_audio", boolean(), false),
        ("generation_input_file_last_content", url.clone(), false),
    ]);
    let with_example = |mut schema: Value, example: Value| {
        schema["description"] =
            "Model-specific fields named in the model's `specific_schema` are accepted too.".into();
        schema["additionalProperties"] = Value::Bool(true);
        schema["example"] = example;
        schema
    };
    vec![
        (
            "GenerateImageRequest",
            with_example(
                object(common()),
                json!({ "generation_prompt": "a lighthouse at dusk", "generation_ratio": "1:1" }),
            ),
        ),
        (
            "GenerateVideoRequest",
            with_example(
                object(video),
                json!({ "generation_prompt": "waves on a shore", "generation_duration": 1 }),
            ),
        ),
    ]
}
