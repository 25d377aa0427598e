//! Row actions of the API keys page: rotate (then the new key once), revoke and delete behind a
//! confirmation that names the key and says what happens, disable / enable and "Expire now".

use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::http::assets::{ASSETS, Assets};
use crate::http::session::{AdminError, OwnerSession};
use crate::http::state::AppState;
use crate::service::ServiceError;
use crate::service::keys::{Switch, get_key_in, switch_key};
use crate::service::lifecycle::{DEFAULT_GRACE_HOURS, delete_key, expire_now, rotate_key};
use crate::service::logs;
use crate::service::sessions::Session;

pub const GRACE_CHOICES: [i64; 7] = [1, 6, 12, 24, 48, 72, 168];

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    Rotate,
    Revoke,
    Delete,
}

#[derive(Template)]
#[template(path = "key_confirm.html")]
struct ConfirmPage<'a> {
    assets: &'a Assets,
    session: &'a Session,
    title: &'a str,
    message: String,
    action: String,
    button: &'a str,
    grace: Option<(&'a [i64], i64)>,
    /// Where Cancel and the finished action lead: the key's page when it came from there.
    back: Option<String>,
}

/// Where a confirmation came from: `?back=key` for the key's own page.
#[derive(Deserialize)]
pub struct Origin {
    back: Option<String>,
}

/// The key's page when the action came from it (and the key is still there), else the list.
fn return_to(back: Option<&str>, id: &str, action: &str) -> String {
    if back == Some("key") && action != "delete" {
        format!("/keys/{id}")
    } else {
        "/keys".to_owned()
    }
}

pub async fn confirm(
    owner: OwnerSession,
    path: web::Path<(String, String)>,
    origin: web::Query<Origin>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let (session, account) = (owner.session, owner.account_id);
    let (id, action) = path.into_inner();
    let kind = match action.as_str() {
        "rotate" => Confirm::Rotate,
        "revoke" => Confirm::Revoke,
        "delete" => Confirm::Delete,
        _ => return Err(AdminError::not_found("page")),
    };
    let lookup_id = id.clone();
    let (key, logs) = state
        .store
        .run(move |db| -> Result<_, ServiceError> {
            let tx = db.read();
            let key = get_key_in(&tx, Some(&account), &lookup_id)?;
            Ok((key, logs::count_for_key(&tx, &lookup_id)?))
        })
        .await?;
    let label = format!("“{}” ({})", key.name, key.key_prefix);
    let (title, message, button) = match kind {
        Confirm::Rotate => (
            "Rotate API key",
            format!(
                "A new key replaces {label}. The old key keeps working until the grace period ends, then stops."
            ),
            "Rotate",
        ),
        Confirm::Revoke => (
            "Revoke API key",
            format!(
                "{label} stops working immediately. This cannot be undone; the key and its logs stay for audit."
            ),
            "Revoke",
        ),
        Confirm::Delete => (
            "Delete API key",
            format!(
                "{label} and its {logs} request-log rows are removed at once. Usage totals stay. This cannot be undone."
            ),
            "Delete",
        ),
    };
    let grace = (kind == Confirm::Rotate).then_some((&GRACE_CHOICES[..], DEFAULT_GRACE_HOURS));
    let page = ConfirmPage {
        assets: &ASSETS,
        session: &session.0,
        title,
        message,
        action: format!("/keys/{id}/{action}"),
        button,
        grace,
        back: origin.back.as_deref().map(|b| return_to(Some(b), &id, "")),
    };
    super::render_page(&page)
}

#[derive(Deserialize)]
pub struct ActionForm {
    csrf: String,
    grace_hours: Option<i64>,
    back: Option<String>,
}

pub async fn perform(
    req: actix_web::HttpRequest,
    owner: OwnerSession,
    path: web::Path<(String, String)>,
    form: web::Form<ActionForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let (session, account) = (owner.session, owner.account_id);
    session.check_csrf(&form.csrf)?;
    let (id, action) = path.into_inner();
    let actor = session.actor(&req, &state);
    let now = state.clock.now();
    let after = return_to(form.back.as_deref(), &id, &action);
    let back = || {
        Ok(HttpResponse::SeeOther()
            .insert_header((LOCATION, after.clone()))
            .finish())
    };
    match action.as_str() {
        "rotate" => {
            let (format, grace, session_id) = (
                state.gate.key_format.clone(),
                form.grace_hours,
                session.0.id_hash.clone(),
            );
            let (_, new, secret) = state
                .store
                .run(move |c| rotate_key(c, &format, &actor, now, (Some(&account), &id), grace))
                .await?;
            let token = state
                .reveals
                .put(secret, new.name.clone(), session_id, now)
                .ok_or(AdminError::Internal)?;
            Ok(HttpResponse::SeeOther()
                .insert_header((LOCATION, format!("/keys/created/{token}")))
                .finish())
        }
        "revoke" | "disable" | "enable" => {
            let switch = match action.as_str() {
                "revoke" => Switch::Revoke,
                "disable" => Switch::Disable,
                _ => Switch::Enable,
            };
            state
                .store
                .run(move |c| switch_key(c, &actor, now, (Some(&account), &id), switch))
                .await?;
            back()
        }
        "expire" => {
            state
                .store
                .run(move |c| expire_now(c, &actor, now, (Some(&account), &id)))
                .await?;
            back()
        }
        "delete" => {
            state
                .store
                .run(move |c| delete_key(c, &actor, now, (Some(&account), &id)))
                .await?;
            back()
        }
        _ => Err(AdminError::not_found("page")),
    }
}
