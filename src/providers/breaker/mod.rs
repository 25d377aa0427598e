//! A provider's circuit breaker: too many failures in a window open the circuit (`degraded`);
//! after a cooldown one probe at a time is let through (`recovering`) until one succeeds.
//!
//! Time is passed in as milliseconds (the worker passes its `Clock`), so tests move time forward
//! instead of sleeping, and a moved clock moves the breaker too.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::Serialize;

use super::BreakerConfig;

/// Most attempts remembered, however busy the window; the oldest are dropped first.
const MAX_REMEMBERED: usize = 10_000;

/// Longest cooldown honoured, whatever the configuration says.
const MAX_COOLDOWN_MS: f64 = 86_400_000.0;

/// A provider's health as the admin pages and the API show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BreakerStatus {
    Healthy,
    Recovering,
    Degraded,
    /// No attempt in the window and the circuit never opened.
    Unknown,
}

impl BreakerStatus {
    pub const ALL: [BreakerStatus; 4] = [
        BreakerStatus::Healthy,
        BreakerStatus::Recovering,
        BreakerStatus::Degraded,
        BreakerStatus::Unknown,
    ];

    /// The status as the API and the admin pages write it.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerStatus::Healthy => "healthy",
            BreakerStatus::Recovering => "recovering",
            BreakerStatus::Degraded => "degraded",
            BreakerStatus::Unknown => "unknown",
        }
    }
}

/// A breaker's state and the attempts of its window at one moment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BreakerSnapshot {
    pub status: BreakerStatus,
    /// Failures over attempts in the window; 0 when there were none.
    pub failure_rate: f64,
    pub total_attempts: u32,
    pub failures: u32,
    pub successes: u32,
    pub window_seconds: u64,
}

#[derive(Clone, Copy, Debug)]
struct Attempt {
    at_ms: u64,
    success: bool,
    latency_ms: f64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Circuit {
    Closed,
    /// Refusing attempts until `until_ms`.
    Open {
        until_ms: u64,
    },
    /// Probe number `probe` is out since `probe_ms`; its result decides.
    HalfOpen {
        probe_ms: u64,
        probe: u64,
    },
}

/// What `admit` hands an attempt it lets through. Only the half-open probe's outcome decides
/// the circuit: an attempt admitted before the circuit opened may end while a probe is out, and
/// its late result must neither close the circuit nor end that probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "the admission is given back to `record` or `release`"]
pub struct Admission {
    probe: Option<u64>,
}

#[derive(Debug)]
struct State {
    circuit: Circuit,
    attempts: VecDeque<Attempt>,
    ever_opened: bool,
    /// Probes handed out so far, to tell each from the next.
    probes: u64,
}

/// One provider's breaker; shared between workers.
#[derive(Debug)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    state: Mutex<State>,
}

impl CircuitBreaker {
    /// A closed breaker with an empty window.
    pub fn new(config: BreakerConfig) -> Self {
        CircuitBreaker {
            config,
            state: Mutex::new(State {
                circuit: Circuit::Closed,
                attempts: VecDeque::new(),
                ever_opened: false,
                probes: 0,
            }),
        }
    }

    /// Whether an attempt may start now. Once the cooldown is over this lets one probe through
    /// and refuses the rest until that probe is recorded. A probe never recorded is given up
    /// after `window_seconds`, so a lost probe cannot keep the circuit half-open for ever.
    pub fn admit(&self, now_ms: u64) -> Option<Admission> {
        let mut state = self.lock();
        match state.circuit {
            Circuit::Closed => Some(Admission { probe: None }),
            Circuit::Open { until_ms } if now_ms < until_ms => None,
            Circuit::HalfOpen { probe_ms, .. }
                if now_ms.saturating_sub(probe_ms) < self.window_ms() =>
            {
                None
            }
            Circuit::Open { .. } | Circuit::HalfOpen { .. } => {
                state.probes += 1;
                let probe = state.probes;
                state.circuit = Circuit::HalfOpen {
                    probe_ms: now_ms,
                    probe,
                };
                Some(Admission { probe: Some(probe) })
            }
        }
    }

    /// Gives back an admitted attempt that was abandoned (a cancel) without an outcome: if it
    /// was the probe, the next probe may go at once instead of waiting out the window.
    pub fn release(&self, admission: Admission, now_ms: u64) {
        let mut state = self.lock();
        if is_current_probe(&state, admission) {
            state.circuit = Circuit::Open { until_ms: now_ms };
        }
    }

