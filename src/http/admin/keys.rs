//! The API keys page (docs/admin.md, "API keys"): search, status filter and the table.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::account::Role;
use crate::domain::{KeyStatus, Timestamp};
use crate::http::assets::{ASSETS, Assets};
use crate::http::session::{AdminError, AdminSession};
use crate::http::state::AppState;
use crate::service::ServiceError;
use crate::service::keys::{self, ApiKey, KeyFilter, KeyNeed};
use crate::service::sessions::Session;
use crate::service::usage;

const PAGE_SIZE: i64 = 500;
/// Days of requests shown beside each key.
const WEEK: i64 = 7;

pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub status: &'static str,
    pub status_label: String,
    pub last_used: Option<String>,
    pub created: String,
    pub allowlist_first: Option<String>,
    pub allowlist_more: usize,
    pub expires: Option<String>,
    pub environment: &'static str,
    /// Requests over the last 7 days, and their sparkline's points (one a day, oldest first).
    pub week: i64,
    pub spark: String,
    /// The request quota: what is left, of how many.
    pub quota: Option<(i64, i64)>,
}

impl KeyRow {
    fn of(key: &ApiKey, now: Timestamp, days: &[i64]) -> KeyRow {
        let status = key.status(now);
        let status_label = match (status, key.expires_at) {
            (KeyStatus::Rotated, Some(end)) => {
                let minutes = (end.millis() - now.millis()).max(0) / 60_000;
                format!("Rotated · {}h {:02}m left", minutes / 60, minutes % 60)
            }
            _ => status.label().to_owned(),
        };
        let entries = key.ip_allowlist.entries();
        KeyRow {
            id: key.id.clone(),
            name: key.name.clone(),
            prefix: key.key_prefix.clone(),
            status: status.as_str(),
            status_label,
            last_used: key.last_used_at.map(Timestamp::to_rfc3339),
            created: key.created_at.to_rfc3339(),
            allowlist_first: entries.first().cloned(),
            allowlist_more: entries.len().saturating_sub(1),
            expires: key.expires_at.map(Timestamp::to_rfc3339),
            environment: key.environment.as_str(),
            week: days.iter().sum(),
            spark: super::chart::sparkline(days, 70.0),
            quota: key.quota.map(|q| (q.remaining(now), q.quota.requests)),
        }
    }
}

/// Actions that open a confirmation page, by state (docs/admin.md, "API keys").
pub fn confirmations_for(status: &str) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    if matches!(status, "active" | "disabled") {
        out.push(("rotate", "Rotate"));
    }
    if status != "revoked" {
        out.push(("revoke", "Revoke"));
    }
    out.push(("delete", "Delete"));
    out
}

/// Reversible actions posted straight from a button, by state.
pub fn switches_for(status: &str) -> Vec<(&'static str, &'static str)> {
    match status {
        "active" => vec![("disable", "Disable")],
        "rotated" => vec![("expire", "Expire now"), ("disable", "Disable")],
        "disabled" => vec![("enable", "Enable")],
        _ => Vec::new(),
    }
}

impl KeyRow {
    pub fn confirmations(&self) -> Vec<(&'static str, &'static str)> {
        confirmations_for(self.status)
    }

    pub fn switches(&self) -> Vec<(&'static str, &'static str)> {
        switches_for(self.status)
    }
}

#[derive(Template)]
#[template(path = "keys.html")]
struct KeysPage<'a> {
    assets: &'a Assets,
    session: &'a Session,
    rows: Vec<KeyRow>,
    total: i64,
    search: &'a str,
    status: &'a str,
    need: &'a str,
    can_manage: bool,
    /// Query string of the next page, when there is one.
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct KeysQuery {
    #[serde(default)]
    search: String,
    #[serde(default)]
    status: String,
    /// `expiring` or `unused`: keys that need a look.
    #[serde(default)]
    need: String,
    #[serde(default)]
    offset: i64,
}

pub async fn list(
    session: AdminSession,
    query: web::Query<KeysQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let session = session.0;
    let Some(account) = session.account_id.clone() else {
        return render(&session, Vec::new(), 0, &query, false);
    };
    let status = KeyStatus::parse(&query.status);
    let search = Some(query.search.trim().to_owned()).filter(|s| !s.is_empty());
    let now = state.clock.now();
    let offset = query.offset.max(0);
    let need = KeyNeed::parse(&query.need);
    let first_day = now.plus_millis(-(WEEK - 1) * Timestamp::MS_PER_DAY);
    let since = first_day.day();
    let (keys, total, daily) = state
        .store
        .run(move |c| -> Result<_, ServiceError> {
            let tx = c.read();
            let filter = KeyFilter {
                account_id: &account,
                status,
                need,
                search: search.as_deref(),
                limit: PAGE_SIZE,
                offset,
                now,
            };
            let (keys, total) = keys::search(&tx, &filter)?;
            let daily = usage::requests_per_key_day(&tx, &account, &since)?;
            Ok((keys, total, daily))
        })
        .await?;
    let week_days: Vec<String> = (0..WEEK)
        .map(|i| first_day.plus_millis(i * Timestamp::MS_PER_DAY).day())
        .collect();
    let mut weeks: HashMap<String, Vec<i64>> = HashMap::new();
    for (key, day, n) in daily {
        if let Some(i) = week_days.iter().position(|d| *d == day) {
            weeks.entry(key).or_insert_with(|| vec![0; week_days.len()])[i] += n;
        }
    }
    let none = vec![0; WEEK as usize];
    let can_manage = session.role.is_some_and(Role::is_owner);
    let rows = keys
        .iter()
        .map(|k| KeyRow::of(k, now, weeks.get(&k.id).unwrap_or(&none)))
        .collect();
    render(&session, rows, total, &query, can_manage)
}

fn render(
    session: &Session,
    rows: Vec<KeyRow>,
    total: i64,
    query: &KeysQuery,
    can_manage: bool,
) -> Result<HttpResponse, AdminError> {
    let shown = query.offset.max(0) + PAGE_SIZE;
    let next = (total > shown).then(|| {
        serde_urlencoded::to_string([
            ("search", query.search.as_str()),
            ("status", query.status.as_str()),
            ("need", query.need.as_str()),
            ("offset", &shown.to_string()),
        ])
        .unwrap_or_default()
    });
    let page = KeysPage {
        assets: &ASSETS,
        session,
        rows,
        total,
        search: &query.search,
        status: &query.status,
        need: &query.need,
        can_manage,
        next,
    };
    super::render_page(&page)
}
