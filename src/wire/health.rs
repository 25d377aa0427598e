//! `GET /v1/health/…`: the providers' circuit breakers, the models' availability, the media
//! storage and the store.

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;

use super::generation::ModelType;
use super::{Credits, named};
use crate::domain::generation::Model;
use crate::providers::{BreakerSnapshot, BreakerStatus as Status};
use crate::service::generations::Roster;

named!(
    /// A provider's circuit: `healthy`, `recovering` (letting a probe through), `degraded`
    /// (open) or `unknown` (no attempt yet).
    BreakerStatus(crate::providers::BreakerStatus),
    crate::providers::BreakerStatus::ALL
);

#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "ProvidersHealth")]
pub struct ProvidersHealth {
    #[schemars(extend("enum" = ["providers"]))]
    pub service: &'static str,
    /// No provider's circuit is open.
    pub healthy: bool,
    pub providers_total: u64,
    pub providers: Vec<ProviderHealth>,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "ProviderHealth", inline)]
pub struct ProviderHealth {
    pub provider: String,
    pub status: BreakerStatus,
    #[schemars(range(min = 0, max = 1))]
    pub failure_rate: f64,
    pub window: BreakerWindow,
}

/// The attempts the breaker judges by.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "BreakerWindow", inline)]
pub struct BreakerWindow {
    pub total_attempts: u32,
    pub failures: u32,
    pub successes: u32,
    pub duration_seconds: u64,
}

impl ProvidersHealth {
    pub fn of(roster: &Roster) -> ProvidersHealth {
        let now = roster.now_ms();
        let providers: Vec<ProviderHealth> = roster
            .providers()
            .iter()
            .map(|p| ProviderHealth::of(&p.spec.id, &p.breaker.snapshot(now)))
            .collect();
        ProvidersHealth {
            service: "providers",
            healthy: providers.iter().all(|p| p.status.0 != Status::Degraded),
            providers_total: providers.len() as u64,
            providers,
        }
    }
}

impl ProviderHealth {
    fn of(id: &str, s: &BreakerSnapshot) -> ProviderHealth {
        ProviderHealth {
            provider: id.to_owned(),
            status: BreakerStatus(s.status),
            failure_rate: s.failure_rate,
            window: BreakerWindow {
                total_attempts: s.total_attempts,
                failures: s.failures,
                successes: s.successes,
                duration_seconds: s.window_seconds,
            },
        }
    }
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "ModelsHealth")]
pub struct ModelsHealth {
    #[schemars(extend("enum" = ["models"]))]
    pub service: &'static str,
    /// Every model has a provider whose circuit is not open.
    pub healthy: bool,
    pub models_total: u64,
    pub models: Vec<ModelHealth>,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "ModelHealth", inline)]
pub struct ModelHealth {
    pub model_identifier: String,
    pub model_type: ModelType,
    /// A flat-priced model's price.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub model_pricing: Option<Credits>,
    /// A model priced per resolution: each resolution's price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_pricing_by_resolution: Option<BTreeMap<String, Price>>,
    /// By provider id.
    pub providers: BTreeMap<String, ServedBy>,
}

/// A price, never negative.
#[derive(Clone, Copy, Debug, Serialize, JsonSchema)]
#[serde(transparent)]
#[schemars(inline)]
pub struct Price(#[schemars(range(min = 0))] pub Credits);

#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "ServedBy", inline)]
pub struct ServedBy {
    /// The provider's circuit is not open.
    pub available: bool,
    /// The provider's own id for the model.
    pub raw_model_id: String,
}

impl ModelsHealth {
    pub fn of(roster: &Roster) -> ModelsHealth {
        let now = roster.now_ms();
        let models: Vec<ModelHealth> = roster
            .catalog()
            .models
            .iter()
            .map(|m| ModelHealth::of(m, roster, now))
            .collect();
        ModelsHealth {
            service: "models",
            healthy: models
                .iter()
                .all(|m| m.providers.values().any(|p| p.available)),
            models_total: models.len() as u64,
            models,
        }
    }
}

impl ModelHealth {
    fn of(m: &Model, roster: &Roster, now: u64) -> ModelHealth {
        let providers = m
            .providers
            .iter()
            .map(|mp| {
                let available = roster
                    .provider(&mp.provider)
                    .is_some_and(|p| p.breaker.snapshot(now).status != Status::Degraded);
                let served = ServedBy {
                    available,
                    raw_model_id: mp.model.clone(),
                };
                (mp.provider.clone(), served)
            })
            .collect();
        ModelHealth {
            model_identifier: m.identifier.clone(),
            model_type: ModelType(m.model_type),
            model_pricing: m.pricing.flat().map(Credits),
            model_pricing_by_resolution: m.pricing.by_resolution().map(|map| {
                map.into_iter()
                    .map(|(k, v)| (k, Price(Credits(v))))
                    .collect()
            }),
            providers,
        }
    }
}

/// Milliseconds, to the microsecond.
fn milliseconds(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

/// A real write, read back and delete of the media storage.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "StorageHealth")]
pub struct StorageHealth {
    #[schemars(extend("enum" = ["storage"]))]
    pub service: &'static str,
    pub healthy: bool,
    #[schemars(range(min = 0))]
    pub latency_ms: f64,
    pub bucket: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl StorageHealth {
    pub fn of(took: Duration, error: Option<String>) -> StorageHealth {
        StorageHealth {
            service: "storage",
            healthy: error.is_none(),
            latency_ms: milliseconds(took),
            bucket: "media",
            error: error.map(|e| format!("The media store probe failed: {e}")),
        }
    }
}

/// A read of the store.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "CacheHealth")]
pub struct CacheHealth {
    #[schemars(extend("enum" = ["cache"]))]
    pub service: &'static str,
    pub healthy: bool,
    #[schemars(range(min = 0))]
    pub latency_ms: f64,
    #[schemars(extend("enum" = ["sqlite"]))]
    pub engine: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
}

impl CacheHealth {
    pub fn of(took: Duration, healthy: bool) -> CacheHealth {
        CacheHealth {
            service: "cache",
            healthy,
            latency_ms: milliseconds(took),
            engine: "sqlite",
            error: (!healthy).then_some("The SQLite store did not answer."),
        }
    }
}
