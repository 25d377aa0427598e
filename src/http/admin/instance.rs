//! The instance administrator's page (docs/admin.md, "Instance"): every account with its members,
//! keys, credits and last activity, opened from here with the primary owner's rights; every user
//! and their workspaces; forms to create both. Nobody else may see or post it.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::form::SentBack;
use super::key_policy::{PolicyFields, preset_choices};
use super::settings::{PlanChoice, plan_choices};
use crate::domain::second_factor::Requirement;
use crate::http::assets::{ASSETS, Assets};
use crate::http::session::{AdminError, AdminSession};
use crate::http::state::AppState;
use crate::service::accounts::{self, AccountOverview, CreateAccount, create_account};
use crate::service::second_factor;
use crate::service::sessions::Session;
use crate::service::users::{UserSummary, create_user, list_users};
use crate::service::{ServiceError, key_policy};

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
    requirement: Requirement,
    /// What a two-step sign-in form just did.
    notice: Option<String>,
    /// The instance's key policy, or the form as it was sent back.
    policy: PolicyFields,
    presets: Vec<(&'static str, &'static str)>,
    policy_action: &'static str,
    can_manage: bool,
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
    render_with(session, state, created, sent, None, None).await
}

pub(super) async fn render_with(
    session: &Session,
    state: &AppState,
    created: Option<Created>,
    sent: SentBack,
    notice: Option<String>,
    typed: Option<PolicyFields>,
) -> Result<HttpResponse, AdminError> {
    let now = state.clock.now();
    let (users, accounts, requirement, policy) = state
        .store
        .run(move |db| -> Result<_, ServiceError> {
            let overview = accounts::overview(&db.read(), now)?;
            let policy = key_policy::get_instance(&db.read())?;
            let requirement = second_factor::requirement(db)?;
            Ok((list_users(db)?, overview, requirement, policy))
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
        requirement,
        notice,
        policy: typed.unwrap_or_else(|| PolicyFields::of(&policy)),
        presets: preset_choices(),
        policy_action: "/instance/key-policy",
        can_manage: true,
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
    #[serde(default)]
    requirement: String,
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
        "two-factor" | "reset-two-factor" => {
            return two_factor(&session.0, &state, actor, &what, form).await;
        }
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
                        owner_password_hash: None,
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

/// Who must have a second factor, and the reset of a person's factor.
async fn two_factor(
    session: &Session,
    state: &AppState,
    actor: crate::service::Actor,
    what: &str,
    form: InstanceForm,
) -> Result<HttpResponse, AdminError> {
    let now = state.clock.now();
    let notice = if what == "two-factor" {
        let requirement = Requirement::parse(&form.requirement).ok_or_else(|| {
            AdminError::BadForm("Choose who must use two-step sign-in from the list.".into())
        })?;
        state
            .store
            .run(move |db| second_factor::set_requirement(db, &actor, requirement, now))
            .await?;
        format!(
            "Two-step sign-in is now required of: {}.",
            requirement.label().to_lowercase()
        )
    } else {
        let email = form.email.trim().to_lowercase();
        let target = email.clone();
        let reset = state
            .store
            .run(move |db| second_factor::reset(db, &actor, &target, now))
            .await?;
        if reset {
            format!("Two-step sign-in of {email} is off and their sessions ended.")
        } else {
            format!("{email} had no second factor; nothing changed.")
        }
    };
    render_with(session, state, None, SentBack::none(), Some(notice), None).await
}
