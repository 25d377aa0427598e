//! The stylesheet and script, compiled in and served under a content hash so that browsers may
//! cache them for good.

use std::sync::LazyLock;

use actix_web::{HttpResponse, web};
use sha2::{Digest, Sha256};

use crate::domain::random::hex;

const CSS: &str = include_str!("../../static/app.css");
const JS: &str = include_str!("../../static/app.js");

/// The URLs of the assets, for templates.
#[derive(Clone, Debug)]
pub struct Assets {
    pub css: String,
    pub js: String,
}

fn versioned(stem: &str, ext: &str, body: &str) -> String {
    let hash = hex(&Sha256::digest(body.as_bytes()));
    format!("/static/{stem}.{}.{ext}", &hash[..12])
}

pub static ASSETS: LazyLock<Assets> = LazyLock::new(|| Assets {
    css: versioned("app", "css", CSS),
    js: versioned("app", "js", JS),
});

pub async fn serve(name: web::Path<String>) -> HttpResponse {
    let path = format!("/static/{name}");
    let (body, content_type) = if path == ASSETS.css {
        (CSS, "text/css; charset=utf-8")
    } else if path == ASSETS.js {
        (JS, "text/javascript; charset=utf-8")
    } else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("Not found\n");
    };
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "public, max-age=31536000, immutable"))
        .body(body)
}
