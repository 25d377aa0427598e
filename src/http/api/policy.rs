//! /api/v1/policy: the account's key policy (docs/keys.md, "Key policy").

use actix_web::{HttpResponse, web};

use super::{ApiJson, ApiPrincipal, reply};
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::service::{ServiceError, key_policy};
use crate::wire::input::policy::KeyPolicyRequest;
use crate::wire::policy::KeyPolicyOut;

pub async fn show(p: ApiPrincipal, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let account = p.account_id().to_owned();
    let policy = state
        .store
        .run(move |c| key_policy::get(&c.read(), &account))
        .await?;
    let data = KeyPolicyOut::of(&policy);
    Ok(reply(
        &p.caller,
        "Key policy retrieved successfully",
        data,
        None,
    ))
}

pub async fn update(
    p: ApiPrincipal,
    body: ApiJson<KeyPolicyRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let policy = body.0.into_policy()?;
    let (account, actor, now) = (p.account_id().to_owned(), p.actor.clone(), p.caller.now);
    let policy = state
        .store
        .run(move |c| -> Result<_, ServiceError> {
            key_policy::set(c, &actor, &account, &policy, now)
        })
        .await?;
    let data = KeyPolicyOut::of(&policy);
    Ok(reply(
        &p.caller,
        "Key policy updated successfully",
        data,
        None,
    ))
}
