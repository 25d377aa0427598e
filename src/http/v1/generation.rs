//! The generation routes of /v1: library, estimate, generate, content and health.

use std::time::Instant;

use serde_json::{Value, json};

use super::handlers::{V1Reply, V1Request, load_account};
use super::routes::{COUNT, HandlerFuture, LIMIT, OFFSET};
use crate::domain::generation::request::{self, Invalid};
use crate::domain::generation::{Model, ModelType, pricing};
use crate::generation::record::record_json;
use crate::http::envelope::{Page, success_body};
use crate::http::error::{ApiError, ErrorCode};
use crate::providers::ProviderKind;
use crate::service::generations::{self, CancelError};
use crate::service::idempotency::{self, IdempotencyScope};
use crate::service::submit::{Submission, SubmitError, Submitted, submit};
use crate::service::{ServiceError, cause_chain};

const INITIALIZED: &str = "Generation initialized";

fn invalid(e: Invalid) -> ApiError {
    ApiError::invalid(&e.field, e.message)
}

fn model(req: &V1Request) -> Result<&Model, ApiError> {
    let id = req.model_identifier.as_deref().unwrap_or_default();
    req.state
        .generator
        .catalog()
        .model(id)
        .ok_or_else(|| unknown_model(id))
}

fn unknown_model(id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::ModelNotFound,
        format!("The model {id} is not in the catalog."),
    )
    .detail("model_identifier", id)
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::GenerationNotFound,
        format!("No generation {id} was found."),
    )
}

pub fn estimate(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        let model = model(&req)?;
        let count = req.query_clamped(&COUNT) as u32;
        // Image models ignore the video parameters.
        let (duration, audio) = if model.is_video() {
            let duration = match req.query_value("duration") {
                None => None,
                Some(raw) => Some(parse_duration(model, raw)?),
            };
            let audio = req.query_value("audio") == Some("true");
            (
                duration,
                request::allowed_audio(model, "audio", audio).map_err(invalid)?,
            )
        } else {
            (None, false)
        };
        let est = pricing::estimate(model, count, duration, req.query_value("resolution"), audio)
            .map_err(invalid)?;
        let balance = load_account(&req).await?.credit_balance;
        let max_affordable = if est.per_generation.thousandths() > 0 {
            (balance.thousandths().max(0) / est.per_generation.thousandths())
                .min(i64::from(u32::MAX))
        } else {
            100
        };
        let mut data = json!({
            "model_identifier": model.identifier,
            "model_type": model.model_type.as_str(),
            "assets_count": est.count,
            "cost_per_generation": est.per_generation.to_json(),
            "cost_total_consumed": est.total.to_json(),
            "credit_balance": balance.to_json(),
            "credit_balance_can_afford": balance >= est.total,
            "credit_balance_max_affordable": max_affordable,
        });
        if let Some(obj) = data.as_object_mut() {
            if let Some(per_second) = est.cost_per_second {
                obj.insert("cost_per_second".into(), per_second.to_json());
            }
            if let Some(d) = est.duration {
                obj.insert("duration_seconds".into(), d.into());
            }
            if let Some(r) = est.resolution {
                obj.insert("resolution".into(), r.into());
            }
        }
        Ok(V1Reply::ok("Estimate calculated successfully", data))
    })
}

fn parse_duration(model: &Model, raw: &str) -> Result<u32, ApiError> {
    raw.parse::<f64>()
        .ok()
        .and_then(|d| request::allowed_duration(model, d))
        .ok_or_else(|| {
            ApiError::invalid(
                "duration",
                format!(
                    "duration must be one of {}.",
                    request::durations_text(model)
                ),
            )
        })
}

pub fn generate_image(req: V1Request) -> HandlerFuture {
    Box::pin(generate(req, ModelType::Image))
}

pub fn generate_video(req: V1Request) -> HandlerFuture {
    Box::pin(generate(req, ModelType::Video))
}

