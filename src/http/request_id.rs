//! The id of each request: sent back as `X-Request-Id` and in every body, and on every log line
//! of the request.

use actix_web::{HttpMessage, HttpRequest};
use rand::RngExt;

/// `req_` + 32 lowercase hex characters.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

impl RequestId {
    pub fn generate() -> RequestId {
        let bytes: [u8; 16] = rand::rng().random();
        let mut id = String::with_capacity(36);
        id.push_str("req_");
        crate::domain::random::push_hex(&mut id, &bytes);
        RequestId(id)
    }

    pub fn of(req: &HttpRequest) -> String {
        req.extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_else(|| Self::generate().0)
    }
}
