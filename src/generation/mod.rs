//! Generation: the model catalog, providers, and the jobs that run generations.

pub mod breaker;
pub mod catalog;
pub mod http_async;
pub mod local;
pub mod media;
pub mod openai_images;
pub mod provider;
pub mod record;
pub mod request;
pub mod upstream;
pub mod worker;

pub use catalog::{Catalog, Model, ModelType, ProviderKind, ProviderSpec};
pub use provider::{OutputFile, PredictionSlot, ProviderError, ProviderJob, ProviderOutput};
pub use worker::Generator;