async fn generate(req: V1Request, route_type: ModelType) -> Result<V1Reply, ApiError> {
    let idempotency = match req.idempotency_key() {
        None => None,
        Some(key) if idempotency::valid_key(key) => Some(IdempotencyScope {
            account_id: req.principal.key.account_id.clone(),
            route: req.http.path().to_owned(),
            key: key.to_owned(),
            request_id: req.request_id.clone(),
        }),
        Some(_) => {
            return Err(ApiError::invalid(
                "Idempotency-Key",
                "Idempotency-Key must be 1-255 characters of A-Z, a-z, 0-9, _, -, : and .",
            ));
        }
    };
    let submission = Submission {
        principal: &req.principal,
        max_in_flight: req.state.gate.plan(Some(&req.principal.plan)).max_in_flight,
        model_identifier: req.model_identifier.as_deref().unwrap_or_default(),
        route_type,
        body: &req.body,
        idempotency,
        origin: req.origin(),
        now: req.now,
    };
    let respond = |data: &Value| success_body(&req.request_id, INITIALIZED, req.now, data, None);
    let submitted = submit(&req.state.store, &req.state.generator, submission, respond).await;
    match submitted.map_err(submit_error)? {
        Submitted::Accepted { data } => Ok(V1Reply::ok(INITIALIZED, data)),
        Submitted::Replayed { body } => Ok(V1Reply::replayed(body)),
        Submitted::ReplayedCanceled {
            request_id,
            generation_id,
        } => {
            let request_id = request_id.as_deref().unwrap_or(&req.request_id);
            let data = json!({ "generation_id": generation_id, "generation_status": "canceled" });
            let body = success_body(request_id, INITIALIZED, req.now, &data, None);
            Ok(V1Reply::replayed(body))
        }
    }
}

fn submit_error(e: SubmitError) -> ApiError {
    match e {
        SubmitError::UnknownModel(id) => unknown_model(&id),
        SubmitError::ModelNotAllowed(id) => ApiError::new(
            ErrorCode::InsufficientPermissions,
            format!("This API key may not use the model {id}."),
        )
        .detail("model_identifier", id),
        SubmitError::Invalid(e) => invalid(e),
        SubmitError::InFlightCap(cap) => in_flight_refusal(cap),
        SubmitError::InsufficientCredits { balance, needed } => ApiError::new(
            ErrorCode::InsufficientCredits,
            format!("This generation costs {needed} credits; the balance is {balance}."),
        )
        .detail("credit_balance", balance.to_json())
        .detail("credits_required", needed.to_json()),
        SubmitError::KeyReused => ApiError::new(
            ErrorCode::IdempotencyKeyReused,
            "This Idempotency-Key was already used with a different request body.",
        ),
        SubmitError::InProgress => in_progress(),
        SubmitError::Service(e) => e.into(),
    }
}

fn in_progress() -> ApiError {
    ApiError::new(
        ErrorCode::IdempotencyRequestInProgress,
        "A request with this Idempotency-Key is still being processed; retry shortly.",
    )
    .retry_after(1)
}

fn in_flight_refusal(cap: u32) -> ApiError {
    ApiError::new(
        ErrorCode::ConcurrencyLimitExceeded,
        format!("The plan allows {cap} generation(s) in flight at once; wait for one to finish."),
    )
    .detail("limit", cap)
    .retry_after(1)
}

pub fn get_content(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        let id = req.generation_id.clone().unwrap_or_default();
        let account_id = req.principal.key.account_id.clone();
        let lookup = id.clone();
        let g = req
            .state
            .store
            .run(move |db| generations::find_in(&db.read(), &account_id, &lookup))
            .await?
            .ok_or_else(|| not_found(&id))?;
        Ok(V1Reply::ok(
            "Generation retrieved successfully",
            record_json(&g, &req.origin()),
        ))
    })
}

pub fn list_content(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        let limit = req.query_int(&LIMIT)?;
        let offset = req.query_int(&OFFSET)?;
        let account_id = req.principal.key.account_id.clone();
        let (rows, total) = req
            .state
            .store
            .run(move |db| generations::list(&db.read(), &account_id, limit, offset))
            .await?;
        let origin = req.origin();
        let generations: Vec<Value> = rows.iter().map(|g| record_json(g, &origin)).collect();
        Ok(V1Reply::page(
            "Generations retrieved successfully",
            json!({ "generations": generations }),
            Page {
                total,
                limit,
                offset,
            },
        ))
    })
}

fn actor(req: &V1Request) -> String {
    format!("key:{}", req.principal.key.key_prefix)
}

