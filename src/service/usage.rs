//! The usage report of `GET /v1/usage`, built from the daily roll-ups.

use rusqlite::Connection;

use super::ServiceError;
use crate::domain::{Money, Timestamp};
use crate::store::accounts;
use crate::store::usage::{
    ProviderUsage, RouteUsage, account_generation_totals, account_provider_usage,
    account_usage_by_route,
};

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
    conn: &Connection,
    account_id: &str,
    days: i64,
    now: Timestamp,
) -> Result<UsageReport, ServiceError> {
    let account =
        accounts::get_account(conn, account_id)?.ok_or(ServiceError::NotFound("account"))?;
    let since = now.plus_millis(-(days - 1) * Timestamp::MS_PER_DAY).day();
    let routes = account_usage_by_route(conn, account_id, &since)?;
    let providers = account_provider_usage(conn, account_id, &since)?;
    let (generations, estimated_cost) = account_generation_totals(conn, account_id, &since)?;
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
