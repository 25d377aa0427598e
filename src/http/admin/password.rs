//! "Your password": every signed-in person changes their own password here (the current one
//! required; their other sessions end). A person whose password someone else chose is sent
//! here after signing in, and nothing else opens until they have chosen their own. Someone who
//! signs in only through single sign-on has no password to change, and reads so instead.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::http::assets::{ASSETS, Assets};
use crate::http::session::{AdminError, AdminSession};
use crate::http::state::AppState;
use crate::service::ServiceError;
use crate::service::sessions::Session;
use crate::service::users::{PasswordChange, change_own_password};

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage<'a> {
    assets: &'a Assets,
    session: &'a Session,
    changed: bool,
    /// False for someone who signs in only through single sign-on.
    has_password: bool,
    /// The field in error ("current_password", "new_password", "confirm_password") and why.
    error: Option<(&'a str, String)>,
}

impl PasswordPage<'_> {
    fn error_for(&self, field: &str) -> Option<&str> {
        super::form::error_for(&self.error, field)
    }
}

#[derive(Deserialize)]
pub struct Shown {
    #[serde(default)]
    changed: Option<String>,
}

pub async fn show(
    session: AdminSession,
    query: web::Query<Shown>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let page = PasswordPage {
        assets: &ASSETS,
        session: &session.0,
        changed: query.changed.is_some() && !session.0.must_change_password,
        has_password: has_password(&state, &session.0).await?,
        error: None,
    };
    super::render_page(&page)
}

async fn has_password(state: &AppState, session: &Session) -> Result<bool, AdminError> {
    let user = session.user_id.clone();
    Ok(state
        .store
        .run(move |db| crate::service::password::has_password(db, &user))
        .await?)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

pub async fn change(
    req: HttpRequest,
    session: AdminSession,
    form: web::Form<PasswordForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    session.check_csrf(&form.csrf)?;
    let actor = session.actor(&req, &state);
    let (user_id, keep, now) = (
        session.0.user_id.clone(),
        session.0.id_hash.clone(),
        state.clock.now(),
    );
    let form = form.into_inner();
    let result = state
        .store
        .run(move |db| {
            let change = PasswordChange {
                user_id: &user_id,
                session_id_hash: &keep,
                current: &form.current_password,
                new: &form.new_password,
                confirm: &form.confirm_password,
            };
            Ok::<_, ServiceError>(change_own_password(db, &actor, &change, now))
        })
        .await?;
    match result {
        // Someone who had to change it goes on to the dashboard; anyone else reads that it
        // worked.
        Ok(()) => Ok(HttpResponse::SeeOther()
            .insert_header((
                LOCATION,
                if session.0.must_change_password {
                    "/"
                } else {
                    "/password?changed=1"
                },
            ))
            .finish()),
        Err(ServiceError::Invalid { field, message, .. }) => {
            let page = PasswordPage {
                assets: &ASSETS,
                session: &session.0,
                changed: false,
                has_password: has_password(&state, &session.0).await?,
                error: Some((field, message)),
            };
            super::render_page_with(StatusCode::BAD_REQUEST, &page)
        }
        Err(e) => Err(e.into()),
    }
}
