//! The stylesheet, scripts and mark, compiled in and served under a content hash so that
//! browsers may cache them for good.

use std::sync::LazyLock;

use actix_web::{HttpResponse, web};
use sha2::{Digest, Sha256};

use crate::domain::random::hex;

const CSS: &str = include_str!("../../static/app.css");
const JS: &str = include_str!("../../static/app.js");
const THEME: &str = include_str!("../../static/theme.js");
const MARK: &str = include_str!("../../static/mark.svg");

const CSS_TYPE: &str = "text/css; charset=utf-8";
const JS_TYPE: &str = "text/javascript; charset=utf-8";
const SVG_TYPE: &str = "image/svg+xml";

/// The URLs of the assets, for templates.
#[derive(Clone, Debug)]
pub struct Assets {
    pub css: String,
    pub js: String,
    /// Run before the page is drawn: applies the theme the person chose.
    pub theme: String,
    /// The mark, also the pages' icon.
    pub mark: String,
}

fn versioned(stem: &str, ext: &str, body: &str) -> String {
    let hash = hex(&Sha256::digest(body.as_bytes()));
    format!("/static/{stem}.{}.{ext}", &hash[..12])
}

pub static ASSETS: LazyLock<Assets> = LazyLock::new(|| Assets {
    css: versioned("app", "css", CSS),
    js: versioned("app", "js", JS),
    theme: versioned("theme", "js", THEME),
    mark: versioned("mark", "svg", MARK),
});

pub async fn serve(name: web::Path<String>) -> HttpResponse {
    let path = format!("/static/{name}");
    let found = [
        (&ASSETS.css, CSS, CSS_TYPE),
        (&ASSETS.js, JS, JS_TYPE),
        (&ASSETS.theme, THEME, JS_TYPE),
        (&ASSETS.mark, MARK, SVG_TYPE),
    ]
    .into_iter()
    .find(|(url, _, _)| **url == path);
    let Some((_, body, content_type)) = found else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("Not found\n");
    };
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "public, max-age=31536000, immutable"))
        .body(body)
}

/// `/favicon.ico`, which browsers and tools ask for whatever the page names: the mark.
pub async fn favicon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(SVG_TYPE)
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(MARK)
}
