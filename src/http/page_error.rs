//! A page route's error as a page: in the layout, with a title, what went wrong and a way back.
//! The JSON envelope stays for the APIs (`/v1`, `/api/v1`) and the machine endpoints.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;

use crate::http::assets::{ASSETS, Assets};

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    assets: &'a Assets,
    status: u16,
    title: &'a str,
    message: &'a str,
}

/// Paths that answer people (the dashboard) rather than programs.
pub fn is_page_path(path: &str) -> bool {
    let machine = ["/v1", "/api/", "/healthz", "/readyz", "/metrics", "/media/"];
    !machine.iter().any(|prefix| path.starts_with(prefix))
}

fn title(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "The request could not be read",
        403 => "Not allowed",
        404 => "Not found",
        405 => "Not available this way",
        408 => "The form took too long to arrive",
        409 => "That could not be done",
        410 => "No longer available",
        413 => "Too large",
        429 => "Too many requests",
        502 => "The sign-in could not be completed",
        _ => "Something went wrong",
    }
}

/// The message a status stands for when nothing more precise is known.
pub fn message_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "The request could not be read. Reload the page and try again.",
        403 => "You are not allowed to do this.",
        404 => "There is no page at this address.",
        405 => "This page cannot be used this way.",
        408 => "The form took too long to arrive. Try again.",
        413 => "What was sent is larger than this server accepts.",
        429 => "Too many requests came from you in a short time. Wait a moment and try again.",
        _ => "The page could not be shown. The error was logged; try again, or tell your operator.",
    }
}

/// The error page for `status` saying `message`.
pub fn render(status: StatusCode, message: &str) -> HttpResponse {
    let page = ErrorPage {
        assets: &ASSETS,
        status: status.as_u16(),
        title: title(status),
        message,
    };
    match page.render() {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(e) => {
            tracing::error!(error = %crate::telemetry::cause_chain(&e), "error page failed");
            HttpResponse::build(status)
                .content_type("text/plain; charset=utf-8")
                .body(format!("{message}\n"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_apis_and_machine_endpoints_keep_their_own_answers() {
        for path in [
            "/v1/status",
            "/api/v1/api-keys",
            "/healthz",
            "/media/x/0.png",
        ] {
            assert!(!is_page_path(path), "{path}");
        }
        for path in ["/", "/keys/x", "/nope", "/instance", "/v2"] {
            assert!(is_page_path(path), "{path}");
        }
    }
}
