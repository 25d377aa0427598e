//! Editing a key from its page: name, expiry, IP allowlist, rate limit and allowed models,
//! through the same use case as `PATCH /api/v1/api-keys/{id}` (docs/admin.md, "Key detail").
//! Only what the person changed is sent, so the activity row names exactly those fields.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::create::list;
use crate::domain::KeyStatus;
use crate::http::assets::{ASSETS, Assets};
use crate::http::session::{AdminError, OwnerSession};
use crate::http::state::AppState;
use crate::service::ServiceError;
use crate::service::keys::{ApiKey, QuotaInput, get_key_in};
use crate::service::lifecycle::{KeyPatch, update_key};
use crate::service::sessions::Session;

/// The form's fields as text, as shown and as sent back.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct Typed {
    #[serde(default)]
    name: String,
    #[serde(default)]
    expires_at: String,
    #[serde(default)]
    ips: String,
    #[serde(default)]
    rate_limit: String,
    #[serde(default)]
    models: String,
    #[serde(default)]
    budget_credits: String,
    #[serde(default)]
    budget_period: String,
    #[serde(default)]
    quota_requests: String,
    #[serde(default)]
    quota_refill: String,
    #[serde(default)]
    quota_refill_day: String,
}

impl Typed {
    fn of(key: &ApiKey) -> Typed {
        Typed {
            name: key.name.clone(),
            expires_at: key.expires_at.map(|t| t.day()).unwrap_or_default(),
            ips: key.ip_allowlist.entries().join(", "),
            rate_limit: key
                .rate_limit_per_minute
                .map(|n| n.to_string())
                .unwrap_or_default(),
            models: key.allowed_models.clone().unwrap_or_default().join(", "),
            budget_credits: key
                .budget
                .map(|b| b.credits.to_string())
                .unwrap_or_default(),
            budget_period: key
                .budget
                .map(|b| b.period.as_str().to_owned())
                .unwrap_or_default(),
            quota_requests: key
                .quota
                .map(|q| q.quota.requests.to_string())
                .unwrap_or_default(),
            quota_refill: key
                .quota
                .map(|q| q.quota.refill.as_str().to_owned())
                .unwrap_or_default(),
            quota_refill_day: key
                .quota
                .and_then(|q| q.quota.refill.day())
                .map(|d| d.to_string())
                .unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
pub struct EditForm {
    csrf: String,
    #[serde(flatten)]
    typed: Typed,
}

#[derive(Template)]
#[template(path = "key_edit.html")]
struct EditPage<'a> {
    assets: &'a Assets,
    session: &'a Session,
    key: &'a ApiKey,
    /// A rotated key's expiry is the end of its grace period, changed only by "Expire now".
    expiry_fixed: bool,
    typed: Typed,
    error_field: &'a str,
    error: &'a str,
}

fn render(
    session: &Session,
    key: &ApiKey,
    expiry_fixed: bool,
    typed: Typed,
    (error_field, error): (&str, &str),
) -> Result<HttpResponse, AdminError> {
    let status = if error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let page = EditPage {
        assets: &ASSETS,
        session,
        key,
        expiry_fixed,
        typed,
        error_field,
        error,
    };
    super::render_page_with(status, &page)
}

async fn load(state: &AppState, account: String, id: String) -> Result<(ApiKey, bool), AdminError> {
    let now = state.clock.now();
    let key = state
        .store
        .run(move |db| get_key_in(&db.read(), Some(&account), &id))
        .await?;
    let status = key.status(now);
    if status == KeyStatus::Revoked {
        return Err(AdminError::Refused(
            "A revoked key cannot be edited.".into(),
        ));
    }
    Ok((key, status == KeyStatus::Rotated))
}

pub async fn show(
    owner: OwnerSession,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let (key, fixed) = load(&state, owner.account_id.clone(), id.into_inner()).await?;
    render(&owner.session.0, &key, fixed, Typed::of(&key), ("", ""))
}

/// The changes between what the key holds and what was sent; a field left as it was is absent.
fn patch(
    was: &Typed,
    sent: &Typed,
    expiry_fixed: bool,
) -> Result<KeyPatch, (&'static str, String)> {
    let mut patch = KeyPatch::default();
    if sent.name.trim() != was.name {
        patch.name = Some(sent.name.clone());
    }
    if !expiry_fixed && sent.expires_at.trim() != was.expires_at {
        let at = sent.expires_at.trim();
        patch.expires_at = Some((!at.is_empty()).then(|| at.to_owned()));
    }
    if list(&sent.ips) != list(&was.ips) {
        let ips = list(&sent.ips);
        patch.ip_allowlist = Some((!ips.is_empty()).then_some(ips));
    }
    if list(&sent.models) != list(&was.models) {
        let models = list(&sent.models);
        patch.allowed_models = Some((!models.is_empty()).then_some(models));
    }
    if sent.rate_limit.trim() != was.rate_limit {
        patch.rate_limit_per_minute = Some(match sent.rate_limit.trim() {
            "" => None,
            raw => Some(raw.parse::<i64>().map_err(|_| {
                (
                    "rate_limit_per_minute",
                    "must be a positive whole number".to_owned(),
                )
            })?),
        });
    }
    let (credits, period) = (sent.budget_credits.trim(), sent.budget_period.trim());
    if credits != was.budget_credits || period != was.budget_period {
        let given = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        patch.budget = Some((given(credits), given(period)));
    }
    let quota = [
        &sent.quota_requests,
        &sent.quota_refill,
        &sent.quota_refill_day,
    ]
    .map(|s| s.trim());
    let was_quota = [
        &was.quota_requests,
        &was.quota_refill,
        &was.quota_refill_day,
    ]
    .map(|s| s.as_str());
    if quota != was_quota {
        // The form sends every field: all empty removes the quota.
        patch.quota = Some(quota.iter().any(|s| !s.is_empty()).then(|| QuotaInput {
            requests: Some(quota[0].to_owned()),
            refill: Some(quota[1].to_owned()),
            refill_day: Some(quota[2].to_owned()),
        }));
    }
    Ok(patch)
}

pub async fn save(
    req: actix_web::HttpRequest,
    owner: OwnerSession,
    id: web::Path<String>,
    form: web::Form<EditForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let (session, account) = (owner.session, owner.account_id);
    session.check_csrf(&form.csrf)?;
    let id = id.into_inner();
    let (key, fixed) = load(&state, account.clone(), id.clone()).await?;
    let sent = form.into_inner().typed;
    let changes = match patch(&Typed::of(&key), &sent, fixed) {
        Ok(changes) => changes,
        Err((field, message)) => return render(&session.0, &key, fixed, sent, (field, &message)),
    };
    let actor = session.actor(&req, &state);
    let now = state.clock.now();
    let (key_id, scope_account) = (key.id.clone(), account.clone());
    let saved = state
        .store
        .run(move |db| {
            Ok::<_, ServiceError>(update_key(
                db,
                &actor,
                now,
                (Some(&scope_account), &key_id),
                &changes,
            ))
        })
        .await?;
    match saved {
        Ok(_) => Ok(HttpResponse::SeeOther()
            .insert_header((LOCATION, format!("/keys/{id}")))
            .finish()),
        Err(ServiceError::Invalid { field, message, .. }) => {
            render(&session.0, &key, fixed, sent, (field, &message))
        }
        Err(e) => Err(e.into()),
    }
}
