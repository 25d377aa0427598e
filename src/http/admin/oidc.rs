//! Single sign-on through an OpenID provider, and the instance administrator's sign-in link
//! (docs/admin.md, "Sign-in"; docs/operator.md, "Single sign-on").
//!
//! `GET /login/oidc` sends the browser to the provider with a short-lived binding cookie
//! (`SameSite=Lax`, so that it comes back with the provider's redirect); `GET
//! /login/oidc/callback` opens the session. A refusal is a page in the layout; what the
//! provider did wrong goes to the log, without the code, the tokens or the client secret.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::auth::{client, cookie};
use crate::http::assets::{ASSETS, Assets};
use crate::http::page_error;
use crate::http::pipeline::Caller;
use crate::http::session::{AdminError, SESSION_COOKIE};
use crate::http::state::AppState;
use crate::service::oidc::{ATTEMPT_MINUTES, Callback, Refusal};
use crate::service::sign_in_link;

/// Binds a sign-in at the provider to the browser that began it.
const BINDING_COOKIE: &str = "tidegate_oidc";
const CALLBACK_PATH: &str = "/login/oidc/callback";

#[derive(Template)]
#[template(path = "signed_in.html")]
struct SignedInPage<'a> {
    assets: &'a Assets,
}

/// Where the provider sends the browser back: the configured public origin, else the one the
/// browser called.
fn redirect_uri(req: &HttpRequest, state: &AppState) -> String {
    match state.config.generation.public_origin() {
        Some(origin) => format!("{origin}{CALLBACK_PATH}"),
        None => {
            let info = req.connection_info();
            format!("{}://{}{CALLBACK_PATH}", info.scheme(), info.host())
        }
    }
}

fn binding_cookie<'c>(req: &HttpRequest, value: String, minutes: i64) -> Cookie<'c> {
    Cookie::build(BINDING_COOKIE, value)
        .path("/login/oidc")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(req.connection_info().scheme() == "https")
        .max_age(actix_web::cookie::time::Duration::minutes(minutes))
        .finish()
}

/// The page for a refused sign-in; the provider's fault is logged here, once.
fn refused(refusal: Refusal) -> Result<HttpResponse, AdminError> {
    let refusal = match refusal {
        Refusal::Service(e) => return Err(e.into()),
        other => other,
    };
    let status = match &refusal {
        Refusal::Provider(e) => {
            tracing::warn!(error = %e, "single sign-on failed at the identity provider");
            StatusCode::BAD_GATEWAY
        }
        Refusal::Denied(error) => {
            tracing::info!(error = %error, "the identity provider answered the sign-in with an error");
            StatusCode::FORBIDDEN
        }
        Refusal::UnknownAttempt => StatusCode::BAD_REQUEST,
        Refusal::NoVerifiedEmail | Refusal::UnknownUser(_) => StatusCode::FORBIDDEN,
        Refusal::Service(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    Ok(page_error::render(status, &refusal.to_string()))
}

/// The session cookie, and a page that goes on to the dashboard: a redirect would continue the
/// provider's cross-site navigation, with which a browser may withhold a `SameSite=Strict`
/// cookie (docs/decisions.md, "Admin pages").
fn signed_in(
    req: &HttpRequest,
    state: &AppState,
    token: String,
) -> Result<HttpResponse, AdminError> {
    let body = SignedInPage { assets: &ASSETS }.render().map_err(|e| {
        tracing::error!(error = %crate::telemetry::cause_chain(&e), "template failed");
        AdminError::Internal
    })?;
    let hours = i64::from(state.config.auth.session_hours);
    let mut gone = binding_cookie(req, String::new(), 0);
    gone.make_removal();
    Ok(HttpResponse::Ok()
        .cookie(cookie(req, SESSION_COOKIE, token, hours))
        .cookie(gone)
        .content_type("text/html; charset=utf-8")
        .body(body))
}

/// No e-mail address is known before the provider answers: the limits on failed sign-ins
/// (docs/admin.md, "Sign-in") count these attempts for the address alone.
const NO_EMAIL: &str = "";

/// An address blocked for failed sign-ins (docs/admin.md, "Sign-in") is refused here too.
async fn blocked(state: &AppState, caller: &Caller) -> Result<Option<HttpResponse>, AdminError> {
    let Some((wait, _)) = state
        .signin
        .check(caller.client_ip, NO_EMAIL, caller.now)
        .await?
    else {
        return Ok(None);
    };
    let mut page = page_error::render(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many failed sign-ins came from your address. Wait a while and try again.",
    );
    if let Ok(value) = wait.to_string().parse() {
        page.headers_mut()
            .insert(actix_web::http::header::RETRY_AFTER, value);
    }
    Ok(Some(page))
}

pub async fn start(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let Some(sso) = state.sso.as_deref() else {
        return Err(AdminError::not_found("page"));
    };
    if let Some(page) = blocked(&state, &Caller::new(&req, &state)).await? {
        return Ok(page);
    }
    let redirect = redirect_uri(&req, &state);
    match sso.begin(&state.store, &redirect, state.clock.now()).await {
        Ok(begun) => Ok(HttpResponse::SeeOther()
            .cookie(binding_cookie(&req, begun.binding, ATTEMPT_MINUTES))
            .insert_header((LOCATION, begun.url))
            .finish()),
        Err(refusal) => refused(refusal),
    }
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

pub async fn callback(
    req: HttpRequest,
    query: web::Query<CallbackQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let Some(sso) = state.sso.as_deref() else {
        return Err(AdminError::not_found("page"));
    };
    let query = query.into_inner();
    let caller = Caller::new(&req, &state);
    if let Some(page) = blocked(&state, &caller).await? {
        return Ok(page);
    }
    let callback = Callback {
        state: query.state,
        code: query.code,
        error: query.error,
        binding: req.cookie(BINDING_COOKIE).map(|c| c.value().to_owned()),
    };
    let client = client(&req, &state, caller.client_ip);
    let hours = state.config.auth.session_hours;
    match sso
        .complete(&state.store, callback, client, caller.now, hours)
        .await
    {
        Ok(token) => signed_in(&req, &state, token),
        Err(refusal) => {
            // A callback nobody began here counts as a failed sign-in of its address.
            if matches!(refusal, Refusal::UnknownAttempt) {
                state
                    .signin
                    .failed(caller.client_ip, NO_EMAIL, caller.now)
                    .await;
            }
            refused(refusal)
        }
    }
}

/// `GET /login/link/{token}`: a link from `tidegate users sign-in-link`, which opens once.
pub async fn link(
    req: HttpRequest,
    token: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let caller = Caller::new(&req, &state);
    let client = client(&req, &state, caller.client_ip);
    let (hours, now) = (state.config.auth.session_hours, caller.now);
    let token = token.into_inner();
    let opened = state
        .store
        .run(move |db| sign_in_link::redeem(db, &token, &client, now, hours))
        .await?;
    match opened {
        Some(session) => signed_in(&req, &state, session),
        None => Err(AdminError::Gone(
            "This sign-in link is unknown, was already used or has expired. Make a new one with tidegate users sign-in-link.",
        )),
    }
}
