//! The key detail page (docs/admin.md, "Key detail").

use actix_web::{HttpResponse, web};
use askama::Template;

use super::chart::{self, Chart, Range, RangeQuery};
use crate::domain::Timestamp;
use crate::http::assets::{ASSETS, Assets};
use crate::http::session::{AdminError, AdminSession};
use crate::http::state::AppState;
use crate::service::keys::{self, ApiKey};
use crate::service::logs::{self, AddressView, LogEntry, LogFilter};
use crate::service::sessions::Session;
use crate::service::usage::{self, RouteUsage, Tally};
use crate::service::{ServiceError, key_policy};

#[derive(Template)]
#[template(path = "key_detail.html")]
struct DetailPage<'a> {
    assets: &'a Assets,
    session: &'a Session,
    key: &'a ApiKey,
    status: &'static str,
    chain: Vec<(ApiKey, &'static str)>,
    chart: Chart,
    width: i64,
    height: i64,
    latency_height: i64,
    routes: Vec<RouteUsage>,
    errors: Vec<(String, i64)>,
    recent: Vec<LogEntry>,
    grace: Option<(i64, String)>,
    /// The rule of the account's key policy the key breaks (docs/keys.md, "Key policy").
    out_of_policy: Option<(&'static str, String)>,
    /// The request quota as it stands now (docs/keys.md, "Request quotas").
    quota: Option<QuotaFacts>,
    can_manage: bool,
}

/// A key's request quota as its page shows it.
pub struct QuotaFacts {
    pub requests: i64,
    pub remaining: i64,
    /// "refilled every day"
    pub refill: String,
    pub refills_at: Option<String>,
    /// Percent of the quota left, for the meter.
    pub percent_left: i64,
}

impl QuotaFacts {
    pub fn of(key: &ApiKey, now: crate::domain::Timestamp) -> Option<QuotaFacts> {
        let q = key.quota?;
        let remaining = q.remaining(now);
        Some(QuotaFacts {
            requests: q.quota.requests,
            remaining,
            refill: q.quota.refill.describe(),
            refills_at: q.refills_at(now).map(crate::domain::Timestamp::to_rfc3339),
            percent_left: remaining * 100 / q.quota.requests.max(1),
        })
    }
}

impl DetailPage<'_> {
    fn switches(&self) -> Vec<(&'static str, &'static str)> {
        super::keys::switches_for(self.status)
    }

    fn confirmations(&self) -> Vec<(&'static str, &'static str)> {
        super::keys::confirmations_for(self.status)
    }
}

fn time(t: Option<Timestamp>) -> String {
    t.map(Timestamp::to_rfc3339).unwrap_or_default()
}

struct Loaded {
    key: ApiKey,
    chain: Vec<ApiKey>,
    hours: Vec<(i64, Tally)>,
    routes: Vec<RouteUsage>,
    errors: Vec<(String, i64)>,
    recent: Vec<LogEntry>,
    since_rotation: Option<i64>,
    out_of_policy: Option<(&'static str, String)>,
}

pub async fn show(
    session: AdminSession,
    id: web::Path<String>,
    query: web::Query<RangeQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let account = session.account_id()?;
    let now = state.clock.now();
    let range = Range::or(&query, Range::Month);
    let since = range.since_day(now);
    let since_hour = range.since_hour(now);
    let loaded = state
        .store
        .run(move |db| -> Result<_, ServiceError> {
            let tx = db.read();
            let key = keys::get_key_in(&tx, Some(&account), &id)?;
            let chain = keys::rotation_chain(&tx, &key)?;
            let (routes, _) = usage::key_usage(&tx, &key.id, &since)?;
            let hours = usage::hourly(&tx, &account, Some(&key.id), since_hour)?;
            let errors = usage::key_error_codes(&tx, &key.id, &since)?;
            let filter = LogFilter {
                account_id: &account,
                key_id: Some(&key.id),
                limit: 20,
                ..LogFilter::default()
            };
            let recent = logs::search(&tx, &filter, AddressView::HashOnly)?;
            let since_rotation = key
                .rotated_at
                .map(|r| logs::requests_since(&tx, &key.id, r.millis()))
                .transpose()?;
            let policy = key_policy::get(&tx, &account)?;
            let out_of_policy = key_policy::breach_of(&policy, &key, now);
            Ok(Loaded {
                key,
                chain,
                hours,
                routes,
                errors,
                recent,
                since_rotation,
                out_of_policy,
            })
        })
        .await?;
    let status = loaded.key.status(now);
    let grace = loaded
        .since_rotation
        .filter(|_| status.as_str() == "rotated")
        .map(|n| (n, time(loaded.key.expires_at)));
    let page = DetailPage {
        assets: &ASSETS,
        session: &session.0,
        status: status.as_str(),
        chain: loaded
            .chain
            .into_iter()
            .map(|k| {
                let s = k.status(now).as_str();
                (k, s)
            })
            .collect(),
        chart: chart::draw(range, &chart::buckets(range, &loaded.hours, now)),
        width: chart::WIDTH,
        height: chart::HEIGHT,
        latency_height: chart::LATENCY_HEIGHT,
        routes: loaded.routes.into_iter().take(10).collect(),
        errors: loaded.errors,
        recent: loaded.recent,
        grace,
        out_of_policy: loaded.out_of_policy,
        quota: QuotaFacts::of(&loaded.key, now),
        can_manage: session.can_manage(),
        key: &loaded.key,
    };
    super::render_page(&page)
}
