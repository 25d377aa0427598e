//! The settings page: workspace name, plan, credit balance and ledger, add credits, low-balance
//! thresholds. Everyone in the workspace sees it; only the primary owner changes it.

use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::assets::{ASSETS, Assets};
use crate::domain::Money;
use crate::domain::account::Role;
use crate::http::session::{AdminError, AdminSession, PrimaryOwnerSession};
use crate::http::state::AppState;
use crate::service::ServiceError;
use crate::service::accounts::{self, Account};
use crate::service::credits::add_credits;
use crate::service::sessions::Session;
use crate::service::settings::{self, LedgerEntry};

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage<'a> {
    assets: &'a Assets,
    session: &'a Session,
    account: Account,
    plans: Vec<&'a str>,
    ledger: Vec<LedgerEntry>,
    thresholds: Vec<Money>,
    max_thresholds: usize,
    is_primary: bool,
}

pub async fn page(
    session: AdminSession,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let account_id = session.0.account_id.clone().ok_or(AdminError::NotFound)?;
    let (account, ledger, thresholds) = state
        .store
        .run(move |db| -> Result<_, ServiceError> {
            let account = accounts::get(&db.read(), &account_id)?;
            let ledger = settings::ledger(db, &account_id, 50)?;
            Ok((account, ledger, settings::thresholds(db, &account_id)?))
        })
        .await?;
    let page = SettingsPage {
        assets: &ASSETS,
        session: &session.0,
        account,
        plans: state.config.plans.keys().map(String::as_str).collect(),
        ledger,
        thresholds,
        max_thresholds: settings::MAX_THRESHOLDS,
        is_primary: session.role().is_some_and(Role::is_primary),
    };
    super::render_page(&page)
}

#[derive(Deserialize)]
pub struct SettingsForm {
    csrf: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    reference: String,
}

pub async fn change(
    req: HttpRequest,
    primary: PrimaryOwnerSession,
    action: web::Path<String>,
    form: web::Form<SettingsForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let (session, account) = (primary.session, primary.account_id);
    session.check_csrf(&form.csrf)?;
    let actor = session.actor(&req, &state);
    let now = state.clock.now();
    let SettingsForm {
        value, reference, ..
    } = form.into_inner();
    let money = |raw: &str| {
        Money::parse(raw).ok_or_else(|| {
            ServiceError::invalid("amount", "must be an amount with at most 3 decimals")
        })
    };
    let config = state.config.clone();
    let action = action.into_inner();
    state
        .store
        .run(move |c| match action.as_str() {
            "name" => settings::rename(c, &actor, &account, &value, now),
            "plan" => settings::set_plan(c, &config, &actor, &account, &value, now),
            "credits" => money(&value).and_then(|amount| {
                let reference = Some(reference.trim()).filter(|r| !r.is_empty());
                add_credits(c, &actor, now, &account, amount, reference).map(drop)
            }),
            "threshold-add" => {
                money(&value).and_then(|t| settings::add_threshold(c, &actor, &account, t, now))
            }
            "threshold-remove" => {
                money(&value).and_then(|t| settings::remove_threshold(c, &actor, &account, t, now))
            }
            _ => Err(ServiceError::NotFound("setting")),
        })
        .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((LOCATION, "/settings"))
        .finish())
}
