//! The roll-ups behind the charts and the usage page (`usage_hourly`, `usage_daily_routes`,
//! `usage_weekly_keys`; docs/keys.md, "Usage figures"), summed in the writer between writes.
//! A quiet writer writes them in the commit of the rows they count. Under load, the sums of
//! consecutive large groups are written together at most `EVERY` later, in a later commit (or
//! one of their own when no row follows): a commit then costs its rows and daily roll-ups only.
//! A crash loses at most those last sums; the rows and the daily roll-ups are committed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::LogEntry;
use crate::domain::Timestamp;
use crate::domain::usage::Tally;
use crate::store::{StoreError, Tx, usage_hourly};

/// The longest the sums wait for a write under load.
pub(super) const EVERY: Duration = Duration::from_millis(250);
/// A group of fewer rows writes the sums in its own commit: a quiet writer is never behind.
const DEFER_FROM: usize = 16;

#[derive(Default)]
pub(super) struct Rollups {
    /// (account, key or `''`, hour).
    hourly: BTreeMap<(String, String, i64), Tally>,
    /// (account, day, route, status class).
    routes: BTreeMap<(String, i64, String, i64), i64>,
    /// (account, week, key).
    weeks: BTreeMap<(String, i64, String), i64>,
    /// When the sums were last written.
    written: Option<Instant>,
}

impl Rollups {
    pub(super) fn is_empty(&self) -> bool {
        self.hourly.is_empty() && self.routes.is_empty() && self.weeks.is_empty()
    }

    /// Whether a group of `rows` rows writes the sums now.
    pub(super) fn due(&self, rows: usize) -> bool {
        rows < DEFER_FROM || self.written.is_none_or(|at| at.elapsed() >= EVERY)
    }

    /// How long until the sums must be written, when there are any.
    pub(super) fn wait(&self) -> Option<Duration> {
        if self.is_empty() {
            return None;
        }
        Some(
            self.written
                .map_or(Duration::ZERO, |at| EVERY.saturating_sub(at.elapsed())),
        )
    }

    /// Adds the rows of a group. They are summed under borrowed keys first: a group's rows
    /// share few accounts, keys, hours and routes, so each key is copied once, not once a row.
    pub(super) fn add(&mut self, rows: &[&LogEntry]) {
        let mut hourly: BTreeMap<(&str, &str, i64), Tally> = BTreeMap::new();
        let mut routes: BTreeMap<(&str, i64, &str, i64), i64> = BTreeMap::new();
        let mut weeks: BTreeMap<(&str, i64, &str), i64> = BTreeMap::new();
        for e in rows {
            let account = e.key.account_id.as_str();
            let hour = e.created_at.div_euclid(Timestamp::MS_PER_HOUR);
            for key in [e.key.id.as_str(), ""] {
                hourly
                    .entry((account, key, hour))
                    .or_default()
                    .add(e.status_code, e.latency_us);
            }
            let day = e.created_at.div_euclid(Timestamp::MS_PER_DAY);
            let class = i64::from(e.status_code / 100);
            *routes.entry((account, day, &e.route, class)).or_default() += 1;
            *weeks
                .entry((account, day.div_euclid(7), &e.key.id))
                .or_default() += 1;
        }
        for ((account, key, hour), tally) in hourly {
            self.hourly
                .entry((account.to_owned(), key.to_owned(), hour))
                .or_default()
                .merge(&tally);
        }
        for ((account, day, route, class), n) in routes {
            *self
                .routes
                .entry((account.to_owned(), day, route.to_owned(), class))
                .or_default() += n;
        }
        for ((account, week, key), n) in weeks {
            *self
                .weeks
                .entry((account.to_owned(), week, key.to_owned()))
                .or_default() += n;
        }
    }

    /// Adds sums made since (a committed group's).
    pub(super) fn merge(&mut self, other: Rollups) {
        for (k, t) in other.hourly {
            self.hourly.entry(k).or_default().merge(&t);
        }
        for (k, n) in other.routes {
            *self.routes.entry(k).or_default() += n;
        }
        for (k, n) in other.weeks {
            *self.weeks.entry(k).or_default() += n;
        }
    }

    /// After a failed write: the next try waits its turn rather than retrying at once.
    pub(super) fn postpone(&mut self) {
        self.written = Some(Instant::now());
    }

    /// Writes the sums in `tx`; `clear` once it has committed.
    pub(super) fn write(&self, tx: &Tx<'_>) -> Result<(), StoreError> {
        let hourly: Vec<_> = self
            .hourly
            .iter()
            .map(|((a, k, h), t)| ((a.as_str(), k.as_str(), *h), t))
            .collect();
        usage_hourly::add(tx, &hourly)?;
        for ((account, day, route, class), n) in &self.routes {
            tx.execute(
                "INSERT INTO usage_daily_routes (account_id, day, route, status_class, requests)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (account_id, day, route, status_class)
                 DO UPDATE SET requests = usage_daily_routes.requests + excluded.requests",
                &[account, &day_text(*day), route, class, n],
            )?;
        }
        for ((account, week, key), n) in &self.weeks {
            tx.execute(
                "INSERT INTO usage_weekly_keys (account_id, week, key_id, requests)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (account_id, week, key_id)
                 DO UPDATE SET requests = usage_weekly_keys.requests + excluded.requests",
                &[account, week, key, n],
            )?;
        }
        Ok(())
    }

    /// After the commit that wrote them.
    pub(super) fn clear(&mut self) {
        self.hourly.clear();
        self.routes.clear();
        self.weeks.clear();
        self.written = Some(Instant::now());
    }
}

fn day_text(day: i64) -> String {
    Timestamp(day * Timestamp::MS_PER_DAY).day()
}
