//! The instance administrator's page (docs/admin.md, "Instance"): every user and account, and forms
//! to create both. Nobody else may see or post it.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::assets::{ASSETS, Assets};
use crate::http::session::{AdminError, AdminSession};
use crate::http::state::AppState;
use crate::service::ServiceError;
use crate::service::accounts::{self, Account, CreateAccount, create_account};
use crate::service::sessions::Session;
use crate::service::users::{UserSummary, create_user, list_users};

#[derive(Template)]
#[template(path = "instance.html")]
struct InstancePage<'a> {
    assets: &'a Assets,
    session: &'a Session,
    users: Vec<UserSummary>,
    accounts: Vec<Account>,
    plans: Vec<&'a str>,
    created: Option<(String, String)>,
}

fn require_admin(session: &AdminSession) -> Result<(), AdminError> {
    if session.0.is_instance_admin {
        Ok(())
    } else {
        Err(AdminError::Forbidden)
    }
}

async fn render(
    session: &Session,
    state: &AppState,
    created: Option<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (users, accounts) = state
        .store
        .run(|db| -> Result<_, ServiceError> { Ok((list_users(db)?, accounts::list(&db.read())?)) })
        .await?;
    let page = InstancePage {
        assets: &ASSETS,
        session,
        users,
        accounts,
        plans: state.config.plans.keys().map(String::as_str).collect(),
        created,
    };
    super::render_page(&page)
}

pub async fn page(
    session: AdminSession,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    require_admin(&session)?;
    render(&session.0, &state, None).await
}

#[derive(Deserialize)]
pub struct InstanceForm {
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    team: Option<String>,
    #[serde(default)]
    region: String,
    #[serde(default)]
    plan: String,
}

pub async fn create(
    req: HttpRequest,
    session: AdminSession,
    what: web::Path<String>,
    form: web::Form<InstanceForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    require_admin(&session)?;
    session.check_csrf(&form.csrf)?;
    let actor = session.actor(&req, &state);
    let (now, config, form, what) = (
        state.clock.now(),
        state.config.clone(),
        form.into_inner(),
        what.into_inner(),
    );
    let created = state
        .store
        .run(move |c| match what.as_str() {
            "users" => {
                let membership = Some(form.account.as_str())
                    .filter(|a| !a.is_empty())
                    .map(|a| (a, form.role.as_str()));
                create_user(c, &actor, now, &form.email, membership)
                    .map(|(_, password)| Some((form.email.trim().to_lowercase(), password)))
            }
            "accounts" => {
                let input = CreateAccount {
                    name: form.name,
                    team: form.team.is_some(),
                    region: Some(form.region).filter(|r| !r.is_empty()),
                    plan: Some(form.plan).filter(|p| !p.is_empty()),
                    owner: None,
                };
                create_account(c, &config, &actor, now, input).map(|_| None)
            }
            _ => Err(ServiceError::NotFound("page")),
        })
        .await?;
    render(&session.0, &state, created).await
}
