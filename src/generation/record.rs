//! The generation record as clients see it (generation.md §3).

use serde_json::{Map, Value, json};

use crate::domain::clock::time_or_null;
use crate::service::generations::{Generation, GenerationStatus};

/// Absolute URLs of a generation's files under `origin`.
pub fn output_urls(g: &Generation, origin: &str) -> Option<Vec<String>> {
    if g.files_removed {
        return None;
    }
    g.output_files.as_ref().map(|names| {
        names
            .iter()
            .map(|n| format!("{origin}/media/{}/{n}", g.id))
            .collect()
    })
}

fn seconds(ms: Option<i64>) -> Value {
    ms.and_then(|ms| serde_json::Number::from_f64(ms as f64 / 1000.0))
        .map_or(Value::Null, Value::Number)
}

/// The record of `GET /v1/content/{id}`; media URLs are absolute under `origin`.
pub fn record_json(g: &Generation, origin: &str) -> Value {
    let total_ms = g.completed_at.map(|c| c.millis() - g.created_at.millis());
    let mut r: Map<String, Value> = match json!({
        "account_id": g.account_id,
        "generation_id": g.id,
        "model_identifier": g.model_identifier,
        "generation_provider_order": g.provider_order,
        "generation_provider_used": g.provider_used,
        "generation_prediction_id": g.prediction_id,
        "generation_status": g.status.as_str(),
        "generation_prompt": g.prompt,
        "generation_ratio": g.ratio,
        "generation_output_format": g.output_format,
        "generation_output_number": g.output_number,
        "generation_input_file": g.input_files,
        "generation_output_file": output_urls(g, origin),
        "generation_created_at": g.created_at.to_rfc3339(),
        "generation_started_at": time_or_null(g.started_at),
        "generation_completed_at": time_or_null(g.completed_at),
        "generation_metrics_total_time": seconds(total_ms),
        "generation_metrics_predict_time": seconds(g.predict_ms),
    }) {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    if g.model_type == "video" {
        r.insert("generation_duration".into(), json!(g.duration));
        r.insert("generation_resolution".into(), json!(g.resolution));
        r.insert(
            "generation_generate_audio".into(),
            json!(g.generate_audio.unwrap_or(false)),
        );
    }
    if g.status == GenerationStatus::Failed {
        r.insert("generation_error".into(), json!(g.error));
        r.insert("generation_error_code".into(), json!(g.error_code));
    }
    if g.files_removed {
        r.insert("generation_removed".into(), Value::Bool(true));
    }
    Value::Object(r)
}
