//! A generation on the wire: the record of `GET /v1/content/{generation_id}` and of the list.

use schemars::JsonSchema;
use serde::Serialize;

use super::{Credits, Time, count, named};
use crate::domain::Money;
use crate::domain::generation::request::{MAX_INPUT_FILES, MAX_PROMPT_CHARS};
use crate::domain::generation::{Estimate, Generation, GenerationStatus, Model};

named!(
    /// Where a generation stands.
    Status(crate::domain::generation::GenerationStatus),
    crate::domain::generation::GenerationStatus::ALL
);

named!(
    /// What a model makes.
    ModelType(crate::domain::generation::ModelType),
    crate::domain::generation::ModelType::ALL
);

/// A generation as clients see it; media URLs are absolute.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "GenerationRecord")]
pub struct GenerationRecord {
    #[schemars(extend("format" = "uuid"))]
    pub account_id: String,
    #[schemars(extend("format" = "uuid"))]
    pub generation_id: String,
    pub model_identifier: String,
    pub generation_provider_order: Vec<String>,
    pub generation_provider_used: Option<String>,
    pub generation_prediction_id: Option<String>,
    pub generation_status: Status,
    pub generation_prompt: String,
    pub generation_ratio: String,
    pub generation_output_format: String,
    #[schemars(range(min = 1))]
    pub generation_output_number: u32,
    pub generation_input_file: Option<Vec<String>>,
    pub generation_output_file: Option<Vec<String>>,
    pub generation_created_at: Time,
    pub generation_started_at: Option<Time>,
    pub generation_completed_at: Option<Time>,
    /// Seconds from creation to completion.
    #[schemars(range(min = 0))]
    pub generation_metrics_total_time: Option<f64>,
    /// Seconds the provider reported it took.
    #[schemars(range(min = 0))]
    pub generation_metrics_predict_time: Option<f64>,
    /// Video only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub generation_duration: Option<u32>,
    /// Video only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_resolution: Option<String>,
    /// Video only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_generate_audio: Option<bool>,
    /// Failed only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_error: Option<String>,
    /// Failed only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^BSE[0-9]{4}$"))]
    pub generation_error_code: Option<String>,
    /// Present, and true, once the generated files were deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = [true]))]
    pub generation_removed: Option<bool>,
}

fn seconds(ms: Option<i64>) -> Option<f64> {
    ms.map(|ms| ms as f64 / 1000.0)
}

impl GenerationRecord {
    /// The record, with the media URLs absolute under `origin`.
    pub fn of(g: &Generation, origin: &str) -> GenerationRecord {
        let video = g.is_video();
        let failed = g.status == GenerationStatus::Failed;
        GenerationRecord {
            account_id: g.account_id.clone(),
            generation_id: g.id.clone(),
            model_identifier: g.model_identifier.clone(),
            generation_provider_order: g.provider_order.clone(),
            generation_provider_used: g.provider_used.clone(),
            generation_prediction_id: g.prediction_id.clone(),
            generation_status: Status(g.status),
            generation_prompt: g.prompt.clone(),
            generation_ratio: g.ratio.clone(),
            generation_output_format: g.output_format.clone(),
            generation_output_number: g.output_number,
            generation_input_file: g.input_files.clone(),
            generation_output_file: g.output_urls(origin),
            generation_created_at: Time(g.created_at),
            generation_started_at: Time::of(g.started_at),
            generation_completed_at: Time::of(g.completed_at),
            generation_metrics_total_time: seconds(g.total_ms()),
            generation_metrics_predict_time: seconds(g.predict_ms),
            generation_duration: g.duration.filter(|_| video),
            generation_resolution: g.resolution.clone().filter(|_| video),
            generation_generate_audio: video.then(|| g.generate_audio.unwrap_or(false)),
            generation_error: g.error.clone().filter(|_| failed),
            generation_error_code: g.error_code.clone().filter(|_| failed),
            generation_removed: g.files_removed.then_some(true),
        }
    }
}