pub fn cancel(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        let id = req.generation_id.clone().unwrap_or_default();
        let (account_id, actor, now) = (req.principal.key.account_id.clone(), actor(&req), req.now);
        let target = id.clone();
        let canceled = req
            .state
            .store
            .run(move |db| {
                Ok::<_, ServiceError>(generations::cancel(db, &account_id, &target, &actor, now))
            })
            .await?;
        let canceled = match canceled {
            Ok(c) => c,
            Err(CancelError::NotFound) => return Err(not_found(&id)),
            Err(CancelError::NotCancelable(status)) => {
                return Err(ApiError::new(
                    ErrorCode::GenerationNotCancelable,
                    format!(
                        "The generation is {}; only pending or processing generations can be canceled.",
                        status.as_str()
                    ),
                )
                .detail("generation_status", status.as_str()));
            }
            Err(CancelError::Service(e)) => return Err(e.into()),
        };
        let sent = req.state.generator.stop(&id).await;
        Ok(V1Reply::ok(
            "Generation canceled",
            json!({
                "generation_id": id,
                "generation_status": "canceled",
                "provider_cancel_sent": sent,
                "credits_refunded": canceled.refunded.thousandths() > 0,
                "credits_refunded_amount": canceled.refunded.to_json(),
            }),
        ))
    })
}

pub fn delete_content(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        let id = req.generation_id.clone().unwrap_or_default();
        let (account_id, actor, now) = (req.principal.key.account_id.clone(), actor(&req), req.now);
        let target = id.clone();
        let deleted = req
            .state
            .store
            .run(move |db| generations::delete(db, &account_id, &target, &actor, now))
            .await?
            .ok_or_else(|| not_found(&id))?;
        if deleted.generation.status.in_flight() {
            req.state.generator.stop(&id).await;
        }
        let media = req.state.generator.media.clone();
        let target = id.clone();
        let files_deleted = tokio::task::spawn_blocking(move || media.remove(&target))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(0);
        Ok(V1Reply::ok(
            "Generation deleted",
            json!({ "generation_id": id, "files_deleted": files_deleted }),
        ))
    })
}

pub fn library_models(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        let catalog = req.state.generator.catalog();
        let models: Vec<Value> = catalog.models.iter().map(model_json).collect();
        Ok(V1Reply::ok(
            "Models retrieved successfully",
            json!({ "models_total": models.len(), "models": models }),
        ))
    })
}

fn model_json(m: &Model) -> Value {
    let mut schema = json!({
        "generation_prompt": true,
        "generation_ratio": m.ratios,
        "generation_output_format": m.formats,
        "generation_output_number": m.max_outputs,
        "generation_input_file": m.input_file,
    });
    if m.is_video()
        && let Some(obj) = schema.as_object_mut()
    {
        obj.insert("generation_duration".into(), json!(m.durations));
        obj.insert("generation_resolution".into(), json!(m.resolutions));
        obj.insert("generation_generate_audio".into(), json!(m.audio));
    }
    json!({
        "model_type": m.model_type.as_str(),
        "model_identifier": m.identifier,
        "model_pricing": m.pricing_json(),
        "model_supported_provider": m.providers.iter().map(|p| p.provider.as_str()).collect::<Vec<_>>(),
        "schema": schema,
        "specific_schema": m.specific.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        "specific_parameters": m.specific,
    })
}

pub fn library_providers(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        let generator = &req.state.generator;
        let now = generator.now_ms();
        let providers: Vec<Value> = generator
            .providers()
            .iter()
            .map(|p| {
                let spec = &p.spec;
                let models: Vec<&Model> = generator.catalog().models_of(&spec.id).collect();
                let mut media: Vec<&str> = models.iter().map(|m| m.model_type.as_str()).collect();
                media.sort_unstable();
                media.dedup();
                // The SDK's vocabulary, and Tidegate's more precise one beside it.
                let (delivery, cancel, own_delivery, own_cancel) = match spec.kind {
                    ProviderKind::Local => ("synchronous", Value::Null, "direct", "worker_abort"),
                    ProviderKind::OpenaiImages => {
                        ("synchronous", Value::Null, "sync_response", "not_supported")
                    }
                    ProviderKind::HttpAsync => (
                        "polling",
                        json!("prediction_cancel_api"),
                        "polling",
                        "api_cancel",
                    ),
                };
                json!({
                    "provider_id": spec.id,
                    "provider_name": spec.name,
                    "provider_description": spec.description,
                    "provider_website": spec.website,
                    "provider_docs": spec.docs,
                    "provider_status": p.breaker.snapshot(now).status.as_str(),
                    "babysea_implementation": {
                        "delivery_method": delivery,
                        "cancel_method": cancel,
                        "webhook_verification": Value::Null,
                        "tidegate_delivery_method": own_delivery,
                        "tidegate_cancel_method": own_cancel,
                        "error_mapping": "bse_error_codes",
                        "cost_tracking": "per_generation_usd",
                        "schema_conversion": "unified_to_native",
                        "failover_strategy": "sequential_provider_chain",
                        "health_monitoring": "circuit_breaker",
                        "supported_media_types": media,
                        "supported_models_total": models.len(),
                    },
                })
            })
            .collect();
        Ok(V1Reply::ok(
            "Providers retrieved successfully",
            json!({ "providers_total": providers.len(), "providers": providers }),
        ))
    })
}

