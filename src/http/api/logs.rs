//! /api/v1/logs (JSON or CSV) and /api/v1/activity.

use actix_web::{HttpRequest, HttpResponse, web};

use super::extract::Params;
use super::operations::{
    self, ACTIVITY_ACTOR, ACTIVITY_CATEGORY, ACTIVITY_CURSOR, ACTIVITY_LIMIT, ACTIVITY_SINCE,
    ACTIVITY_UNTIL, LOG_CURSOR, LOG_ERROR_CODE, LOG_FORMAT, LOG_KEY, LOG_LIMIT, LOG_SINCE,
    LOG_STATUS, LOG_UNTIL,
};
use super::{ApiPrincipal, reply};
use crate::domain::Timestamp;
use crate::domain::log::Category;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::service::activity::{self, ActivityFilter};
use crate::service::logs::{self, LogFilter, StatusFilter};
use crate::wire::log::{ActivityOut, ActivityPageOut, LogOut, LogPageOut, to_csv};

pub async fn logs(
    req: HttpRequest,
    p: ApiPrincipal,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = Params::parse(&req, operations::LOGS)?;
    let status = params
        .get(LOG_STATUS.name)
        .map(|s| {
            StatusFilter::parse(s).ok_or_else(|| {
                ApiError::invalid(
                    "status",
                    "status must be a class such as 4xx or a code such as 404",
                )
            })
        })
        .transpose()?;
    let (since, until) = (
        time(&params, LOG_SINCE.name)?,
        time(&params, LOG_UNTIL.name)?,
    );
    let limit = params.whole(&LOG_LIMIT)?;
    let cursor = params.cursor(&LOG_CURSOR)?;
    let csv = match params.get(LOG_FORMAT.name) {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::invalid("format", "format must be json or csv")),
    };
    let account = p.account_id().to_owned();
    let key_id = params.get(LOG_KEY.name).map(str::to_owned);
    let error_code = params.get(LOG_ERROR_CODE.name).map(str::to_owned);
    let view = p.addresses;
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
            logs::search(&db.read(), &filter, view)
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
    let params = Params::parse(&req, operations::ACTIVITY)?;
    let limit = params.whole(&ACTIVITY_LIMIT)?;
    let cursor = params.cursor(&ACTIVITY_CURSOR)?;
    let (since, until) = (
        time(&params, ACTIVITY_SINCE.name)?,
        time(&params, ACTIVITY_UNTIL.name)?,
    );
    let account = p.account_id().to_owned();
    let category = params
        .get(ACTIVITY_CATEGORY.name)
        .map(|given| {
            Category::ALL
                .into_iter()
                .find(|c| c.as_str() == given)
                .map(|c| c.as_str().to_owned())
                .ok_or_else(|| {
                    let names: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
                    ApiError::invalid(
                        "category",
                        format!("category must be one of {}", names.join(", ")),
                    )
                })
        })
        .transpose()?;
    let actor = params.get(ACTIVITY_ACTOR.name).map(str::to_owned);
    let rows = state
        .store
        .run(move |db| {
            let filter = ActivityFilter {
                account_id: Some(&account),
                category: category.as_deref(),
                actor: actor.as_deref(),
                since,
                until,
            };
            activity::search(&db.read(), &filter, cursor, limit)
        })
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

/// The time parameter `name`, if given.
fn time(params: &Params, name: &'static str) -> Result<Option<Timestamp>, ApiError> {
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
}
