//! What a /v1 handler receives (the request, authenticated and scope-checked, with what the
//! dispatcher read of it) and what it answers with.

use actix_web::web;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::domain::{Region, Timestamp};
use crate::http::envelope::Page;
use crate::http::state::AppState;
use crate::service::auth::Principal;

pub struct V1Request {
    pub state: web::Data<AppState>,
    pub principal: Principal,
    pub request_id: String,
    pub now: Timestamp,
    pub region: Region,
    pub generation_id: Option<String>,
    pub model_identifier: Option<String>,
    pub query: Vec<(String, String)>,
    pub body: web::Bytes,
    /// The request itself, for what only some routes read (headers, origin).
    pub http: actix_web::HttpRequest,
}

impl V1Request {
    /// The `Idempotency-Key` header; `Some("")` when it is not valid UTF-8.
    pub fn idempotency_key(&self) -> Option<&str> {
        self.http
            .headers()
            .get("idempotency-key")
            .map(|v| v.to_str().unwrap_or_default())
    }

    /// `scheme://host` for absolute media URLs: the configured public URL, else what the client
    /// called.
    pub fn origin(&self) -> String {
        if let Some(url) = self.state.config.generation.public_origin() {
            return url.to_owned();
        }
        let info = self.http.connection_info();
        format!("{}://{}", info.scheme(), info.host())
    }

    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

pub struct V1Reply {
    pub message: &'static str,
    /// `data`, serialized once, where the handler built it.
    pub data: Box<RawValue>,
    pub page: Option<Page>,
    /// A stored response sent again as it was (an idempotent replay).
    pub replay: Option<Vec<u8>>,
}

impl V1Reply {
    pub fn ok(message: &'static str, data: impl Serialize) -> V1Reply {
        // A `Value` or a plain struct cannot fail to serialize; should one ever, the error is
        // logged and `data` is null.
        let data = serde_json::value::to_raw_value(&data).unwrap_or_else(|e| {
            tracing::error!(error = %crate::telemetry::cause_chain(&e), "response data could not be serialized");
            RawValue::NULL.to_owned()
        });
        V1Reply {
            message,
            data,
            page: None,
            replay: None,
        }
    }

    pub fn page(message: &'static str, data: impl Serialize, page: Page) -> V1Reply {
        V1Reply {
            page: Some(page),
            ..V1Reply::ok(message, data)
        }
    }

    pub fn replayed(body: Vec<u8>) -> V1Reply {
        V1Reply {
            replay: Some(body),
            ..V1Reply::ok("", ())
        }
    }
}
