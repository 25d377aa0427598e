//! The second step of signing in (docs/admin.md, "Second factor"): after a right password, a
//! person with a second factor types the code their app shows, or a recovery code. Wrong codes
//! count in the same limits as wrong passwords.

use actix_web::http::StatusCode;
use actix_web::http::header::{LOCATION, RETRY_AFTER};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::auth::{WAITING_COOKIE, client, cookie, in_words, signed_out_form, token_matches};
use crate::http::assets::{ASSETS, Assets};
use crate::http::pipeline::Caller;
use crate::http::session::{AdminError, SESSION_COOKIE};
use crate::http::state::AppState;
use crate::service::ServiceError;
use crate::service::second_factor::Used;
use crate::service::sign_in::{self, CodeOutcome};

/// The code form's CSRF token, bound to a cookie like the sign-in form's.
const CODE_CSRF_COOKIE: &str = "tidegate_code";

#[derive(Template)]
#[template(path = "login_code.html")]
struct CodePage<'a> {
    assets: &'a Assets,
    csrf: &'a str,
    error: Option<&'a str>,
}

fn code_page(
    req: &HttpRequest,
    error: Option<&str>,
    status: StatusCode,
) -> Result<HttpResponse, AdminError> {
    signed_out_form(req, CODE_CSRF_COOKIE, status, |csrf| {
        CodePage {
            assets: &ASSETS,
            csrf,
            error,
        }
        .render()
    })
}

/// Back to the sign-in form: the waiting sign-in is gone or too old.
fn start_again(req: &HttpRequest) -> HttpResponse {
    let mut gone = cookie(req, WAITING_COOKIE, String::new(), 0);
    gone.make_removal();
    HttpResponse::SeeOther()
        .cookie(gone)
        .insert_header((LOCATION, "/login"))
        .finish()
}

fn waiting_token(req: &HttpRequest) -> Option<String> {
    req.cookie(WAITING_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

pub async fn show(req: HttpRequest) -> Result<HttpResponse, AdminError> {
    if waiting_token(&req).is_none() {
        return Ok(start_again(&req));
    }
    code_page(&req, None, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct CodeForm {
    csrf: String,
    #[serde(default)]
    code: String,
}

pub async fn submit(
    req: HttpRequest,
    form: web::Form<CodeForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let Some(token) = waiting_token(&req) else {
        return Ok(start_again(&req));
    };
    if !token_matches(&req, CODE_CSRF_COOKIE, &form.csrf) {
        let expired = "The form expired. Please try again.";
        return code_page(&req, Some(expired), StatusCode::FORBIDDEN);
    }
    let caller = Caller::new(&req, &state);
    let now = caller.now;
    let lookup = token.clone();
    let Some(email) = state
        .store
        .run(move |db| sign_in::awaiting_email(db, &lookup, now))
        .await?
    else {
        return Ok(start_again(&req));
    };
    let email_key = email.to_lowercase();
    let wait = state
        .signin
        .check(caller.client_ip, &email_key, now)
        .await?;
    if let Some((wait, reason)) = wait {
        let message = format!("{reason} Try again in {}.", in_words(wait));
        let mut page = code_page(&req, Some(&message), StatusCode::TOO_MANY_REQUESTS)?;
        if let Ok(value) = wait.to_string().parse() {
            page.headers_mut().insert(RETRY_AFTER, value);
        }
        return Ok(page);
    }
    let client = client(&req, &state, caller.client_ip);
    let hours = state.config.auth.session_hours;
    let typed = form.into_inner().code;
    let outcome = state
        .store
        .run(move |db| {
            Ok::<_, ServiceError>(sign_in::finish_with_code(
                db, &token, &typed, now, hours, &client,
            ))
        })
        .await?;
    match outcome {
        Ok(CodeOutcome::Open(session, used)) => {
            state.signin.succeeded(&email_key).await;
            let mut done = cookie(&req, WAITING_COOKIE, String::new(), 0);
            done.make_removal();
            // Someone who spent a recovery code sees how many are left.
            let next = match used {
                Used::Totp => "/",
                Used::Recovery { .. } => "/security?recovery_code_used=1",
            };
            Ok(HttpResponse::SeeOther()
                .cookie(done)
                .cookie(cookie(&req, SESSION_COOKIE, session, i64::from(hours)))
                .insert_header((LOCATION, next))
                .finish())
        }
        Ok(CodeOutcome::Expired) => Ok(start_again(&req)),
        Ok(CodeOutcome::Wrong) => {
            state.signin.failed(caller.client_ip, &email_key, now).await;
            let wrong = "That code is not right. Type the code your app shows now, or an unused recovery code.";
            code_page(&req, Some(wrong), StatusCode::UNAUTHORIZED)
        }
        Err(ServiceError::Invalid { .. }) => {
            let format = "That is not a code. Type the six digits your app shows, or a recovery code like abcde-fghjk.";
            code_page(&req, Some(format), StatusCode::BAD_REQUEST)
        }
        Err(e) => Err(e.into()),
    }
}
