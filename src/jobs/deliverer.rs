//! The webhook deliverer: sends what the outbox holds, at least once.
//!
//! It takes due deliveries from the store under a lease (a stopped process's leases are freed
//! at the next start, so nothing pending is lost), signs each with both schemes, and posts it
//! with the outbound guard: no redirects followed, a timeout, the answer read only up to a cap.
//! At most `max_concurrent` are in flight, and `max_concurrent_per_endpoint` for one endpoint,
//! so a slow or dead endpoint never holds up the others. Outcomes are written in groups; a
//! failure is tried again on the retry schedule, the fast retries then the slow tail with its
//! jitter (a `Retry-After` on 429 or 503 is honoured up to the schedule's longest delay), then
//! the delivery has failed. The next try's time is stored with the delivery, so a restart, or
//! another node, picks it up on time.
//!
//! A transaction that writes a due delivery wakes it when it commits; deliveries written by another
//! process (the command line) are found within a second.

mod attempt;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::RngExt;
use reqwest::Client;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::config::{RetrySchedule, WebhooksConfig};
use crate::domain::{Clock, Timestamp};
use crate::providers::outbound::{self, AddressPolicy};
use crate::service::webhooks as service;
use crate::store::Store;
use crate::store::webhooks::{self as store, Attempted, Due};
use attempt::send;

/// How long a sender holds a delivery it took: longer than any attempt can last.
const LEASE: Duration = Duration::from_secs(60);
/// How often the outbox is looked at without being woken.
const POLL: Duration = Duration::from_secs(1);

/// The running deliverer; `stop` lets the deliveries in flight finish.
pub struct Deliverer {
    stop: watch::Sender<Option<Instant>>,
    done: tokio::task::JoinHandle<()>,
}

impl Deliverer {
    /// Starts delivering on the current runtime.
    pub fn start(store: Store, clock: Clock, config: WebhooksConfig) -> Result<Deliverer, String> {
        let policy = AddressPolicy {
            allow_private: config.allow_private_networks,
        };
        let client = outbound::client(policy)
            .map_err(|e| format!("cannot build the HTTP client for webhooks: {e}"))?;
        let (stop, stopping) = watch::channel(None);
        let sender = Sender {
            wake: store.outbox_signal(),
            store,
            clock,
            client,
            policy,
            config,
        };
        let done = tokio::spawn(sender.run(stopping));
        Ok(Deliverer { stop, done })
    }

    /// Takes nothing more and waits up to `grace` for the deliveries in flight; what is left is
    /// sent again by the next start.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(Some(Instant::now() + grace));
        let _ = self.done.await;
    }
}

struct Sender {
    store: Store,
    clock: Clock,
    client: Client,
    policy: AddressPolicy,
    config: WebhooksConfig,
    wake: Arc<Notify>,
}

/// What one attempt came to, owned, until its group is written.
struct Outcome {
    endpoint_id: String,
    delivery_id: String,
    status_code: Option<u16>,
    error: Option<String>,
    duration_ms: i64,
    retry_at: Option<Timestamp>,
    succeeded: bool,
    gone: bool,
}

