//! The hourly roll-ups behind the charts and the dashboard (docs/admin.md, "Charts"): per
//! account and UTC hour, a row per key and one with key id `''` for the whole account, each
//! holding requests by outcome and a latency histogram. Written by the log writer in the
//! commit of the rows they count, read by hour range through the primary key, kept 90 days.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::engine::Param;
use super::{StoreError, Tx};
use crate::domain::usage::{LATENCY_BUCKETS, Tally};

pub const MS_PER_HOUR: i64 = 3_600_000;
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

/// Adds each (account, key or `''`, hour)'s tally to its row.
pub(super) fn add(
    tx: &Tx<'_>,
    rows: &BTreeMap<(&str, &str, i64), Tally>,
) -> Result<(), StoreError> {
    static UPSERT: OnceLock<String> = OnceLock::new();
    let sql = UPSERT.get_or_init(|| {
        let columns = counters();
        let placeholders: Vec<String> = (4..4 + columns.len()).map(|i| format!("?{i}")).collect();
        let sums: Vec<String> = columns
            .iter()
            .map(|c| format!("{c} = usage_hourly.{c} + excluded.{c}"))
            .collect();
        format!(
            "INSERT INTO usage_hourly (account_id, key_id, hour, {}) VALUES (?1, ?2, ?3, {})
             ON CONFLICT (account_id, key_id, hour) DO UPDATE SET {}",
            columns.join(", "),
            placeholders.join(", "),
            sums.join(", ")
        )
    });
    for ((account, key, hour), tally) in rows {
        let mut params: Vec<&dyn Param> = vec![account, key, hour];
        params.extend(tally.outcomes.iter().map(|n| n as &dyn Param));
        params.extend(tally.latency.iter().map(|n| n as &dyn Param));
        tx.execute(sql, &params)?;
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

/// A deleted key's hours and daily totals; the account's rows keep counting its requests.
pub(super) fn delete_key(tx: &Tx<'_>, key_id: &str) -> Result<(), StoreError> {
    // Through the primary keys: the key's account comes first in them.
    for table in ["usage_hourly", "usage_daily_keys", "usage_weekly_keys"] {
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
