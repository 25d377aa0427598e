//! The admin pages (docs/admin.md): server-rendered with askama, one template per page, security
//! headers on every response.

mod actions;
mod activity;
mod auth;
mod chart;
mod create;
mod dashboard;
mod detail;
mod edit;
mod form;
mod generations;
mod instance;
mod key_policy;
mod keys;
mod log_detail;
mod logs;
mod members;
mod notifications;
mod oidc;
mod password;
mod refusals;
mod security;
mod settings;
mod sign_in_code;
mod sign_up;
mod usage;
mod webhooks;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{Error, HttpResponse, web};
use askama::Template;

use crate::http::session::AdminError;

const SECURITY_HEADERS: [(&str, &str); 5] = [
    (
        "content-security-policy",
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("x-frame-options", "DENY"),
    ("cache-control", "no-store"),
];

pub fn routes(cfg: &mut web::ServiceConfig) {
    // Each page is its own resource (an empty-prefix scope would swallow every other path).
    cfg.service(web::resource("/static/{name}").get(crate::http::assets::serve))
        .service(web::resource("/favicon.ico").get(crate::http::assets::favicon))
        .service(page("/").get(dashboard::page))
        .service(page("/login").get(auth::show).post(auth::submit))
        .service(page("/signup").get(sign_up::show).post(sign_up::submit))
        .service(
            page("/login/code")
                .get(sign_in_code::show)
                .post(sign_in_code::submit),
        )
        .service(page("/login/oidc").get(oidc::start))
        .service(page("/login/oidc/callback").get(oidc::callback))
        .service(page("/login/link/{token}").get(oidc::link))
        .service(page("/logout").post(auth::logout))
        .service(page("/workspace").post(auth::switch_workspace))
        .service(page("/password").get(password::show).post(password::change))
        .service(page("/security").get(security::show))
        .service(
            page("/security/two-factor")
                .get(security::setup)
                .post(security::confirm),
        )
        .service(page("/security/two-factor/{action}").post(security::act))
        .service(page("/security/sessions/end").post(security::end))
        .service(page("/keys").get(keys::list))
        .service(page("/keys/new").get(create::show).post(create::submit))
        .service(page("/logs").get(logs::page))
        .service(page("/generations").get(generations::list))
        .service(page("/generations/{id}").get(generations::show))
        .service(page("/activity").get(activity::page))
        .service(page("/activity/export").get(activity::export))
        .service(page("/usage").get(usage::page))
        .service(page("/members").get(members::page))
        .service(page("/settings").get(settings::page))
        .service(page("/notifications").get(notifications::page))
        .service(page("/notifications/{form}").post(notifications::save))
        .service(page("/webhooks").get(webhooks::list).post(webhooks::add))
        .service(page("/webhooks/secret/{token}").get(webhooks::secret))
        .service(page("/webhooks/{id}").get(webhooks::show))
        .service(page("/webhooks/{id}/{action}").post(webhooks::act))
        .service(page("/instance").get(instance::page))
        .service(page("/instance/key-policy").post(key_policy::submit_instance))
        .service(page("/instance/{what}").post(instance::create))
        .service(page("/settings/key-policy").post(key_policy::submit))
        .service(page("/settings/test-email").post(settings::test_mail))
        .service(page("/settings/leak-action").post(settings::leak_action))
        .service(page("/settings/{action}").post(settings::change))
        .service(page("/members/{user_id}/{action}").post(members::act))
        .service(page("/logs/export/{format}").get(logs::export))
        .service(page("/logs/{id}").get(log_detail::show))
        .service(page("/keys/created/{token}").get(create::created))
        .service(page("/keys/{id}").get(detail::show))
        .service(page("/keys/{id}/edit").get(edit::show).post(edit::save))
        .service(
            page("/keys/{id}/{action}")
                .get(actions::confirm)
                .post(actions::perform),
        );
}

/// A rendered page; a template failure is logged and answers 500.
fn render_page(page: &impl Template) -> Result<HttpResponse, AdminError> {
    render_page_with(StatusCode::OK, page)
}

/// A rendered page with another status than 200 (a form sent back with its errors).
fn render_page_with(status: StatusCode, page: &impl Template) -> Result<HttpResponse, AdminError> {
    let body = page.render().map_err(|e| {
        tracing::error!(error = %crate::telemetry::cause_chain(&e), "template failed");
        AdminError::Internal
    })?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body))
}

/// A page resource with the security headers.
fn page(
    path: &str,
) -> actix_web::Resource<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    web::resource(path).wrap(from_fn(security_headers))
}

async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let mut res = next.call(req).await?;
    for (name, value) in SECURITY_HEADERS {
        res.headers_mut().insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    Ok(res)
}
