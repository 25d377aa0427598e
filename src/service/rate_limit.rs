//! Per-account (and optional per-key) request limits: a fixed 60 s window and the UTC day
//! (docs/api.md, "Rate limits"). Counters live in memory; a refused request does not count.
//!
//! Beside other nodes (PostgreSQL), each node also takes what it serves from the limit of the
//! whole cluster (`SharedLimits`): permits in blocks of a twentieth of the limit, granted by
//! the store, which never grants more than the limit. The nodes together never serve more than
//! the limit; a node's unused permits (under a block each) are what they may fall short of it.

mod shared;

use std::collections::HashMap;
use std::sync::Mutex;

use crate::config::PlanConfig;
use crate::domain::Timestamp;

pub use shared::SharedLimits;

const MINUTE_MS: i64 = 60_000;
/// Above this many tracked accounts and keys, those not seen today are forgotten.
const PRUNE_ABOVE: usize = 10_000;

type Windows = HashMap<String, (Window, Window)>;

/// The rolled window `pick` chooses for `id`; a new id allocates its entry, a known one does not.
fn rolled(
    windows: &mut Windows,
    id: &str,
    now: Timestamp,
    pick: fn(&mut (Window, Window)) -> &mut Window,
) -> Window {
    if let Some(pair) = windows.get_mut(id) {
        let w = pick(pair);
        w.roll(now);
        return *w;
    }
    let w = pick(windows.entry(id.to_owned()).or_default());
    w.roll(now);
    *w
}

#[derive(Clone, Copy, Debug, Default)]
struct Window {
    minute_start: i64,
    minute_count: u32,
    day_start: i64,
    day_count: u32,
}

impl Window {
    fn roll(&mut self, now: Timestamp) {
        let minute = now.0 - now.0.rem_euclid(MINUTE_MS);
        if self.minute_start != minute {
            self.minute_start = minute;
            self.minute_count = 0;
        }
        let day = now.start_of_day().0;
        if self.day_start != day {
            self.day_start = day;
            self.day_count = 0;
        }
    }
}

/// What the `X-RateLimit-*` headers say, and whether the request may go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The per-minute limit in force; `None` when only a daily limit applies (then no
    /// `X-RateLimit-*` headers describe a minute window).
    pub limit: Option<u32>,
    pub remaining: u32,
    /// Unix seconds at which the minute window resets.
    pub reset: i64,
    /// Seconds to wait when the request is refused.
    pub retry_after: Option<u64>,
    /// The limit that refused the request.
    pub exceeded_limit: Option<u32>,
}

#[derive(Default)]
pub struct RateLimiter {
    tracked: Mutex<Tracked>,
}

/// The windows, and the day they were last pruned: a prune forgets only ids not seen today, so a
/// second one the same day could forget nothing and would only rescan the map on every request.
#[derive(Default)]
struct Tracked {
    windows: Windows,
    pruned_on: i64,
}

pub struct Subject<'a> {
    pub account_id: &'a str,
    pub plan: &'a PlanConfig,
    pub key_id: &'a str,
    pub key_per_minute: Option<u32>,
}

impl RateLimiter {
    /// Checks and, when `consume` and allowed, counts one request. `None` when neither the plan
    /// nor the key has a limit.
    pub fn check(&self, s: &Subject<'_>, now: Timestamp, consume: bool) -> Option<Decision> {
        let per_minute = min_opt(s.plan.requests_per_minute, s.key_per_minute);
        let per_day = s.plan.requests_per_day;
        if per_minute.is_none() && per_day.is_none() {
            return None;
        }
        let mut tracked = self.tracked.lock().unwrap_or_else(|p| p.into_inner());
        let today = now.start_of_day().0;
        if tracked.windows.len() > PRUNE_ABOVE && tracked.pruned_on != today {
            tracked.pruned_on = today;
            tracked
                .windows
                .retain(|_, (account, key)| account.day_start == today || key.day_start == today);
        }
        let windows = &mut tracked.windows;
        let account = rolled(windows, s.account_id, now, |(account, _)| account);
        let key = s
            .key_per_minute
            .map(|_| rolled(windows, s.key_id, now, |(_, key)| key));
        let minute_reset = account.minute_start + MINUTE_MS;
        let remaining_minute = |limit: u32, used: u32| limit.saturating_sub(used);
        let mut remaining = u32::MAX;
        let mut wait_ms: Option<i64> = None;
        let mut exceeded_limit = None;
        if let Some(limit) = s.plan.requests_per_minute {
            remaining = remaining.min(remaining_minute(limit, account.minute_count));
        }
        if let (Some(limit), Some(w)) = (s.key_per_minute, key) {
            remaining = remaining.min(remaining_minute(limit, w.minute_count));
        }
        if remaining == 0 {
            wait_ms = Some(minute_reset - now.0);
            exceeded_limit = per_minute;
        }
        if let Some(limit) = per_day
            && account.day_count >= limit
        {
            wait_ms = Some(account.day_start + Timestamp::MS_PER_DAY - now.0);
            exceeded_limit = Some(limit);
        }
        let allowed = wait_ms.is_none();
        if allowed && consume {
            if let Some((w, _)) = windows.get_mut(s.account_id) {
                w.minute_count += 1;
                w.day_count += 1;
            }
            if key.is_some()
                && let Some((_, w)) = windows.get_mut(s.key_id)
            {
                w.minute_count += 1;
            }
            remaining = remaining.saturating_sub(1);
        }
        Some(Decision {
            limit: per_minute,
            remaining: remaining.min(per_minute.unwrap_or(u32::MAX)),
            reset: minute_reset.div_euclid(1000),
            retry_after: wait_ms.map(|ms| u64::try_from((ms + 999) / 1000).unwrap_or(1).max(1)),
            exceeded_limit,
        })
    }
}

