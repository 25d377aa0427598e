//! The /v1 handlers done so far; each receives an authenticated, scope-checked request.

use actix_web::web;
use serde::Serialize;
use serde_json::value::RawValue;

use super::operation::{Bounds, DAYS, HandlerFuture, QueryParam};
use crate::domain::{Region, Timestamp};
use crate::http::envelope::Page;
use crate::http::error::{ApiError, ErrorCode};
use crate::http::state::AppState;
use crate::service::accounts;
use crate::service::auth::Principal;
use crate::service::usage::usage_report;
use crate::wire::account::{AccountData, BillingData};
use crate::wire::key::StatusData;
use crate::wire::usage::UsageData;

pub struct V1Request {
    pub state: web::Data<AppState>,
    pub principal: Principal,
    pub request_id: String,
    pub now: Timestamp,
    pub region: Region,
    pub generation_id: Option<String>,
    pub model_identifier: Option<String>,
    pub query: Vec<(String, String)>,
    pub body: web::Bytes,
    /// The request itself, for what only some routes read (headers, origin).
    pub http: actix_web::HttpRequest,
}

impl V1Request {
    /// The `Idempotency-Key` header; `Some("")` when it is not valid UTF-8.
    pub fn idempotency_key(&self) -> Option<&str> {
        self.http
            .headers()
            .get("idempotency-key")
            .map(|v| v.to_str().unwrap_or_default())
    }

    /// `scheme://host` for absolute media URLs: the configured public URL, else what the client
    /// called.
    pub fn origin(&self) -> String {
        if let Some(url) = self.state.config.generation.public_origin() {
            return url.to_owned();
        }
        let info = self.http.connection_info();
        format!("{}://{}", info.scheme(), info.host())
    }

    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// An integer query parameter within its bounds (the firewall has already checked its type).
    pub fn query_int(&self, param: &QueryParam) -> Result<i64, ApiError> {
        let bounds = param.bounds.unwrap_or(Bounds::ANY);
        crate::http::query::bounded_int(
            param.name,
            self.query_value(param.name),
            bounds.default,
            bounds.range(),
        )
    }

    /// An integer query parameter, clamped into its bounds instead of refused.
    pub fn query_clamped(&self, param: &QueryParam) -> i64 {
        let bounds = param.bounds.unwrap_or(Bounds::ANY);
        self.query_value(param.name)
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(bounds.default)
            .clamp(bounds.min, bounds.max)
    }
}

pub struct V1Reply {
    pub message: &'static str,
    /// `data`, serialized once, where the handler built it.
    pub data: Box<RawValue>,
    pub page: Option<Page>,
    /// A stored response sent again as it was (an idempotent replay).
    pub replay: Option<Vec<u8>>,
}

impl V1Reply {
    pub fn ok(message: &'static str, data: impl Serialize) -> V1Reply {
        // A `Value` or a plain struct cannot fail to serialize; should one ever, the error is
        // logged and `data` is null.
        let data = serde_json::value::to_raw_value(&data).unwrap_or_else(|e| {
            tracing::error!(error = %crate::telemetry::cause_chain(&e), "response data could not be serialized");
            RawValue::NULL.to_owned()
        });
        V1Reply {
            message,
            data,
            page: None,
            replay: None,
        }
    }

    pub fn page(message: &'static str, data: impl Serialize, page: Page) -> V1Reply {
        V1Reply {
            page: Some(page),
            ..V1Reply::ok(message, data)
        }
    }

    pub fn replayed(body: Vec<u8>) -> V1Reply {
        V1Reply {
            replay: Some(body),
            ..V1Reply::ok("", ())
        }
    }
}

pub fn status(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        // This request is a use of the key; its log row (and `last_used_at`) commit before the
        // response leaves.
        Ok(V1Reply::ok(
            "API connected successfully",
            StatusData::of(&req.principal.key, req.now),
        ))
    })
}

pub(super) async fn load_account(req: &V1Request) -> Result<accounts::Account, ApiError> {
    let id = req.principal.key.account_id.clone();
    req.state
        .store
        .run(move |db| accounts::find(&db.read(), &id))
        .await?
        .filter(|a| a.deleted_at.is_none())
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
        let days = req.query_int(&DAYS)?;
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
