//! The notifications page (docs/notifications.md, "Who is e-mailed"): which notices the
//! workspace e-mails and to which members (owners choose), and which each member wants for
//! themselves. Everyone in the workspace sees it.

use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::form::SentBack;
use crate::http::assets::{ASSETS, Assets};
use crate::http::session::{AdminError, AdminSession};
use crate::http::state::AppState;
use crate::service::ServiceError;
use crate::service::notification_settings::{self as service, NoticeRow, Settings};
use crate::service::sessions::Session;

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage<'a> {
    assets: &'a Assets,
    session: &'a Session,
    settings: Settings,
    can_manage: bool,
    /// An SMTP server is configured.
    mail: bool,
    /// The signed-in person is among the members e-mailed.
    receiving: bool,
    sent: SentBack,
}

impl NotificationsPage<'_> {
    /// Whether the box `value` of `form` is ticked: as sent, when that form came back in error;
    /// as stored otherwise.
    fn ticked(&self, form: &str, value: &str, stored: impl std::borrow::Borrow<bool>) -> bool {
        if self.sent.error(form, form).is_some() || self.sent.form_error(form, &[]).is_some() {
            return self.sent.value(form, form).split(',').any(|v| v == value);
        }
        *stored.borrow()
    }

    fn not_muted(&self, row: &NoticeRow) -> bool {
        !row.muted
    }
}

async fn render(
    session: &AdminSession,
    state: &AppState,
    sent: SentBack,
) -> Result<HttpResponse, AdminError> {
    let account_id = session.account_id()?;
    let user_id = session.0.user_id.clone();
    let settings = state
        .store
        .run(move |db| service::get(db, &account_id, &user_id))
        .await?;
    let receiving = settings
        .members
        .iter()
        .any(|m| m.user_id == session.0.user_id && m.emailed);
    let page = NotificationsPage {
        assets: &ASSETS,
        session: &session.0,
        settings,
        can_manage: session.can_manage(),
        mail: !state.config.smtp.host.is_empty(),
        receiving,
        sent,
    };
    super::render_page_with(page.sent.status(), &page)
}

pub async fn page(
    session: AdminSession,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    render(&session, &state, SentBack::none()).await
}

#[derive(Deserialize)]
struct CsrfOnly {
    csrf: String,
}

/// Saves one of the page's three forms: `email` and `recipients` (owners), `receive` (each
/// member for themselves).
pub async fn save(
    req: HttpRequest,
    session: AdminSession,
    form: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let unreadable =
        || AdminError::BadForm("The form could not be read. Reload the page and try again.".into());
    let text = std::str::from_utf8(&body).map_err(|_| unreadable())?;
    let csrf: CsrfOnly = serde_urlencoded::from_str(text).map_err(|_| unreadable())?;
    session.check_csrf(&csrf.csrf)?;
    let account = session.account_id()?;
    let (form_name, field): (&'static str, &'static str) = match form.as_str() {
        "email" => ("email", "email"),
        "recipients" => ("recipients", "recipients"),
        "receive" => ("receive", "receive"),
        _ => return Err(AdminError::not_found("page")),
    };
    if form_name != "receive" && !session.can_manage() {
        return Err(AdminError::Forbidden(
            "Only owners of this workspace choose what it e-mails and to whom.".into(),
        ));
    }
    let values = super::form::repeated(text, field);
    let (actor, now, user_id) = (
        session.actor(&req, &state),
        state.clock.now(),
        session.0.user_id.clone(),
    );
    let chosen = values.clone();
    let result = state
        .store
        .run(move |db| {
            Ok::<_, ServiceError>(match form_name {
                "email" => service::set_emailed(db, &actor, &account, &chosen, now),
                "recipients" => service::set_recipients(db, &actor, &account, &chosen, now),
                _ => service::set_wanted(db, &account, &user_id, &chosen),
            })
        })
        .await?;
    match result {
        Ok(()) => Ok(HttpResponse::SeeOther()
            .insert_header((LOCATION, "/notifications"))
            .finish()),
        Err(e) => {
            let sent = SentBack::refused(form_name, vec![(field, values.join(","))], e)?;
            render(&session, &state, sent).await
        }
    }
}