/// A page of generations.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "GenerationList")]
pub struct GenerationListOut {
    pub generations: Vec<GenerationRecord>,
}

/// The answer to an accepted generation. No provider has been called yet: the prediction id the
/// SDK expects here is the generation id; the record carries the upstream's own id once a
/// provider assigns one.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "GenerationInitialized")]
pub struct GenerationInitialized {
    pub model_identifier: String,
    pub generation_provider_order: Vec<String>,
    pub generation_prediction_id: String,
    #[schemars(extend("format" = "uuid"))]
    pub generation_id: String,
    #[schemars(extend("enum" = [true]))]
    pub generation_initialized: bool,
}

impl GenerationInitialized {
    pub fn of(g: &Generation) -> GenerationInitialized {
        GenerationInitialized {
            model_identifier: g.model_identifier.clone(),
            generation_provider_order: g.provider_order.clone(),
            generation_prediction_id: g.id.clone(),
            generation_id: g.id.clone(),
            generation_initialized: true,
        }
    }
}

/// A generation canceled since the first request with the same `Idempotency-Key` and body.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "GenerationCanceledSince")]
pub struct GenerationCanceledSince {
    #[schemars(extend("format" = "uuid"))]
    pub generation_id: String,
    #[schemars(extend("enum" = ["canceled"]))]
    pub generation_status: &'static str,
}

impl GenerationCanceledSince {
    pub fn of(generation_id: String) -> GenerationCanceledSince {
        GenerationCanceledSince {
            generation_id,
            generation_status: "canceled",
        }
    }
}

/// The answer of `POST /v1/generate/…`: a new generation, or the replay of one canceled since
/// (same Idempotency-Key and body).
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum GenerationStarted {
    Initialized(GenerationInitialized),
    CanceledSince(GenerationCanceledSince),
}

impl JsonSchema for GenerationStarted {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "GenerationStarted".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // One or the other, never both: `oneOf`, where an untagged enum would give `anyOf`.
        schemars::json_schema!({
            "description": "A new generation, or the replay of one canceled since (same Idempotency-Key and body).",
            "oneOf": [
                generator.subschema_for::<GenerationInitialized>(),
                generator.subschema_for::<GenerationCanceledSince>(),
            ],
        })
    }
}

/// `POST /v1/content/{generation_id}/cancel`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "GenerationCanceled")]
pub struct GenerationCanceled {
    #[schemars(extend("format" = "uuid"))]
    pub generation_id: String,
    #[schemars(extend("enum" = ["canceled"]))]
    pub generation_status: &'static str,
    /// Whether the running attempt was reached (the upstream acknowledged the cancel).
    pub provider_cancel_sent: bool,
    pub credits_refunded: bool,
    #[schemars(range(min = 0))]
    pub credits_refunded_amount: Credits,
}

impl GenerationCanceled {
    pub fn of(generation_id: String, provider_cancel_sent: bool, refunded: Money) -> Self {
        GenerationCanceled {
            generation_id,
            generation_status: "canceled",
            provider_cancel_sent,
            credits_refunded: refunded.thousandths() > 0,
            credits_refunded_amount: Credits(refunded),
        }
    }
}

/// `DELETE /v1/content/{generation_id}`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "GenerationDeleted")]
pub struct GenerationDeleted {
    #[schemars(extend("format" = "uuid"))]
    pub generation_id: String,
    pub files_deleted: u64,
}

/// `GET /v1/estimate/{model_identifier}`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "EstimateData")]
pub struct EstimateData {
    pub model_identifier: String,
    pub model_type: ModelType,
    #[schemars(range(min = 1, max = 100))]
    pub assets_count: u32,
    /// Video: the price of one second.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub cost_per_second: Option<Credits>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub duration_seconds: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    #[schemars(range(min = 0))]
    pub cost_per_generation: Credits,
    #[schemars(range(min = 0))]
    pub cost_total_consumed: Credits,
    pub credit_balance: Credits,
    pub credit_balance_can_afford: bool,
    /// How many generations the balance pays for.
    pub credit_balance_max_affordable: u64,
}

