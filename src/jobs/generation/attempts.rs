//! One generation's provider chain: each provider in the recorded order is tried in turn, unless
//! its circuit is open, until one produces the files; a cancel stops the attempt under way.

use std::time::Instant;

use tokio::sync::watch;

use super::queue::Running;
use super::{RunError, Worker};
use crate::domain::generation::{Model, ModelType, ProviderKind};
use crate::providers::{PredictionSlot, ProviderError, ProviderJob};
use crate::service::generations::{AttemptOutcome, Generation, runs};

impl Worker {
    pub(super) async fn attempt_all(
        &self,
        id: &str,
        running: &Running,
        canceled: &mut watch::Receiver<bool>,
    ) -> Result<(), RunError> {
        let roster = &self.0.roster;
        let now = self.0.clock.now();
        let store = &self.0.store;
        let started = self.persist(id, || runs::start(store, id, now)).await;
        let Some(g) = started else { return Ok(()) };
        let Some(model) = roster.catalog().model(&g.model_identifier) else {
            let message = format!(
                "The model {} is no longer in the catalog.",
                g.model_identifier
            );
            self.fail(&g.id, &message, "BSE4005").await;
            return Ok(());
        };
        let mut errors: Vec<(String, ProviderError)> = Vec::new();
        for provider_id in &g.provider_order {
            let Some(provider) = roster.provider(provider_id) else {
                errors.push((provider_id.clone(), ProviderError::Unavailable));
                continue;
            };
            let Some(admission) = provider.breaker.admit(roster.now_ms()) else {
                errors.push((provider_id.clone(), ProviderError::Unavailable));
                continue;
            };
            let slot = PredictionSlot::default();
            running.attempt(provider_id, &slot);
            let job = job_for(&g, model, provider_id, provider.spec.kind);
            let attempt_started = Instant::now();
            let outcome = tokio::select! {
                biased;
                _ = canceled.wait_for(|c| *c) => None,
                r = tokio::time::timeout(provider.timeout(), provider.generate(&job, &slot)) => {
                    Some(r.unwrap_or(Err(ProviderError::Timeout)))
                }
            };
            let latency = attempt_started.elapsed();
            let latency_ms = i64::try_from(latency.as_millis()).unwrap_or(i64::MAX);
            match outcome {
                None => {
                    provider.breaker.release(admission, roster.now_ms());
                    self.record(&g, provider_id, AttemptOutcome::Cancelled, None, latency_ms)
                        .await;
                    return Ok(());
                }
                Some(Ok(output)) => {
                    provider
                        .breaker
                        .record(admission, roster.now_ms(), true, latency);
                    return self
                        .store_success(&g, provider_id, slot.get(), output, latency_ms)
                        .await;
                }
                Some(Err(error)) => {
                    provider
                        .breaker
                        .record(admission, roster.now_ms(), false, latency);
                    // The next provider takes over; a prediction left upstream would still run,
                    // unless the upstream itself reported it over.
                    if !matches!(error, ProviderError::Failed(_))
                        && let Some(prediction) = slot.get()
                    {
                        provider.cancel(&prediction).await;
                    }
                    self.record(
                        &g,
                        provider_id,
                        AttemptOutcome::Failed,
                        Some(&error),
                        latency_ms,
                    )
                    .await;
                    errors.push((provider_id.clone(), error));
                }
            }
        }
        let (message, code) = summarise(&errors);
        self.fail(&g.id, &message, code).await;
        Ok(())
    }
}

fn job_for(g: &Generation, model: &Model, provider: &str, kind: ProviderKind) -> ProviderJob {
    // The local provider renders a model it does not serve with its stand-in (a test key's).
    let raw_model_id = match (model.raw_model_id(provider), kind) {
        (Some(raw), _) => raw,
        (None, ProviderKind::Local) => crate::providers::local::stand_in(model.model_type),
        (None, _) => "",
    };
    ProviderJob {
        generation_id: g.id.clone(),
        model_identifier: g.model_identifier.clone(),
        model_type: model.model_type,
        raw_model_id: raw_model_id.to_owned(),
        prompt: g.prompt.clone(),
        ratio: g.ratio.clone(),
        output_format: g.output_format.clone(),
        output_number: g.output_number,
        input_files: g.input_files.clone().unwrap_or_default(),
        last_frame: g.last_frame.clone(),
        duration: g.duration.filter(|_| model.model_type == ModelType::Video),
        resolution: g.resolution.clone(),
        generate_audio: g.generate_audio.unwrap_or(false),
        specific: g.specific.clone(),
    }
}

/// The error recorded when no provider succeeded: the one failure, or all of them (BSE4003).
fn summarise(errors: &[(String, ProviderError)]) -> (String, &'static str) {
    match errors {
        [] => ("No provider serves this model.".to_owned(), "BSE4005"),
        [(provider, e)] => (format!("{provider}: {e}"), e.code()),
        many => {
            let list: Vec<String> = many.iter().map(|(p, e)| format!("{p}: {e}")).collect();
            (
                format!("All providers failed. {}", list.join("; ")),
                "BSE4003",
            )
        }
    }
}
