//! Create an API key (docs/admin.md, "Create API key" and "Show-once"): presets or the custom scope
//! grid, expiry, IP allowlist and the advanced options; errors shown next to their field with
//! what was typed kept; the new key shown exactly once.

use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::form::Pairs;

use crate::domain::{Environment, Preset, Scope};
use crate::http::assets::{ASSETS, Assets};
use crate::http::session::{AdminError, AdminSession, OwnerSession};
use crate::http::state::AppState;
use crate::service::ServiceError;
use crate::service::keys::{CreateKey, QuotaInput, ScopeChoice, create_key};
use crate::service::sessions::Session;

/// The custom grid: resources against read / write / delete; `None` where no such scope exists.
pub const GRID: [(&str, [Option<Scope>; 3]); 7] = [
    (
        "Generation",
        [
            Some(Scope::GenerationRead),
            Some(Scope::GenerationWrite),
            Some(Scope::GenerationDelete),
        ],
    ),
    ("Account", [Some(Scope::AccountRead), None, None]),
    ("Health", [Some(Scope::HealthRead), None, None]),
    ("Library", [Some(Scope::LibraryRead), None, None]),
    (
        "Keys",
        [Some(Scope::KeysRead), Some(Scope::KeysWrite), None],
    ),
    (
        "Webhooks",
        [Some(Scope::WebhooksRead), Some(Scope::WebhooksWrite), None],
    ),
    ("Activity", [Some(Scope::ActivityRead), None, None]),
];

pub struct PresetChoice {
    pub id: &'static str,
    pub title: &'static str,
    pub scopes: String,
}

/// What was typed, kept when the form comes back with an error.
#[derive(Default)]
pub struct Typed {
    pub name: String,
    pub mode: String,
    pub scopes: Vec<String>,
    pub expires_at: String,
    pub ips: String,
    pub models: String,
    pub rate_limit: String,
    pub budget_credits: String,
    pub budget_period: String,
    pub quota_requests: String,
    pub quota_refill: String,
    pub quota_refill_day: String,
    pub test: bool,
}

impl Typed {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

#[derive(Template)]
#[template(path = "key_new.html")]
struct NewKeyPage<'a> {
    assets: &'a Assets,
    session: &'a Session,
    presets: Vec<PresetChoice>,
    grid: &'a [(&'static str, [Option<Scope>; 3]); 7],
    typed: &'a Typed,
    error_field: &'a str,
    error: &'a str,
}

#[derive(Template)]
#[template(path = "key_created.html")]
struct CreatedPage<'a> {
    assets: &'a Assets,
    session: &'a Session,
    name: &'a str,
    key: &'a str,
}

fn presets() -> Vec<PresetChoice> {
    Preset::ALL
        .iter()
        .map(|p| PresetChoice {
            id: p.id(),
            title: p.title(),
            scopes: p.scopes().names().join(", "),
        })
        .collect()
}

fn form_page(
    session: &Session,
    typed: &Typed,
    error_field: &str,
    error: &str,
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse, AdminError> {
    let page = NewKeyPage {
        assets: &ASSETS,
        session,
        presets: presets(),
        grid: &GRID,
        typed,
        error_field,
        error,
    };
    super::render_page_with(status, &page)
}

pub async fn show(owner: OwnerSession) -> Result<HttpResponse, AdminError> {
    let session = owner.session;
    let typed = Typed {
        mode: "full_access".into(),
        ..Typed::default()
    };
    form_page(&session.0, &typed, "", "", actix_web::http::StatusCode::OK)
}

/// A comma-separated field as its entries.
pub(super) fn list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

pub async fn submit(
    req: actix_web::HttpRequest,
    owner: OwnerSession,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let (session, account) = (owner.session, owner.account_id);
    let form = Pairs::read(&session, &body)?;
    let field = |name: &str| form.one(name);
    let typed = Typed {
        name: field("name"),
        mode: field("mode"),
        scopes: form.all("scopes"),
        expires_at: field("expires_at"),
        ips: field("ips"),
        models: field("models"),
        rate_limit: field("rate_limit"),
        budget_credits: field("budget_credits"),
        budget_period: field("budget_period"),
        quota_requests: field("quota_requests"),
        quota_refill: field("quota_refill"),
        quota_refill_day: field("quota_refill_day"),
        test: field("test") == "on",
    };
    let rate_limit = match typed.rate_limit.trim() {
        "" => None,
        raw => match raw.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                return invalid(
                    &session.0,
                    &typed,
                    "rate_limit_per_minute",
                    "must be a positive whole number",
                );
            }
        },
    };
    let input = CreateKey {
        account_id: account,
        name: typed.name.clone(),
        scopes: if typed.mode == "custom" {
            ScopeChoice::Scopes(typed.scopes.clone())
        } else {
            ScopeChoice::Preset(typed.mode.clone())
        },
        ip_allowlist: list(&typed.ips),
        expires_at: Some(typed.expires_at.trim().to_owned()).filter(|s| !s.is_empty()),
        expires_in_days: None,
        allowed_models: Some(list(&typed.models)),
        rate_limit_per_minute: rate_limit,
        environment: if typed.test {
            Environment::Test
        } else {
            Environment::Live
        },
        budget_credits: Some(typed.budget_credits.trim().to_owned()).filter(|s| !s.is_empty()),
        budget_period: Some(typed.budget_period.trim().to_owned()).filter(|s| !s.is_empty()),
        quota: QuotaInput {
            requests: Some(typed.quota_requests.clone()),
            refill: Some(typed.quota_refill.clone()),
            refill_day: Some(typed.quota_refill_day.clone()),
        },
    };
    let actor = session.actor(&req, &state);
    let (now, format) = (state.clock.now(), state.gate.key_format.clone());
    let created = state
        .store
        .run(move |c| Ok::<_, ServiceError>(create_key(c, &format, &actor, now, &input)))
        .await?;
    match created {
        Ok((key, secret)) => {
            let token = state
                .reveals
                .put(secret, key.name.clone(), session.0.id_hash.clone(), now)
                .ok_or(AdminError::Internal)?;
            Ok(HttpResponse::SeeOther()
                .insert_header((LOCATION, format!("/keys/created/{token}")))
                .finish())
        }
        Err(ServiceError::Invalid { field, message, .. }) => {
            invalid(&session.0, &typed, field, &message)
        }
        Err(e) => Err(e.into()),
    }
}

fn invalid(
    session: &Session,
    typed: &Typed,
    field: &str,
    message: &str,
) -> Result<HttpResponse, AdminError> {
    // The scope grid and the preset list share one place for their error.
    let field = if field == "preset" { "scopes" } else { field };
    form_page(
        session,
        typed,
        field,
        message,
        actix_web::http::StatusCode::BAD_REQUEST,
    )
}

pub async fn created(
    session: AdminSession,
    token: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let now = state.clock.now();
    let Some(pending) = state.reveals.take(&token, &session.0.id_hash, now) else {
        return Err(AdminError::Gone(
            "This key has already been shown, and it is never shown again. If it was lost, rotate the key to get a new one.",
        ));
    };
    let page = CreatedPage {
        assets: &ASSETS,
        session: &session.0,
        name: &pending.name,
        key: pending.secret.expose(),
    };
    super::render_page(&page)
}
