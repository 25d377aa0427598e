//! Failure limiters: an IP with too many failed authentications in a minute is refused for a
//! while (BSE1006); the same mechanism limits dashboard sign-ins per IP. Sign-ins per e-mail
//! address get a growing delay instead of a block, so a stranger cannot lock a person out.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::domain::Timestamp;
pub use crate::store::auth_limits::Failures;

const PRUNE_ABOVE: usize = 10_000;

/// Whole seconds left until `until`, if any.
fn seconds_until(until: i64, now: Timestamp) -> Option<u64> {
    let left = until - now.0;
    (left > 0).then(|| u64::try_from((left + 999) / 1000).unwrap_or(1))
}

/// Counts failures per key in a fixed window; reaching the maximum blocks the key for a while.
/// The same steps count in memory here and in the store beside other nodes
/// (`super::auth_limits`).
pub struct FailureLimiter<K> {
    max_failures: u32,
    window_ms: i64,
    block_ms: i64,
    entries: Mutex<HashMap<K, Failures>>,
}

/// Failed authentications per client IP, over one minute.
pub type PreAuthLimiter = FailureLimiter<IpAddr>;

impl PreAuthLimiter {
    pub fn new(max_failures: u32, block_seconds: u64) -> PreAuthLimiter {
        FailureLimiter::with_window(max_failures, 60, block_seconds)
    }
}

impl<K: Hash + Eq> FailureLimiter<K> {
    pub fn with_window(
        max_failures: u32,
        window_seconds: u64,
        block_seconds: u64,
    ) -> FailureLimiter<K> {
        let ms = |s: u64| {
            i64::try_from(s)
                .unwrap_or(i64::MAX / 2000)
                .saturating_mul(1000)
        };
        FailureLimiter {
            max_failures,
            window_ms: ms(window_seconds),
            block_ms: ms(block_seconds),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds left on this key's block, if it is blocked.
    pub fn blocked_for(&self, key: &K, now: Timestamp) -> Option<u64> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        seconds_until(entries.get(key)?.blocked_until, now)
    }

    pub fn record_failure(&self, key: K, now: Timestamp) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let window = self.window_ms;
        if entries.len() > PRUNE_ABOVE {
            entries.retain(|_, e| e.blocked_until > now.0 || now.0 - e.window_start < window);
        }
        let entry = entries.entry(key).or_insert(Failures {
            window_start: now.0,
            ..Failures::default()
        });
        self.step(entry, now);
    }

    /// A block another node reached: this key is blocked here too until `until`.
    pub fn learn_block(&self, key: K, until: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let entry = entries.entry(key).or_default();
        entry.blocked_until = entry.blocked_until.max(until);
    }

    /// One failure at `now` added to `entry`: a new window once the last one is over, and a
    /// block (with a new window) once the window holds the maximum.
    pub fn step(&self, entry: &mut Failures, now: Timestamp) {
        if now.0 - entry.window_start >= self.window_ms {
            entry.window_start = now.0;
            entry.failures = 0;
        }
        entry.failures += 1;
        entry.last_failure = now.0;
        if entry.failures >= i64::from(self.max_failures) {
            entry.blocked_until = now.0 + self.block_ms;
            entry.failures = 0;
            entry.window_start = now.0;
        }
    }

    /// Seconds left on the block `entry` records, if any.
    pub fn left(entry: &Failures, now: Timestamp) -> Option<u64> {
        seconds_until(entry.blocked_until, now)
    }

    /// When `entry` no longer matters: its block and its window are over.
    pub fn expiry(&self, entry: &Failures) -> i64 {
        entry
            .blocked_until
            .max(entry.window_start.saturating_add(self.window_ms))
    }
}

/// Failed sign-ins per e-mail address. The first `FREE_FAILURES` cost nothing; after that each
/// attempt must come a delay after the last failure, one second doubling up to `MAX_DELAY_MS`.
/// A guesser spreading attempts over any number of addresses gets one verified guess per
/// `MAX_DELAY_MS` at most, and the person whose address it is signs in at the next slot.
pub struct SignInBackoff {
    forget_after_ms: i64,
    entries: Mutex<HashMap<String, Failures>>,
}

impl SignInBackoff {
    pub const FREE_FAILURES: u32 = 3;
    pub const MAX_DELAY_MS: i64 = 30_000;

