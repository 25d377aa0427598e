//! The answers outside the APIs and the pages: liveness and readiness, the two OpenAPI
//! documents, the generated media and the metrics.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use actix_web::{HttpRequest, HttpResponse, web};

use super::error;
use super::state::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"status":"ok"}"#)
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let probe = state.store.run(crate::service::check::ready).await;
    match probe {
        Ok(_) => HttpResponse::Ok()
            .content_type("application/json")
            .body(r#"{"status":"ready"}"#),
        Err(e) => {
            tracing::warn!(error = %crate::service::cause_chain(&e), "readiness probe failed");
            HttpResponse::ServiceUnavailable()
                .content_type("application/json")
                .body(r#"{"status":"unavailable"}"#)
        }
    }
}

/// A generated file. The generation id is a random UUID, so the URL itself is the capability.
/// Byte ranges are served, so players can seek.
pub async fn media(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, error::ApiError> {
    let (id, file) = path.into_inner();
    let not_found =
        || error::ApiError::new(error::ErrorCode::ResourceNotFound, "No such media file.");
    let media = state.media.clone();
    // The content type comes from the extension, which the store itself chose.
    let named = web::block(move || media.file(&id, &file).map(actix_files::NamedFile::open))
        .await
        .ok()
        .flatten()
        .and_then(Result::ok)
        .ok_or_else(not_found)?
        .use_last_modified(true);
    let mut res = named.into_response(&req);
    res.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("private, max-age=86400"),
    );
    res.headers_mut().insert(
        actix_web::http::header::X_CONTENT_TYPE_OPTIONS,
        actix_web::http::header::HeaderValue::from_static("nosniff"),
    );
    Ok(res)
}

pub async fn openapi(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.openapi.clone())
}

pub async fn management_openapi(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.management_openapi.clone())
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let mut text = state.metrics.render();
    let log = state.gate.log_stats();
    for (name, help, counter) in [
        (
            "tidegate_request_log_commits_total",
            "Transactions committed by the request-log writer.",
            &log.commits,
        ),
        (
            "tidegate_request_log_rows_total",
            "Request-log rows committed.",
            &log.rows,
        ),
        (
            "tidegate_generation_store_retries_total",
            "Writes of a generation's state that failed and were tried again.",
            &state.generation_store_retries,
        ),
    ] {
        let n = counter.load(Ordering::Relaxed);
        let _ = writeln!(
            text,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {n}"
        );
    }
    for (name, help, histogram) in [
        (
            "tidegate_request_log_row_wait_seconds",
            "From a row's arrival at the log writer to its outcome.",
            &log.row_wait,
        ),
        (
            "tidegate_request_log_commit_seconds",
            "One request-log transaction, from its start to its commit.",
            &log.commit,
        ),
        (
            "tidegate_request_log_relay_wake_seconds",
            "From a group's outcomes being sent to an HTTP worker to their arrival.",
            &log.relay_wake,
        ),
        (
            "tidegate_wal_checkpoint_passive_seconds",
            "Passive WAL checkpoint rounds.",
            &log.checkpoint_passive,
        ),
        (
            "tidegate_wal_checkpoint_restart_seconds",
            "RESTART WAL checkpoints, which hold writers off while they run.",
            &log.checkpoint_restart,
        ),
    ] {
        histogram.render(name, help, &mut text);
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(text)
}
