//! Extractors of the management API: the authenticated key, and JSON bodies whose errors name
//! the failing field.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use serde::de::DeserializeOwned;

use super::operations::{QueryParam, Value};
use crate::domain::Scope;
use crate::http::error::{ApiError, ErrorCode};
use crate::http::pipeline::{Caller, Lookup, authenticate, stash_audit};
use crate::http::state::AppState;
use subtle::ConstantTimeEq;

use crate::domain::account::Role;
use crate::domain::log::AddressView;
use crate::http::session::SESSION_COOKIE;
use crate::service::{Actor, sessions};

type LocalFuture<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

/// Who may use the management API: a key with the scope the request needs (`required_scope`), or
/// a dashboard session (docs/keys.md, "Management API") whose role allows the change and which
/// sends its CSRF token in `X-CSRF-Token` on every request that changes something.
pub struct ApiPrincipal {
    pub account_id: String,
    pub actor: Actor,
    pub caller: Caller,
    /// How the caller reads client addresses in the logs: a key (which only owners make) in
    /// clear, a session as its role allows.
    pub addresses: AddressView,
}

impl ApiPrincipal {
    pub fn account_id(&self) -> &str {
        &self.account_id
    }
}

pub const CSRF_HEADER: &str = "x-csrf-token";

/// The outcome of authentication, worked out by the scope's middleware before the handler's
/// extractors run (so a bad body can never answer before a bad key does).
struct Resolved(Result<ApiPrincipal, ApiError>);

impl ApiPrincipal {
    /// Authenticates the request (key or session) and keeps the outcome for the extractor.
    pub async fn resolve(req: &HttpRequest) {
        let outcome = match req.app_data::<web::Data<AppState>>().cloned() {
            None => Err(ApiError::internal()),
            Some(state) => {
                let caller = Caller::new(req, &state);
                let has_key = req
                    .headers()
                    .contains_key(actix_web::http::header::AUTHORIZATION);
                match req.cookie(SESSION_COOKIE).filter(|_| !has_key) {
                    Some(cookie) => {
                        by_session(req, &state, caller, cookie.value().to_owned()).await
                    }
                    None => by_key(req, &state, caller).await,
                }
            }
        };
        req.extensions_mut().insert(Resolved(outcome));
    }
}

impl FromRequest for ApiPrincipal {
    type Error = ApiError;
    type Future = std::future::Ready<Result<ApiPrincipal, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let resolved = req.extensions_mut().remove::<Resolved>();
        std::future::ready(resolved.map_or_else(|| Err(ApiError::internal()), |r| r.0))
    }
}

/// What the request needs: reading or changing keys (and logs), webhooks, or reading activity.
fn required_scope(req: &HttpRequest) -> Scope {
    scope_for(req.path(), req.method())
}

/// The scope a request to `path` with `method` needs, whether or not it is an operation.
pub fn scope_for(path: &str, method: &Method) -> Scope {
    if path == "/api/v1/activity" || path.starts_with("/api/v1/activity/") {
        return Scope::ActivityRead;
    }
    let webhooks = path.starts_with("/api/v1/webhooks");
    match (webhooks, method == Method::GET) {
        (false, true) => Scope::KeysRead,
        (false, false) => Scope::KeysWrite,
        (true, true) => Scope::WebhooksRead,
        (true, false) => Scope::WebhooksWrite,
    }
}

async fn by_key(
    req: &HttpRequest,
    state: &AppState,
    caller: Caller,
) -> Result<ApiPrincipal, ApiError> {
    let scope = required_scope(req);
    match authenticate(req, state, &caller, scope, Lookup::Fresh, None).await {
        Ok((principal, audit)) => {
            stash_audit(req, audit, caller.clone());
            let actor = Actor::Key {
                prefix: principal.key.key_prefix.clone(),
                ip_hash: Some(state.gate.ip_hasher.hash(caller.client_ip)),
            };
            Ok(ApiPrincipal {
                account_id: principal.key.account_id.clone(),
                actor,
                caller,
                addresses: AddressView::Clear,
            })
        }
        Err((error, audit)) => {
            if let Some(audit) = audit {
                stash_audit(req, audit, caller);
            }
            Err(error)
        }
    }
}

