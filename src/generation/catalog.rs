//! The model catalog and provider list: `config/models.toml`, embedded as the default and
//! replaceable with `generation.catalog = "FILE"`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::Money;
use crate::service::keys::is_model_identifier;

pub const DEFAULT_CATALOG: &str = include_str!("../../config/models.toml");

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelType {
    Image,
    Video,
}

impl ModelType {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelType::Image => "image",
            ModelType::Video => "video",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// Built in, offline, procedural.
    Local,
    /// An OpenAI-compatible `POST /v1/images/generations` upstream.
    OpenaiImages,
    /// Submit, then poll: `POST /predictions`, `GET /predictions/{id}`,
    /// `POST /predictions/{id}/cancel`.
    HttpAsync,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Local => "local",
            ProviderKind::OpenaiImages => "openai_images",
            ProviderKind::HttpAsync => "http_async",
        }
    }
}

/// When a provider's circuit opens and how it recovers.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// Attempts older than this no longer count.
    pub window_seconds: u64,
    /// Attempts needed in the window before the failure rate is judged.
    pub min_attempts: u32,
    /// Failure rate (0-1) at or above which the circuit opens (`degraded`).
    pub failure_rate: f64,
    /// How long an open circuit refuses attempts before letting a probe through (`recovering`).
    pub cooldown_seconds: f64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            window_seconds: 300,
            min_attempts: 5,
            failure_rate: 0.5,
            cooldown_seconds: 30.0,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSpec {
    pub id: String,
    pub name: String,
    pub kind: ProviderKind,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub website: String,
    #[serde(default)]
    pub docs: String,
    /// Upstream base URL (HTTP adapters), e.g. `http://127.0.0.1:8000`.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Bearer secret sent upstream; or read from `secret_file`.
    #[serde(default, skip_serializing)]
    pub secret: Option<String>,
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// Longest one attempt may take, in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: f64,
    /// `http_async`: pause between polls, in milliseconds.
    #[serde(default = "default_poll")]
    pub poll_interval_ms: u64,
    #[serde(default)]
    pub breaker: BreakerConfig,
}

fn default_timeout() -> f64 {
    60.0
}

fn default_poll() -> u64 {
    500
}

/// A price: flat, or per resolution (video, with optional `_audio` / `_noaudio` variants).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Pricing {
    Flat(f64),
    Map(BTreeMap<String, f64>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    String,
    Integer,
    Number,
    Boolean,
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

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    providers: Vec<ProviderSpec>,
    #[serde(default)]
    models: Vec<Model>,
}

#[derive(Clone, Debug)]
pub struct Catalog {
    pub providers: Vec<ProviderSpec>,
    pub models: Vec<Model>,
}

fn money(amount: f64) -> Money {
    Money((amount * 1000.0).round() as i64)
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

    /// Image: the price of one asset. Video: the price of one second at `resolution` with or
    /// without audio. `None` when the pricing map has no entry for it.
    pub fn unit_price(&self, resolution: Option<&str>, audio: bool) -> Option<Money> {
        match &self.pricing {
            Pricing::Flat(p) => Some(money(*p)),
            Pricing::Map(map) => {
                let res = resolution?;
                let variant = format!("{res}_{}", if audio { "audio" } else { "noaudio" });
                map.get(&variant)
                    .or_else(|| map.get(res))
                    .map(|p| money(*p))
            }
        }
    }

    /// The pricing as the API shows it: a number or a map of numbers.
    pub fn pricing_json(&self) -> serde_json::Value {
        match &self.pricing {
            Pricing::Flat(p) => money(*p).to_json(),
            Pricing::Map(map) => serde_json::Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), money(*v).to_json()))
                    .collect(),
            ),
        }
    }

    pub fn raw_model_id(&self, provider: &str) -> Option<&str> {
        self.providers
            .iter()
            .find(|p| p.provider == provider)
            .map(|p| p.model.as_str())
    }
}

