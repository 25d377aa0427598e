//! One request-log row with every field it keeps (docs/admin.md, "Logs"), linked from its row
//! on the logs page and leading to its key.

use actix_web::{HttpResponse, web};
use askama::Template;

use crate::http::assets::{ASSETS, Assets};
use crate::http::session::{AdminError, AdminSession};
use crate::http::state::AppState;
use crate::service::ServiceError;
use crate::service::keys::{self, ApiKey};
use crate::service::logs::{self, AddressView, LogEntry};
use crate::service::sessions::Session;

#[derive(Template)]
#[template(path = "log_detail.html")]
struct LogPage<'a> {
    assets: &'a Assets,
    session: &'a Session,
    log: LogEntry,
    /// The key, unless it was deleted since.
    key: Option<ApiKey>,
    class: i64,
    latency_ms: String,
    /// Whether the reader sees client addresses; a member sees only the hash.
    addresses: bool,
}

pub async fn show(
    session: AdminSession,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let account = session.account_id()?;
    let id = id.into_inner();
    let view = session.0.address_view();
    let (log, key) = state
        .store
        .run(move |db| -> Result<_, ServiceError> {
            let tx = db.read();
            let log = logs::entry(&tx, &account, id, view)?;
            let key = keys::get_key_in(&tx, Some(&account), &log.key_id).ok();
            Ok((log, key))
        })
        .await?;
    let page = LogPage {
        assets: &ASSETS,
        session: &session.0,
        class: log.status_code / 100,
        latency_ms: format!("{:.1}", log.latency_us as f64 / 1000.0),
        addresses: view == AddressView::Clear,
        key,
        log,
    };
    super::render_page(&page)
}
