//! actix glue: route tables, middleware, error rendering. No business rules here.

pub(crate) mod admin;
pub(crate) mod api;
pub(crate) mod assets;
pub(crate) mod body_deadline;
pub(crate) mod envelope;
pub(crate) mod error;
pub(crate) mod listener;
pub(crate) mod metrics;
pub(crate) mod middleware;
pub(crate) mod openapi;
pub(crate) mod page_error;
pub(crate) mod pipeline;
mod probes;
pub(crate) mod query;
pub(crate) mod request_id;
pub(crate) mod reveal;
pub(crate) mod secret_scanning;
pub(crate) mod session;
pub(crate) mod state;
pub(crate) mod v1;

use actix_web::web;

/// Every route of the server. The /v1 operations are matched by the route table in `v1::routes`.
pub fn routes(cfg: &mut web::ServiceConfig, metrics_enabled: bool) {
    // Resources (not bare routes) so that a wrong method is a 405, not a 404. actix tries them in
    // order and the ones with path parameters are regular expressions, so /v1 comes first: the
    // busiest requests match on a plain prefix.
    cfg.service(web::resource("/healthz").get(probes::healthz))
        .service(web::resource("/v1/openapi.json").get(probes::openapi))
        // Everything else under /v1 goes to the firewall and the route table.
        .service(web::resource("/v1").to(v1::dispatch::dispatch))
        .service(web::scope("/v1").default_service(web::to(v1::dispatch::dispatch)))
        .service(web::resource("/readyz").get(probes::readyz))
        .service(web::resource("/media/{generation_id}/{file}").get(probes::media));
    if metrics_enabled {
        cfg.service(web::resource("/metrics").get(probes::metrics));
    }
    // Before the management API's scope, which would ask for a key and log the request.
    cfg.service(web::resource("/api/v1/openapi.json").get(probes::management_openapi));
    cfg.service(
        web::resource("/api/v1/secret-scanning/github")
            .app_data(web::PayloadConfig::new(secret_scanning::MAX_BODY_BYTES))
            .post(secret_scanning::github),
    );
    api::routes(cfg);
    admin::routes(cfg);
}