impl Catalog {
    /// The embedded catalog, or the file named by the configuration.
    pub fn load(file: Option<&Path>) -> Result<Catalog, String> {
        let (text, origin) = match file {
            Some(path) => (
                std::fs::read_to_string(path).map_err(|e| {
                    format!("generation.catalog: cannot read {}: {e}", path.display())
                })?,
                path.display().to_string(),
            ),
            None => (
                DEFAULT_CATALOG.to_owned(),
                "embedded models.toml".to_owned(),
            ),
        };
        Catalog::parse(&text).map_err(|e| format!("generation.catalog ({origin}): {e}"))
    }

    pub fn parse(text: &str) -> Result<Catalog, String> {
        let file: CatalogFile = toml::from_str(text).map_err(|e| e.message().to_owned())?;
        let mut catalog = Catalog {
            providers: file.providers,
            models: file.models,
        };
        catalog.validate()?;
        for provider in &mut catalog.providers {
            if let Some(path) = &provider.secret_file {
                let secret = std::fs::read_to_string(path).map_err(|e| {
                    format!("providers.{}.secret_file: cannot read: {e}", provider.id)
                })?;
                provider.secret = Some(secret.trim().to_owned());
            }
        }
        Ok(catalog)
    }

    fn validate(&self) -> Result<(), String> {
        let mut seen = std::collections::BTreeSet::new();
        for p in &self.providers {
            if !seen.insert(p.id.as_str()) {
                return Err(format!("providers: `{}` is listed twice", p.id));
            }
            if p.id.is_empty()
                || !p
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(format!(
                    "providers.id: `{}` must be letters, digits, `_` or `-`",
                    p.id
                ));
            }
            if p.kind != ProviderKind::Local && p.base_url.is_none() {
                return Err(format!(
                    "providers.{}.base_url: required for kind {}",
                    p.id,
                    p.kind.as_str()
                ));
            }
            if !(p.timeout_seconds > 0.0 && p.timeout_seconds <= 3600.0) {
                return Err(format!(
                    "providers.{}.timeout_seconds: must be in (0, 3600]",
                    p.id
                ));
            }
            let b = &p.breaker;
            if !(b.failure_rate > 0.0 && b.failure_rate <= 1.0)
                || b.window_seconds == 0
                || b.min_attempts == 0
            {
                return Err(format!(
                    "providers.{}.breaker: window_seconds and min_attempts must be positive, failure_rate in (0, 1]",
                    p.id
                ));
            }
        }
        let mut models = std::collections::BTreeSet::new();
        for m in &self.models {
            let id = &m.identifier;
            if !models.insert(id.as_str()) {
                return Err(format!("models: `{id}` is listed twice"));
            }
            if !is_model_identifier(id) {
                return Err(format!(
                    "models.identifier: `{id}` must be owner/name in lowercase letters, digits, `.`, `_`, `-`"
                ));
            }
            if m.ratios.is_empty() || m.ratios.iter().any(|r| parse_ratio(r).is_none()) {
                return Err(format!("models.{id}.ratios: at least one ratio, each W:H"));
            }
            if m.formats.is_empty() {
                return Err(format!("models.{id}.formats: at least one format"));
            }
            if m.max_outputs == 0 || m.max_outputs > 16 {
                return Err(format!("models.{id}.max_outputs: 1-16"));
            }
            if m.providers.is_empty() {
                return Err(format!("models.{id}.providers: at least one provider"));
            }
            for mp in &m.providers {
                if !self.providers.iter().any(|p| p.id == mp.provider) {
                    return Err(format!(
                        "models.{id}.providers: unknown provider `{}`",
                        mp.provider
                    ));
                }
            }
            if m.is_video() {
                if m.durations.is_empty() || m.resolutions.is_empty() {
                    return Err(format!(
                        "models.{id}: a video model needs durations and resolutions"
                    ));
                }
                if let Some(d) = &m.default_resolution
                    && !m.resolutions.contains(d)
                {
                    return Err(format!(
                        "models.{id}.default_resolution: not one of resolutions"
                    ));
                }
                for res in &m.resolutions {
                    for audio in [false, true] {
                        if m.unit_price(Some(res), audio).is_none() {
                            return Err(format!(
                                "models.{id}.pricing: no price for resolution `{res}`"
                            ));
                        }
                    }
                }
            } else if !matches!(m.pricing, Pricing::Flat(_)) {
                return Err(format!(
                    "models.{id}.pricing: an image model has one flat price"
                ));
            }
            let negative = match &m.pricing {
                Pricing::Flat(p) => *p < 0.0,
                Pricing::Map(map) => map.values().any(|p| *p < 0.0),
            };
            if negative {
                return Err(format!("models.{id}.pricing: prices cannot be negative"));
            }
        }
        Ok(())
    }

    pub fn model(&self, identifier: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.identifier == identifier)
    }

    pub fn provider(&self, id: &str) -> Option<&ProviderSpec> {
        self.providers.iter().find(|p| p.id == id)
    }

    /// The longest a generation trying these providers in turn can take in their calls: the sum
    /// of their timeouts (providers no longer in the catalog are never called).
    pub fn chain_timeout(&self, providers: &[String]) -> std::time::Duration {
        providers
            .iter()
            .filter_map(|id| self.provider(id))
            .map(|p| std::time::Duration::from_secs_f64(p.timeout_seconds))
            .sum()
    }

    /// Models a provider serves.
    pub fn models_of<'a>(&'a self, provider: &'a str) -> impl Iterator<Item = &'a Model> + 'a {
        self.models
            .iter()
            .filter(move |m| m.providers.iter().any(|p| p.provider == provider))
    }
}

