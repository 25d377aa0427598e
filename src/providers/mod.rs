//! Outbound adapters: the generation providers (the built-in `local` renderer, `openai_images`,
//! `http_async`), their circuit breakers, and the one HTTP client with its address guard, which
//! webhook deliveries use too.

pub mod breaker;
pub mod http_async;
pub mod job;
pub mod local;
pub mod openai_images;
pub mod outbound;
mod registry;
pub mod upstream;

pub use crate::domain::generation::{BreakerConfig, ProviderKind, ProviderSpec};
pub use breaker::{BreakerSnapshot, BreakerStatus, CircuitBreaker};
pub use job::{OutputFile, PredictionSlot, ProviderError, ProviderJob, ProviderOutput};
pub use registry::{Provider, build};
