//! The roster: the catalog and the configured providers with their circuit breakers. Accepting
//! a generation orders its providers by their breakers, the workers run the attempts, and the
//! health and library answers report on both.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crate::domain::generation::{
    Catalog, DEFAULT_CATALOG, Model, ProviderKind, ProviderOrder, resolve_order,
};
use crate::providers::{self, PredictionSlot, Provider};

pub struct Roster {
    catalog: Arc<Catalog>,
    providers: Vec<Provider>,
    /// Breakers count time in milliseconds since this instant.
    epoch: Instant,
}

/// The embedded catalog, or the file `generation.catalog` names, with each provider's
/// `secret_file` read.
pub fn load_catalog(file: Option<&Path>) -> Result<Catalog, String> {
    let (text, origin) = match file {
        Some(path) => (
            std::fs::read_to_string(path)
                .map_err(|e| format!("generation.catalog: cannot read {}: {e}", path.display()))?,
            path.display().to_string(),
        ),
        None => (
            DEFAULT_CATALOG.to_owned(),
            "embedded models.toml".to_owned(),
        ),
    };
    let mut catalog =
        Catalog::parse(&text).map_err(|e| format!("generation.catalog ({origin}): {e}"))?;
    for provider in &mut catalog.providers {
        if let Some(path) = &provider.secret_file {
            let secret = std::fs::read_to_string(path)
                .map_err(|e| format!("providers.{}.secret_file: cannot read: {e}", provider.id))?;
            provider.secret = Some(secret.trim().to_owned());
        }
    }
    Ok(catalog)
}

impl Roster {
    /// The catalog's providers, built; fails when one cannot be used.
    pub fn new(catalog: Arc<Catalog>) -> Result<Roster, String> {
        let providers = providers::build(&catalog.providers)?;
        Ok(Roster {
            catalog,
            providers,
            epoch: Instant::now(),
        })
    }

    /// Milliseconds on the breakers' clock.
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn catalog_handle(&self) -> Arc<Catalog> {
        Arc::clone(&self.catalog)
    }

    pub fn providers(&self) -> &[Provider] {
        &self.providers
    }

    pub fn provider(&self, id: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.spec.id == id)
    }

    /// The built-in offline provider's id, where one is configured: a test key's generations
    /// run there only.
    pub fn local(&self) -> Option<&str> {
        self.providers
            .iter()
            .find(|p| p.spec.kind == ProviderKind::Local)
            .map(|p| p.spec.id.as_str())
    }

    /// The providers a new generation will try, in order.
    pub fn order(&self, order: &ProviderOrder, model: &Model) -> Vec<String> {
        let now = self.now_ms();
        resolve_order(order, model, |p| {
            self.provider(p)
                .map(|p| p.breaker.score(now))
                .unwrap_or((0.0, f64::MAX))
        })
    }

    /// Stops the attempt `provider` is making, whose upstream fills `slot`: true when it was
    /// reached (the local renderer's result is dropped, or the upstream acknowledged the cancel).
    pub async fn cancel_attempt(&self, provider: &str, slot: &PredictionSlot) -> bool {
        match (self.provider(provider), slot.get()) {
            (Some(p), Some(prediction)) => p.cancel(&prediction).await,
            (Some(p), None) => p.spec.kind == ProviderKind::Local,
            (None, _) => false,
        }
    }
}
