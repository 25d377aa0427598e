//! The logs page (docs/admin.md, "Logs"): the request log with filters, 500 rows a page, and the
//! filtered rows exported as CSV or JSON.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::Timestamp;
use crate::http::assets::{ASSETS, Assets};
use crate::http::session::{AdminError, AdminSession};
use crate::http::state::AppState;
use crate::service::ServiceError;
use crate::service::keys;
use crate::service::logs::{self, AddressView, LogEntry, LogFilter, StatusFilter};
use crate::service::sessions::Session;
use crate::wire::log::{LogOut, to_csv};

const PAGE_ROWS: i64 = 500;
const EXPORT_ROWS: i64 = 100_000;
/// How many keys the key filter offers, the most recently used first: a workspace may have
/// many thousands.
const KEY_CHOICES: i64 = 200;

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct LogsQuery {
    key: String,
    status: String,
    error_code: String,
    endpoint: String,
    since: String,
    until: String,
    q: String,
    cursor: Option<i64>,
}

impl LogsQuery {
    /// The filters as a query string, for the export links and the next page.
    fn encoded(&self) -> String {
        let pairs = [
            ("key", &self.key),
            ("status", &self.status),
            ("error_code", &self.error_code),
            ("endpoint", &self.endpoint),
            ("since", &self.since),
            ("until", &self.until),
            ("q", &self.q),
        ];
        let kept: Vec<(&str, &str)> = pairs
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        serde_urlencoded::to_string(kept).unwrap_or_default()
    }
}

pub struct Row {
    pub key_name: String,
    pub log: LogEntry,
    pub class: i64,
    pub time: String,
}

#[derive(Template)]
#[template(path = "logs.html")]
struct LogsPage<'a> {
    assets: &'a Assets,
    session: &'a Session,
    query: &'a LogsQuery,
    keys: KeyNames,
    rows: Vec<Row>,
    filters: String,
    next_cursor: Option<i64>,
    error: Option<&'static str>,
    /// Whether the reader sees client addresses (a column of their own) or hashes only.
    addresses: bool,
}

/// The keys a page of the log names.
#[derive(Default)]
struct KeyNames {
    /// The filter's choices (id, label): the most recently used keys, and the chosen one.
    choices: Vec<(String, String)>,
    /// Whether the workspace has keys beyond the choices.
    more: bool,
    /// The label of each key the page names, by id.
    names: HashMap<String, String>,
}

fn nonempty(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Rows for the current workspace matching the query, newest first, and, for a page (`named`),
/// the keys it names.
async fn fetch(
    session: &Session,
    query: &LogsQuery,
    limit: i64,
    named: bool,
    state: &AppState,
) -> Result<Result<(Vec<LogEntry>, KeyNames), &'static str>, AdminError> {
    let Some(account) = session.account_id.clone() else {
        return Ok(Ok((Vec::new(), KeyNames::default())));
    };
    let status = match nonempty(&query.status) {
        None => None,
        Some(s) => match StatusFilter::parse(&s) {
            Some(f) => Some(f),
            None => {
                return Ok(Err(
                    "Status must be a class such as 4xx or a code such as 404.",
                ));
            }
        },
    };
    let day = |raw: &str, end: bool| -> Result<Option<Timestamp>, &'static str> {
        let Some(raw) = nonempty(raw) else {
            return Ok(None);
        };
        let t = Timestamp::parse(&raw).ok_or("Dates must be YYYY-MM-DD.")?;
        // "Until" a day includes the whole of that day.
        Ok(Some(if end && raw.len() == 10 {
            t.plus_millis(Timestamp::MS_PER_DAY)
        } else {
            t
        }))
    };
    let (since, until) = match (day(&query.since, false), day(&query.until, true)) {
        (Ok(s), Ok(u)) => (s, u),
        (Err(e), _) | (_, Err(e)) => return Ok(Err(e)),
    };
    let view = session.address_view();
    let (key, error_code, endpoint, text, cursor) = (
        nonempty(&query.key),
        nonempty(&query.error_code),
        nonempty(&query.endpoint),
        nonempty(&query.q),
        query.cursor,
    );
    let found = state
        .store
        .run(move |c| -> Result<_, ServiceError> {
            let tx = c.read();
            let filter = LogFilter {
                account_id: &account,
                key_id: key.as_deref(),
                status,
                error_code: error_code.as_deref(),
                since,
                until,
                before_id: cursor,
                endpoint: endpoint.as_deref(),
                text: text.as_deref(),
                limit,
            };
            let rows = logs::search(&tx, &filter, view)?;
            if !named {
                return Ok((rows, KeyNames::default()));
            }
            let label =
                |(id, name, prefix): (String, String, String)| (id, format!("{name} ({prefix})"));
            let mut choices: Vec<(String, String)> =
                keys::labels_by_use(&tx, &account, KEY_CHOICES)?
                    .into_iter()
                    .map(label)
                    .collect();
            let more = choices.len() as i64 == KEY_CHOICES;
            // Every key the page names: its rows' and the chosen one.
            let mut named: Vec<&str> = rows
                .iter()
                .map(|r| r.key_id.as_str())
                .chain(key.as_deref())
                .collect();
            named.sort_unstable();
            named.dedup();
            let names: HashMap<String, String> = keys::labels_of(&tx, &account, &named)?
                .into_iter()
                .map(label)
                .collect();
            // A key beyond the choices, asked for from its own page, is offered chosen.
            if let Some(chosen) = key.as_deref()
                && !choices.iter().any(|(id, _)| id == chosen)
                && let Some(name) = names.get(chosen)
            {
                choices.push((chosen.to_owned(), name.clone()));
            }
            Ok((
                rows,
                KeyNames {
                    choices,
                    more,
                    names,
                },
            ))
        })
        .await?;
    Ok(Ok(found))
}

pub async fn page(
    session: AdminSession,
    query: web::Query<LogsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    let (rows, keys, error) = match fetch(&session.0, &query, PAGE_ROWS, true, &state).await? {
        Ok((rows, keys)) => (rows, keys, None),
        Err(message) => (Vec::new(), KeyNames::default(), Some(message)),
    };
    let next_cursor = (rows.len() as i64 == PAGE_ROWS)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let rows: Vec<Row> = rows
        .into_iter()
        .map(|log| Row {
            key_name: keys
                .names
                .get(&log.key_id)
                .map_or_else(|| log.key_prefix.clone(), Clone::clone),
            class: log.status_code / 100,
            time: log.created_at.to_rfc3339(),
            log,
        })
        .collect();
    let filters = query.encoded();
    let page = LogsPage {
        assets: &ASSETS,
        session: &session.0,
        query: &query,
        keys,
        rows,
        filters,
        next_cursor,
        error,
        addresses: session.0.address_view() == AddressView::Clear,
    };
    super::render_page(&page)
}

pub async fn export(
    session: AdminSession,
    format: web::Path<String>,
    query: web::Query<LogsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let rows = match fetch(&session.0, &query, EXPORT_ROWS, false, &state).await? {
        Ok((rows, _)) => rows,
        Err(message) => return Err(AdminError::Refused(message.to_owned())),
    };
    let (content_type, name, body) = match format.as_str() {
        "csv" => ("text/csv; charset=utf-8", "request-logs.csv", to_csv(&rows)),
        "json" => {
            let items: Vec<LogOut> = rows.iter().map(LogOut::of).collect();
            (
                "application/json",
                "request-logs.json",
                serde_json::to_string(&items).map_err(|_| AdminError::Internal)?,
            )
        }
        _ => return Err(AdminError::not_found("page")),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        ))
        .body(body))
}
