//! The /v1 handlers of the account operations; each receives an authenticated, scope-checked
//! request.

use super::operation::{DAYS, HandlerFuture};
use super::request::{V1Reply, V1Request};
use crate::http::error::{ApiError, ErrorCode};
use crate::service::accounts;
use crate::service::usage::usage_report;
use crate::wire::account::{AccountData, BillingData};
use crate::wire::key::StatusData;
use crate::wire::usage::UsageData;

pub fn status(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        // This request is a use of the key; its log row (and `last_used_at`) commit before the
        // response leaves.
        Ok(V1Reply::ok(
            "API connected successfully",
            StatusData::of(&req.principal.key, req.principal.quota, req.now),
        ))
    })
}

pub(super) async fn load_account(req: &V1Request) -> Result<accounts::Account, ApiError> {
    let id = req.principal.key.account_id.clone();
    req.state
        .store
        .run(move |db| accounts::find(&db.read(), &id))
        .await?
        .filter(|a| a.is_live())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::AccountNotFound,
                "The account of this API key no longer exists.",
            )
        })
}

pub fn account(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        let a = load_account(&req).await?;
        Ok(V1Reply::ok(
            "Account retrieved successfully",
            AccountData::of(&a),
        ))
    })
}

pub fn billing(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        let a = load_account(&req).await?;
        Ok(V1Reply::ok(
            "Billing retrieved successfully",
            BillingData::of(&a),
        ))
    })
}

pub fn usage(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        let days = DAYS.int(&req)?;
        let account_id = req.principal.key.account_id.clone();
        let now = req.now;
        let report = req
            .state
            .store
            .run(move |db| usage_report(db, &account_id, days, now))
            .await?;
        Ok(V1Reply::ok(
            "Usage retrieved successfully",
            UsageData::of(&report),
        ))
    })
}
