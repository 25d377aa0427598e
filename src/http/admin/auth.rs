//! Sign in and sign out. Failed attempts are limited per client IP (a block) and per e-mail
//! address (a growing delay), and every failure gets the same generic message.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::domain::random::base62_string;
use crate::http::assets::{ASSETS, Assets};
use crate::http::pipeline::Caller;
use crate::http::session::{AdminError, AdminSession, SESSION_COOKIE};
use crate::http::state::AppState;
use crate::service::ServiceError;
use crate::service::sessions;
use crate::service::sign_in::{self, SignInError, SignedIn};

const LOGIN_CSRF_COOKIE: &str = "tidegate_login";
/// A sign-in whose password was right and that waits for the second factor.
pub(super) const WAITING_COOKIE: &str = "tidegate_signin";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    assets: &'a Assets,
    csrf: &'a str,
    email: &'a str,
    error: Option<&'a str>,
    /// The single sign-on button's label, when it is configured.
    sso_label: Option<&'a str>,
    password_login: bool,
    /// Whether the page offers "Create an account" (`auth.allow_signup`).
    allow_signup: bool,
}

pub(super) fn cookie<'c>(
    req: &HttpRequest,
    name: &'c str,
    value: String,
    max_age_hours: i64,
) -> Cookie<'c> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(req.connection_info().scheme() == "https")
        .max_age(actix_web::cookie::time::Duration::hours(max_age_hours))
        .finish()
}

/// A form shown before anyone is signed in (sign-in, the second factor's code): its CSRF
/// token is bound to a short-lived cookie of its own, so other sites cannot post it.
pub(super) fn signed_out_form(
    req: &HttpRequest,
    token_cookie: &'static str,
    status: actix_web::http::StatusCode,
    render: impl FnOnce(&str) -> askama::Result<String>,
) -> Result<HttpResponse, AdminError> {
    let csrf = base62_string(32).map_err(|_| AdminError::Internal)?;
    let body = render(&csrf).map_err(|_| AdminError::Internal)?;
    Ok(HttpResponse::build(status)
        .cookie(cookie(req, token_cookie, csrf, 1))
        .content_type("text/html; charset=utf-8")
        .body(body))
}

/// Whether a signed-out form came back with the token of its cookie (compared in constant
/// time).
pub(super) fn token_matches(req: &HttpRequest, token_cookie: &str, sent: &str) -> bool {
    let expected = req
        .cookie(token_cookie)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(sent.as_bytes()))
}

