//! The instance administrator's page (docs/admin.md, "Instance"): every account with its members,
//! keys, credits and last activity, opened from here with the primary owner's rights; every user
//! and their workspaces; forms to create both. Nobody else may see or post it.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::form::SentBack;
use super::settings::{PlanChoice, plan_choices};
use crate::http::assets::{ASSETS, Assets};
use crate::http::session::{AdminError, AdminSession};
use crate::http::state::AppState;
use crate::service::ServiceError;
use crate::service::accounts::{self, AccountOverview, CreateAccount, create_account};
use crate::service::sessions::Session;
use crate::service::users::{UserSummary, create_user, list_users};

/// Someone created by a form of this page, with the one-time password shown only now.
pub struct Created {
    pub what: String,
    pub email: String,
    pub password: Option<String>,
}

#[derive(Template)]
#[template(path = "instance.html")]
struct InstancePage<'a> {
    assets: &'a Assets,
    session: &'a Session,
    users: Vec<UserSummary>,
    accounts: Vec<AccountOverview>,
    plans: Vec<PlanChoice<'a>>,
    regions: &'a [String],
    created: Option<Created>,
    sent: SentBack,
}

impl InstancePage<'_> {
    /// An account's name for a membership, or its id when it has been deleted.
    fn account_name<'b>(&'b self, id: &'b str) -> &'b str {
        self.accounts
            .iter()
            .find(|a| a.account.id == id)
            .map_or(id, |a| a.account.name.as_str())
    }
}

fn require_admin(session: &AdminSession) -> Result<(), AdminError> {
    if session.0.is_instance_admin {
        Ok(())
    } else {
        Err(AdminError::Forbidden(
            "Only the instance administrator can open the Instance page.".into(),
        ))
    }
}

async fn render(
    session: &Session,
    state: &AppState,
    created: Option<Created>,
    sent: SentBack,
) -> Result<HttpResponse, AdminError> {
    let now = state.clock.now();
    let (users, accounts) = state
        .store
        .run(move |db| -> Result<_, ServiceError> {
            Ok((list_users(db)?, accounts::overview(&db.read(), now)?))
        })
        .await?;
    let page = InstancePage {
        assets: &ASSETS,
        session,
        users,
        accounts,
        plans: plan_choices(&state.config),
        regions: &state.config.server.regions,
        created,
        sent,
    };
    super::render_page_with(page.sent.status(), &page)
}

pub async fn page(
    session: AdminSession,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    require_admin(&session)?;
    render(&session.0, &state, None, SentBack::none()).await
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
    owner_email: String,
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
    let (form_name, typed): (&'static str, Vec<(&'static str, String)>) = match what.as_str() {
        "users" => (
            "user",
            vec![
                ("email", form.email.clone()),
                ("account", form.account.clone()),
                ("role", form.role.clone()),
            ],
        ),
        "accounts" => (
            "account",
            vec![
                ("name", form.name.clone()),
                ("owner_email", form.owner_email.clone()),
                ("region", form.region.clone()),
                ("plan", form.plan.clone()),
                (
                    "team",
                    form.team.clone().map(|_| "on".into()).unwrap_or_default(),
                ),
            ],
        ),
        _ => return Err(AdminError::not_found("page")),
    };
    let result = state
        .store
        .run(move |c| {
            Ok::<_, ServiceError>(match what.as_str() {
                "users" => {
                    let membership = Some(form.account.as_str())
                        .filter(|a| !a.is_empty())
                        .map(|a| (a, form.role.as_str()));
                    create_user(c, &actor, now, &form.email, membership).map(|(_, password)| {
                        Created {
                            what: "the user".into(),
                            email: form.email.trim().to_lowercase(),
                            password: Some(password),
                        }
                    })
                }
                _ => {
                    let input = CreateAccount {
                        name: form.name,
                        team: form.team.is_some(),
                        region: Some(form.region).filter(|r| !r.is_empty()),
                        plan: Some(form.plan).filter(|p| !p.is_empty()),
                        owner: Some(form.owner_email).filter(|o| !o.trim().is_empty()),
                    };
                    create_account(c, &config, &actor, now, input).map(|created| Created {
                        what: format!("the account \u{201c}{}\u{201d}", created.account.name),
                        email: created.owner_email,
                        password: created.owner_password,
                    })
                }
            })
        })
        .await?;
    match result {
        Ok(created) => render(&session.0, &state, Some(created), SentBack::none()).await,
        Err(e) => {
            let sent = SentBack::refused(form_name, typed, e)?;
            render(&session.0, &state, None, sent).await
        }
    }
}