impl Sender {
    async fn run(self, mut stopping: watch::Receiver<Option<Instant>>) {
        // With one node, every lease is the last run's. Beside other nodes, a lease may be a
        // live node's: it is left to run out (a node that died has its deliveries sent again
        // after `LEASE`).
        if self.store.engine() == crate::store::Engine::Sqlite
            && let Err(e) = self.store.run(|db| store::release_leases(&db.read())).await
        {
            tracing::warn!(error = %crate::telemetry::cause_chain(&e), "cannot take back the deliveries of the last run");
        }
        let mut sending: JoinSet<Outcome> = JoinSet::new();
        let mut per_endpoint: HashMap<String, usize> = HashMap::new();
        let mut finished: Vec<Outcome> = Vec::new();
        loop {
            if !finished.is_empty() {
                self.write(&mut finished).await;
            }
            if stopping.borrow().is_some() {
                break;
            }
            let free = self.config.max_concurrent.saturating_sub(sending.len());
            if free > 0 {
                for due in self.claim(free, &per_endpoint).await {
                    *per_endpoint.entry(due.endpoint_id.clone()).or_default() += 1;
                    sending.spawn(self.attempt(due));
                }
            }
            let pause = self.pause().await;
            tokio::select! {
                biased;
                _ = stopping.changed() => {}
                Some(done) = sending.join_next(), if !sending.is_empty() => {
                    let mut done = Some(done);
                    while let Some(result) = done.take().or_else(|| sending.try_join_next()) {
                        if let Ok(outcome) = result {
                            release(&mut per_endpoint, &outcome.endpoint_id);
                            finished.push(outcome);
                        }
                    }
                }
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
        // Stopping: what is in flight may finish within the grace.
        let deadline = (*stopping.borrow()).unwrap_or_else(Instant::now);
        while !sending.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, sending.join_next()).await {
                Ok(Some(Ok(outcome))) => finished.push(outcome),
                Ok(Some(Err(_))) => {}
                Ok(None) | Err(_) => break,
            }
        }
        if !finished.is_empty() {
            self.write(&mut finished).await;
        }
    }

    async fn claim(&self, free: usize, per_endpoint: &HashMap<String, usize>) -> Vec<Due> {
        let now = self.clock.now();
        let sending = serde_json::to_string(per_endpoint).unwrap_or_else(|_| "{}".into());
        let per = self.config.max_concurrent_per_endpoint;
        let lease = i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX);
        let claimed = self
            .store
            .run(move |c| store::claim_due(c, now, free, per, &sending, lease))
            .await;
        claimed.unwrap_or_else(|e| {
            tracing::warn!(error = %crate::telemetry::cause_chain(&e), "cannot read the webhook outbox");
            Vec::new()
        })
    }

    /// Until the next delivery is due, at most `POLL`.
    async fn pause(&self) -> Duration {
        let next = self.store.run(|db| store::next_due_at(&db.read())).await;
        let now = self.clock.now();
        match next {
            Ok(Some(at)) => {
                let ms = u64::try_from(at.millis() - now.millis()).unwrap_or(0);
                Duration::from_millis(ms).min(POLL)
            }
            Ok(None) | Err(_) => POLL,
        }
    }

    async fn write(&self, finished: &mut Vec<Outcome>) {
        let group: Vec<Outcome> = std::mem::take(finished);
        let now = self.clock.now();
        let disable_after = self.config.disable_after_failures;
        let written = self
            .store
            .run(move |c| {
                let attempts: Vec<(String, Attempted<'_>, bool)> = group
                    .iter()
                    .map(|o| {
                        let attempt = Attempted {
                            id: &o.delivery_id,
                            status_code: o.status_code,
                            error: o.error.as_deref(),
                            duration_ms: o.duration_ms,
                            retry_at: o.retry_at,
                            succeeded: o.succeeded,
                        };
                        (o.endpoint_id.clone(), attempt, o.gone)
                    })
                    .collect();
                service::record_attempts(c, &attempts, disable_after, now)
            })
            .await;
        // Not written: the leases run out and the deliveries are made again.
        if let Err(e) = written {
            tracing::warn!(error = %crate::telemetry::cause_chain(&e), "cannot record webhook deliveries");
        }
    }

    /// Makes one attempt at `due`.
    fn attempt(&self, due: Due) -> impl Future<Output = Outcome> + Send + 'static {
        let client = self.client.clone();
        let policy = self.policy;
        let clock = self.clock.clone();
        let timeout = self.config.timeout();
        let schedule = self.config.retry_schedule();
        async move {
            let started = Instant::now();
            let answer = send(&client, policy, &clock, timeout, &due).await;
            let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
            let now = clock.now();
            let tries_made = usize::try_from(due.attempts + 1).unwrap_or(usize::MAX);
            let mut outcome = Outcome {
                endpoint_id: due.endpoint_id,
                delivery_id: due.id,
                status_code: answer.status,
                error: answer.error,
                duration_ms,
                retry_at: None,
                succeeded: answer.succeeded,
                gone: answer.status == Some(410),
            };
            if !outcome.succeeded
                && !outcome.gone
                && let Some(delay) = retry_delay(&schedule, tries_made, answer.retry_after)
            {
                let ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
                outcome.retry_at = Some(now.plus_millis(ms));
            }
            outcome
        }
    }
}

