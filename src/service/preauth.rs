//! Failure limiters: an IP with too many failed authentications in a minute is refused for a
//! while before its key is even read (BSE1006); the same mechanism limits dashboard sign-ins per
//! IP and per e-mail address.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::domain::Timestamp;

const PRUNE_ABOVE: usize = 10_000;

#[derive(Clone, Copy, Debug)]
struct Entry {
    window_start: i64,
    failures: u32,
    blocked_until: i64,
}

/// Counts failures per key in a fixed window; reaching the maximum blocks the key for a while.
pub struct FailureLimiter<K> {
    max_failures: u32,
    window_ms: i64,
    block_ms: i64,
    entries: Mutex<HashMap<K, Entry>>,
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
        let entry = entries.get(key)?;
        let left = entry.blocked_until - now.0;
        (left > 0).then(|| u64::try_from((left + 999) / 1000).unwrap_or(1))
    }

    pub fn record_failure(&self, key: K, now: Timestamp) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let window = self.window_ms;
        if entries.len() > PRUNE_ABOVE {
            entries.retain(|_, e| e.blocked_until > now.0 || now.0 - e.window_start < window);
        }
        let entry = entries.entry(key).or_insert(Entry {
            window_start: now.0,
            failures: 0,
            blocked_until: 0,
        });
        if now.0 - entry.window_start >= window {
            entry.window_start = now.0;
            entry.failures = 0;
        }
        entry.failures += 1;
        if entry.failures >= self.max_failures {
            entry.blocked_until = now.0 + self.block_ms;
            entry.failures = 0;
            entry.window_start = now.0;
        }
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
}
