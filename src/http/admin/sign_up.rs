//! "Create an account" (`GET`/`POST /signup`), only where `auth.allow_signup` is on and
//! passwords may sign in: a person chooses their e-mail, password and workspace name, and is
//! signed in as the primary owner of that new workspace. Every attempt from an address counts
//! against its sign-in limit, so one address cannot make workspaces without end.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::auth::{client, cookie, in_words, retry_after, signed_out_form, token_matches};
use crate::http::assets::{ASSETS, Assets};
use crate::http::pipeline::Caller;
use crate::http::session::{AdminError, SESSION_COOKIE};
use crate::http::state::AppState;
use crate::service::ServiceError;
use crate::service::sign_in::{SignUp, sign_up};

const SIGNUP_CSRF_COOKIE: &str = "tidegate_signup";

#[derive(Template)]
#[template(path = "sign_up.html")]
struct SignUpPage<'a> {
    assets: &'a Assets,
    csrf: &'a str,
    workspace: &'a str,
    email: &'a str,
    /// The field in error ("workspace", "email", "password", "confirm_password") and why.
    error: Option<(&'a str, String)>,
    /// Why the form as a whole was refused (an expired form, too many attempts).
    refusal: Option<&'a str>,
}

impl SignUpPage<'_> {
    fn error_for(&self, field: &str) -> Option<&str> {
        super::form::error_for(&self.error, field)
    }
}

#[derive(Default, Deserialize)]
pub struct SignUpForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    workspace: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm_password: String,
}

/// Sign-up is there only where the operator turned it on and passwords may sign in.
fn open(state: &AppState) -> Result<(), AdminError> {
    let auth = &state.config.auth;
    if auth.allow_signup && auth.oidc.password_login {
        Ok(())
    } else {
        Err(AdminError::not_found("page"))
    }
}

fn sign_up_page(
    req: &HttpRequest,
    form: &SignUpForm,
    error: Option<(&str, String)>,
    refusal: Option<&str>,
    status: StatusCode,
) -> Result<HttpResponse, AdminError> {
    signed_out_form(req, SIGNUP_CSRF_COOKIE, status, |csrf| {
        SignUpPage {
            assets: &ASSETS,
            csrf,
            workspace: &form.workspace,
            email: &form.email,
            error,
            refusal,
        }
        .render()
    })
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    open(&state)?;
    sign_up_page(&req, &SignUpForm::default(), None, None, StatusCode::OK)
}

pub async fn submit(
    req: HttpRequest,
    form: web::Form<SignUpForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    open(&state)?;
    let mut form = form.into_inner();
    if !token_matches(&req, SIGNUP_CSRF_COOKIE, &form.csrf) {
        let expired = Some("The form expired. Please try again.");
        return sign_up_page(&req, &form, None, expired, StatusCode::FORBIDDEN);
    }
    let caller = Caller::new(&req, &state);
    let now = caller.now;
    if let Some((wait, reason)) = state.signin.check(caller.client_ip, "", now).await? {
        let message = format!("{reason} Try again in {}.", in_words(wait));
        let page = sign_up_page(
            &req,
            &form,
            None,
            Some(&message),
            StatusCode::TOO_MANY_REQUESTS,
        )?;
        return Ok(retry_after(page, wait));
    }
    state.signin.failed(caller.client_ip, "", now).await;
    let client = client(&req, &state, caller.client_ip);
    let config = std::sync::Arc::clone(&state.config);
    let input = SignUp {
        workspace: form.workspace.clone(),
        email: form.email.clone(),
        password: std::mem::take(&mut form.password),
        confirm_password: std::mem::take(&mut form.confirm_password),
    };
    let result = state
        .store
        .run(move |db| Ok::<_, ServiceError>(sign_up(db, &config, input, now, &client)))
        .await?;
    match result {
        Ok(token) => Ok(HttpResponse::SeeOther()
            .cookie(cookie(
                &req,
                SESSION_COOKIE,
                token,
                i64::from(state.config.auth.session_hours),
            ))
            .insert_header((LOCATION, "/"))
            .finish()),
        Err(ServiceError::Invalid { field, message, .. }) => sign_up_page(
            &req,
            &form,
            Some((field, message)),
            None,
            StatusCode::BAD_REQUEST,
        ),
        Err(e) => Err(e.into()),
    }
}
