//! The worker pool: takes accepted generations from a queue and runs each through its provider
//! chain (per-provider timeout, circuit breaker, failover), storing files and settling credits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::breaker::CircuitBreaker;
use super::catalog::{Catalog, Model, ModelType, ProviderKind, ProviderSpec};
use super::http_async::HttpAsync;
use super::media::MediaStore;
use super::openai_images::OpenAiImages;
use super::provider::{PredictionSlot, ProviderError, ProviderJob, ProviderOutput};
use super::request::{ProviderOrder, resolve_order};
use crate::domain::Clock;
use crate::service::ServiceError;
use crate::service::generations as service;
use crate::store::generations::{Attempt, AttemptOutcome, Generation, Success};
use crate::store::{Db, Store};

/// Retries of a failed write of generation state start after this and double up to the last.
const PERSIST_FIRST_RETRY: Duration = Duration::from_millis(50);
const PERSIST_LAST_RETRY: Duration = Duration::from_secs(1);

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

impl Provider {
    fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.spec.timeout_seconds)
    }

    async fn generate(
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

/// A generation a worker is running: how to stop it, and the provider of the current attempt
/// with the slot its upstream fills (one lock, so both always belong to the same attempt).
struct Running {
    cancel: watch::Sender<bool>,
    attempt: Mutex<Option<(String, PredictionSlot)>>,
}

pub struct Generator {
    catalog: Arc<Catalog>,
    providers: Vec<Provider>,
    store: Store,
    clock: Clock,
    pub media: MediaStore,
    queue: mpsc::UnboundedSender<String>,
    receiver: tokio::sync::Mutex<mpsc::UnboundedReceiver<String>>,
    running: Mutex<HashMap<String, Arc<Running>>>,
    /// Generations taken from the queue and not yet finished.
    busy: watch::Sender<usize>,
    /// When the server began to stop: from then on workers take nothing more from the queue.
    stopping: watch::Sender<Option<Instant>>,
    /// Breakers count time in milliseconds since this instant.
    epoch: Instant,
    store_retries: AtomicU64,
}

impl Generator {
    pub fn new(
        catalog: Arc<Catalog>,
        store: Store,
        clock: Clock,
        media: MediaStore,
    ) -> Result<Arc<Generator>, String> {
        let client = super::upstream::client()
            .map_err(|e| format!("cannot build the HTTP client for providers: {e}"))?;
        let providers = catalog
            .providers
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
            .collect::<Result<Vec<_>, String>>()?;
        let (queue, receiver) = mpsc::unbounded_channel();
        Ok(Arc::new(Generator {
            catalog,
            providers,
            store,
            clock,
            media,
            queue,
            receiver: tokio::sync::Mutex::new(receiver),
            running: Mutex::new(HashMap::new()),
            busy: watch::channel(0).0,
            stopping: watch::channel(None).0,
            epoch: Instant::now(),
            store_retries: AtomicU64::new(0),
        }))
    }

    /// Starts `workers` tasks on the current runtime, after re-queueing what a crash left pending
    /// and failing (with a refund) what it left processing.
    pub async fn start(self: &Arc<Self>, workers: usize) -> Result<(usize, usize), ServiceError> {
        let now = self.clock.now();
        let (pending, failed) = self.db(move |c| service::recover(c, now)).await?;
        let resumed = pending.len();
        for id in pending {
            self.enqueue(id);
        }
        for _ in 0..workers {
            let me = Arc::clone(self);
            tokio::spawn(async move { me.work().await });
        }
        Ok((resumed, failed))
    }

    /// Milliseconds on the breakers' clock.
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn catalog_handle(&self) -> Arc<Catalog> {
        Arc::clone(&self.catalog)
    }

    pub fn providers(&self) -> &[Provider] {
        &self.providers
    }

    pub fn provider(&self, id: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.spec.id == id)
    }

    /// The providers a new generation will try, in order.
    pub fn order(&self, order: &ProviderOrder, model: &Model) -> Vec<String> {
        let now = self.now_ms();
        resolve_order(order, model, |p| {
            self.provider(p)
                .map(|p| p.breaker.score(now))
                .unwrap_or((0.0, f64::MAX))
        })
    }

    pub fn enqueue(&self, id: String) {
        // The receiver lives as long as the generator, so sending cannot fail.
        let _ = self.queue.send(id);
    }

    /// Stops the worker running `id` (if any) and, for an asynchronous upstream that has
    /// assigned a prediction id, asks it to cancel. True when the running attempt was reached:
    /// the local renderer's result is dropped, or the upstream acknowledged the cancel.
    pub async fn stop(&self, id: &str) -> bool {
        let running = self.running.lock().ok().and_then(|r| r.get(id).cloned());
        let Some(running) = running else {
            return false;
        };
        let _ = running.cancel.send(true);
        let attempt = running.attempt.lock().ok().and_then(|a| a.clone());
        let Some((provider, slot)) = attempt else {
            return false;
        };
        match (self.provider(&provider), slot.get()) {
            (Some(p), Some(prediction)) => p.cancel(&prediction).await,
            (Some(p), None) => p.spec.kind == ProviderKind::Local,
            (None, _) => false,
        }
    }

    /// Starts no more generations: queued ones stay `pending` and are queued again at the next
    /// start. The first call marks the start of the stop.
    pub fn stop_taking(&self) {
        self.stopping.send_if_modified(|began| {
            let first = began.is_none();
            began.get_or_insert_with(Instant::now);
            first
        });
    }

    /// Stops taking generations and lets the running ones finish until `grace` after the stop
    /// began. Returns how many were still running then (the next start fails and refunds them).
    pub async fn drain(&self, grace: Duration) -> usize {
        self.stop_taking();
        // A worker takes a generation and counts it busy under this lock; holding it, no worker
        // takes another and every one taken is counted.
        let _queue = self.receiver.lock().await;
        let began = (*self.stopping.borrow()).unwrap_or_else(Instant::now);
        let deadline = tokio::time::Instant::from_std(began + grace);
        let mut busy = self.busy.subscribe();
        // The sender lives in `self`, so waiting can only end by the count reaching 0.
        let _ = tokio::time::timeout_at(deadline, busy.wait_for(|n| *n == 0)).await;
        *self.busy.borrow()
    }

    async fn work(self: Arc<Self>) {
        let mut stopping = self.stopping.subscribe();
        loop {
            let next = {
                let mut queue = self.receiver.lock().await;
                let next = tokio::select! {
                    biased;
                    _ = stopping.wait_for(Option::is_some) => None,
                    id = queue.recv() => id,
                };
                if next.is_some() {
                    self.busy.send_modify(|n| *n += 1);
                }
                next
            };
            let Some(id) = next else { return };
            self.run(&id).await;
            self.busy.send_modify(|n| *n -= 1);
        }
    }

    async fn db<T, F>(&self, f: F) -> Result<T, ServiceError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db) -> Result<T, ServiceError> + Send + 'static,
    {
        self.store.run(f).await
    }

    /// Store work a generation's state depends on (starting it, recording an attempt, its
    /// outcome), retried until it succeeds: a lock held elsewhere or a full disk ends, and a
    /// write given up would leave the generation `processing` with its credits and in-flight
    /// slot held until a restart.
    async fn persist<T, F>(&self, generation_id: &str, f: F) -> T
    where
        T: Send + 'static,
        F: Fn(&mut Db) -> Result<T, ServiceError> + Clone + Send + 'static,
    {
        let mut delay = PERSIST_FIRST_RETRY;
        let mut failures = 0_u64;
        loop {
            match self.db(f.clone()).await {
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
                    self.store_retries.fetch_add(1, Ordering::Relaxed);
                    if failures == 1 || failures.is_multiple_of(30) {
                        tracing::warn!(generation_id, failures, error = %e,
                            "cannot record the generation's state; retrying");
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(PERSIST_LAST_RETRY);
                }
            }
        }
    }

    /// Store writes of generation state that failed and were tried again, for `/metrics`.
    pub fn store_retries_counter(&self) -> &AtomicU64 {
        &self.store_retries
    }

    /// Runs one generation; whatever goes wrong is logged here and fails it.
    async fn run(self: &Arc<Self>, id: &str) {
        let (cancel, mut canceled) = watch::channel(false);
        let running = Arc::new(Running {
            cancel,
            attempt: Mutex::new(None),
        });
        if let Ok(mut map) = self.running.lock() {
            map.insert(id.to_owned(), Arc::clone(&running));
        }
        let result = self.run_registered(id, &running, &mut canceled).await;
        if let Ok(mut map) = self.running.lock() {
            map.remove(id);
        }
        if let Err(e) = result {
            // Whatever went wrong, the generation must not hold its credits and in-flight slot
            // until the next restart.
            tracing::error!(generation_id = %id, error = %e, "generation failed in the worker");
            self.fail(id, "The generation could not be completed.", "BSE5002")
                .await;
            self.remove_files(id).await;
        }
    }

    async fn remove_files(&self, id: &str) {
        let (media, id) = (self.media.clone(), id.to_owned());
        let _ = tokio::task::spawn_blocking(move || media.remove(&id)).await;
    }

    async fn run_registered(
        &self,
        id: &str,
        running: &Running,
        canceled: &mut watch::Receiver<bool>,
    ) -> Result<(), ServiceError> {
        let now = self.clock.now();
        let owned = id.to_owned();
        let started = self
            .persist(id, move |c| service::start(c, &owned, now))
            .await;
        let Some(g) = started else { return Ok(()) };
        let Some(model) = self.catalog.model(&g.model_identifier) else {
            let message = format!(
                "The model {} is no longer in the catalog.",
                g.model_identifier
            );
            self.fail(&g.id, &message, "BSE4005").await;
            return Ok(());
        };
        let mut errors: Vec<(String, ProviderError)> = Vec::new();
        for provider_id in &g.provider_order {
            let Some(provider) = self.provider(provider_id) else {
                errors.push((provider_id.clone(), ProviderError::Unavailable));
                continue;
            };
            let Some(admission) = provider.breaker.admit(self.now_ms()) else {
                errors.push((provider_id.clone(), ProviderError::Unavailable));
                continue;
            };
            let slot = PredictionSlot::default();
            if let Ok(mut attempt) = running.attempt.lock() {
                *attempt = Some((provider_id.clone(), slot.clone()));
            }
            let job = job_for(&g, model, provider_id);
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
                    provider.breaker.release(admission, self.now_ms());
                    self.record(&g, provider_id, AttemptOutcome::Cancelled, None, latency_ms)
                        .await;
                    return Ok(());
                }
                Some(Ok(output)) => {
                    provider
                        .breaker
                        .record(admission, self.now_ms(), true, latency);
                    return self
                        .store_success(&g, provider_id, slot.get(), output, latency_ms)
                        .await;
                }
                Some(Err(error)) => {
                    provider
                        .breaker
                        .record(admission, self.now_ms(), false, latency);
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

    async fn record(
        &self,
        g: &Generation,
        provider: &str,
        outcome: AttemptOutcome,
        error: Option<&ProviderError>,
        latency_ms: i64,
    ) {
        let now = self.clock.now();
        let (gid, account, provider, cost) = (
            g.id.clone(),
            g.account_id.clone(),
            provider.to_owned(),
            g.cost,
        );
        let error = error.map(|e| (e.code(), e.to_string()));
        self.persist(&g.id, move |c| {
            service::record_attempt(
                c,
                &Attempt {
                    generation_id: &gid,
                    account_id: &account,
                    provider: &provider,
                    outcome,
                    error_code: error.as_ref().map(|e| e.0),
                    error: error.as_ref().map(|e| e.1.as_str()),
                    latency_ms,
                    cost,
                },
                now,
            )
        })
        .await
    }

    /// Fails the generation and refunds it, unless it already finished (a cancel won the race).
    async fn fail(&self, id: &str, message: &str, code: &'static str) {
        let now = self.clock.now();
        let (owned, message) = (id.to_owned(), message.to_owned());
        self.persist(id, move |c| {
            service::fail(c, &owned, &message, code, now).map(|_| ())
        })
        .await
    }

    async fn store_success(
        &self,
        g: &Generation,
        provider: &str,
        prediction: Option<String>,
        output: ProviderOutput,
        latency_ms: i64,
    ) -> Result<(), ServiceError> {
        let media = self.media.clone();
        let gid = g.id.clone();
        let files = output.files;
        let written = tokio::task::spawn_blocking(move || media.write(&gid, &files))
            .await
            .map_err(|e| ServiceError::Store(crate::store::StoreError::Task(e.to_string())))?;
        let names = match written {
            Ok(names) => names,
            Err(e) => {
                tracing::error!(generation_id = %g.id, error = %e, "cannot store generated files");
                self.record(g, provider, AttemptOutcome::Discarded, None, latency_ms)
                    .await;
                self.fail(&g.id, "The generated files could not be stored.", "BSE5002")
                    .await;
                return Ok(());
            }
        };
        let now = self.clock.now();
        let predict_ms = output.predict_time.map(|s| (s * 1000.0).round() as i64);
        let (record, provider_owned) = (g.clone(), provider.to_owned());
        let kept = self
            .persist(&g.id, move |c| {
                service::succeed(
                    c,
                    &record,
                    &Success {
                        provider: &provider_owned,
                        prediction_id: prediction.as_deref(),
                        files: &names,
                        predict_ms,
                    },
                    latency_ms,
                    now,
                )
            })
            .await;
        if !kept {
            self.remove_files(&g.id).await;
        }
        Ok(())
    }
}

fn job_for(g: &Generation, model: &Model, provider: &str) -> ProviderJob {
    ProviderJob {
        generation_id: g.id.clone(),
        model_identifier: g.model_identifier.clone(),
        model_type: model.model_type,
        raw_model_id: model.raw_model_id(provider).unwrap_or_default().to_owned(),
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
