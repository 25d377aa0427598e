//! "Sign-in and security" (docs/admin.md, "Second factor" and "Your sessions"): each person's
//! own second factor (set up, new recovery codes, turn off) and their sessions (see, end one or
//! all others). A person required to have a factor is sent to its set-up before anything else.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::http::assets::{ASSETS, Assets};
use crate::http::session::{AdminError, AdminSession};
use crate::http::state::AppState;
use crate::service::ServiceError;
use crate::service::second_factor::{self, Enrolment, Status};
use crate::service::sessions::{self, Session, SessionView};

#[derive(Template)]
#[template(path = "security.html")]
struct SecurityPage<'a> {
    assets: &'a Assets,
    session: &'a Session,
    factor: Status,
    /// The person has a password (single sign-on may have made them without one).
    has_password: bool,
    sessions: Vec<SessionView>,
    notice: Option<String>,
    /// The form in error ("recovery-codes", "turn-off") and why.
    error: Option<(&'a str, String)>,
    /// The code as typed in the form in error.
    typed: String,
}

impl SecurityPage<'_> {
    fn typed_in(&self, form: &str) -> &str {
        if self.error_for(form).is_some() {
            &self.typed
        } else {
            ""
        }
    }

    fn error_for(&self, form: &str) -> Option<&str> {
        super::form::error_for(&self.error, form)
    }
}

#[derive(Template)]
#[template(path = "two_factor_setup.html")]
struct SetupPage<'a> {
    assets: &'a Assets,
    session: &'a Session,
    enrolment: Enrolment,
    error: Option<String>,
    /// The code as typed, kept beside its error.
    typed: String,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct CodesPage<'a> {
    assets: &'a Assets,
    session: &'a Session,
    codes: Vec<String>,
    /// Shown after the set-up (the factor just turned on) rather than after new codes.
    first: bool,
}

#[derive(Deserialize)]
pub struct Shown {
    #[serde(default)]
    ended: Option<usize>,
    #[serde(default)]
    turned_off: Option<String>,
    #[serde(default)]
    recovery_code_used: Option<String>,
}

async fn security_page(
    state: &AppState,
    session: &Session,
    notice: Option<String>,
    error: Option<(&str, String)>,
    typed: String,
) -> Result<HttpResponse, AdminError> {
    let (user, me, now) = (session.user_id.clone(), session.clone(), state.clock.now());
    let (factor, list, has_password) = state
        .store
        .run(move |db| {
            let factor = second_factor::status(db, &user)?;
            let has_password = crate::service::password::has_password(db, &user)?;
            Ok::<_, ServiceError>((factor, sessions::of_user(db, &me, now)?, has_password))
        })
        .await?;
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = SecurityPage {
        assets: &ASSETS,
        session,
        factor,
        has_password,
        sessions: list,
        notice,
        error,
        typed,
    };
    super::render_page_with(status, &page)
}

pub async fn show(
    session: AdminSession,
    query: web::Query<Shown>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let notice = match query.into_inner() {
        Shown { ended: Some(1), .. } => Some("1 other session was ended.".to_owned()),
        Shown { ended: Some(n), .. } => Some(format!("{n} other sessions were ended.")),
        Shown {
            turned_off: Some(_),
            ..
        } => Some("Two-step sign-in is off. Your other sessions were signed out.".to_owned()),
        Shown {
            recovery_code_used: Some(_),
            ..
        } => Some("You signed in with a recovery code, which cannot be used again.".to_owned()),
        _ => None,
    };
    security_page(&state, &session.0, notice, None, String::new()).await
}

/// The set-up: the QR code and the secret, and the field for the first code.
pub async fn setup(
    session: AdminSession,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    setup_page(&state, &session.0, None, String::new()).await
}