pub fn providers_health(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        let generator = &req.state.generator;
        let now = generator.now_ms();
        let snapshots: Vec<_> = generator
            .providers()
            .iter()
            .map(|p| (p.spec.id.as_str(), p.breaker.snapshot(now)))
            .collect();
        let healthy = snapshots
            .iter()
            .all(|(_, s)| s.status.as_str() != "degraded");
        let providers: Vec<Value> = snapshots
            .iter()
            .map(|(id, s)| {
                json!({
                    "provider": id,
                    "status": s.status.as_str(),
                    "failure_rate": s.failure_rate,
                    "window": {
                        "total_attempts": s.total_attempts,
                        "failures": s.failures,
                        "successes": s.successes,
                        "duration_seconds": s.window_seconds,
                    },
                })
            })
            .collect();
        Ok(V1Reply::ok(
            "Provider health retrieved successfully",
            json!({
                "service": "providers",
                "healthy": healthy,
                "providers_total": providers.len(),
                "providers": providers,
            }),
        ))
    })
}

pub fn models_health(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        let generator = &req.state.generator;
        let now = generator.now_ms();
        let mut healthy = true;
        let models: Vec<Value> = generator
            .catalog()
            .models
            .iter()
            .map(|m| {
                let providers: serde_json::Map<String, Value> = m
                    .providers
                    .iter()
                    .map(|mp| {
                        let available = generator
                            .provider(&mp.provider)
                            .is_some_and(|p| p.breaker.snapshot(now).status.as_str() != "degraded");
                        (
                            mp.provider.clone(),
                            json!({ "available": available, "raw_model_id": mp.model }),
                        )
                    })
                    .collect();
                healthy &= providers.values().any(|p| p["available"] == true);
                // A number, or absent for a model priced per resolution (whose prices are
                // under `model_pricing_by_resolution`).
                let mut model = json!({
                    "model_identifier": m.identifier,
                    "model_type": m.model_type.as_str(),
                    "providers": providers,
                });
                let pricing = m.pricing_json();
                let key = if pricing.is_number() {
                    "model_pricing"
                } else {
                    "model_pricing_by_resolution"
                };
                model[key] = pricing;
                model
            })
            .collect();
        Ok(V1Reply::ok(
            "Model health retrieved successfully",
            json!({
                "service": "models",
                "healthy": healthy,
                "models_total": models.len(),
                "models": models,
            }),
        ))
    })
}

fn latency_ms(d: std::time::Duration) -> Value {
    json!((d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0)
}

pub fn storage_health(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        let media = req.state.generator.media.clone();
        let started = Instant::now();
        let probe = tokio::task::spawn_blocking(move || media.probe())
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
        let mut data = json!({
            "service": "storage",
            "healthy": probe.is_ok(),
            "latency_ms": latency_ms(probe.as_ref().copied().unwrap_or_else(|_| started.elapsed())),
            "bucket": "media",
        });
        if let (Err(e), Some(obj)) = (probe, data.as_object_mut()) {
            obj.insert(
                "error".into(),
                format!("The media store probe failed: {e}").into(),
            );
        }
        Ok(V1Reply::ok("Storage health retrieved successfully", data))
    })
}

pub fn cache_health(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        let started = Instant::now();
        let probe = req
            .state
            .store
            .run(|db| crate::service::check::ready(db))
            .await;
        let mut data = json!({
            "service": "cache",
            "healthy": probe.is_ok(),
            "latency_ms": latency_ms(started.elapsed()),
            "engine": "sqlite",
        });
        if let (Err(e), Some(obj)) = (probe, data.as_object_mut()) {
            tracing::error!(error = %cause_chain(&e), "cache probe failed");
            obj.insert("error".into(), "The SQLite store did not answer.".into());
        }
        Ok(V1Reply::ok("Cache health retrieved successfully", data))
    })
}
