//! `GET /v1/library/…`: the models of the catalog with what their bodies take, and the
//! providers with how Tidegate talks to them.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use super::generation::ModelType;
use super::health::{BreakerStatus, Price};
use super::{Credits, named};
use crate::domain::generation::{Model, ProviderKind, SpecificField};
use crate::service::generations::Roster;

named!(
    /// The type of a model-specific field.
    SpecificType(crate::domain::generation::FieldType),
    crate::domain::generation::FieldType::ALL
);

#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "ModelList")]
pub struct ModelList {
    pub models_total: u64,
    pub models: Vec<ModelOut>,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "LibraryModel", inline)]
pub struct ModelOut {
    pub model_type: ModelType,
    pub model_identifier: String,
    pub model_pricing: Pricing,
    pub model_supported_provider: Vec<String>,
    pub schema: BodySchema,
    /// The names of the model-specific fields.
    pub specific_schema: Vec<String>,
    pub specific_parameters: Vec<SpecificParameter>,
}

/// Image: the price of one asset. Video: the price of one second, by resolution.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Pricing {
    Flat(Credits),
    ByResolution(BTreeMap<String, Price>),
}

impl JsonSchema for Pricing {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Pricing".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let by_resolution = generator.subschema_for::<BTreeMap<String, Price>>();
        schemars::json_schema!({
            "oneOf": [{ "type": "number", "minimum": 0 }, by_resolution],
        })
    }
}

/// What the model's generate body takes.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "LibraryBodySchema", inline)]
pub struct BodySchema {
    pub generation_prompt: bool,
    pub generation_ratio: Vec<String>,
    pub generation_output_format: Vec<String>,
    /// Most outputs one generation may ask for.
    #[schemars(range(min = 1))]
    pub generation_output_number: u32,
    pub generation_input_file: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_duration: Option<Vec<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_resolution: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_generate_audio: Option<bool>,
}

/// A model-specific body field.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "SpecificParameter", inline)]
pub struct SpecificParameter {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: SpecificType,
    pub description: String,
    /// Allowed values.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

impl SpecificParameter {
    fn of(f: &SpecificField) -> SpecificParameter {
        SpecificParameter {
            name: f.name.clone(),
            ty: SpecificType(f.ty),
            description: f.description.clone(),
            values: f.values.clone(),
            min: f.min,
            max: f.max,
        }
    }
}

impl ModelOut {
    fn of(m: &Model) -> ModelOut {
        let video = m.is_video();
        let pricing = match (m.pricing.flat(), m.pricing.by_resolution()) {
            (Some(flat), _) => Pricing::Flat(Credits(flat)),
            (None, by) => Pricing::ByResolution(
                by.unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, Price(Credits(v))))
                    .collect(),
            ),
        };
        ModelOut {
            model_type: ModelType(m.model_type),
            model_identifier: m.identifier.clone(),
            model_pricing: pricing,
            model_supported_provider: m.providers.iter().map(|p| p.provider.clone()).collect(),
            schema: BodySchema {
                generation_prompt: true,
                generation_ratio: m.ratios.clone(),
                generation_output_format: m.formats.clone(),
                generation_output_number: m.max_outputs,
                generation_input_file: m.input_file,
                generation_duration: video
                    .then(|| m.durations.iter().map(|d| i64::from(*d)).collect()),
                generation_resolution: video.then(|| m.resolutions.clone()),
                generation_generate_audio: video.then_some(m.audio),
            },
            specific_schema: m.specific.iter().map(|f| f.name.clone()).collect(),
            specific_parameters: m.specific.iter().map(SpecificParameter::of).collect(),
        }
    }
}

impl ModelList {
    pub fn of(roster: &Roster) -> ModelList {
        let models: Vec<ModelOut> = roster.catalog().models.iter().map(ModelOut::of).collect();
        ModelList {
            models_total: models.len() as u64,
            models,
        }
    }
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "ProviderList")]
pub struct ProviderList {
    pub providers_total: u64,
    pub providers: Vec<ProviderOut>,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "LibraryProvider", inline)]
