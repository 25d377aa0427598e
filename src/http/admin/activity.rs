//! The activity page (docs/admin.md, "Activity"): the workspace's audit feed with filters
//! (category, actor, time range), the result of the hash-chain check, and the filtered entries
//! exported as JSON Lines with their chain fields.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::domain::Timestamp;
use crate::http::assets::{ASSETS, Assets};
use crate::http::session::{AdminError, AdminSession};
use crate::http::state::AppState;
use crate::service::ServiceError;
use crate::service::activity::{self, ActivityEntry, ActivityFilter};
use crate::service::changes::Category;
use crate::service::check::describe_break;
use crate::service::sessions::Session;
use crate::wire::log::ActivityLine;

const PAGE_ROWS: i64 = 200;

#[derive(Template)]
#[template(path = "activity.html")]
struct ActivityPage<'a> {
    assets: &'a Assets,
    session: &'a Session,
    rows: Vec<ActivityEntry>,
    query: &'a ActivityQuery,
    categories: Vec<&'static str>,
    filters: String,
    chain_rows: i64,
    chain_break: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct ActivityQuery {
    category: String,
    actor: String,
    since: String,
    until: String,
}

/// The filters a query names, within the workspace `account`; a time that does not read is no
/// filter.
struct Filters {
    account: String,
    category: Option<String>,
    actor: Option<String>,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
}

impl Filters {
    fn of(account: String, q: &ActivityQuery) -> Filters {
        let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        Filters {
            account,
            category: Category::ALL
                .into_iter()
                .find(|c| c.as_str() == q.category)
                .map(|c| c.as_str().to_owned()),
            actor: text(&q.actor),
            since: Timestamp::parse(&q.since),
            until: Timestamp::parse(&q.until),
        }
    }

    fn filter(&self) -> ActivityFilter<'_> {
        ActivityFilter {
            account_id: Some(&self.account),
            category: self.category.as_deref(),
            actor: self.actor.as_deref(),
            since: self.since,
            until: self.until,
        }
    }
}

impl ActivityQuery {
    /// The filters as a query string, for the export link.
    fn encoded(&self) -> String {
        let pairs = [
            ("category", &self.category),
            ("actor", &self.actor),
            ("since", &self.since),
            ("until", &self.until),
        ];
        let given: Vec<(&str, &String)> =
            pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        serde_urlencoded::to_string(given).unwrap_or_default()
    }
}

pub async fn page(
    session: AdminSession,
    query: web::Query<ActivityQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let filters = Filters::of(session.0.account_id.clone().unwrap_or_default(), &query);
    let (rows, (chain_rows, broken)) = state
        .store
        .run(move |db| -> Result<_, ServiceError> {
            let tx = db.read();
            Ok((
                activity::search(&tx, &filters.filter(), None, PAGE_ROWS)?,
                activity::verify_chain(&tx)?,
            ))
        })
        .await?;
    let page = ActivityPage {
        assets: &ASSETS,
        session: &session.0,
        rows,
        query: &query,
        categories: Category::ALL.map(Category::as_str).to_vec(),
        filters: query.encoded(),
        chain_rows,
        chain_break: broken.as_ref().map(describe_break),
    };
    super::render_page(&page)
}

/// The workspace's entries the filters cover, oldest first, one JSON object a line, read from
/// the store a batch at a time while the answer is sent.
pub async fn export(
    session: AdminSession,
    query: web::Query<ActivityQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let filters = Filters::of(session.0.account_id.clone().unwrap_or_default(), &query);
    let (sender, receiver) = mpsc::channel::<Result<Bytes, ServiceError>>(2);
    actix_web::rt::spawn(async move {
        let mut filters = Some(filters);
        let mut after = None;
        while let Some(f) = filters.take() {
            let batch = state
                .store
                .run(move |db| {
                    let rows = activity::export_batch(&db.read(), &f.filter(), after)?;
                    Ok::<_, ServiceError>((f, rows))
                })
                .await;
            let (f, rows) = match batch {
                Ok(done) => done,
                Err(e) => {
                    let _ = sender.send(Err(e)).await;
                    return;
                }
            };
            let full = rows.len() as i64 == activity::EXPORT_BATCH;
            after = rows.last().map(|r| r.id);
            let text: String = rows.iter().map(ActivityLine::to_jsonl).collect();
            if !text.is_empty() && sender.send(Ok(Bytes::from(text))).await.is_err() {
                return;
            }
            if full {
                filters = Some(f);
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("application/jsonl; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"activity.jsonl\"",
        ))
        .streaming(Lines(receiver)))
}

/// The export's body: the batches as the task reading them sends them.
struct Lines(mpsc::Receiver<Result<Bytes, ServiceError>>);

impl futures_core::Stream for Lines {
    type Item = Result<Bytes, ServiceError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}
