//! Generation: the model catalog, providers, and the jobs that run generations.

pub mod catalog;
pub mod local;
pub mod provider;

pub use catalog::{Catalog, Model, ModelType, ProviderKind, ProviderSpec};
pub use provider::{OutputFile, PredictionSlot, ProviderError, ProviderJob, ProviderOutput};