fn login_page(
    req: &HttpRequest,
    state: &AppState,
    email: &str,
    error: Option<&str>,
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse, AdminError> {
    let oidc = &state.config.auth.oidc;
    signed_out_form(req, LOGIN_CSRF_COOKIE, status, |csrf| {
        LoginPage {
            assets: &ASSETS,
            csrf,
            email,
            error,
            sso_label: state.sso.is_some().then_some(oidc.button_label.as_str()),
            password_login: oidc.password_login,
            allow_signup: state.config.auth.allow_signup,
        }
        .render()
    })
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    login_page(&req, &state, "", None, actix_web::http::StatusCode::OK)
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    csrf: String,
}

pub async fn submit(
    req: HttpRequest,
    form: web::Form<LoginForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    use actix_web::http::StatusCode;
    if !state.config.auth.oidc.password_login {
        // docs/operator.md, "Single sign-on": the form is hidden and its answer refused.
        return Err(AdminError::Forbidden(
            "Signing in with a password is turned off here. Use the single sign-on button on the sign-in page.".into(),
        ));
    }
    let form = form.into_inner();
    if !token_matches(&req, LOGIN_CSRF_COOKIE, &form.csrf) {
        return login_page(
            &req,
            &state,
            &form.email,
            Some("The form expired. Please try again."),
            StatusCode::FORBIDDEN,
        );
    }
    let caller = Caller::new(&req, &state);
    let email_key = form.email.trim().to_lowercase();
    let now = caller.now;
    // A hard limit per address; per e-mail address a delay that grows with the failures, so
    // that nobody can keep its owner out (see `SignInGuard`).
    let wait = state
        .signin
        .check(caller.client_ip, &email_key, now)
        .await?;
    if let Some((wait, reason)) = wait {
        let message = format!("{reason} Try again in {}.", in_words(wait));
        let page = login_page(
            &req,
            &state,
            &form.email,
            Some(&message),
            StatusCode::TOO_MANY_REQUESTS,
        )?;
        return Ok(retry_after(page, wait));
    }
    let client = client(&req, &state, caller.client_ip);
    let hours = state.config.auth.session_hours;
    let (email, password) = (form.email.clone(), form.password);
    let result = state
        .store
        .run(move |c| {
            Ok::<_, ServiceError>(sign_in::sign_in(c, &email, &password, now, hours, &client))
        })
        .await?;
    match result {
        Ok(SignedIn::Open(token)) => {
            state.signin.succeeded(&email_key).await;
            Ok(HttpResponse::SeeOther()
                .cookie(cookie(&req, SESSION_COOKIE, token, i64::from(hours)))
                .insert_header((LOCATION, "/"))
                .finish())
        }
        // The password was right; the delay for this e-mail holds until the code is too.
        Ok(SignedIn::AwaitingCode(token)) => Ok(HttpResponse::SeeOther()
            .cookie(cookie(&req, WAITING_COOKIE, token, 1))
            .insert_header((LOCATION, "/login/code"))
            .finish()),
        Err(SignInError::BadCredentials) => {
            state.signin.failed(caller.client_ip, &email_key, now).await;
            login_page(
                &req,
                &state,
                &form.email,
                Some("The e-mail address or password is incorrect."),
                StatusCode::UNAUTHORIZED,
            )
        }
        Err(SignInError::Service(e)) => {
            tracing::error!(error = %crate::telemetry::cause_chain(&e), "sign-in failed");
            Err(AdminError::Internal)
        }
    }
}

/// Where a sign-in comes from: the address (hashed for the activity log, in clear for the
/// person's own sessions page) and the browser's self-description, cut to 200 characters.
pub fn client(req: &HttpRequest, state: &AppState, ip: std::net::IpAddr) -> sessions::Client {
    let user_agent = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(200).collect::<String>());
    sessions::Client {
        ip_hash: state.gate.ip_hasher.hash(ip),
        ip: ip.to_string(),
        user_agent,
    }
}

/// "12 seconds", "1 minute", "15 minutes".
/// `page` with the `Retry-After` of a refusal for `wait` seconds.
pub(super) fn retry_after(mut page: HttpResponse, wait: u64) -> HttpResponse {
    if let Ok(value) = wait.to_string().parse() {
        page.headers_mut()
            .insert(actix_web::http::header::RETRY_AFTER, value);
    }
    page
}

pub(super) fn in_words(seconds: u64) -> String {
    match seconds {
        1 => "1 second".to_owned(),
        s if s < 90 => format!("{s} seconds"),
        s => format!("{} minutes", s.div_ceil(60)),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

pub async fn logout(
    req: HttpRequest,
    session: AdminSession,
    form: web::Form<CsrfForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    session.check_csrf(&form.csrf)?;
    let id = session.0.id_hash.clone();
    state
        .store
        .run(move |db| sessions::sign_out(db, &id))
        .await?;
    let mut gone = cookie(&req, SESSION_COOKIE, String::new(), 0);
    gone.make_removal();
    Ok(HttpResponse::SeeOther()
        .cookie(gone)
        .insert_header((LOCATION, "/login"))
        .finish())
}

#[derive(Deserialize)]
pub struct WorkspaceForm {
    csrf: String,
    account_id: String,
}

/// The workspace switcher in the header.
pub async fn switch_workspace(
    session: AdminSession,
    form: web::Form<WorkspaceForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    session.check_csrf(&form.csrf)?;
    let form = form.into_inner();
    let switched = state
        .store
        .run(move |db| sessions::switch_workspace(db, &session.0, &form.account_id))
        .await?;
    if !switched {
        return Err(AdminError::Forbidden(
            "You are not a member of that workspace.".into(),
        ));
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((LOCATION, "/"))
        .finish())
}
