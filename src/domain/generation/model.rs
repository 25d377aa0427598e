//! A model of the catalog as the API offers it: its type, ratios, formats, video parameters,
//! model-specific fields and the providers serving it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelType {
    Image,
    Video,
}

impl ModelType {
    pub const ALL: [ModelType; 2] = [ModelType::Image, ModelType::Video];

    pub fn as_str(self) -> &'static str {
        match self {
            ModelType::Image => "image",
            ModelType::Video => "video",
        }
    }

    pub fn parse(s: &str) -> Option<ModelType> {
        ModelType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    String,
    Integer,
    Number,
    Boolean,
}

impl FieldType {
    pub const ALL: [FieldType; 4] = [
        FieldType::String,
        FieldType::Integer,
        FieldType::Number,
        FieldType::Boolean,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Integer => "integer",
            FieldType::Number => "number",
            FieldType::Boolean => "boolean",
        }
    }
}

/// A model-specific body field.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SpecificField {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: FieldType,
    #[serde(default)]
    pub description: String,
    /// Allowed values (strings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelProvider {
    pub provider: String,
    /// The provider's own id for this model.
    pub model: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    pub identifier: String,
    #[serde(rename = "type")]
    pub model_type: ModelType,
    /// Image: per generated asset. Video: per second.
    pub pricing: Pricing,
    pub ratios: Vec<String>,
    pub formats: Vec<String>,
    /// Most outputs one generation may ask for.
    pub max_outputs: u32,
    #[serde(default)]
    pub input_file: bool,
    #[serde(default)]
    pub durations: Vec<u32>,
    #[serde(default)]
    pub resolutions: Vec<String>,
    #[serde(default)]
    pub default_resolution: Option<String>,
    /// Whether the model can generate audio (video).
    #[serde(default)]
    pub audio: bool,
    #[serde(default)]
    pub specific: Vec<SpecificField>,
    pub providers: Vec<ModelProvider>,
}

impl Model {
    pub fn is_video(&self) -> bool {
        self.model_type == ModelType::Video
    }

    /// The resolution a video request gets when it names none.
    pub fn resolution_or_default(&self, asked: Option<&str>) -> Option<String> {
        asked
            .map(str::to_owned)
            .or_else(|| self.default_resolution.clone())
            .or_else(|| self.resolutions.first().cloned())
    }

    pub fn raw_model_id(&self, provider: &str) -> Option<&str> {
        self.providers
            .iter()
            .find(|p| p.provider == provider)
            .map(|p| p.model.as_str())
    }
}

/// `W:H` with positive integers.
pub fn parse_ratio(ratio: &str) -> Option<(u32, u32)> {
    let (w, h) = ratio.split_once(':')?;
    let w: u32 = w.parse().ok()?;
    let h: u32 = h.parse().ok()?;
    (w > 0 && h > 0 && w <= 100 && h <= 100).then_some((w, h))
}

/// A price: flat, or per resolution (video, with optional `_audio` / `_noaudio` variants).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Pricing {
    Flat(f64),
    Map(BTreeMap<String, f64>),
}
