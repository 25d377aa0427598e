//! Reads of the daily roll-ups.

use std::collections::BTreeMap;

use super::StoreError;
use super::Tx;
use crate::domain::usage::{DayUsage, ProviderUsage, RouteUsage};
use crate::domain::{Money, Timestamp};

/// An account's requests per route by status class from `table` (`usage_daily` or
/// `usage_daily_routes`), from `since_day` on.
fn route_classes(
    tx: &Tx<'_>,
    table: &str,
    account_id: &str,
    since_day: &str,
) -> Result<BTreeMap<String, RouteUsage>, StoreError> {
    let mut by_route: BTreeMap<String, RouteUsage> = BTreeMap::new();
    tx.each(
        &format!(
            "SELECT route, status_class, SUM(requests) FROM {table}
             WHERE account_id = ?1 AND day >= ?2 GROUP BY route, status_class"
        ),
        &[&account_id, &since_day],
        |r| {
            let route: String = r.get(0)?;
            let class: i64 = r.get(1)?;
            let n: i64 = r.get(2)?;
            let entry = by_route.entry(route.clone()).or_insert_with(|| RouteUsage {
                route,
                ..RouteUsage::default()
            });
            entry.total += n;
            match class {
                2 => entry.success += n,
                4 => entry.client_errors += n,
                5 => entry.server_errors += n,
                _ => {}
            }
            Ok(true)
        },
    )?;
    Ok(by_route)
}

/// Per-route totals of an account from `since_day` (inclusive, `YYYY-MM-DD`) on.
pub fn account_usage_by_route(
    tx: &Tx<'_>,
    account_id: &str,
    since_day: &str,
) -> Result<Vec<RouteUsage>, StoreError> {
    let mut by_route = route_classes(tx, "usage_daily", account_id, since_day)?;
    tx.each(
        "SELECT route, error_code, SUM(requests) FROM usage_daily_errors
         WHERE account_id = ?1 AND day >= ?2 GROUP BY route, error_code",
        &[&account_id, &since_day],
        |r| {
            let route: String = r.get(0)?;
            if let Some(entry) = by_route.get_mut(&route) {
                entry.error_codes.insert(r.get(1)?, r.get(2)?);
            }
            Ok(true)
        },
    )?;
    let mut list: Vec<RouteUsage> = by_route.into_values().collect();
    list.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.route.cmp(&b.route)));
    Ok(list)
}

/// One key's requests per route and per day from `since_day` on.
pub fn key_usage(
    tx: &Tx<'_>,
    key_id: &str,
    since_day: &str,
) -> Result<(Vec<RouteUsage>, Vec<DayUsage>), StoreError> {
    let mut routes: BTreeMap<String, RouteUsage> = BTreeMap::new();
    let mut days: BTreeMap<String, DayUsage> = BTreeMap::new();
    tx.each(
        "SELECT day, route, status_class, requests FROM usage_daily WHERE key_id = ?1 AND day >= ?2",
        &[&key_id, &since_day],
        |r| {
            let day: String = r.get(0)?;
            let route: String = r.get(1)?;
            let class: i64 = r.get(2)?;
            let n: i64 = r.get(3)?;
            let ru = routes.entry(route.clone()).or_insert_with(|| RouteUsage {
                route,
                ..RouteUsage::default()
            });
            let du = days.entry(day.clone()).or_insert_with(|| DayUsage {
                day,
                ..DayUsage::default()
            });
            ru.total += n;
            du.total += n;
            match class {
                2 => {
                    ru.success += n;
                    du.success += n;
                }
                4 => {
                    ru.client_errors += n;
                    du.client_errors += n;
                }
                5 => {
                    ru.server_errors += n;
                    du.server_errors += n;
                }
                _ => {}
            }
            Ok(true)
        },
    )?;
    let mut routes: Vec<RouteUsage> = routes.into_values().collect();
    routes.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.route.cmp(&b.route)));
    Ok((routes, days.into_values().collect()))
}

