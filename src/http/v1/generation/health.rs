//! Health of the providers, the models, the media storage and the key cache.

use std::time::Instant;

use serde_json::{Value, json};

use crate::http::v1::handlers::{V1Reply, V1Request};
use crate::http::v1::routes::HandlerFuture;
use crate::service::cause_chain;

pub fn providers_health(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        let roster = &req.state.roster;
        let now = roster.now_ms();
        let snapshots: Vec<_> = roster
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
        let roster = &req.state.roster;
        let now = roster.now_ms();
        let mut healthy = true;
        let models: Vec<Value> = roster
            .catalog()
            .models
            .iter()
            .map(|m| {
                let providers: serde_json::Map<String, Value> = m
                    .providers
                    .iter()
                    .map(|mp| {
                        let available = roster
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
        let media = req.state.media.clone();
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
        let probe = req.state.store.run(crate::service::check::ready).await;
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
