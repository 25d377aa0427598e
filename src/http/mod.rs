//! actix glue: route tables, middleware, error rendering. No business rules here.

pub mod admin;
pub mod api;
pub mod body_deadline;
pub mod envelope;
pub mod error;
pub mod listener;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod pipeline;
pub mod query;
pub mod reveal;
pub mod session;
pub mod state;
pub mod v1;

use actix_web::{HttpRequest, HttpResponse, web};

use self::state::AppState;

/// Every route of the server. The /v1 operations are matched by the route table in `v1::routes`.
pub fn routes(cfg: &mut web::ServiceConfig, metrics_enabled: bool) {
    // Resources (not bare routes) so that a wrong method is a 405, not a 404. actix tries them in
    // order and the ones with path parameters are regular expressions, so /v1 comes first: the
    // busiest requests match on a plain prefix.
    cfg.service(web::resource("/healthz").get(healthz))
        .service(web::resource("/v1/openapi.json").get(openapi))
        // Everything else under /v1 goes to the firewall and the route table.
        .service(web::resource("/v1").to(v1::dispatch::dispatch))
        .service(web::scope("/v1").default_service(web::to(v1::dispatch::dispatch)))
        .service(web::resource("/readyz").get(readyz))
        .service(web::resource("/media/{generation_id}/{file}").get(media));
    if metrics_enabled {
        cfg.service(web::resource("/metrics").get(metrics::metrics));
    }
    // Before the management API's scope, which would ask for a key and log the request.
    cfg.service(web::resource("/api/v1/openapi.json").get(management_openapi));
    api::routes(cfg);
    admin::routes(cfg);
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"status":"ok"}"#)
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
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
async fn media(
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

async fn openapi(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.openapi.clone())
}

async fn management_openapi(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.management_openapi.clone())
}
