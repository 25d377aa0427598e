//! The pre-authentication limiter: an IP with too many failed authentications in a minute is
//! refused for a while before its key is even read (BSE1006).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::domain::Timestamp;

const WINDOW_MS: i64 = 60_000;
const PRUNE_ABOVE: usize = 10_000;

#[derive(Clone, Copy, Debug)]
struct Entry {
    window_start: i64,
    failures: u32,
    blocked_until: i64,
}

pub struct PreAuthLimiter {
    max_failures: u32,
    block_ms: i64,
    entries: Mutex<HashMap<IpAddr, Entry>>,
}

impl PreAuthLimiter {
    pub fn new(max_failures: u32, block_seconds: u64) -> PreAuthLimiter {
        PreAuthLimiter {
            max_failures,
            block_ms: i64::try_from(block_seconds)
                .unwrap_or(i64::MAX / 2)
                .saturating_mul(1000),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds left on this IP's block, if it is blocked.
    pub fn blocked_for(&self, ip: IpAddr, now: Timestamp) -> Option<u64> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let entry = entries.get(&ip)?;
        let left = entry.blocked_until - now.0;
        (left > 0).then(|| u64::try_from((left + 999) / 1000).unwrap_or(1))
    }

    pub fn record_failure(&self, ip: IpAddr, now: Timestamp) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() > PRUNE_ABOVE {
            entries.retain(|_, e| e.blocked_until > now.0 || now.0 - e.window_start < WINDOW_MS);
        }
        let entry = entries.entry(ip).or_insert(Entry {
            window_start: now.0,
            failures: 0,
            blocked_until: 0,
        });
        if now.0 - entry.window_start >= WINDOW_MS {
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
        assert_eq!(limiter.blocked_for(ip, t), None);
        limiter.record_failure(ip, t);
        assert_eq!(limiter.blocked_for(ip, t), Some(60));
        assert_eq!(limiter.blocked_for("192.0.2.2".parse().unwrap(), t), None);
        assert_eq!(limiter.blocked_for(ip, t.plus_millis(60_000)), None);
    }

    #[test]
    fn failures_spread_over_more_than_a_minute_do_not_block() {
        let limiter = PreAuthLimiter::new(2, 60);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        limiter.record_failure(ip, Timestamp(0));
        limiter.record_failure(ip, Timestamp(61_000));
        assert_eq!(limiter.blocked_for(ip, Timestamp(61_000)), None);
    }
}