    /// Records the outcome of an attempt that `admit` let through. Every admitted attempt should
    /// be recorded or released, or a half-open circuit waits for its probe until the window has
    /// passed.
    pub fn record(&self, admission: Admission, now_ms: u64, success: bool, latency: Duration) {
        let mut state = self.lock();
        self.forget_old(&mut state, now_ms);
        if state.attempts.len() >= MAX_REMEMBERED {
            state.attempts.pop_front();
        }
        state.attempts.push_back(Attempt {
            at_ms: now_ms,
            success,
            latency_ms: latency.as_secs_f64() * 1000.0,
        });
        match state.circuit {
            Circuit::HalfOpen { .. } if is_current_probe(&state, admission) => {
                if success {
                    // A recovered provider starts afresh: the failures that opened it no longer
                    // count.
                    state.attempts.retain(|a| a.success);
                    state.circuit = Circuit::Closed;
                } else {
                    self.open(&mut state, now_ms);
                }
            }
            Circuit::Closed if self.should_open(&state) => self.open(&mut state, now_ms),
            // Attempts admitted before the circuit opened only add to the window.
            Circuit::Closed | Circuit::Open { .. } | Circuit::HalfOpen { .. } => {}
        }
    }

    /// The status and the window's counts at `now_ms`.
    pub fn snapshot(&self, now_ms: u64) -> BreakerSnapshot {
        let mut state = self.lock();
        self.forget_old(&mut state, now_ms);
        let (total, failures) = counts(&state.attempts);
        BreakerSnapshot {
            status: status(&state, now_ms),
            failure_rate: rate(failures, total),
            total_attempts: total,
            failures,
            successes: total - failures,
            window_seconds: self.config.window_seconds,
        }
    }

    /// `(success rate, mean latency in ms)` over the window's attempts, failures included, for
    /// ordering providers by `fastest`. With no attempts `(1.0, 0.0)`, so new providers get tried.
    pub fn score(&self, now_ms: u64) -> (f64, f64) {
        let mut state = self.lock();
        self.forget_old(&mut state, now_ms);
        let (total, failures) = counts(&state.attempts);
        if total == 0 {
            return (1.0, 0.0);
        }
        let latency: f64 = state.attempts.iter().map(|a| a.latency_ms).sum();
        (1.0 - rate(failures, total), latency / f64::from(total))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent whatever panicked while holding it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn window_ms(&self) -> u64 {
        self.config.window_seconds.saturating_mul(1000)
    }

    fn forget_old(&self, state: &mut State, now_ms: u64) {
        let window_ms = self.window_ms();
        state
            .attempts
            .retain(|a| now_ms.saturating_sub(a.at_ms) < window_ms);
    }

    fn should_open(&self, state: &State) -> bool {
        let (total, failures) = counts(&state.attempts);
        total >= self.config.min_attempts && rate(failures, total) >= self.config.failure_rate
    }

    fn open(&self, state: &mut State, now_ms: u64) {
        let cooldown = (self.config.cooldown_seconds * 1000.0).clamp(0.0, MAX_COOLDOWN_MS);
        // NaN clamps to NaN, which `as` turns into 0: no cooldown rather than a panic.
        state.circuit = Circuit::Open {
            until_ms: now_ms.saturating_add(cooldown as u64),
        };
        state.ever_opened = true;
    }
}

fn is_current_probe(state: &State, admission: Admission) -> bool {
    matches!(
        (state.circuit, admission.probe),
        (Circuit::HalfOpen { probe, .. }, Some(mine)) if probe == mine
    )
}

/// `(attempts, failures)`.
fn counts(attempts: &VecDeque<Attempt>) -> (u32, u32) {
    let total = u32::try_from(attempts.len()).unwrap_or(u32::MAX);
    let failures = attempts.iter().filter(|a| !a.success).count();
    (total, u32::try_from(failures).unwrap_or(u32::MAX))
}

fn rate(part: u32, total: u32) -> f64 {
    if total == 0 {
        0.0
    } else {
        f64::from(part) / f64::from(total)
    }
}

fn status(state: &State, now_ms: u64) -> BreakerStatus {
    match state.circuit {
        Circuit::Open { until_ms } if now_ms < until_ms => BreakerStatus::Degraded,
        Circuit::Open { .. } | Circuit::HalfOpen { .. } => BreakerStatus::Recovering,
        Circuit::Closed if state.attempts.is_empty() && !state.ever_opened => {
            BreakerStatus::Unknown
        }
        Circuit::Closed => BreakerStatus::Healthy,
    }
}

#[cfg(test)]
mod tests;
