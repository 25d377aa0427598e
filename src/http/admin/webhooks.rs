//! The webhook pages (docs/admin.md, "Webhooks"): endpoints with their status, add (then the secret
//! once), enable/disable, rotate the secret, send a test event, the delivery log with replay,
//! queued events and "Deliver queued events", delete. Members see; owners manage.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::webhook::{DeliveryStatus, DisabledReason, WebhookEvent, redact_url};
use crate::http::assets::{ASSETS, Assets};
use crate::http::session::{AdminError, AdminSession, OwnerSession};
use crate::http::state::AppState;
use crate::service::ServiceError;
use crate::service::sessions::Session;
use crate::service::webhooks::{
    self as service, Delivery, Endpoint, EndpointInput, EndpointSummary,
};

const LOG_ROWS: usize = 50;

/// An event the add form offers, and whether it is ticked.
pub struct EventChoice {
    pub name: &'static str,
    pub checked: bool,
}

fn choices(checked: &[String]) -> Vec<EventChoice> {
    WebhookEvent::SUBSCRIBABLE
        .iter()
        .map(|e| EventChoice {
            name: e.as_str(),
            checked: checked.iter().any(|c| c == e.as_str()),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct ListPage<'a> {
    assets: &'a Assets,
    session: &'a Session,
    endpoints: Vec<EndpointSummary>,
    can_manage: bool,
    events: Vec<EventChoice>,
    url: &'a str,
    description: &'a str,
    /// The field in error ("" for the form as a whole) and why.
    error: Option<(&'static str, String)>,
}

impl ListPage<'_> {
    fn shown_url(&self, e: &Endpoint) -> String {
        redact_url(&e.url)
    }

    fn error_for(&self, field: &str) -> Option<&str> {
        super::form::error_for(&self.error, field)
    }
}

async fn list_page(
    session: &AdminSession,
    state: &AppState,
    typed: (&str, &str, &[String]),
    error: Option<(&'static str, String)>,
) -> Result<HttpResponse, AdminError> {
    let account = session.account_id()?;
    let endpoints = state
        .store
        .run(move |db| service::list(&db.read(), &account))
        .await?;
    let status = match &error {
        None => StatusCode::OK,
        Some(("", _)) => StatusCode::CONFLICT,
        Some(_) => StatusCode::BAD_REQUEST,
    };
    let (url, description, events) = typed;
    let page = ListPage {
        assets: &ASSETS,
        session: &session.0,
        endpoints,
        can_manage: session.can_manage(),
        events: choices(events),
        url,
        description,
        error,
    };
    super::render_page_with(status, &page)
}

pub async fn list(
    session: AdminSession,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let defaults: Vec<String> = WebhookEvent::DEFAULT
        .iter()
        .map(|e| e.as_str().to_owned())
        .collect();
    list_page(&session, &state, ("", "", &defaults), None).await
}

#[derive(Deserialize)]
pub struct AddForm {
    csrf: String,
    url: String,
    #[serde(default)]
    description: String,
    // The `events` boxes repeat one name, which a struct cannot take: see `form::repeated`.
}

pub async fn add(
    req: HttpRequest,
    owner: OwnerSession,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let (session, account) = (owner.session, owner.account_id);
    let text = std::str::from_utf8(&body).map_err(|_| {
        AdminError::BadForm("The form could not be read. Reload the page and try again.".into())
    })?;
    let form: AddForm = serde_urlencoded::from_str(text).map_err(|_| {
        AdminError::BadForm("The form could not be read. Reload the page and try again.".into())
    })?;
    session.check_csrf(&form.csrf)?;
    let events = super::form::repeated(text, "events");
    let input = EndpointInput {
        url: Some(form.url.clone()),
        events: Some(events.clone()),
        description: Some(form.description.clone()),
        enabled: Some(true),
    };
    let (actor, now, config) = (
        session.actor(&req, &state),
        state.clock.now(),
        state.config.clone(),
    );
    let created = state
        .store
        .run(move |c| {
            Ok::<_, ServiceError>(service::create_endpoint(
                c,
                &config.webhooks,
                &actor,
                &account,
                &input,
                now,
            ))
        })
        .await?;
    match created {
        Ok((endpoint, secret)) => reveal(&session, &state, &endpoint, secret),
        Err(ServiceError::Invalid { field, message, .. }) => {
            let field = if ["url", "events", "description"].contains(&field) {
                field
            } else {
                ""
            };
            let error = Some((field, crate::http::session::as_sentence(&message)));
            list_page(
                &session,
                &state,
                (&form.url, &form.description, &events),
                error,
            )
            .await
        }
        Err(ServiceError::InvalidState(message)) => {
            list_page(
                &session,
                &state,
                (&form.url, &form.description, &events),
                Some(("", crate::http::session::as_sentence(&message))),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// Keeps the new secret for one view by this session and sends the browser there.
fn reveal(
    session: &AdminSession,
    state: &AppState,
    endpoint: &Endpoint,
    secret: crate::domain::webhook::WebhookSecret,
) -> Result<HttpResponse, AdminError> {
    let now = state.clock.now();
    let token = state
        .webhook_reveals
        .put(secret, endpoint.id.clone(), session.0.id_hash.clone(), now)
        .ok_or(AdminError::Internal)?;
    Ok(HttpResponse::SeeOther()
        .insert_header((LOCATION, format!("/webhooks/secret/{token}")))
        .finish())
}

#[derive(Template)]
#[template(path = "webhook_secret.html")]
struct SecretPage<'a> {
    assets: &'a Assets,
    session: &'a Session,
    endpoint_id: &'a str,
    secret: &'a str,
}

pub async fn secret(
    session: AdminSession,
    token: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let now = state.clock.now();
    let pending = state
        .webhook_reveals
        .take(&token, &session.0.id_hash, now)
        .ok_or(AdminError::Gone(
            "This signing secret has already been shown, and it is never shown again. If it was lost, rotate the secret to get a new one.",
        ))?;
    let page = SecretPage {
        assets: &ASSETS,
        session: &session.0,
        endpoint_id: &pending.name,
        secret: pending.secret.expose(),
    };
    super::render_page(&page)
}

#[derive(Template)]
#[template(path = "webhook_detail.html")]
struct DetailPage<'a> {
    assets: &'a Assets,
    session: &'a Session,
    endpoint: Endpoint,
    url: String,
    deliveries: Vec<Delivery>,
    queued: usize,
    can_manage: bool,
}

pub async fn show(
    session: AdminSession,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let account = session.account_id()?;
    let id = id.into_inner();
    let found = state
        .store
        .run(move |db| -> Result<_, ServiceError> {
            let tx = db.read();
            let endpoint = service::get(&tx, &account, &id)?;
            let deliveries = service::deliveries(&tx, &account, &id, None, None, LOG_ROWS)?;
            let queued =
                service::deliveries(&tx, &account, &id, Some(DeliveryStatus::Queued), None, 1000)?;
            Ok((endpoint, deliveries, queued.len()))
        })
        .await?;
    let (endpoint, deliveries, queued) = found;
    let page = DetailPage {
        assets: &ASSETS,
        session: &session.0,
        url: redact_url(&endpoint.url),
        endpoint,
        deliveries,
        queued,
        can_manage: session.can_manage(),
    };
    super::render_page(&page)
}

#[derive(Deserialize)]
pub struct ActionForm {
    csrf: String,
    #[serde(default)]
    delivery: String,
}

pub async fn act(
    req: HttpRequest,
    owner: OwnerSession,
    path: web::Path<(String, String)>,
    form: web::Form<ActionForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let (session, account) = (owner.session, owner.account_id);
    session.check_csrf(&form.csrf)?;
    let (id, action) = path.into_inner();
    let (actor, now, config) = (
        session.actor(&req, &state),
        state.clock.now(),
        state.config.clone(),
    );
    let delivery = form.into_inner().delivery;
    let target = id.clone();
    let done = state
        .store
        .run(move |c| {
            let enabled = |on: bool| EndpointInput {
                enabled: Some(on),
                ..EndpointInput::default()
            };
            let w = &config.webhooks;
            match action.as_str() {
                "enable" => {
                    service::update_endpoint(c, w, &actor, &account, &target, &enabled(true), now)
                        .map(|_| None)
                }
                "disable" => {
                    service::update_endpoint(c, w, &actor, &account, &target, &enabled(false), now)
                        .map(|_| None)
                }
                "rotate-secret" => service::rotate_secret(c, &actor, &account, &target, now)
                    .map(|(e, secret)| Some((e, secret))),
                "test" => service::send_test(c, &account, &target, now).map(|_| None),
                "deliver-queued" => {
                    service::deliver_queued(c, w, &account, &target, now).map(|_| None)
                }
                "replay" => service::replay(c, &account, &target, &delivery, now).map(|_| None),
                "delete" => {
                    service::delete_endpoint(c, &actor, &account, &target, now).map(|_| None)
                }
                _ => Err(ServiceError::NotFound("action")),
            }
        })
        .await?;
    if let Some((endpoint, secret)) = done {
        return reveal(&session, &state, &endpoint, secret);
    }
    let to = if req.path().ends_with("/delete") {
        "/webhooks".to_owned()
    } else {
        format!("/webhooks/{id}")
    };
    Ok(HttpResponse::SeeOther()
        .insert_header((LOCATION, to))
        .finish())
}
