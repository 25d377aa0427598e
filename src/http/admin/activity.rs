//! The activity page (docs/admin.md, "Activity"): the workspace's audit feed, a category filter and
//! the result of the hash-chain check.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::http::assets::{ASSETS, Assets};
use crate::http::session::{AdminError, AdminSession};
use crate::http::state::AppState;
use crate::service::ServiceError;
use crate::service::activity::{self, ActivityEntry};
use crate::service::changes::Category;
use crate::service::check::describe_break;
use crate::service::sessions::Session;

const PAGE_ROWS: i64 = 200;

#[derive(Template)]
#[template(path = "activity.html")]
struct ActivityPage<'a> {
    assets: &'a Assets,
    session: &'a Session,
    rows: Vec<ActivityEntry>,
    category: &'a str,
    categories: Vec<&'static str>,
    chain_rows: i64,
    chain_break: Option<String>,
}

#[derive(Deserialize)]
pub struct ActivityQuery {
    #[serde(default)]
    category: String,
}

pub async fn page(
    session: AdminSession,
    query: web::Query<ActivityQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let account = session.0.account_id.clone().unwrap_or_default();
    let category = Category::ALL
        .into_iter()
        .find(|c| c.as_str() == query.category)
        .map(|c| c.as_str().to_owned());
    let (rows, (chain_rows, broken)) = state
        .store
        .run(move |db| -> Result<_, ServiceError> {
            let tx = db.read();
            Ok((
                activity::list(&tx, &account, category.as_deref(), None, PAGE_ROWS)?,
                activity::verify_chain(&tx)?,
            ))
        })
        .await?;
    let page = ActivityPage {
        assets: &ASSETS,
        session: &session.0,
        rows,
        category: &query.category,
        categories: Category::ALL.map(Category::as_str).to_vec(),
        chain_rows,
        chain_break: broken.as_ref().map(describe_break),
    };
    super::render_page(&page)
}
