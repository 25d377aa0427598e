//! /api/v1/api-keys: list, create, show, edit, rotate, revoke, expire, delete, usage.

use actix_web::{HttpRequest, HttpResponse, web};

use super::extract::{ApiJsonOrEmpty, Params};
use super::operations::{self, KEY_LIMIT, KEY_OFFSET, KEY_SEARCH, KEY_STATUS, USAGE_DAYS};
use super::{ApiJson, ApiPrincipal, reply};
use crate::domain::{Environment, KeyStatus, Timestamp};
use crate::http::envelope::Page;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::service::Db;
use crate::service::keys::{self, ApiKey, CreateKey, KeyFilter, ScopeChoice, Switch};
use crate::service::lifecycle::{self, KeyPatch};
use crate::service::usage;
use crate::service::{Actor, ServiceError};
use crate::wire::count;
use crate::wire::input::key::{CreateApiKeyRequest, RotateApiKeyRequest, UpdateApiKeyRequest};
use crate::wire::key::{
    CreatedKeyOut, DayCountOut, DeletedKeyOut, EndpointCountOut, KeyDetailOut, KeyListOut, KeyOut,
    KeyUsageOut, RotatedKeyOut,
};

fn actor(p: &ApiPrincipal) -> Actor {
    p.actor.clone()
}

pub async fn list(
    req: HttpRequest,
    p: ApiPrincipal,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = Params::parse(&req, operations::LIST_KEYS)?;
    let status = match params.get(KEY_STATUS.name) {
        None | Some("all") => None,
        Some(s) => Some(KeyStatus::parse(s).ok_or_else(|| {
            ApiError::invalid(
                "status",
                "status must be active, rotated, expired, disabled, revoked or all",
            )
        })?),
    };
    let limit = params.whole(&KEY_LIMIT)?;
    let offset = params.whole(&KEY_OFFSET)?;
    let search = params.get(KEY_SEARCH.name).map(str::to_owned);
    let account = p.account_id().to_owned();
    let now = p.caller.now;
    let (keys, total) = state
        .store
        .run(move |c| -> Result<_, ServiceError> {
            let filter = KeyFilter {
                need: None,
                account_id: &account,
                status,
                search: search.as_deref(),
                limit,
                offset,
                now,
            };
            keys::search(&c.read(), &filter)
        })
        .await?;
    let data = KeyListOut {
        api_keys: keys.iter().map(|k| KeyOut::of(k, now)).collect(),
    };
    Ok(reply(
        &p.caller,
        "API keys retrieved successfully",
        data,
        Some(Page {
            total,
            limit,
            offset,
        }),
    ))
}

pub async fn create(
    p: ApiPrincipal,
    body: ApiJson<CreateApiKeyRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let scopes = match (body.preset, body.scopes) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "scopes",
                "Give either preset or scopes, not both.",
            ));
        }
        (Some(preset), None) => ScopeChoice::Preset(preset),
        (None, Some(scopes)) => ScopeChoice::Scopes(scopes),
        (None, None) => {
            return Err(ApiError::invalid(
                "preset",
                "A preset or a list of scopes is required.",
            ));
        }
    };
    let environment = match body.environment.as_deref() {
        None => Environment::Live,
        Some(e) => Environment::parse(e)
            .ok_or_else(|| ApiError::invalid("environment", "environment must be live or test"))?,
    };
    let input = CreateKey {
        account_id: p.account_id().to_owned(),
        name: body.name,
        scopes,
        ip_allowlist: body.ip_allowlist.unwrap_or_default(),
        expires_at: body.expires_at,
        expires_in_days: body.expires_in_days,
        allowed_models: body.allowed_models,
        rate_limit_per_minute: body.rate_limit_per_minute,
        environment,
        budget_credits: body.budget_credits.map(|c| c.to_string()),
        budget_period: body.budget_period,
        quota: crate::wire::input::key::quota_input(
            body.quota_requests,
            body.quota_refill,
            body.quota_refill_day,
        ),
    };
    let (actor, now, format) = (actor(&p), p.caller.now, state.gate.key_format.clone());
    let (key, secret) = state
        .store
        .run(move |c| -> Result<_, ServiceError> {
            keys::create_key(c, &format, &actor, now, &input)
        })
        .await?;
    let data = CreatedKeyOut::of(&key, secret.expose(), now);
    Ok(reply(&p.caller, "API key created successfully", data, None))
}

pub async fn show(
    p: ApiPrincipal,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (account, now) = (p.account_id().to_owned(), p.caller.now);
    let (key, chain) = state
        .store
        .run(move |c| -> Result<_, ServiceError> {
            let tx = c.read();
            let key = keys::get_key_in(&tx, Some(&account), &id)?;
            let chain = keys::rotation_chain(&tx, &key)?;
            Ok((key, chain))
        })
        .await?;
    let data = KeyDetailOut::of(&key, &chain, now);
    Ok(reply(
        &p.caller,
        "API key retrieved successfully",
        data,
        None,
    ))
}

