//! The schema firewall: a request that is not one of the 17 operations gets a bare 403 before any
//! authentication (docs/api.md, "Schema firewall").

use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use actix_web::{HttpRequest, HttpResponse};

use super::operation::{Operation, QueryType};
use super::routes::OPERATIONS;
use crate::service::keys::is_model_identifier;

/// An operation matched with its path parameters and query.
pub struct Matched {
    pub op: &'static Operation,
    pub generation_id: Option<String>,
    pub model_identifier: Option<String>,
    pub query: Vec<(String, String)>,
}

pub fn refusal() -> HttpResponse {
    HttpResponse::Forbidden()
        .content_type("text/plain; charset=utf-8")
        .body("Forbidden\n")
}

pub fn check(req: &HttpRequest) -> Option<Matched> {
    let path = req.path();
    let (op, generation_id, model_identifier) = OPERATIONS
        .iter()
        .filter(|op| op.method == req.method())
        .find_map(|op| {
            let (g, m) = match_path(op.template, path)?;
            Some((op, g, m))
        })?;
    let query = parse_query(op, req.query_string())?;
    if op.method == actix_web::http::Method::POST && !json_body_allowed(req) {
        return None;
    }
    Some(Matched {
        op,
        generation_id,
        model_identifier,
        query,
    })
}

/// Path parameters of `template` in `path`, if it matches.
pub fn match_path(template: &str, path: &str) -> Option<(Option<String>, Option<String>)> {
    let mut parts = path.strip_prefix('/')?.split('/');
    let mut generation_id = None;
    let mut model_identifier = None;
    for seg in template.trim_start_matches('/').split('/') {
        match seg {
            "{generation_id}" => {
                let p = parts.next()?;
                uuid::Uuid::try_parse(p).ok().filter(|_| p.len() == 36)?;
                generation_id = Some(p.to_ascii_lowercase());
            }
            "{model_identifier}" => {
                let id = format!("{}/{}", parts.next()?, parts.next()?);
                if !is_model_identifier(&id) {
                    return None;
                }
                model_identifier = Some(id);
            }
            literal => {
                if parts.next()? != literal {
                    return None;
                }
            }
        }
    }
    parts
        .next()
        .is_none()
        .then_some((generation_id, model_identifier))
}

fn parse_query(op: &Operation, raw: &str) -> Option<Vec<(String, String)>> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw).ok()?;
    for (name, value) in &pairs {
        let param = op.query.iter().find(|p| p.name == name)?;
        let ok = match param.ty {
            QueryType::Integer => value.parse::<i64>().is_ok(),
            QueryType::Number => value.parse::<f64>().is_ok_and(f64::is_finite),
            QueryType::Boolean => value == "true" || value == "false",
            QueryType::String => true,
        };
        if !ok {
            return None;
        }
    }
    Some(pairs)
}

/// A POST may carry a JSON body, or none at all (the SDK sends no Content-Type without a body).
fn json_body_allowed(req: &HttpRequest) -> bool {
    match req.headers().get(CONTENT_TYPE) {
        Some(ct) => ct
            .to_str()
            .ok()
            .and_then(|ct| ct.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json")),
        None => {
            let length = req
                .headers()
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok());
            !req.headers().contains_key(TRANSFER_ENCODING) && matches!(length, None | Some("0"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_their_templates_and_shapes() {
        let gid = "0b8f1d3e-2c4a-4e5f-9a7b-1c2d3e4f5a6b";
        assert!(match_path("/v1/status", "/v1/status").is_some());
        assert!(match_path("/v1/status", "/v1/status/").is_none());
        assert!(match_path("/v1/status", "/v1/statuses").is_none());
        let (g, _) =
            match_path("/v1/content/{generation_id}", &format!("/v1/content/{gid}")).unwrap();
        assert_eq!(g.as_deref(), Some(gid));
        assert!(match_path("/v1/content/{generation_id}", "/v1/content/not-a-uuid").is_none());
        let (_, m) = match_path(
            "/v1/estimate/{model_identifier}",
            "/v1/estimate/local/flux-lite",
        )
        .unwrap();
        assert_eq!(m.as_deref(), Some("local/flux-lite"));
        assert!(match_path("/v1/estimate/{model_identifier}", "/v1/estimate/local").is_none());
        assert!(match_path("/v1/estimate/{model_identifier}", "/v1/estimate/Local/x").is_none());
        assert!(match_path("/v1/estimate/{model_identifier}", "/v1/estimate/a/b/c").is_none());
    }
}
