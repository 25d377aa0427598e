//! The dashboard (docs/admin.md, "Dashboard"), where sign-in lands: the workspace's last 24
//! hours, credits, keys that need a look, failing webhooks and the latest activity, each tile
//! linking to the page that explains it; and, in an empty workspace, the first step.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::chart::{self, Chart, Range, RangeQuery};
use crate::domain::Timestamp;
use crate::domain::usage::{Outcome, Tally, latency_text};
use crate::http::assets::{ASSETS, Assets};
use crate::http::session::{AdminError, AdminSession};
use crate::http::state::AppState;
use crate::service::ServiceError;
use crate::service::dashboard::{self, Dashboard};
use crate::service::sessions::Session;
use crate::service::usage;

/// The last 24 hours against the 24 before them.
pub struct Day {
    pub requests: i64,
    /// "+12% on the day before", "no requests the day before", …
    pub change: String,
    pub spark: String,
    /// Shares of all requests, as "2.1%".
    pub client_errors: String,
    pub server_errors: String,
    pub auth_refused: i64,
    pub rate_limited: i64,
    pub p50: Option<String>,
    pub p95: Option<String>,
}

impl Day {
    fn of(hours: &[(i64, Tally)], now: Timestamp) -> Day {
        let this_hour = now.millis().div_euclid(Timestamp::MS_PER_HOUR);
        let mut per_hour = [0i64; 24];
        let (mut last, mut before) = (Tally::default(), Tally::default());
        for (hour, tally) in hours {
            let back = this_hour - hour;
            if (0..24).contains(&back) {
                last.merge(tally);
                per_hour[(23 - back) as usize] = tally.total();
            } else if (24..48).contains(&back) {
                before.merge(tally);
            }
        }
        let requests = last.total();
        let change = match before.total() {
            0 if requests == 0 => "No requests in the 24 hours before either".to_owned(),
            0 => "No requests in the 24 hours before".to_owned(),
            b => {
                let percent = (requests - b) as f64 * 100.0 / b as f64;
                format!("{percent:+.0}% on the 24 hours before")
            }
        };
        let share = |n: i64| {
            if requests == 0 {
                "0%".to_owned()
            } else {
                format!("{:.1}%", n as f64 * 100.0 / requests as f64)
            }
        };
        Day {
            requests,
            change,
            spark: chart::sparkline(&per_hour, 120.0),
            client_errors: share(last.client_side()),
            server_errors: share(last.count(Outcome::ServerError)),
            auth_refused: last.count(Outcome::AuthRefused),
            rate_limited: last.count(Outcome::RateLimited),
            p50: last.percentile(0.5).map(latency_text),
            p95: last.percentile(0.95).map(latency_text),
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage<'a> {
    assets: &'a Assets,
    session: &'a Session,
    can_manage: bool,
    day: Day,
    board: Dashboard,
    balance: String,
    spent_week: String,
    chart: Chart,
    width: i64,
    height: i64,
    /// This server's address, for the first request's `curl`.
    base_url: String,
}

pub async fn page(
    session: AdminSession,
    req: HttpRequest,
    query: web::Query<RangeQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let account = session.account_id()?;
    let now = state.clock.now();
    let range = Range::or(&query, Range::Day);
    let since_hour = range.since_hour(now);
    let (board, hours) = state
        .store
        .run(move |db| -> Result<_, ServiceError> {
            let board = dashboard::dashboard(db, &account, now)?;
            let hours = usage::hourly(&db.read(), &account, None, since_hour)?;
            Ok((board, hours))
        })
        .await?;
    let info = req.connection_info();
    let page = DashboardPage {
        assets: &ASSETS,
        session: &session.0,
        can_manage: session.can_manage(),
        day: Day::of(&board.hours, now),
        balance: board.balance.to_string(),
        spent_week: board.spent_week.to_string(),
        chart: chart::draw(range, &chart::buckets(range, &hours, now)),
        width: chart::WIDTH,
        height: chart::HEIGHT,
        base_url: format!("{}://{}", info.scheme(), info.host()),
        board,
    };
    super::render_page(&page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_is_compared_with_the_day_before() {
        let now = Timestamp::parse("2026-11-22T12:30:00Z").unwrap();
        let hour = now.millis() / Timestamp::MS_PER_HOUR;
        let mut busy = Tally::default();
        for status in [200, 200, 200, 200, 200, 401, 429, 404, 500, 200, 200, 200] {
            busy.add(status, 1_000);
        }
        let mut quiet = Tally::default();
        for _ in 0..8 {
            quiet.add(200, 1_000);
        }
        let day = Day::of(&[(hour - 30, quiet), (hour, busy)], now);
        assert_eq!(day.requests, 12);
        assert_eq!(day.change, "+50% on the 24 hours before");
        assert_eq!(day.client_errors, "25.0%");
        assert_eq!(day.server_errors, "8.3%");
        assert_eq!((day.auth_refused, day.rate_limited), (1, 1));
        let empty = Day::of(&[], now);
        assert_eq!(empty.change, "No requests in the 24 hours before either");
        assert_eq!(empty.p50, None);
    }
}
