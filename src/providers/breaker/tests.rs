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
