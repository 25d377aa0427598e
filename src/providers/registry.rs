//! The configured providers: each catalog entry with its adapter and its circuit breaker, built
//! once at start-up and shared by the workers and the API's health answers.

use std::time::{Duration, Instant};

use super::breaker::CircuitBreaker;
use super::http_async::HttpAsync;
use super::job::{PredictionSlot, ProviderError, ProviderJob, ProviderOutput};
use super::openai_images::OpenAiImages;
use super::upstream;
use super::{ProviderKind, ProviderSpec};

enum Adapter {
    Local,
    OpenAi(OpenAiImages),
    Async(HttpAsync),
}

/// A configured provider with its adapter and circuit breaker.
pub struct Provider {
    pub spec: ProviderSpec,
    pub breaker: CircuitBreaker,
    adapter: Adapter,
}

/// Every provider of `specs`, the HTTP ones sharing one client. Fails when a provider's
/// configuration cannot be used or TLS cannot be set up.
pub fn build(specs: &[ProviderSpec]) -> Result<Vec<Provider>, String> {
    let client = upstream::client()
        .map_err(|e| format!("cannot build the HTTP client for providers: {e}"))?;
    specs
        .iter()
        .map(|spec| {
            Ok(Provider {
                breaker: CircuitBreaker::new(spec.breaker.clone()),
                adapter: match spec.kind {
                    ProviderKind::Local => Adapter::Local,
                    ProviderKind::OpenaiImages => {
                        Adapter::OpenAi(OpenAiImages::new(spec, client.clone())?)
                    }
                    ProviderKind::HttpAsync => {
                        Adapter::Async(HttpAsync::new(spec, client.clone())?)
                    }
                },
                spec: spec.clone(),
            })
        })
        .collect()
}

impl Provider {
    /// Longest one attempt may take.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.spec.timeout_seconds)
    }

    /// Runs one attempt; an asynchronous upstream puts its prediction id in `slot`.
    pub async fn generate(
        &self,
        job: &ProviderJob,
        slot: &PredictionSlot,
    ) -> Result<ProviderOutput, ProviderError> {
        match &self.adapter {
            Adapter::Local => run_local(job.clone()).await,
            Adapter::OpenAi(a) => a.generate(job).await,
            Adapter::Async(a) => a.generate(job, slot).await,
        }
    }

    /// Asks the upstream to stop a prediction; true when it acknowledged.
    pub async fn cancel(&self, prediction_id: &str) -> bool {
        match &self.adapter {
            Adapter::Async(a) => a.cancel(prediction_id).await,
            Adapter::Local | Adapter::OpenAi(_) => false,
        }
    }
}

/// The renderer is CPU-bound: it runs on a blocking thread.
async fn run_local(job: ProviderJob) -> Result<ProviderOutput, ProviderError> {
    let started = Instant::now();
    let files = tokio::task::spawn_blocking(move || {
        (0..job.output_number)
            .map(|i| super::local::render(&job, i))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|e| ProviderError::Failed(format!("renderer stopped: {e}")))??;
    Ok(ProviderOutput {
        files,
        predict_time: Some(started.elapsed().as_secs_f64()),
    })
}
