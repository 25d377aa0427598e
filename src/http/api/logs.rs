//! /api/v1/logs (JSON or CSV) and /api/v1/activity.

use actix_web::{HttpRequest, HttpResponse, web};

use super::extract::Params;
use super::{ApiPrincipal, reply};
use crate::domain::Timestamp;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::service::activity;
use crate::service::logs::{self, LogFilter, StatusFilter};
use crate::wire::log::{ActivityOut, ActivityPageOut, LogOut, LogPageOut, to_csv};

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
    let data = LogPageOut {
        logs: rows.iter().map(LogOut::of).collect(),
        next_cursor,
    };
    Ok(reply(
        &p.caller,
        "Request logs retrieved successfully",
        data,
        None,
    ))
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
    let data = ActivityPageOut {
        activity: rows.iter().map(ActivityOut::of).collect(),
        next_cursor,
    };
    Ok(reply(
        &p.caller,
        "Activity retrieved successfully",
        data,
        None,
    ))
}
