//! Health of the providers, the models, the media storage and the key cache.

use std::time::Instant;

use crate::http::v1::operation::HandlerFuture;
use crate::http::v1::request::{V1Reply, V1Request};
use crate::service::cause_chain;
use crate::wire::health::{CacheHealth, ModelsHealth, ProvidersHealth, StorageHealth};

pub fn providers_health(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        Ok(V1Reply::ok(
            "Provider health retrieved successfully",
            ProvidersHealth::of(&req.state.roster),
        ))
    })
}

pub fn models_health(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        Ok(V1Reply::ok(
            "Model health retrieved successfully",
            ModelsHealth::of(&req.state.roster),
        ))
    })
}

pub fn storage_health(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        let media = req.state.media.clone();
        let started = Instant::now();
        let probe = tokio::task::spawn_blocking(move || media.probe())
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
        let data = match probe {
            Ok(took) => StorageHealth::of(took, None),
            Err(e) => StorageHealth::of(started.elapsed(), Some(e)),
        };
        Ok(V1Reply::ok("Storage health retrieved successfully", data))
    })
}

pub fn cache_health(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        let started = Instant::now();
        let probe = req.state.store.run(crate::service::check::ready).await;
        if let Err(e) = &probe {
            tracing::error!(error = %cause_chain(e), "cache probe failed");
        }
        Ok(V1Reply::ok(
            "Cache health retrieved successfully",
            CacheHealth::of(started.elapsed(), probe.is_ok()),
        ))
    })
}