/// One key's error codes and their counts from `since_day` on, most frequent first.
pub fn key_error_codes(
    tx: &Tx<'_>,
    key_id: &str,
    since_day: &str,
) -> Result<Vec<(String, i64)>, StoreError> {
    tx.query_all(
        "SELECT error_code, SUM(requests) AS n FROM usage_daily_errors
         WHERE key_id = ?1 AND day >= ?2 GROUP BY error_code ORDER BY n DESC, error_code LIMIT 10",
        &[&key_id, &since_day],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// The `most` busiest keys of an account from `since_day` on, busiest first (keys still
/// there): its whole weeks from the weekly totals, the days before the first of them from
/// `usage_daily`.
pub fn busiest_keys(
    tx: &Tx<'_>,
    account_id: &str,
    since_day: &str,
    most: i64,
) -> Result<Vec<(String, i64)>, StoreError> {
    let first_day =
        Timestamp::parse(since_day).map_or(0, |t| t.millis().div_euclid(Timestamp::MS_PER_DAY));
    // Weeks count from 1970-01-01: the first week starting on or after the first day.
    let first_week = (first_day + 6).div_euclid(7);
    let week_start = Timestamp(first_week * 7 * Timestamp::MS_PER_DAY).day();
    tx.query_all(
        "SELECT key_id, SUM(n) AS total FROM (
             SELECT key_id, requests AS n FROM usage_weekly_keys
             WHERE account_id = ?1 AND week >= ?2
             UNION ALL
             SELECT key_id, requests FROM usage_daily
             WHERE account_id = ?1 AND day >= ?3 AND day < ?4 AND key_id IS NOT NULL
         ) range_totals GROUP BY key_id ORDER BY total DESC, key_id LIMIT ?5",
        &[&account_id, &first_week, &since_day, &week_start, &most],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// An account's requests per route and status class from `since_day` on, busiest route first
/// (without error codes: the per-account table does not keep them).
pub fn account_route_totals(
    tx: &Tx<'_>,
    account_id: &str,
    since_day: &str,
) -> Result<Vec<RouteUsage>, StoreError> {
    let by_route = route_classes(tx, "usage_daily_routes", account_id, since_day)?;
    let mut list: Vec<RouteUsage> = by_route.into_values().collect();
    list.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.route.cmp(&b.route)));
    Ok(list)
}

pub fn account_provider_usage(
    tx: &Tx<'_>,
    account_id: &str,
    since_day: &str,
) -> Result<Vec<ProviderUsage>, StoreError> {
    tx.query_all(
        "SELECT provider, SUM(submissions), SUM(used), SUM(cancelled), SUM(discarded), SUM(failed),
                SUM(estimated_cost), SUM(wasted_cost)
         FROM usage_providers_daily WHERE account_id = ?1 AND day >= ?2
         GROUP BY provider ORDER BY provider",
        &[&account_id, &since_day],
        |r| {
            Ok(ProviderUsage {
                provider: r.get(0)?,
                submissions: r.get(1)?,
                used: r.get(2)?,
                cancelled: r.get(3)?,
                discarded: r.get(4)?,
                failed: r.get(5)?,
                estimated_cost: Money(r.get(6)?),
                wasted_cost: Money(r.get(7)?),
            })
        },
    )
}

/// Generations created and credits charged over a period.
pub fn account_generation_totals(
    tx: &Tx<'_>,
    account_id: &str,
    since_day: &str,
) -> Result<(i64, Money), StoreError> {
    tx.query_one(
        "SELECT COALESCE(SUM(generations), 0), COALESCE(SUM(estimated_cost), 0)
         FROM usage_generations_daily WHERE account_id = ?1 AND day >= ?2",
        &[&account_id, &since_day],
        |r| Ok((r.get(0)?, Money(r.get(1)?))),
    )
}

/// An account's requests per key and day from `since_day` on (keys still there).
pub fn daily_requests(
    tx: &Tx<'_>,
    account_id: &str,
    since_day: &str,
) -> Result<Vec<(String, String, i64)>, StoreError> {
    tx.query_all(
        "SELECT key_id, day, SUM(requests) FROM usage_daily
         WHERE account_id = ?1 AND day >= ?2 AND key_id IS NOT NULL GROUP BY key_id, day",
        &[&account_id, &since_day],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
}
