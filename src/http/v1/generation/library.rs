//! The model and provider library.

use serde_json::{Value, json};

use crate::domain::generation::Model;
use crate::http::v1::handlers::{V1Reply, V1Request};
use crate::http::v1::routes::HandlerFuture;
use crate::providers::ProviderKind;

pub fn library_models(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        let catalog = req.state.roster.catalog();
        let models: Vec<Value> = catalog.models.iter().map(model_json).collect();
        Ok(V1Reply::ok(
            "Models retrieved successfully",
            json!({ "models_total": models.len(), "models": models }),
        ))
    })
}

fn model_json(m: &Model) -> Value {
    let mut schema = json!({
        "generation_prompt": true,
        "generation_ratio": m.ratios,
        "generation_output_format": m.formats,
        "generation_output_number": m.max_outputs,
        "generation_input_file": m.input_file,
    });
    if m.is_video()
        && let Some(obj) = schema.as_object_mut()
    {
        obj.insert("generation_duration".into(), json!(m.durations));
        obj.insert("generation_resolution".into(), json!(m.resolutions));
        obj.insert("generation_generate_audio".into(), json!(m.audio));
    }
    json!({
        "model_type": m.model_type.as_str(),
        "model_identifier": m.identifier,
        "model_pricing": m.pricing_json(),
        "model_supported_provider": m.providers.iter().map(|p| p.provider.as_str()).collect::<Vec<_>>(),
        "schema": schema,
        "specific_schema": m.specific.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        "specific_parameters": m.specific,
    })
}

pub fn library_providers(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        let roster = &req.state.roster;
        let now = roster.now_ms();
        let providers: Vec<Value> = roster
            .providers()
            .iter()
            .map(|p| {
                let spec = &p.spec;
                let models: Vec<&Model> = roster.catalog().models_of(&spec.id).collect();
                let mut media: Vec<&str> = models.iter().map(|m| m.model_type.as_str()).collect();
                media.sort_unstable();
                media.dedup();
                // The SDK's vocabulary, and Tidegate's more precise one beside it.
                let (delivery, cancel, own_delivery, own_cancel) = match spec.kind {
                    ProviderKind::Local => ("synchronous", Value::Null, "direct", "worker_abort"),
                    ProviderKind::OpenaiImages => {
                        ("synchronous", Value::Null, "sync_response", "not_supported")
                    }
                    ProviderKind::HttpAsync => (
                        "polling",
                        json!("prediction_cancel_api"),
                        "polling",
                        "api_cancel",
                    ),
                };
                json!({
                    "provider_id": spec.id,
                    "provider_name": spec.name,
                    "provider_description": spec.description,
                    "provider_website": spec.website,
                    "provider_docs": spec.docs,
                    "provider_status": p.breaker.snapshot(now).status.as_str(),
                    "babysea_implementation": {
                        "delivery_method": delivery,
                        "cancel_method": cancel,
                        "webhook_verification": Value::Null,
                        "tidegate_delivery_method": own_delivery,
                        "tidegate_cancel_method": own_cancel,
                        "error_mapping": "bse_error_codes",
                        "cost_tracking": "per_generation_usd",
                        "schema_conversion": "unified_to_native",
                        "failover_strategy": "sequential_provider_chain",
                        "health_monitoring": "circuit_breaker",
                        "supported_media_types": media,
                        "supported_models_total": models.len(),
                    },
                })
            })
            .collect();
        Ok(V1Reply::ok(
            "Providers retrieved successfully",
            json!({ "providers_total": providers.len(), "providers": providers }),
        ))
    })
}