/// `W:H` with positive integers.
pub fn parse_ratio(ratio: &str) -> Option<(u32, u32)> {
    let (w, h) = ratio.split_once(':')?;
    let w: u32 = w.parse().ok()?;
    let h: u32 = h.parse().ok()?;
    (w > 0 && h > 0 && w <= 100 && h <= 100).then_some((w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_catalog_is_valid_and_has_local_models() {
        let c = Catalog::load(None).unwrap();
        let local: Vec<&Model> = c.models_of("local").collect();
        assert!(
            local
                .iter()
                .filter(|m| m.model_type == ModelType::Image)
                .count()
                >= 2
        );
        assert!(local.iter().any(|m| m.model_type == ModelType::Video));
    }

    #[test]
    fn video_prices_use_the_audio_variant_then_the_resolution() {
        let c = Catalog::parse(
            r#"
            [[providers]]
            id = "local"
            name = "Local"
            kind = "local"
            [[models]]
            identifier = "a/v"
            type = "video"
            pricing = { "720p" = 0.05, "720p_audio" = 0.08 }
            ratios = ["16:9"]
            formats = ["mp4"]
            max_outputs = 1
            durations = [4]
            resolutions = ["720p"]
            audio = true
            providers = [{ provider = "local", model = "v" }]
            "#,
        )
        .unwrap();
        let m = c.model("a/v").unwrap();
        assert_eq!(m.unit_price(Some("720p"), true), Some(Money(80)));
        assert_eq!(m.unit_price(Some("720p"), false), Some(Money(50)));
        assert_eq!(m.unit_price(Some("1080p"), false), None);
    }

    #[test]
    fn a_model_naming_an_unknown_provider_is_refused() {
        let err = Catalog::parse(
            r#"
            [[models]]
            identifier = "a/b"
            type = "image"
            pricing = 0.01
            ratios = ["1:1"]
            formats = ["png"]
            max_outputs = 1
            providers = [{ provider = "nowhere", model = "x" }]
            "#,
        )
        .unwrap_err();
        assert!(err.contains("unknown provider"), "{err}");
    }
}
