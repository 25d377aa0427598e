//! A generation on the wire: the record of `GET /v1/content/{generation_id}` and of the list.

use schemars::JsonSchema;
use serde::Serialize;

use super::{Time, named};
use crate::domain::generation::{Generation, GenerationStatus};

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
