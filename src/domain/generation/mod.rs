//! Generation as the API speaks of it: models, the generate body checked against its model, the
//! provider order, and prices.

mod catalog;
mod field;
mod model;
pub(crate) mod order;
pub(crate) mod pricing;
mod provider;
mod record;
pub(crate) mod request;
mod specific;

pub use catalog::{Catalog, DEFAULT_CATALOG};
pub use model::{FieldType, Model, ModelType, Pricing, SpecificField, parse_ratio};
pub use order::{ProviderOrder, resolve_order};
pub use pricing::Estimate;
pub use provider::{BreakerConfig, ProviderKind, ProviderSpec};
pub use record::{AttemptOutcome, Generation, GenerationStatus, OutputFile};

/// A model identifier is `owner/name` of lowercase letters, digits, `.`, `_` and `-`.
pub fn is_model_identifier(s: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
    };
    matches!(s.split_once('/'), Some((owner, name)) if part(owner) && part(name))
}

#[cfg(test)]
mod tests;
