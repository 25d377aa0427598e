//! The hourly roll-ups behind the charts and the dashboard (docs/admin.md, "Charts"): per
//! account and UTC hour, a row per key and one with key id `''` for the whole account, each
//! holding requests by outcome and a latency histogram. Written by the log writer with the
//! rows they count (`request_log::rollups`), read by hour range through the primary key, kept
//! 90 days.

use std::sync::OnceLock;

use super::engine::Param;
use super::{StoreError, Tx};
use crate::domain::usage::{LATENCY_BUCKETS, Tally};

/// How long hourly rows are kept: the longest chart range.
pub const KEPT_HOURS: i64 = 90 * 24;

/// The counting columns in `Tally` order: the five outcomes, then the latency buckets.
fn counters() -> &'static [String] {
    static COLUMNS: OnceLock<Vec<String>> = OnceLock::new();
    COLUMNS.get_or_init(|| {
        [
            "success",
            "client_error",
            "auth_refused",
            "rate_limited",
            "server_error",
        ]
        .iter()
        .map(|c| (*c).to_owned())
        .chain((0..LATENCY_BUCKETS).map(|i| format!("l{i:02}")))
        .collect()
    })
}

/// Most rows one upsert adds to (26 values each).
const ROWS_PER_UPSERT: usize = 16;

/// The upsert of `n` rows (1 to `ROWS_PER_UPSERT`), built once: a group commit's key and
/// account rows go in one statement.
fn upsert(n: usize) -> &'static str {
    static SQL: OnceLock<Vec<String>> = OnceLock::new();
    let all = SQL.get_or_init(|| {
        let columns = counters();
        let width = 3 + columns.len();
        let sums: Vec<String> = columns
            .iter()
            .map(|c| format!("{c} = usage_hourly.{c} + excluded.{c}"))
            .collect();
        (1..=ROWS_PER_UPSERT)
            .map(|n| {
                let rows: Vec<String> = (0..n)
                    .map(|row| {
                        let values: Vec<String> = (1..=width)
                            .map(|c| format!("?{}", row * width + c))
                            .collect();
                        format!("({})", values.join(", "))
                    })
                    .collect();
                format!(
                    "INSERT INTO usage_hourly (account_id, key_id, hour, {}) VALUES {}
                     ON CONFLICT (account_id, key_id, hour) DO UPDATE SET {}",
                    columns.join(", "),
                    rows.join(", "),
                    sums.join(", ")
                )
            })
            .collect()
    });
    &all[n.clamp(1, ROWS_PER_UPSERT) - 1]
}

/// Adds each (account, key or `''`, hour)'s tally to its row.
pub(super) fn add(tx: &Tx<'_>, rows: &[((&str, &str, i64), &Tally)]) -> Result<(), StoreError> {
    for chunk in rows.chunks(ROWS_PER_UPSERT) {
        let mut params: Vec<&dyn Param> = Vec::with_capacity(chunk.len() * 26);
        for ((account, key, hour), tally) in chunk {
            params.extend([account as &dyn Param, key, hour]);
            params.extend(tally.outcomes.iter().map(|n| n as &dyn Param));
            params.extend(tally.latency.iter().map(|n| n as &dyn Param));
        }
        tx.execute(upsert(chunk.len()), &params)?;
    }
    Ok(())
}

/// The tallies of an account (`key_id` `None`) or of one of its keys, per hour from
/// `since_hour` on, oldest first; hours without requests are left out.
pub fn hours(
    tx: &Tx<'_>,
    account_id: &str,
    key_id: Option<&str>,
    since_hour: i64,
) -> Result<Vec<(i64, Tally)>, StoreError> {
    static SELECT: OnceLock<String> = OnceLock::new();
    let sql = SELECT.get_or_init(|| {
        format!(
            "SELECT hour, {} FROM usage_hourly
             WHERE account_id = ?1 AND key_id = ?2 AND hour >= ?3 ORDER BY hour",
            counters().join(", ")
        )
    });
    let key = key_id.unwrap_or("");
    tx.query_all(sql, &[&account_id, &key, &since_hour], |r| {
        let mut tally = Tally::default();
        let latency_from = 1 + tally.outcomes.len();
        for (i, n) in tally.outcomes.iter_mut().enumerate() {
            *n = r.get(1 + i)?;
        }
        for (i, n) in tally.latency.iter_mut().enumerate() {
            *n = r.get(latency_from + i)?;
        }
        Ok((r.get(0)?, tally))
    })
}

/// A deleted key's hours and weekly totals; the account's rows keep counting its requests.
pub(super) fn delete_key(tx: &Tx<'_>, key_id: &str) -> Result<(), StoreError> {
    // Through the primary keys: the key's account comes first in them.
    for table in ["usage_hourly", "usage_weekly_keys"] {
        tx.execute(
            &format!(
                "DELETE FROM {table} WHERE key_id = ?1
                     AND account_id = (SELECT account_id FROM api_keys WHERE id = ?1)"
            ),
            &[&key_id],
        )?;
    }
    Ok(())
}

/// Deletes at most `limit` rows of hours before `before_hour`; returns how many went.
pub fn delete_before(tx: &Tx<'_>, before_hour: i64, limit: i64) -> Result<u64, StoreError> {
    let n = tx.execute(
        "DELETE FROM usage_hourly WHERE (account_id, key_id, hour) IN
             (SELECT account_id, key_id, hour FROM
                 (SELECT account_id, key_id, hour FROM usage_hourly WHERE hour < ?1 LIMIT ?2) old)",
        &[&before_hour, &limit],
    )?;
    Ok(n as u64)
}
