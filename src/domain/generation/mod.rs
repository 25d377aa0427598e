//! Generation as the API speaks of it: models, the generate body checked against its model, the
//! provider order, and prices.

mod model;
pub mod order;
pub mod pricing;
pub mod request;
mod specific;

pub use model::{FieldType, Model, ModelProvider, ModelType, SpecificField, parse_ratio};
pub use order::{ProviderOrder, resolve_order};
pub use pricing::{Estimate, Pricing, cost_of, estimate};
pub use request::{GenerateRequest, Invalid};

#[cfg(test)]
mod tests;