pub async fn update(
    p: ApiPrincipal,
    id: web::Path<String>,
    body: ApiJson<UpdateApiKeyRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (account, actor, now) = (p.account_id().to_owned(), actor(&p), p.caller.now);
    let patch = KeyPatch::from(body.0);
    let key = state
        .store
        .run(move |c| -> Result<_, ServiceError> {
            lifecycle::update_key(c, &actor, now, (Some(&account), &id), &patch)
        })
        .await?;
    Ok(reply(
        &p.caller,
        "API key updated successfully",
        KeyOut::of(&key, now),
        None,
    ))
}

pub async fn rotate(
    p: ApiPrincipal,
    id: web::Path<String>,
    body: ApiJsonOrEmpty<RotateApiKeyRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let grace = body.0.grace_hours;
    let (account, actor, now, format) = (
        p.account_id().to_owned(),
        actor(&p),
        p.caller.now,
        state.gate.key_format.clone(),
    );
    let (old, new, secret) = state
        .store
        .run(move |c| -> Result<_, ServiceError> {
            lifecycle::rotate_key(c, &format, &actor, now, (Some(&account), &id), grace)
        })
        .await?;
    let data = RotatedKeyOut::of(&old, &new, secret.expose(), now);
    Ok(reply(&p.caller, "API key rotated successfully", data, None))
}

pub async fn revoke(
    p: ApiPrincipal,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let change = |c: &mut Db, actor: &Actor, now, scope: keys::Scope<'_>| {
        keys::switch_key(c, actor, now, scope, Switch::Revoke)
    };
    key_change(
        p,
        id.into_inner(),
        state,
        "API key revoked successfully",
        change,
    )
    .await
}

pub async fn expire(
    p: ApiPrincipal,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    key_change(
        p,
        id.into_inner(),
        state,
        "API key expired successfully",
        lifecycle::expire_now,
    )
    .await
}

/// Applies one lifecycle change to a key of the caller's account and answers with the key.
async fn key_change<F>(
    p: ApiPrincipal,
    id: String,
    state: web::Data<AppState>,
    message: &str,
    change: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce(&mut Db, &Actor, Timestamp, keys::Scope<'_>) -> Result<ApiKey, ServiceError>
        + Send
        + 'static,
{
    let (account, actor, now) = (p.account_id().to_owned(), actor(&p), p.caller.now);
    let key = state
        .store
        .run(move |c| -> Result<_, ServiceError> { change(c, &actor, now, (Some(&account), &id)) })
        .await?;
    Ok(reply(&p.caller, message, KeyOut::of(&key, now), None))
}

pub async fn delete(
    p: ApiPrincipal,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (account, actor, now) = (p.account_id().to_owned(), actor(&p), p.caller.now);
    let (key, logs) = state
        .store
        .run(move |c| -> Result<_, ServiceError> {
            lifecycle::delete_key(c, &actor, now, (Some(&account), &id))
        })
        .await?;
    let data = DeletedKeyOut::of(&key, logs);
    Ok(reply(&p.caller, "API key deleted successfully", data, None))
}

pub async fn usage(
    req: HttpRequest,
    p: ApiPrincipal,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = Params::parse(&req, operations::KEY_USAGE)?;
    let days = params.whole(&USAGE_DAYS)?;
    let (account, now) = (p.account_id().to_owned(), p.caller.now);
    let (key_id, routes, by_day) = state
        .store
        .run(move |c| -> Result<_, ServiceError> {
            let tx = c.read();
            let key = keys::get_key_in(&tx, Some(&account), &id)?;
            let since = now.plus_millis(-(days - 1) * Timestamp::MS_PER_DAY);
            let (routes, by_day) = usage::key_usage(&tx, &key.id, &since.day())?;
            Ok((key.id, routes, by_day))
        })
        .await?;
    let failed = |client: i64, server: i64| count(client + server);
    let by_day = (0..days)
        .rev()
        .map(|back| {
            let day = now.plus_millis(-back * Timestamp::MS_PER_DAY).day();
            let found = by_day.iter().find(|d| d.day == day);
            DayCountOut {
                total_requests: found.map_or(0, |d| count(d.total)),
                successful: found.map_or(0, |d| count(d.success)),
                failed: found.map_or(0, |d| failed(d.client_errors, d.server_errors)),
                date: day,
            }
        })
        .collect();
    let data = KeyUsageOut {
        key_id,
        days: u32::try_from(days).unwrap_or(1),
        total_requests: routes.iter().map(|r| count(r.total)).sum(),
        successful: routes.iter().map(|r| count(r.success)).sum(),
        failed: routes
            .iter()
            .map(|r| failed(r.client_errors, r.server_errors))
            .sum(),
        by_endpoint: routes
            .iter()
            .map(|r| EndpointCountOut {
                endpoint: r.route.clone(),
                total_requests: count(r.total),
                successful: count(r.success),
                failed: failed(r.client_errors, r.server_errors),
            })
            .collect(),
        by_day,
    };
    Ok(reply(
        &p.caller,
        "API key usage retrieved successfully",
        data,
        None,
    ))
}
