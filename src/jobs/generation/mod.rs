//! The generation workers: each takes accepted generations from this node's queue and runs
//! them through their provider chain (per-provider timeout, circuit breaker, failover), storing
//! the files and recording the outcome through `service::generations::runs`.

mod attempts;
mod outcome;
mod queue;

pub use queue::WorkQueue;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use tracing::Instrument;

use crate::domain::Clock;
use crate::service::generations::{Roster, runs};
use crate::service::{MediaStore, ServiceError, Store};

/// What the workers run with.
pub struct Context {
    pub store: Store,
    pub clock: Clock,
    pub roster: Arc<Roster>,
    pub media: MediaStore,
    pub queue: Arc<WorkQueue>,
    /// Store writes of generation state that failed and were tried again, for `/metrics`.
    pub store_retries: Arc<AtomicU64>,
}

/// What stops a worker from finishing a generation the ordinary way.
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error("the media writer stopped: {0}")]
    MediaWriter(#[from] tokio::task::JoinError),
}

/// Starts `workers` tasks on the current runtime, after queueing again what a crash left
/// pending and failing (with a refund) what it left processing: how many of each. The workers
/// stop when the queue stops taking.
pub async fn start(ctx: Arc<Context>, workers: usize) -> Result<(usize, usize), ServiceError> {
    let (pending, failed) = runs::recover(&ctx.store, ctx.clock.now()).await?;
    let resumed = pending.len();
    for id in pending {
        ctx.queue.enqueue(id);
    }
    for _ in 0..workers {
        let worker = Worker(Arc::clone(&ctx));
        tokio::spawn(async move { worker.work().await });
    }
    Ok((resumed, failed))
}

struct Worker(Arc<Context>);

impl Worker {
    async fn work(self) {
        while let Some(taken) = self.0.queue.take().await {
            // Every log line of the run, the store's and the providers' included, names it.
            let span = tracing::info_span!("generation", generation_id = %taken.id);
            self.run(&taken.id).instrument(span).await;
        }
    }

    /// Runs one generation; whatever goes wrong is logged here and fails it.
    async fn run(&self, id: &str) {
        let result = {
            let mut registration = self.0.queue.register(id);
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
