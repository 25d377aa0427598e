//! Outbound adapters: the generation providers (the built-in `local` renderer, `openai_images`,
//! `http_async`), their circuit breakers, and the one HTTP client with its address guard, which
//! webhook deliveries use too.

pub(crate) mod breaker;
pub(crate) mod github_keys;
pub(crate) mod http_async;
pub(crate) mod job;
pub(crate) mod local;
pub(crate) mod oidc;
pub(crate) mod openai_images;
pub(crate) mod outbound;
mod registry;
pub(crate) mod smtp;
pub(crate) mod upstream;

pub use crate::domain::generation::{BreakerConfig, ProviderKind, ProviderSpec};
pub use breaker::{BreakerSnapshot, BreakerStatus};
pub use job::{PredictionSlot, ProviderError, ProviderJob, ProviderOutput};
pub use registry::{Provider, build};
