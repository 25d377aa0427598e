//! The usage report of `GET /v1/usage`, built from the daily roll-ups.

use super::ServiceError;
use crate::domain::{Money, Timestamp};
use crate::store::Db;
use crate::store::accounts;
use crate::store::usage::{
    account_generation_totals, account_provider_usage, account_route_totals,
    account_usage_by_route, busiest_keys,
};
use crate::store::{Tx, credits, keys};

pub use crate::domain::usage::{DayUsage, ProviderUsage, RouteUsage, Tally};

pub const MAX_DAYS: i64 = 90;

pub struct UsageReport {
    pub account_id: String,
    pub days: i64,
    pub credit_balance: Money,
    pub routes: Vec<RouteUsage>,
    pub providers: Vec<ProviderUsage>,
    pub generations: i64,
    pub estimated_cost: Money,
}

pub fn usage_report(
    db: &mut Db,
    account_id: &str,
    days: i64,
    now: Timestamp,
) -> Result<UsageReport, ServiceError> {
    let tx = &db.read();
    let account =
        accounts::get_account(tx, account_id)?.ok_or(ServiceError::NotFound("account"))?;
    let since = now.plus_millis(-(days - 1) * Timestamp::MS_PER_DAY).day();
    let routes = account_usage_by_route(tx, account_id, &since)?;
    let providers = account_provider_usage(tx, account_id, &since)?;
    let (generations, estimated_cost) = account_generation_totals(tx, account_id, &since)?;
    Ok(UsageReport {
        account_id: account.id,
        days,
        credit_balance: account.credit_balance,
        routes,
        providers,
        generations,
        estimated_cost,
    })
}

/// Requests of each of an account's keys per day from `since_day` on: (key id, day, requests).
pub fn requests_per_key_day(
    tx: &Tx<'_>,
    account_id: &str,
    since_day: &str,
) -> Result<Vec<(String, String, i64)>, ServiceError> {
    Ok(crate::store::usage::daily_requests(
        tx, account_id, since_day,
    )?)
}

/// An account's (`key_id` `None`) or one of its keys' hourly tallies from `since_hour` on.
pub fn hourly(
    tx: &Tx<'_>,
    account_id: &str,
    key_id: Option<&str>,
    since_hour: i64,
) -> Result<Vec<(i64, Tally)>, ServiceError> {
    Ok(crate::store::usage_hourly::hours(
        tx, account_id, key_id, since_hour,
    )?)
}

/// One key's requests per route and per day from `since_day` on.
pub fn key_usage(
    tx: &Tx<'_>,
    key_id: &str,
    since_day: &str,
) -> Result<(Vec<RouteUsage>, Vec<DayUsage>), ServiceError> {
    Ok(crate::store::usage::key_usage(tx, key_id, since_day)?)
}

/// One key's error codes and their counts from `since_day` on, most frequent first.
pub fn key_error_codes(
    tx: &Tx<'_>,
    key_id: &str,
    since_day: &str,
) -> Result<Vec<(String, i64)>, ServiceError> {
    Ok(crate::store::usage::key_error_codes(tx, key_id, since_day)?)
}

/// What the usage page shows of a workspace from `since_day` on.
pub struct WorkspaceUsage {
    pub hours: Vec<(i64, Tally)>,
    pub routes: Vec<RouteUsage>,
    /// The busiest keys' requests, busiest first, each (id, "name (prefix)", requests).
    pub keys: Vec<(String, String, i64)>,
    /// The requests of the other keys, deleted ones included.
    pub other_keys: i64,
    pub balance: Money,
    /// Spent on generations from the first hour on.
    pub spend: Money,
}

/// How many keys the usage page lists by name.
const BUSIEST_KEYS: i64 = 20;

pub fn workspace_usage(
    db: &mut Db,
    account_id: &str,
    since_day: &str,
    since_hour: i64,
) -> Result<WorkspaceUsage, ServiceError> {
    let tx = &db.read();
    let routes = account_route_totals(tx, account_id, since_day)?;
    let mut keys = Vec::new();
    for (id, n) in busiest_keys(tx, account_id, since_day, BUSIEST_KEYS)? {
        if let Some(k) = keys::get_key(tx, &id)? {
            keys.push((id, format!("{} ({})", k.name, k.key_prefix), n));
        }
    }
    let listed: i64 = keys.iter().map(|k| k.2).sum();
    let other_keys = routes.iter().map(|r| r.total).sum::<i64>() - listed;
    let balance = accounts::get_account(tx, account_id)?.map_or(Money(0), |a| a.credit_balance);
    Ok(WorkspaceUsage {
        hours: hourly(tx, account_id, None, since_hour)?,
        routes,
        keys,
        other_keys,
        balance,
        spend: credits::spent_since(tx, account_id, since_hour * Timestamp::MS_PER_HOUR)?,
    })
}
