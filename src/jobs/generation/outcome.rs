//! What a worker writes of a generation: attempts, failure, success with its files. A write of
//! the generation's state is retried until it succeeds (docs/decisions.md, Storage faults).

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{RunError, Worker};
use crate::providers::{ProviderError, ProviderOutput};
use crate::service::ServiceError;
use crate::service::generations::runs::{self, AttemptReport, SuccessReport};
use crate::service::generations::{AttemptOutcome, Generation};

/// Retries of a failed write of generation state start after this and double up to the last.
const PERSIST_FIRST_RETRY: Duration = Duration::from_millis(50);
const PERSIST_LAST_RETRY: Duration = Duration::from_secs(1);

impl Worker {
    /// Store work a generation's state depends on (starting it, recording an attempt, its
    /// outcome), retried until it succeeds: a lock held elsewhere or a full disk ends, and a
    /// write given up would leave the generation `processing` with its credits and in-flight
    /// slot held until a restart.
    pub(super) async fn persist<T, F, Fut>(&self, generation_id: &str, write: F) -> T
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, ServiceError>>,
    {
        let mut delay = PERSIST_FIRST_RETRY;
        let mut failures = 0_u64;
        loop {
            match write().await {
                Ok(value) => {
                    if failures > 0 {
                        tracing::info!(
                            generation_id,
                            failures,
                            "generation state recorded after retrying"
                        );
                    }
                    return value;
                }
                Err(e) => {
                    failures += 1;
                    self.0.store_retries.fetch_add(1, Ordering::Relaxed);
                    if failures == 1 || failures.is_multiple_of(30) {
                        tracing::warn!(generation_id, failures, error = %crate::telemetry::cause_chain(&e),
                            "cannot record the generation's state; retrying");
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(PERSIST_LAST_RETRY);
                }
            }
        }
    }

    pub(super) async fn record(
        &self,
        g: &Generation,
        provider: &str,
        outcome: AttemptOutcome,
        error: Option<&ProviderError>,
        latency_ms: i64,
    ) {
        let now = self.0.clock.now();
        let report = AttemptReport {
            provider: provider.to_owned(),
            outcome,
            error: error.map(|e| (e.code(), e.to_string())),
            latency_ms,
        };
        let store = &self.0.store;
        self.persist(&g.id, || runs::record_attempt(store, g, &report, now))
            .await
    }

    /// Fails the generation and refunds it, unless it already finished (a cancel won the race).
    pub(super) async fn fail(&self, id: &str, message: &str, code: &'static str) {
        let now = self.0.clock.now();
        let store = &self.0.store;
        self.persist(id, || runs::fail(store, id, message, code, now))
            .await;
    }

    pub(super) async fn remove_files(&self, id: &str) {
        let (media, id) = (self.0.media.clone(), id.to_owned());
        let _ = tokio::task::spawn_blocking(move || media.remove(&id)).await;
    }

    pub(super) async fn store_success(
        &self,
        g: &Generation,
        provider: &str,
        prediction: Option<String>,
        output: ProviderOutput,
        latency_ms: i64,
    ) -> Result<(), RunError> {
        let media = self.0.media.clone();
        let gid = g.id.clone();
        let files = output.files;
        let written = tokio::task::spawn_blocking(move || media.write(&gid, &files)).await?;
        let names = match written {
            Ok(names) => names,
            Err(e) => {
                tracing::error!(generation_id = %g.id, error = %crate::telemetry::cause_chain(&e), "cannot store generated files");
                self.record(g, provider, AttemptOutcome::Discarded, None, latency_ms)
                    .await;
                self.fail(&g.id, "The generated files could not be stored.", "BSE5002")
                    .await;
                return Ok(());
            }
        };
        let now = self.0.clock.now();
        let report = SuccessReport {
            provider: provider.to_owned(),
            prediction_id: prediction,
            files: names,
            predict_ms: output.predict_time.map(|s| (s * 1000.0).round() as i64),
            latency_ms,
        };
        let store = &self.0.store;
        let kept = self
            .persist(&g.id, || runs::succeed(store, g, &report, now))
            .await;
        if !kept {
            self.remove_files(&g.id).await;
        }
        Ok(())
    }
}
