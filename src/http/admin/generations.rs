//! The Generations pages (docs/admin.md, "Generations"): newest first with thumbnails, status,
//! model and cost; one generation with its outputs shown and its record as JSON.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::Environment;
use crate::http::assets::{ASSETS, Assets};
use crate::http::session::{AdminError, AdminSession};
use crate::http::state::AppState;
use crate::service::generations::{self, Generation};
use crate::service::sessions::Session;
use crate::wire::generation::GenerationRecord;

const PAGE_ROWS: i64 = 50;

/// A generation as a row: the record plus its media URLs (same origin, so relative).
pub struct Row {
    pub g: Generation,
    pub files: Vec<String>,
    pub video: bool,
}

impl Row {
    fn new(g: Generation) -> Row {
        let files = g.output_urls("").unwrap_or_default();
        let video = matches!(g.output_format.as_str(), "mp4" | "webm");
        Row { g, files, video }
    }
}

#[derive(Template)]
#[template(path = "generations.html")]
struct ListPage<'a> {
    assets: &'a Assets,
    session: &'a Session,
    rows: Vec<Row>,
    total: i64,
    next: Option<i64>,
    previous: Option<i64>,
}

#[derive(Template)]
#[template(path = "generation_detail.html")]
struct DetailPage<'a> {
    assets: &'a Assets,
    session: &'a Session,
    row: Row,
    json: String,
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    offset: i64,
}

fn internal(e: serde_json::Error) -> AdminError {
    tracing::error!(error = %crate::telemetry::cause_chain(&e), "generation record could not be shown");
    AdminError::Internal
}

pub async fn list(
    session: AdminSession,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let account = session.0.account_id.clone().unwrap_or_default();
    let offset = query.offset.max(0);
    let (rows, total) = state
        .store
        .run(move |db| generations::list(&db.read(), &account, PAGE_ROWS, offset))
        .await?;
    let page = ListPage {
        assets: &ASSETS,
        session: &session.0,
        rows: rows.into_iter().map(Row::new).collect(),
        total,
        next: (offset + PAGE_ROWS < total).then_some(offset + PAGE_ROWS),
        previous: (offset > 0).then(|| (offset - PAGE_ROWS).max(0)),
    };
    super::render_page(&page)
}

pub async fn show(
    session: AdminSession,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let account = session.0.account_id.clone().unwrap_or_default();
    let id = path.into_inner();
    let g = state
        .store
        .run(move |db| generations::get_in(&db.read(), &account, &id))
        .await?;
    let json = serde_json::to_string_pretty(&GenerationRecord::of(&g, "")).map_err(internal)?;
    let page = DetailPage {
        assets: &ASSETS,
        session: &session.0,
        row: Row::new(g),
        json,
    };
    super::render_page(&page)
}
