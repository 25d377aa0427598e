//! The usage page (admin.md "Usage"): requests per day by status class, per endpoint and per key,
//! and the credit balance and spend.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use askama::Template;

use super::assets::{ASSETS, Assets};
use super::chart::{self, Chart};
use super::session::{AdminError, AdminSession};
use crate::domain::{Money, Timestamp};
use crate::http::state::AppState;
use crate::service::sessions::Session;
use crate::store::keys::list_keys;
use crate::store::usage::{
    RouteUsage, account_usage_by_day, account_usage_by_key, account_usage_by_route,
};

const DAYS: i64 = 30;

#[derive(Template)]
#[template(path = "usage.html")]
struct UsagePage<'a> {
    assets: &'a Assets,
    session: &'a Session,
    chart: Chart,
    width: i64,
    height: i64,
    totals: [i64; 4],
    routes: Vec<RouteUsage>,
    keys: Vec<(String, i64)>,
    balance: String,
    spend: String,
}

pub async fn page(
    session: AdminSession,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let account = session.0.account_id.clone().unwrap_or_default();
    let now = state.clock.now();
    let since = now.plus_millis(-(DAYS - 1) * Timestamp::MS_PER_DAY).day();
    let loaded = state
        .store
        .run(move |c| {
            let days = account_usage_by_day(c, &account, &since)?;
            let routes = account_usage_by_route(c, &account, &since)?;
            let by_key = account_usage_by_key(c, &account, &since)?;
            let names: HashMap<String, String> =
                list_keys(c, Some(&account))?.into_iter().map(|k| (k.id, format!("{} ({})", k.name, k.key_prefix))).collect();
            let keys = by_key
                .into_iter()
                .map(|(id, n)| (id.and_then(|id| names.get(&id).cloned()).unwrap_or_else(|| "Deleted keys".into()), n))
                .collect::<Vec<_>>();
            let balance: i64 = c.query_row("SELECT COALESCE(MAX(credit_balance), 0) FROM accounts WHERE id = ?1", [&account], |r| r.get(0))?;
            let spend: i64 = c.query_row(
                "SELECT COALESCE(-SUM(amount), 0) FROM credit_ledger WHERE account_id = ?1 AND kind IN ('reserve', 'refund')",
                [&account],
                |r| r.get(0),
            )?;
            Ok((days, routes, keys, balance, spend))
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "usage page failed");
            AdminError::Internal
        })?;
    let (days, routes, keys, balance, spend) = loaded;
    let totals = days.iter().fold([0; 4], |t, d| {
        [
            t[0] + d.total,
            t[1] + d.success,
            t[2] + d.client_errors,
            t[3] + d.server_errors,
        ]
    });
    let page = UsagePage {
        assets: &ASSETS,
        session: &session.0,
        chart: chart::requests_per_day(&days, now, DAYS),
        width: chart::WIDTH,
        height: chart::HEIGHT,
        totals,
        routes,
        keys,
        balance: Money(balance).to_string(),
        spend: Money(spend).to_string(),
    };
    super::render_page(&page)
}