pub struct ProviderOut {
    pub provider_id: String,
    pub provider_name: String,
    pub provider_description: String,
    pub provider_website: String,
    pub provider_docs: String,
    pub provider_status: BreakerStatus,
    pub babysea_implementation: Implementation,
}

/// How the provider is called, in the SDK's vocabulary and, beside it, Tidegate's more
/// precise one.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "ProviderImplementation", inline)]
pub struct Implementation {
    #[schemars(extend("enum" = ["webhook_with_polling", "synchronous", "polling"]))]
    pub delivery_method: &'static str,
    #[schemars(extend("enum" = ["prediction_cancel_api", "queue_cancel_api", null]))]
    pub cancel_method: Option<&'static str>,
    #[schemars(extend("enum" = ["hmac_sha256", "ed25519", null]))]
    pub webhook_verification: Option<&'static str>,
    #[schemars(extend("enum" = ["direct", "sync_response", "polling"]))]
    pub tidegate_delivery_method: &'static str,
    #[schemars(extend("enum" = ["worker_abort", "not_supported", "api_cancel"]))]
    pub tidegate_cancel_method: &'static str,
    #[schemars(extend("enum" = ["bse_error_codes"]))]
    pub error_mapping: &'static str,
    #[schemars(extend("enum" = ["per_generation_usd"]))]
    pub cost_tracking: &'static str,
    #[schemars(extend("enum" = ["unified_to_native"]))]
    pub schema_conversion: &'static str,
    #[schemars(extend("enum" = ["sequential_provider_chain"]))]
    pub failover_strategy: &'static str,
    #[schemars(extend("enum" = ["circuit_breaker"]))]
    pub health_monitoring: &'static str,
    pub supported_media_types: Vec<ModelType>,
    pub supported_models_total: u64,
}

impl ProviderList {
    pub fn of(roster: &Roster) -> ProviderList {
        let now = roster.now_ms();
        let providers: Vec<ProviderOut> = roster
            .providers()
            .iter()
            .map(|p| {
                let spec = &p.spec;
                let models: Vec<&Model> = roster.catalog().models_of(&spec.id).collect();
                let mut media: Vec<_> = models.iter().map(|m| m.model_type).collect();
                media.sort_by_key(|t| t.as_str());
                media.dedup();
                let (delivery, cancel, own_delivery, own_cancel) = match spec.kind {
                    ProviderKind::Local => ("synchronous", None, "direct", "worker_abort"),
                    ProviderKind::OpenaiImages => {
                        ("synchronous", None, "sync_response", "not_supported")
                    }
                    ProviderKind::HttpAsync => (
                        "polling",
                        Some("prediction_cancel_api"),
                        "polling",
                        "api_cancel",
                    ),
                };
                ProviderOut {
                    provider_id: spec.id.clone(),
                    provider_name: spec.name.clone(),
                    provider_description: spec.description.clone(),
                    provider_website: spec.website.clone(),
                    provider_docs: spec.docs.clone(),
                    provider_status: BreakerStatus(p.breaker.snapshot(now).status),
                    babysea_implementation: Implementation {
                        delivery_method: delivery,
                        cancel_method: cancel,
                        webhook_verification: None,
                        tidegate_delivery_method: own_delivery,
                        tidegate_cancel_method: own_cancel,
                        error_mapping: "bse_error_codes",
                        cost_tracking: "per_generation_usd",
                        schema_conversion: "unified_to_native",
                        failover_strategy: "sequential_provider_chain",
                        health_monitoring: "circuit_breaker",
                        supported_media_types: media.into_iter().map(ModelType).collect(),
                        supported_models_total: models.len() as u64,
                    },
                }
            })
            .collect();
        ProviderList {
            providers_total: providers.len() as u64,
            providers,
        }
    }
}
