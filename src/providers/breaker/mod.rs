//! A provider's circuit breaker: too many failures in a window open the circuit (`degraded`);
//! after a cooldown one probe at a time is let through (`recovering`) until one succeeds.
//!
//! Time is passed in as milliseconds (the worker passes its `Clock`), so tests move time forward
//! instead of sleeping, and a moved clock moves the breaker too.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::Serialize;

use super::spec::BreakerConfig;

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
mod tests {
    use super::*;

    const LATENCY: Duration = Duration::from_millis(100);

    /// Window 60 s, judged from 4 attempts, opens at 50 % failures, 10 s cooldown.
    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new(BreakerConfig {
            window_seconds: 60,
            min_attempts: 4,
            failure_rate: 0.5,
            cooldown_seconds: 10.0,
        })
    }

    /// Admits and records one attempt at `at_ms`; it must be let through.
    fn attempt(b: &CircuitBreaker, at_ms: u64, success: bool) {
        let admission = b.admit(at_ms).expect("admitted");
        b.record(admission, at_ms, success, LATENCY);
    }

    /// Records `outcomes` one millisecond apart from `start_ms`.
    fn record_all(b: &CircuitBreaker, start_ms: u64, outcomes: &[bool]) {
        for (i, success) in outcomes.iter().enumerate() {
            attempt(b, start_ms + i as u64, *success);
        }
    }

    /// A breaker opened at about t = 1 s, so its cooldown ends at about 11 s.
    fn opened() -> CircuitBreaker {
        let b = breaker();
        record_all(&b, 1_000, &[false, false, false, false]);
        b
    }

    #[test]
    fn a_new_breaker_admits_and_is_unknown() {
        let b = breaker();
        assert_eq!(b.admit(0), Some(Admission { probe: None }));
        let s = b.snapshot(0);
        assert_eq!(s.status, BreakerStatus::Unknown);
        assert_eq!((s.total_attempts, s.failure_rate), (0, 0.0));
        assert_eq!(s.window_seconds, 60);
    }

    #[test]
    fn successes_make_it_healthy_and_the_counts_add_up() {
        let b = breaker();
        record_all(&b, 0, &[true, true, false]);
        let s = b.snapshot(10);
        assert_eq!(s.status, BreakerStatus::Healthy);
        assert_eq!((s.total_attempts, s.successes, s.failures), (3, 2, 1));
        assert!((s.failure_rate - 1.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn failures_below_the_minimum_number_of_attempts_do_not_open_it() {
        let b = breaker();
        record_all(&b, 0, &[false, false, false]);
        assert!(b.admit(10).is_some());
        assert_eq!(b.snapshot(10).status, BreakerStatus::Healthy);
    }

    #[test]
    fn a_failure_rate_below_the_threshold_keeps_it_closed() {
        let b = breaker();
        record_all(&b, 0, &[true, true, true, false, true, false]);
        assert!(b.admit(10).is_some());
        assert_eq!(b.snapshot(10).status, BreakerStatus::Healthy);
    }

    #[test]
    fn reaching_the_failure_rate_opens_it_and_refuses_attempts() {
        let b = breaker();
        record_all(&b, 0, &[true, false, true, false]);
        assert_eq!(b.admit(10), None);
        let s = b.snapshot(10);
        assert_eq!(s.status, BreakerStatus::Degraded);
        assert_eq!(s.failure_rate, 0.5);
    }

    #[test]
    fn attempts_older_than_the_window_no_longer_count() {
        let b = breaker();
        record_all(&b, 0, &[false, false, false]);
        // A minute later the three failures are gone: one more failure is 1 of 1, not 4 of 4.
        attempt(&b, 60_002, false);
        assert!(b.admit(60_003).is_some());
        let s = b.snapshot(60_003);
        assert_eq!((s.total_attempts, s.failures), (1, 1));
    }

    #[test]
    fn after_the_window_a_breaker_that_never_opened_is_unknown_again() {
        let b = breaker();
        record_all(&b, 0, &[true]);
        assert_eq!(b.snapshot(60_000).status, BreakerStatus::Unknown);
    }

    #[test]
    fn after_the_cooldown_exactly_one_probe_is_let_through() {
        let b = opened();
        assert_eq!(b.admit(10_000), None);
        assert_eq!(b.snapshot(12_000).status, BreakerStatus::Recovering);
        assert_eq!(b.admit(12_000), Some(Admission { probe: Some(1) }));
        assert_eq!(b.admit(12_001), None);
        assert_eq!(b.admit(20_000), None);
        assert_eq!(b.snapshot(20_000).status, BreakerStatus::Recovering);
    }

    #[test]
    fn a_successful_probe_closes_it_without_the_old_failures() {
        let b = opened();
        let probe = b.admit(12_000).expect("probe");
        b.record(probe, 12_500, true, LATENCY);
        assert!(b.admit(12_501).is_some());
        let s = b.snapshot(12_501);
        assert_eq!(s.status, BreakerStatus::Healthy);
        assert_eq!((s.total_attempts, s.failures, s.successes), (1, 0, 1));
        // One more failure is 1 of 2: not enough to reopen.
        attempt(&b, 12_600, false);
        assert!(b.admit(12_601).is_some());
    }

    #[test]
    fn a_failed_probe_reopens_it_with_a_fresh_cooldown() {
        let b = opened();
        let probe = b.admit(12_000).expect("probe");
        b.record(probe, 12_500, false, LATENCY);
        assert_eq!(b.admit(12_501), None);
        assert_eq!(b.snapshot(20_000).status, BreakerStatus::Degraded);
        assert_eq!(b.admit(22_499), None);
        assert!(b.admit(22_500).is_some());
    }

    #[test]
    fn a_probe_never_recorded_is_given_up_after_the_window() {
        let b = opened();
        assert!(b.admit(12_000).is_some());
        assert_eq!(b.admit(71_999), None);
        assert_eq!(b.admit(72_000), Some(Admission { probe: Some(2) }));
        assert_eq!(b.admit(72_001), None);
    }

    #[test]
    fn a_released_probe_lets_the_next_one_through_at_once() {
        let b = opened();
        let probe = b.admit(12_000).expect("probe");
        b.release(probe, 12_100);
        assert_eq!(b.admit(12_101), Some(Admission { probe: Some(2) }));
        assert_eq!(b.admit(12_102), None);
    }

    #[test]
    fn late_results_while_open_do_not_close_it() {
        let b = breaker();
        let early = b.admit(500).expect("closed");
        record_all(&b, 1_000, &[false, false, false, false]);
        b.record(early, 2_000, true, LATENCY);
        assert_eq!(b.admit(2_001), None);
        assert_eq!(b.snapshot(2_001).status, BreakerStatus::Degraded);
    }

    #[test]
    fn an_attempt_admitted_before_the_circuit_opened_does_not_decide_the_probe() {
        let b = breaker();
        let early = b.admit(500).expect("closed");
        let cancelled = b.admit(600).expect("closed");
        record_all(&b, 1_000, &[false, false, false, false]);
        let probe = b.admit(12_000).expect("probe");
        // Neither a late success nor a cancelled early attempt ends the probe.
        b.record(early, 12_100, true, LATENCY);
        b.release(cancelled, 12_200);
        assert_eq!(b.admit(12_300), None);
        assert_eq!(b.snapshot(12_300).status, BreakerStatus::Recovering);
        // The probe's own result does.
        b.record(probe, 12_400, true, LATENCY);
        assert_eq!(b.snapshot(12_500).status, BreakerStatus::Healthy);
        assert!(b.admit(12_500).is_some());
    }

    #[test]
    fn once_opened_an_empty_window_reads_healthy_not_unknown() {
        let b = opened();
        let probe = b.admit(12_000).expect("probe");
        b.record(probe, 12_000, true, LATENCY);
        assert_eq!(b.snapshot(200_000).status, BreakerStatus::Healthy);
    }

    #[test]
    fn the_score_of_a_new_provider_puts_it_first() {
        assert_eq!(breaker().score(0), (1.0, 0.0));
    }

    #[test]
    fn the_score_is_the_success_rate_and_the_mean_latency() {
        let b = breaker();
        for (at_ms, success, latency_ms) in [
            (0, true, 100),
            (1, true, 300),
            (2, false, 800),
            (3, true, 400),
        ] {
            let admission = b.admit(at_ms).expect("closed");
            b.record(admission, at_ms, success, Duration::from_millis(latency_ms));
        }
        let (success_rate, latency_ms) = b.score(10);
        assert_eq!(success_rate, 0.75);
        assert!((latency_ms - 400.0).abs() < 1e-9);
    }

    #[test]
    fn statuses_read_as_the_api_writes_them() {
        let all = [
            BreakerStatus::Healthy,
            BreakerStatus::Recovering,
            BreakerStatus::Degraded,
            BreakerStatus::Unknown,
        ];
        let names: Vec<&str> = all.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["healthy", "recovering", "degraded", "unknown"]);
        for s in all {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