impl EstimateData {
    pub fn of(model: &Model, est: &Estimate, balance: Money) -> EstimateData {
        let per_generation = est.per_generation.thousandths();
        let max_affordable = if per_generation > 0 {
            (balance.thousandths().max(0) / per_generation).min(i64::from(u32::MAX))
        } else {
            100
        };
        EstimateData {
            model_identifier: model.identifier.clone(),
            model_type: ModelType(model.model_type),
            assets_count: est.count,
            cost_per_second: est.cost_per_second.map(Credits),
            duration_seconds: est.duration,
            resolution: est.resolution.clone(),
            cost_per_generation: Credits(est.per_generation),
            cost_total_consumed: Credits(est.total),
            credit_balance: Credits(balance),
            credit_balance_can_afford: balance >= est.total,
            credit_balance_max_affordable: count(max_affordable),
        }
    }
}

/// The body of `POST /v1/generate/image/{owner}/{name}`. The fields are checked against the
/// model by `domain::generation::request`, whose field lists a test holds this schema to.
pub struct GenerateImageRequest;

/// The body of `POST /v1/generate/video/{owner}/{name}`.
pub struct GenerateVideoRequest;

fn body_fields(
    video: bool,
) -> (
    serde_json::Map<String, serde_json::Value>,
    Vec<&'static str>,
) {
    let url =
        serde_json::json!({ "type": "string", "pattern": "^https?://\\S{2,}$", "maxLength": 2048 });
    let mut fields = serde_json::json!({
        "generation_prompt": { "type": "string", "minLength": 1, "maxLength": MAX_PROMPT_CHARS, "pattern": "\\S" },
        "generation_ratio": { "type": "string" },
        "generation_output_format": { "type": "string" },
        "generation_output_number": { "type": "integer", "minimum": 1 },
        "generation_input_file": { "type": "array", "items": url, "maxItems": MAX_INPUT_FILES },
        "generation_provider_order": {
            "type": "string",
            "description": "\"fastest\" or a comma list of providers serving the model",
        },
    });
    let mut required = vec!["generation_prompt"];
    if video {
        fields["generation_duration"] = serde_json::json!({ "type": "integer", "minimum": 1 });
        fields["generation_resolution"] = serde_json::json!({ "type": "string" });
        fields["generation_generate_audio"] = serde_json::json!({ "type": "boolean" });
        fields["generation_input_file_last_content"] = url;
        required.push("generation_duration");
    }
    match fields {
        serde_json::Value::Object(map) => (map, required),
        _ => (serde_json::Map::new(), required),
    }
}

fn body_schema(video: bool, example: serde_json::Value) -> schemars::Schema {
    let (properties, required) = body_fields(video);
    schemars::json_schema!({
        "type": "object",
        "description": "Model-specific fields named in the model's `specific_schema` are accepted too.",
        "properties": properties,
        "required": required,
        "additionalProperties": true,
        "example": example,
    })
}

impl JsonSchema for GenerateImageRequest {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "GenerateImageRequest".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        body_schema(
            false,
            serde_json::json!({ "generation_prompt": "a lighthouse at dusk", "generation_ratio": "1:1" }),
        )
    }
}

impl JsonSchema for GenerateVideoRequest {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "GenerateVideoRequest".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        body_schema(
            true,
            serde_json::json!({ "generation_prompt": "waves on a shore", "generation_duration": 1 }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::generation::request::{COMMON, VIDEO_ONLY};

    #[test]
    fn the_body_schemas_name_exactly_the_fields_the_parser_knows() {
        let names = |video| {
            let mut names: Vec<String> = body_fields(video).0.keys().cloned().collect();
            names.sort();
            names
        };
        let mut image: Vec<String> = COMMON.iter().map(|s| s.to_string()).collect();
        image.sort();
        assert_eq!(names(false), image);
        let mut video: Vec<String> = COMMON
            .iter()
            .chain(VIDEO_ONLY)
            .map(|s| s.to_string())
            .collect();
        video.sort();
        assert_eq!(names(true), video);
    }
}
