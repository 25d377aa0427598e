//! /api/v1/logs (JSON or CSV) and /api/v1/activity.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::extract::Params;
use super::{ApiPrincipal, reply};
use crate::domain::Timestamp;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::service::activity;
use crate::service::logs::{self, LogFilter, LogRow, StatusFilter};

const LOG_PARAMS: &[&str] = &[
    "key_id",
    "status",
    "error_code",
    "since",
    "until",
    "limit",
    "cursor",
    "format",
];

pub async fn logs(
    req: HttpRequest,
    p: ApiPrincipal,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = Params::parse(&req, LOG_PARAMS)?;
    let status = params
        .get("status")
        .map(|s| {
            StatusFilter::parse(s).ok_or_else(|| {
                ApiError::invalid(
                    "status",
                    "status must be a class such as 4xx or a code such as 404",
                )
            })
        })
        .transpose()?;
    let time = |name: &'static str| {
        params
            .get(name)
            .map(|s| {
                Timestamp::parse(s).ok_or_else(|| {
                    ApiError::invalid(
                        name,
                        format!("{name} must be an RFC 3339 time or a YYYY-MM-DD date"),
                    )
                })
            })
            .transpose()
    };
    let (since, until) = (time("since")?, time("until")?);
    let limit = params.int("limit", 100, 1..=1000)?;
    let cursor = params
        .get("cursor")
        .map(|_| params.int("cursor", 0, 1..=i64::MAX))
        .transpose()?;
    let csv = match params.get("format") {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::invalid("format", "format must be json or csv")),
    };
    let account = p.account_id().to_owned();
    let key_id = params.get("key_id").map(str::to_owned);
    let error_code = params.get("error_code").map(str::to_owned);
    let rows = state
        .store
        .run(move |db| {
            let filter = LogFilter {
                account_id: &account,
                key_id: key_id.as_deref(),
                status,
                error_code: error_code.as_deref(),
                since,
                until,
                before_id: cursor,
                endpoint: None,
                text: None,
                limit,
            };
            logs::search(&db.read(), &filter)
        })
        .await?;
    let next_cursor = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    if csv {
        let mut res = HttpResponse::Ok();
        res.content_type("text/csv; charset=utf-8").insert_header((
            "Content-Disposition",
            "attachment; filename=\"request-logs.csv\"",
        ));
        if let Some(next) = next_cursor {
            res.insert_header(("X-Next-Cursor", next.to_string()));
        }
        return Ok(res.body(to_csv(&rows)));
    }
    let data = json!({ "logs": rows.iter().map(log_json).collect::<Vec<_>>(), "next_cursor": next_cursor });
    Ok(reply(
        &p.caller,
        "Request logs retrieved successfully",
        data,
        None,
    ))
}

pub fn log_json(r: &LogRow) -> Value {
    json!({
        "id": r.id,
        "request_id": r.request_id,
        "key_id": r.key_id,
        "key_prefix": r.key_prefix,
        "environment": r.environment,
        "method": r.method,
        "endpoint": r.endpoint,
        "route": r.route,
        "query": r.query,
        "status_code": r.status_code,
        "error_code": r.error_code,
        "idempotency_replayed": r.idempotency_replayed,
        "ip_hash": r.ip_hash,
        "user_agent": r.user_agent,
        "region": r.region,
        "latency_us": r.latency_us,
        "created_at": r.created_at.to_rfc3339(),
    })
}

const CSV_HEADER: [&str; 16] = [
    "created_at",
    "request_id",
    "key_id",
    "key_prefix",
    "environment",
    "method",
    "endpoint",
    "route",
    "query",
    "status_code",
    "error_code",
    "idempotency_replayed",
    "ip_hash",
    "user_agent",
    "region",
    "latency_us",
];

/// The rows as CSV (RFC 4180, CRLF line ends), every cell defused.
pub fn to_csv(rows: &[LogRow]) -> String {
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::with_capacity(64 + rows.len() * 200));
    // Writing into memory fails only on a cell that is not valid, which no cell is.
    let _ = out.write_record(CSV_HEADER);
    for r in rows {
        let cells = [
            r.created_at.to_rfc3339(),
            r.request_id.clone(),
            r.key_id.clone(),
            r.key_prefix.clone(),
            r.environment.clone(),
            r.method.clone(),
            r.endpoint.clone(),
            r.route.clone(),
            r.query.clone().unwrap_or_default(),
            r.status_code.to_string(),
            r.error_code.clone().unwrap_or_default(),
            u8::from(r.idempotency_replayed).to_string(),
            r.ip_hash.clone(),
            r.user_agent.clone().unwrap_or_default(),
            r.region.clone(),
            r.latency_us.to_string(),
        ];
        for cell in &cells {
            let _ = out.write_field(defused(cell).as_bytes());
        }
        let _ = out.write_record(None::<&[u8]>);
    }
    let bytes = out.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// A cell a spreadsheet would run as a formula gets a leading quote, so it reads as text.
fn defused(value: &str) -> std::borrow::Cow<'_, str> {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}").into()
    } else {
        value.into()
    }
}

pub async fn activity(
    req: HttpRequest,
    p: ApiPrincipal,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = Params::parse(&req, &["limit", "cursor"])?;
    let limit = params.int("limit", 50, 1..=500)?;
    let cursor = params
        .get("cursor")
        .map(|_| params.int("cursor", 0, 1..=i64::MAX))
        .transpose()?;
    let account = p.account_id().to_owned();
    let rows = state
        .store
        .run(move |db| activity::list(&db.read(), &account, None, cursor, limit))
        .await?;
    let next_cursor = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let items: Vec<Value> = rows
        .iter()
        .map(|a| {
            json!({
                "id": a.id,
                "actor": a.actor,
                "category": a.category,
                "action": a.action,
                "target": a.target,
                "description": a.description,
                "created_at": a.created_at.to_rfc3339(),
                "hash": a.hash,
            })
        })
        .collect();
    Ok(reply(
        &p.caller,
        "Activity retrieved successfully",
        json!({ "activity": items, "next_cursor": next_cursor }),
        None,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(value: &str) -> String {
        let mut out = csv::WriterBuilder::new().from_writer(Vec::new());
        out.write_record([defused(value).as_bytes()]).unwrap();
        let line = String::from_utf8(out.into_inner().unwrap()).unwrap();
        line.trim_end_matches('\n').to_owned()
    }

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=cmd()"), "'=cmd()");
        assert_eq!(cell("-1+1"), "'-1+1");
        assert_eq!(cell("@SUM(A1),x"), "\"'@SUM(A1),x\"");
    }
}