async fn by_session(
    req: &HttpRequest,
    state: &AppState,
    caller: Caller,
    token: String,
) -> Result<ApiPrincipal, ApiError> {
    let now = caller.now;
    let session = state
        .store
        .run(move |db| sessions::load(db, &token, now))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::AuthenticationFailed,
                "The session has expired; sign in again.",
            )
        })?;
    let denied = |message: &'static str| ApiError::new(ErrorCode::InsufficientPermissions, message);
    if session.must_change_password {
        return Err(denied(
            "Choose a new password on the dashboard before using this session.",
        ));
    }
    if session.must_enrol {
        return Err(denied(
            "Set up two-step sign-in on the dashboard before using this session.",
        ));
    }
    let account_id = session
        .account_id
        .clone()
        .ok_or_else(|| denied("No workspace is selected."))?;
    if req.method() != Method::GET {
        let sent = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let expected = session.csrf_token.as_bytes();
        if sent.len() != expected.len() || !bool::from(sent.as_bytes().ct_eq(expected)) {
            return Err(denied("The X-CSRF-Token header is missing or wrong."));
        }
        if !session.role.is_some_and(Role::is_owner) {
            return Err(denied(
                "Only owners of this workspace can change its keys and webhooks.",
            ));
        }
    }
    let actor = session.actor(Some(state.gate.ip_hasher.hash(caller.client_ip)));
    Ok(ApiPrincipal {
        account_id,
        actor,
        caller,
        addresses: session.address_view(),
    })
}

/// A JSON body; a bad one answers 400 BSE2001 with `details.field` (and `details.index`).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalFuture<ApiJson<T>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        json_body(req, payload, None)
    }
}

/// A JSON body that may be left out entirely (then `T::default()`), but is checked when sent.
pub struct ApiJsonOrEmpty<T>(pub T);

impl<T: DeserializeOwned + Default + 'static> FromRequest for ApiJsonOrEmpty<T> {
    type Error = ApiError;
    type Future = LocalFuture<ApiJsonOrEmpty<T>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = json_body(req, payload, Some(T::default));
        Box::pin(async move { body.await.map(|ApiJson(t)| ApiJsonOrEmpty(t)) })
    }
}

fn json_body<T: DeserializeOwned + 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
    when_empty: Option<fn() -> T>,
) -> LocalFuture<ApiJson<T>> {
    let json = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        });
    let bytes = web::Bytes::from_request(req, payload);
    Box::pin(async move {
        let bytes = bytes.await.map_err(|e| {
            let late = e
                .as_error::<actix_web::error::PayloadError>()
                .is_some_and(crate::http::body_deadline::is_too_slow);
            if late {
                ApiError::body_too_slow()
            } else {
                ApiError::payload_too_large()
            }
        })?;
        if let (true, Some(default)) = (bytes.is_empty(), when_empty) {
            return Ok(ApiJson(default()));
        }
        if !json {
            return Err(ApiError::invalid(
                "body",
                "The body must be JSON (Content-Type: application/json).",
            ));
        }
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(&mut de)
            .map(ApiJson)
            .map_err(|e| body_error(&e))
    })
}

fn body_error(e: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    use serde_path_to_error::Segment;
    let inner = e.inner().to_string();
    let mut field: Option<String> = None;
    let mut index: Option<usize> = None;
    for segment in e.path().iter() {
        match segment {
            Segment::Map { key } if field.is_none() => field = Some(key.clone()),
            Segment::Seq { index: i } if index.is_none() => index = Some(*i),
            _ => {}
        }
    }
    // serde names a missing or unknown field only in its message.
    let named = |marker: &str| {
        inner
            .split(marker)
            .nth(1)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned)
    };
    let field = field
        .or_else(|| named("missing field `"))
        .or_else(|| named("unknown field `"))
        .unwrap_or_else(|| "body".to_owned());
    let error = ApiError::invalid(&field, format!("Invalid request body: {inner}"));
    match index {
        Some(i) => error.detail("index", i),
        None => error,
    }
}

/// Query parameters checked against the ones an operation accepts (`operations`).
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(req: &HttpRequest, accepted: &[QueryParam]) -> Result<Params, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
            .map_err(|_| ApiError::invalid("query", "The query string is malformed."))?;
        if let Some((name, _)) = pairs
            .iter()
            .find(|(n, _)| !accepted.iter().any(|p| p.name == n))
        {
            return Err(ApiError::invalid(
                name,
                format!("Unknown query parameter {name:?}."),
            ));
        }
        Ok(Params(pairs))
    }

    /// The last non-empty value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// A whole number within the parameter's range, or its default when left out.
    pub fn whole(&self, p: &QueryParam) -> Result<i64, ApiError> {
        let (default, range) = match p.value {
            Value::Whole { default, min, max } => (default, min..=max),
            _ => (0, i64::MIN..=i64::MAX),
        };
        crate::http::query::bounded_int(p.name, self.get(p.name), default, range)
    }

    /// A cursor: a whole number from 1, if one was sent.
    pub fn cursor(&self, p: &QueryParam) -> Result<Option<i64>, ApiError> {
        self.get(p.name)
            .map(|raw| crate::http::query::bounded_int(p.name, Some(raw), 0, 1..=i64::MAX))
            .transpose()
    }
}
