//! The usage page (docs/admin.md, "Usage"): requests per hour or day by outcome with their
//! latency, per endpoint and per key, and the credit balance and spend, over a chosen range.

use actix_web::{HttpResponse, web};
use askama::Template;

use super::chart::{self, Chart, Range, RangeQuery};
use crate::domain::usage::{Outcome, latency_text};
use crate::http::assets::{ASSETS, Assets};
use crate::http::session::{AdminError, AdminSession};
use crate::http::state::AppState;
use crate::service::sessions::Session;
use crate::service::usage::{self, RouteUsage};

#[derive(Template)]
#[template(path = "usage.html")]
struct UsagePage<'a> {
    assets: &'a Assets,
    session: &'a Session,
    chart: Chart,
    width: i64,
    height: i64,
    latency_height: i64,
    total: i64,
    /// (label, requests) per outcome.
    outcomes: Vec<(&'static str, &'static str, i64)>,
    p50: String,
    p95: String,
    /// The first UTC day of the per-endpoint and per-key totals (kept per day).
    since_day: String,
    routes: Vec<RouteUsage>,
    keys: Vec<(String, String, i64)>,
    other_keys: i64,
    balance: String,
    spend: String,
    refusals: super::refusals::Refusals,
}

pub async fn page(
    session: AdminSession,
    query: web::Query<RangeQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let account = session.0.account_id.clone().unwrap_or_default();
    let now = state.clock.now();
    let range = Range::or(&query, Range::Month);
    let (since, since_hour) = (range.since_day(now), range.since_hour(now));
    let since_day = since.clone();
    let usage = state
        .store
        .run(move |db| usage::workspace_usage(db, &account, &since, since_hour))
        .await?;
    let buckets = chart::buckets(range, &usage.hours, now);
    let sum = chart::total(&buckets);
    let percentile = |q| sum.percentile(q).map_or_else(|| "–".into(), latency_text);
    let page = UsagePage {
        assets: &ASSETS,
        session: &session.0,
        total: sum.total(),
        outcomes: Outcome::ALL
            .into_iter()
            .map(|o| (o.label(), o.class(), sum.count(o)))
            .collect(),
        p50: percentile(0.5),
        p95: percentile(0.95),
        chart: chart::draw(range, &buckets),
        width: chart::WIDTH,
        height: chart::HEIGHT,
        latency_height: chart::LATENCY_HEIGHT,
        since_day,
        routes: usage.routes,
        keys: usage.keys,
        other_keys: usage.other_keys,
        balance: usage.balance.to_string(),
        spend: usage.spend.to_string(),
        refusals: super::refusals::recent(&session, &state).await?,
    };
    super::render_page(&page)
}
