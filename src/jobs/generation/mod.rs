//! The generation workers: each takes accepted generations from the generator's queue and runs
//! them through their provider chain (per-provider timeout, circuit breaker, failover), storing
//! the files and recording the outcome through `service::generations::runs`.

mod attempts;
mod outcome;

use std::sync::Arc;

use tracing::Instrument;

use crate::generation::Generator;

/// What stops a worker from finishing a generation the ordinary way.
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error("the media writer stopped: {0}")]
    MediaWriter(#[from] tokio::task::JoinError),
}

/// Starts `workers` tasks on the current runtime; they stop when the generator stops taking.
pub fn spawn(generator: &Arc<Generator>, workers: usize) {
    for _ in 0..workers {
        let worker = Worker(Arc::clone(generator));
        tokio::spawn(async move { worker.work().await });
    }
}

struct Worker(Arc<Generator>);

impl Worker {
    async fn work(self) {
        while let Some(taken) = self.0.take().await {
            // Every log line of the run, the store's and the providers' included, names it.
            let span = tracing::info_span!("generation", generation_id = %taken.id);
            self.run(&taken.id).instrument(span).await;
        }
    }

    /// Runs one generation; whatever goes wrong is logged here and fails it.
    async fn run(&self, id: &str) {
        let result = {
            let mut registration = self.0.register(id);
            let running = Arc::clone(&registration.running);
            self.attempt_all(id, &running, &mut registration.canceled)
                .await
        };
        if let Err(e) = result {
            // Whatever went wrong, the generation must not hold its credits and in-flight slot
            // until the next restart.
            tracing::error!(generation_id = %id, error = %crate::telemetry::cause_chain(&e), "generation failed in the worker");
            self.fail(id, "The generation could not be completed.", "BSE5002")
                .await;
            self.remove_files(id).await;
        }
    }
}