/// The wait before the next try after `tries_made` failed ones, if there is a next: the
/// schedule's (a slow retry's varied by its jitter), or what the receiver asked for
/// (`Retry-After`) up to the schedule's longest wait.
pub fn retry_delay(
    schedule: &RetrySchedule,
    tries_made: usize,
    asked: Option<Duration>,
) -> Option<Duration> {
    let index = tries_made.saturating_sub(1);
    let planned = match schedule.fast.get(index) {
        Some(delay) => *delay,
        None => {
            let delay = *schedule.tail.get(index - schedule.fast.len())?;
            // Uniform in [1 - jitter, 1 + jitter] of the delay.
            let spread = schedule.jitter * (2.0 * rand::rng().random::<f64>() - 1.0);
            delay.mul_f64((1.0 + spread).max(0.0))
        }
    };
    let longest = schedule
        .fast
        .iter()
        .chain(&schedule.tail)
        .max()
        .copied()
        .unwrap_or(planned);
    Some(asked.map_or(planned, |asked| asked.clamp(planned, longest.max(planned))))
}

fn release(per_endpoint: &mut HashMap<String, usize>, endpoint: &str) {
    if let Some(n) = per_endpoint.get_mut(endpoint) {
        *n -= 1;
        if *n == 0 {
            per_endpoint.remove(endpoint);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_follow_the_schedule_and_honour_retry_after_up_to_its_longest_wait() {
        let s = |ms: &[u64]| {
            ms.iter()
                .map(|m| Duration::from_millis(*m))
                .collect::<Vec<_>>()
        };
        let schedule = RetrySchedule {
            fast: s(&[500, 1500, 3000, 5000]),
            tail: Vec::new(),
            jitter: 0.2,
        };
        let waits: Vec<_> = (1..=5).map(|n| retry_delay(&schedule, n, None)).collect();
        assert_eq!(
            waits,
            [500, 1500, 3000, 5000]
                .iter()
                .map(|m| Some(Duration::from_millis(*m)))
                .chain([None])
                .collect::<Vec<_>>()
        );
        let asked = |secs| Some(Duration::from_secs(secs));
        assert_eq!(retry_delay(&schedule, 1, asked(2)), asked(2));
        assert_eq!(retry_delay(&schedule, 1, asked(60)), asked(5));
        assert_eq!(retry_delay(&schedule, 3, asked(0)), asked(3));
        let none = RetrySchedule {
            fast: Vec::new(),
            tail: Vec::new(),
            jitter: 0.0,
        };
        assert_eq!(retry_delay(&none, 1, asked(2)), None);
    }

    #[test]
    fn the_slow_tail_follows_the_fast_retries_each_within_its_jitter() {
        let schedule = RetrySchedule {
            fast: vec![Duration::from_millis(500)],
            tail: vec![Duration::from_secs(60), Duration::from_secs(86_400)],
            jitter: 0.2,
        };
        assert_eq!(
            retry_delay(&schedule, 1, None),
            Some(Duration::from_millis(500)),
            "the fast retries keep their delays"
        );
        for _ in 0..200 {
            let minute = retry_delay(&schedule, 2, None).unwrap().as_secs_f64();
            assert!((48.0..=72.0).contains(&minute), "{minute}");
            let day = retry_delay(&schedule, 3, None).unwrap().as_secs_f64();
            assert!((69_120.0..=103_680.0).contains(&day), "{day}");
        }
        assert_eq!(retry_delay(&schedule, 4, None), None, "then it has failed");
        // A Retry-After within the schedule is honoured; the receiver cannot ask for more.
        let asked = retry_delay(&schedule, 2, Some(Duration::from_secs(3_600))).unwrap();
        assert_eq!(asked, Duration::from_secs(3_600));
        let capped = retry_delay(&schedule, 1, Some(Duration::from_secs(900_000))).unwrap();
        assert_eq!(capped, Duration::from_secs(86_400));
    }
}
