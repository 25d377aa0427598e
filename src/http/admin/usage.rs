//! The usage page (docs/admin.md, "Usage"): requests per day by status class, per endpoint and per
//! key, and the credit balance and spend.

use actix_web::{HttpResponse, web};
use askama::Template;

use super::chart::{self, Chart};
use crate::domain::Timestamp;
use crate::http::assets::{ASSETS, Assets};
use crate::http::session::{AdminError, AdminSession};
use crate::http::state::AppState;
use crate::service::sessions::Session;
use crate::service::usage::{self, RouteUsage};

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
    refusals: super::refusals::Refusals,
}

pub async fn page(
    session: AdminSession,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let account = session.0.account_id.clone().unwrap_or_default();
    let now = state.clock.now();
    let since = now.plus_millis(-(DAYS - 1) * Timestamp::MS_PER_DAY).day();
    let usage = state
        .store
        .run(move |db| usage::workspace_usage(db, &account, &since))
        .await?;
    let days = usage.days;
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
        routes: usage.routes,
        keys: usage.keys,
        balance: usage.balance.to_string(),
        spend: usage.spend.to_string(),
        refusals: super::refusals::recent(&session, &state).await?,
    };
    super::render_page(&page)
}
