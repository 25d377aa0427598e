//! The /v1 handlers done so far; each receives an authenticated, scope-checked request.

use actix_web::web;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::routes::{Bounds, DAYS, HandlerFuture, QueryParam};
use crate::domain::clock::time_or_null;
use crate::domain::{Region, Timestamp};
use crate::http::envelope::Page;
use crate::http::error::{ApiError, ErrorCode};
use crate::http::state::AppState;
use crate::service::accounts;
use crate::service::auth::Principal;
use crate::service::usage::{RouteUsage, usage_report};

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
            ..V1Reply::ok("", Value::Null)
        }
    }
}

pub fn status(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        // The busiest route: a plain struct, serialized once.
        #[derive(Serialize)]
        struct Status<'a> {
            account_id: &'a str,
            apikey_created_at: String,
            apikey_expires_at: Option<String>,
            apikey_id: &'a str,
            apikey_last_used_at: String,
            apikey_name: &'a str,
            apikey_prefix: &'a str,
        }
        let key = &req.principal.key;
        // This request is a use of the key; its log row (and `last_used_at`) commit before the
        // response leaves.
        Ok(V1Reply::ok(
            "API connected successfully",
            Status {
                account_id: &key.account_id,
                apikey_created_at: key.created_at.to_rfc3339(),
                apikey_expires_at: key.expires_at.map(Timestamp::to_rfc3339),
                apikey_id: &key.id,
                apikey_last_used_at: req.now.to_rfc3339(),
                apikey_name: &key.name,
                apikey_prefix: &key.key_prefix,
            },
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
            json!({
                "account_id": a.id,
                "account_name": a.name,
                "account_email": a.email,
                "account_is_personal": a.is_personal,
                "account_picture_url": a.picture_url,
                "account_created_at": a.created_at.to_rfc3339(),
            }),
        ))
    })
}

pub fn billing(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        let a = load_account(&req).await?;
        Ok(V1Reply::ok(
            "Billing retrieved successfully",
            json!({
                "account_id": a.id,
                "billing_plan": a.plan,
                "billing_credit_balance": a.credit_balance.to_json(),
                "billing_subscription_status": a.subscription_status,
                "billing_cancel_at_period_end": a.cancel_at_period_end,
                "billing_currency": a.currency,
                "billing_period_starts_at": time_or_null(a.period_starts_at),
                "billing_period_ends_at": time_or_null(a.period_ends_at),
                "billing_created_at": time_or_null(a.billing_created_at),
                "billing_updated_at": time_or_null(a.billing_updated_at),
            }),
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
        let sum = |f: fn(&RouteUsage) -> i64| report.routes.iter().map(f).sum::<i64>();
        let endpoints: Vec<Value> = report
            .routes
            .iter()
            .map(|r| {
                json!({
                    "endpoint": r.route,
                    "total_requests": r.total,
                    "success_count": r.success,
                    "client_error_count": r.client_errors,
                    "server_error_count": r.server_errors,
                    "error_codes": r.error_codes,
                })
            })
            .collect();
        let providers: Vec<Value> = report
            .providers
            .iter()
            .map(|p| {
                json!({
                    "provider": p.provider,
                    "total_submissions": p.submissions,
                    "used_count": p.used,
                    "cancelled_count": p.cancelled,
                    "discarded_count": p.discarded,
                    "failed_count": p.failed,
                    "total_estimated_cost": p.estimated_cost.to_json(),
                    "wasted_estimated_cost": p.wasted_cost.to_json(),
                })
            })
            .collect();
        Ok(V1Reply::ok(
            "Usage retrieved successfully",
            json!({
                "account_id": report.account_id,
                "usage_period_days": report.days,
                "usage_credit_balance": report.credit_balance.to_json(),
                "usage_total_requests": sum(|r| r.total),
                "usage_total_success": sum(|r| r.success),
                "usage_total_client_errors": sum(|r| r.client_errors),
                "usage_total_server_errors": sum(|r| r.server_errors),
                "usage_total_generations": report.generations,
                "usage_total_provider_submissions":
                    report.providers.iter().map(|p| p.submissions).sum::<i64>(),
                "usage_total_estimated_cost": report.estimated_cost.to_json(),
                "usage_endpoints": endpoints,
                "usage_providers": providers,
            }),
        ))
    })
}