    /// Failures are forgotten `forget_after_seconds` after the last one.
    pub fn new(forget_after_seconds: u64) -> SignInBackoff {
        SignInBackoff {
            forget_after_ms: i64::try_from(forget_after_seconds.saturating_mul(1000))
                .unwrap_or(i64::MAX),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn delay_ms(failures: i64) -> i64 {
        let doublings = failures
            .saturating_sub(i64::from(Self::FREE_FAILURES) + 1)
            .clamp(0, 20);
        (1000_i64 << doublings).min(Self::MAX_DELAY_MS)
    }

    /// Seconds to wait before the next attempt for this address, if it must wait.
    pub fn wait_for(&self, email: &str, now: Timestamp) -> Option<u64> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        Self::wait(entries.get(email)?, now)
    }

    /// Seconds to wait after the failures `entry` records, if any.
    pub fn wait(entry: &Failures, now: Timestamp) -> Option<u64> {
        if entry.failures <= i64::from(Self::FREE_FAILURES) {
            return None;
        }
        seconds_until(entry.last_failure + Self::delay_ms(entry.failures), now)
    }

    pub fn record_failure(&self, email: String, now: Timestamp) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let forget = self.forget_after_ms;
        if entries.len() > PRUNE_ABOVE {
            entries.retain(|_, e| now.0 - e.last_failure < forget);
        }
        let entry = entries.entry(email).or_insert(Failures {
            last_failure: now.0,
            ..Failures::default()
        });
        self.step(entry, now);
    }

    /// One failure at `now` added to `entry`, after forgetting those of a quiet window.
    pub fn step(&self, entry: &mut Failures, now: Timestamp) {
        if now.0 - entry.last_failure >= self.forget_after_ms {
            entry.failures = 0;
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure = now.0;
        entry.window_start = now.0;
    }

    /// When `entry` is forgotten.
    pub fn expiry(&self, entry: &Failures) -> i64 {
        entry.last_failure.saturating_add(self.forget_after_ms)
    }

    pub fn record_success(&self, email: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.remove(email);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ip_is_blocked_after_the_limit_and_released_after_the_block() {
        let limiter = PreAuthLimiter::new(3, 60);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t = Timestamp(1_000_000);
        limiter.record_failure(ip, t);
        limiter.record_failure(ip, t);
        assert_eq!(limiter.blocked_for(&ip, t), None);
        limiter.record_failure(ip, t);
        assert_eq!(limiter.blocked_for(&ip, t), Some(60));
        assert_eq!(limiter.blocked_for(&"192.0.2.2".parse().unwrap(), t), None);
        assert_eq!(limiter.blocked_for(&ip, t.plus_millis(60_000)), None);
    }

    #[test]
    fn failures_spread_over_more_than_a_minute_do_not_block() {
        let limiter = PreAuthLimiter::new(2, 60);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        limiter.record_failure(ip, Timestamp(0));
        limiter.record_failure(ip, Timestamp(61_000));
        assert_eq!(limiter.blocked_for(&ip, Timestamp(61_000)), None);
    }

    #[test]
    fn sign_in_delays_grow_from_one_second_to_the_cap_and_a_success_clears_them() {
        let backoff = SignInBackoff::new(900);
        let email = "admin@localhost";
        let mut t = Timestamp(1_000_000);
        for _ in 0..SignInBackoff::FREE_FAILURES {
            assert_eq!(backoff.wait_for(email, t), None);
            backoff.record_failure(email.to_owned(), t);
        }
        let mut waits = Vec::new();
        for _ in 0..8 {
            let wait = backoff.wait_for(email, t).unwrap_or(0);
            waits.push(wait);
            t = t.plus_millis(i64::try_from(wait).unwrap() * 1000);
            assert_eq!(backoff.wait_for(email, t), None);
            backoff.record_failure(email.to_owned(), t);
        }
        assert_eq!(waits, [0, 1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(backoff.wait_for("other@example.com", t), None);
        backoff.record_success(email);
        assert_eq!(backoff.wait_for(email, t), None);
    }

    #[test]
    fn sign_in_failures_are_forgotten_after_a_quiet_window() {
        let backoff = SignInBackoff::new(60);
        for _ in 0..10 {
            backoff.record_failure("a@b.c".to_owned(), Timestamp(0));
        }
        assert!(backoff.wait_for("a@b.c", Timestamp(1)).is_some());
        backoff.record_failure("a@b.c".to_owned(), Timestamp(60_000));
        assert_eq!(backoff.wait_for("a@b.c", Timestamp(60_000)), None);
    }
}