async fn setup_page(
    state: &AppState,
    session: &Session,
    error: Option<String>,
    typed: String,
) -> Result<HttpResponse, AdminError> {
    let (user, email) = (session.user_id.clone(), session.email.clone());
    let enrolment = state
        .store
        .run(move |db| second_factor::enrolment(db, &user, &email))
        .await;
    let enrolment = match enrolment {
        Ok(e) => e,
        // Already on: the security page says so and offers what can be done.
        Err(ServiceError::InvalidState(_)) => {
            return Ok(HttpResponse::SeeOther()
                .insert_header((LOCATION, "/security"))
                .finish());
        }
        Err(e) => return Err(e.into()),
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = SetupPage {
        assets: &ASSETS,
        session,
        enrolment,
        error,
        typed,
    };
    super::render_page_with(status, &page)
}

#[derive(Deserialize)]
pub struct CodeForm {
    csrf: String,
    #[serde(default)]
    code: String,
}

/// A change to the person's own factor: who makes it, the session that stays, and the code.
struct Change {
    actor: crate::service::Actor,
    user: String,
    keep: String,
    now: crate::domain::Timestamp,
    code: String,
}

impl Change {
    fn of(req: &HttpRequest, session: &AdminSession, state: &AppState, form: CodeForm) -> Change {
        Change {
            actor: session.actor(req, state),
            user: session.0.user_id.clone(),
            keep: session.0.id_hash.clone(),
            now: state.clock.now(),
            code: form.code,
        }
    }
}

/// The first code confirms the set-up; the recovery codes are shown this once.
pub async fn confirm(
    req: HttpRequest,
    session: AdminSession,
    form: web::Form<CodeForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    session.check_csrf(&form.csrf)?;
    let Change {
        actor,
        user,
        keep,
        now,
        code,
    } = Change::of(&req, &session, &state, form.into_inner());
    let typed = code.clone();
    let result = state
        .store
        .run(move |db| {
            Ok::<_, ServiceError>(second_factor::confirm(db, &actor, &user, &keep, &code, now))
        })
        .await?;
    match result {
        Ok(codes) => codes_page(&session.0, codes, true),
        Err(ServiceError::Invalid { message, .. }) => {
            let error = Some(format!("This {message}."));
            setup_page(&state, &session.0, error, typed).await
        }
        Err(e) => Err(e.into()),
    }
}

fn codes_page(
    session: &Session,
    codes: Vec<String>,
    first: bool,
) -> Result<HttpResponse, AdminError> {
    let page = CodesPage {
        assets: &ASSETS,
        session,
        codes,
        first,
    };
    super::render_page(&page)
}

/// New recovery codes, or the factor turned off: both need a right code.
pub async fn act(
    req: HttpRequest,
    session: AdminSession,
    path: web::Path<String>,
    form: web::Form<CodeForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    session.check_csrf(&form.csrf)?;
    let action = path.into_inner();
    let form_name = match action.as_str() {
        "recovery-codes" => "recovery-codes",
        "turn-off" => "turn-off",
        _ => return Err(AdminError::not_found("action")),
    };
    let Change {
        actor,
        user,
        keep,
        now,
        code,
    } = Change::of(&req, &session, &state, form.into_inner());
    let typed = code.clone();
    let result = state
        .store
        .run(move |db| {
            Ok::<_, ServiceError>(if action == "recovery-codes" {
                second_factor::regenerate(db, &actor, &user, &code, now).map(Some)
            } else {
                second_factor::turn_off(db, &actor, &user, &keep, &code, now).map(|()| None)
            })
        })
        .await?;
    match result {
        Ok(Some(codes)) => codes_page(&session.0, codes, false),
        Ok(None) => Ok(HttpResponse::SeeOther()
            .insert_header((LOCATION, "/security?turned_off=1"))
            .finish()),
        Err(ServiceError::Invalid { message, .. }) => {
            let error = Some((form_name, format!("This {message}.")));
            security_page(&state, &session.0, None, error, typed).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct EndForm {
    csrf: String,
    /// One session (its id on the page), or none for every other.
    #[serde(default)]
    session: Option<String>,
}

pub async fn end(
    req: HttpRequest,
    session: AdminSession,
    form: web::Form<EndForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    session.check_csrf(&form.csrf)?;
    let actor = session.actor(&req, &state);
    let (me, now) = (session.0.clone(), state.clock.now());
    let which = form.into_inner().session.filter(|s| !s.is_empty());
    let ended = state
        .store
        .run(move |db| sessions::end(db, &actor, &me, which.as_deref(), now))
        .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((LOCATION, format!("/security?ended={ended}")))
        .finish())
}