fn min_opt(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(per_minute: Option<u32>, per_day: Option<u32>) -> PlanConfig {
        PlanConfig {
            requests_per_minute: per_minute,
            requests_per_day: per_day,
            max_in_flight: None,
        }
    }

    #[test]
    fn accounts_not_seen_today_are_forgotten_once_there_are_many() {
        let limiter = RateLimiter::default();
        let p = plan(Some(5), None);
        let ids: Vec<String> = (0..=PRUNE_ABOVE).map(|i| format!("a{i}")).collect();
        for id in &ids {
            let s = Subject {
                account_id: id,
                plan: &p,
                key_id: "k",
                key_per_minute: None,
            };
            limiter.check(&s, Timestamp(0), true);
        }
        let s = Subject {
            account_id: "tomorrow",
            plan: &p,
            key_id: "k",
            key_per_minute: None,
        };
        limiter.check(&s, Timestamp(Timestamp::MS_PER_DAY), true);
        let tracked = limiter.tracked.lock().unwrap();
        assert_eq!(tracked.windows.len(), 1);
        assert_eq!(tracked.pruned_on, Timestamp::MS_PER_DAY);
    }

    #[test]
    fn the_minute_window_refuses_past_the_limit_and_resets() {
        let limiter = RateLimiter::default();
        let p = plan(Some(2), None);
        let s = Subject {
            account_id: "a",
            plan: &p,
            key_id: "k",
            key_per_minute: None,
        };
        let t = Timestamp(120_000);
        assert_eq!(limiter.check(&s, t, true).unwrap().remaining, 1);
        assert_eq!(limiter.check(&s, t, true).unwrap().remaining, 0);
        let refused = limiter.check(&s, t.plus_millis(10_000), true).unwrap();
        assert_eq!(refused.retry_after, Some(50));
        assert_eq!(refused.reset, 180);
        assert!(
            limiter
                .check(&s, t.plus_millis(60_000), true)
                .unwrap()
                .retry_after
                .is_none()
        );
    }

    #[test]
    fn a_key_limit_lowers_the_account_limit() {
        let limiter = RateLimiter::default();
        let p = plan(None, None);
        let s = Subject {
            account_id: "a",
            plan: &p,
            key_id: "k",
            key_per_minute: Some(1),
        };
        let t = Timestamp(0);
        assert_eq!(limiter.check(&s, t, true).unwrap().limit, Some(1));
        assert!(limiter.check(&s, t, true).unwrap().retry_after.is_some());
        let other = Subject { key_id: "k2", ..s };
        assert!(
            limiter
                .check(&other, t, true)
                .unwrap()
                .retry_after
                .is_none()
        );
    }

    #[test]
    fn unlimited_plans_without_key_limits_are_not_tracked() {
        let limiter = RateLimiter::default();
        let p = plan(None, None);
        let s = Subject {
            account_id: "a",
            plan: &p,
            key_id: "k",
            key_per_minute: None,
        };
        assert!(limiter.check(&s, Timestamp(0), true).is_none());
    }

    #[test]
    fn the_day_limit_waits_until_midnight() {
        let limiter = RateLimiter::default();
        let p = plan(None, Some(1));
        let s = Subject {
            account_id: "a",
            plan: &p,
            key_id: "k",
            key_per_minute: None,
        };
        let t = Timestamp(Timestamp::MS_PER_DAY - 3_600_000);
        assert!(limiter.check(&s, t, true).unwrap().retry_after.is_none());
        let refused = limiter.check(&s, t, true).unwrap();
        assert_eq!(refused.retry_after, Some(3600));
        assert_eq!(refused.exceeded_limit, Some(1));
        assert_eq!(refused.limit, None, "no minute window to describe");
    }
}
