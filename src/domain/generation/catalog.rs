//! The model catalog and provider list: `config/models.toml`, embedded as the default and
//! replaceable with `generation.catalog = "FILE"`. Reading the file and the providers' secret
//! files is the caller's; this checks what they say.

use serde::{Deserialize, Serialize};

use super::provider::{ProviderKind, ProviderSpec};
use super::{Model, Pricing, is_model_identifier, parse_ratio};

pub const DEFAULT_CATALOG: &str = include_str!("../../../config/models.toml");

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

impl Catalog {
    /// The catalog a `models.toml` text describes, checked; providers' `secret_file`s are
    /// left for the caller to read.
    pub fn parse(text: &str) -> Result<Catalog, String> {
        let file: CatalogFile = toml::from_str(text).map_err(|e| e.message().to_owned())?;
        let catalog = Catalog {
            providers: file.providers,
            models: file.models,
        };
        catalog.validate()?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Money;
    use crate::domain::generation::ModelType;

    #[test]
    fn the_embedded_catalog_is_valid_and_has_local_models() {
        let c = Catalog::parse(DEFAULT_CATALOG).unwrap();
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
