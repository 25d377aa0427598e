//! What a finished generation's record must hold, for the tests that run one.

use serde_json::Value;

fn is_time(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.ends_with('Z') && s.len() == 24)
}

/// A succeeded record holds every field the SDK declares, with its type.
pub fn check_record(r: &Value, video: bool) {
    for (field, ok) in [
        ("account_id", r["account_id"].is_string()),
        ("generation_id", r["generation_id"].is_string()),
        ("model_identifier", r["model_identifier"].is_string()),
        (
            "generation_provider_order",
            r["generation_provider_order"].is_array(),
        ),
        (
            "generation_provider_used",
            r["generation_provider_used"].is_string(),
        ),
        (
            "generation_prediction_id",
            r["generation_prediction_id"].is_string()
                || r.get("generation_prediction_id") == Some(&Value::Null),
        ),
        ("generation_status", r["generation_status"] == "succeeded"),
        ("generation_prompt", r["generation_prompt"].is_string()),
        ("generation_ratio", r["generation_ratio"].is_string()),
        (
            "generation_output_format",
            r["generation_output_format"].is_string(),
        ),
        (
            "generation_output_number",
            r["generation_output_number"].is_u64(),
        ),
        (
            "generation_input_file",
            r.get("generation_input_file") == Some(&Value::Null)
                || r["generation_input_file"].is_array(),
        ),
        (
            "generation_output_file",
            r["generation_output_file"].is_array(),
        ),
        (
            "generation_created_at",
            is_time(&r["generation_created_at"]),
        ),
        (
            "generation_started_at",
            is_time(&r["generation_started_at"]),
        ),
        (
            "generation_completed_at",
            is_time(&r["generation_completed_at"]),
        ),
        (
            "generation_metrics_total_time",
            r["generation_metrics_total_time"].is_number(),
        ),
        (
            "generation_metrics_predict_time",
            r["generation_metrics_predict_time"].is_number(),
        ),
    ] {
        assert!(ok, "{field} in {r}");
    }
    assert_eq!(r.get("generation_duration").is_some(), video, "{r}");
    if video {
        assert!(r["generation_duration"].is_u64() && r["generation_resolution"].is_string());
        assert!(r["generation_generate_audio"].is_boolean());
    }
    assert!(r.get("generation_error").is_none() && r.get("generation_removed").is_none());
}
