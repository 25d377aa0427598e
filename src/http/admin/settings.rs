//! The settings page: workspace name, plan, credit balance and ledger, add credits, low-balance
//! thresholds. Everyone in the workspace sees it; only the primary owner changes it.

use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::form::SentBack;
use super::key_policy::{PolicyFields, preset_choices};
use crate::domain::Money;
use crate::domain::account::Role;
use crate::http::assets::{ASSETS, Assets};
use crate::http::session::{AdminError, AdminSession, OwnerSession, PrimaryOwnerSession};
use crate::http::state::AppState;
use crate::providers::smtp::{Outgoing, Smtp};
use crate::service::accounts::{self, Account};
use crate::service::credits::add_credits;
use crate::service::sessions::Session;
use crate::service::settings::{self, LedgerEntry, MailStatus};
use crate::service::{ServiceError, key_policy, leaks};

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage<'a> {
    assets: &'a Assets,
    session: &'a Session,
    account: Account,
    plans: Vec<PlanChoice<'a>>,
    ledger: Vec<LedgerEntry>,
    thresholds: Vec<Money>,
    max_thresholds: usize,
    is_primary: bool,
    /// Owners change the key policy; everyone sees it.
    can_manage: bool,
    policy: PolicyFields,
    presets: Vec<(&'static str, &'static str)>,
    policy_action: &'static str,
    /// The SMTP server notices go through (`host:port`), if one is set up.
    mail_server: Option<String>,
    mail: MailStatus,
    /// What "E-mail a test message" just did: sent (true) or not, and what to say.
    mail_test: Option<(bool, String)>,
    /// What is done with a key reported leaked.
    leak_action: &'static str,
    sent: SentBack,
}

/// A plan the form offers, with what it limits.
pub struct PlanChoice<'a> {
    pub name: &'a str,
    pub limits: String,
}

/// "60/min · 1,000/day · 1 in flight", or "no rate limits".
pub fn plan_choices(config: &crate::config::Config) -> Vec<PlanChoice<'_>> {
    config
        .plans
        .iter()
        .map(|(name, plan)| {
            let parts: Vec<String> = [
                plan.requests_per_minute.map(|n| format!("{n}/min")),
                plan.requests_per_day.map(|n| format!("{n}/day")),
                plan.max_in_flight.map(|n| format!("{n} in flight")),
            ]
            .into_iter()
            .flatten()
            .collect();
            PlanChoice {
                name,
                limits: if parts.is_empty() {
                    "no rate limits".to_owned()
                } else {
                    parts.join(" · ")
                },
            }
        })
        .collect()
}

/// The page, with `sent` back in error; `typed` is the key policy form as it was sent, if it was.
pub(super) async fn render(
    session: &AdminSession,
    state: &AppState,
    sent: SentBack,
    typed: Option<PolicyFields>,
) -> Result<HttpResponse, AdminError> {
    render_with(session, state, sent, typed, None).await
}

async fn render_with(
    session: &AdminSession,
    state: &AppState,
    sent: SentBack,
    typed: Option<PolicyFields>,
    mail_test: Option<(bool, String)>,
) -> Result<HttpResponse, AdminError> {
    let account_id = session.account_id()?;
    let (account, ledger, thresholds, policy, mail) = state
        .store
        .run(move |db| -> Result<_, ServiceError> {
            let account = accounts::get(&db.read(), &account_id)?;
            let ledger = settings::ledger(db, &account_id, 50)?;
            let policy = key_policy::get(&db.read(), &account_id)?;
            let thresholds = settings::thresholds(db, &account_id)?;
            let mail = settings::mail_status(db, &account_id)?;
            let leak = leaks::account_action(&db.read(), &account_id)?;
            Ok((account, ledger, thresholds, policy, (mail, leak)))
        })
        .await?;
    let (mail, leak) = mail;
    let smtp = &state.config.smtp;
    let page = SettingsPage {
        assets: &ASSETS,
        session: &session.0,
        account,
        plans: plan_choices(&state.config),
        ledger,
        thresholds,
        max_thresholds: settings::MAX_THRESHOLDS,
        is_primary: session.role().is_some_and(Role::is_primary),
        can_manage: session.can_manage(),
        policy: typed.unwrap_or_else(|| PolicyFields::of(&policy)),
        presets: preset_choices(),
        policy_action: "/settings/key-policy",
        mail_server: (!smtp.host.is_empty()).then(|| format!("{}:{}", smtp.host, smtp.port)),
        mail,
        mail_test,
        leak_action: leak.as_str(),
        sent,
    };
    super::render_page_with(page.sent.status(), &page)
}

pub async fn page(
    session: AdminSession,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    render(&session, &state, SentBack::none(), None).await
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
    let money = |raw: &str, field| {
        Money::parse(raw.trim()).ok_or_else(|| {
            ServiceError::invalid(
                field,
                "must be a number with at most 3 decimals, like 25 or 2.5",
            )
        })
    };
    let config = state.config.clone();
    let action = action.into_inner();
    // The form each action belongs to, and what was typed into it.
    let (form_name, typed): (&'static str, Vec<(&'static str, String)>) = match action.as_str() {
        "name" => ("name", vec![("name", value.clone())]),
        "plan" => ("plan", vec![("plan", value.clone())]),
        "credits" => (
            "credits",
            vec![("amount", value.clone()), ("reference", reference.clone())],
        ),
        "threshold-add" | "threshold-remove" => ("threshold", vec![("threshold", value.clone())]),
        _ => return Err(AdminError::not_found("page")),
    };
    let result = state
        .store
        .run(move |c| {
            Ok::<_, ServiceError>(match action.as_str() {
                "name" => settings::rename(c, &actor, &account, &value, now),
                "plan" => settings::set_plan(c, &config, &actor, &account, &value, now),
                "credits" => money(&value, "amount").and_then(|amount| {
                    let reference = Some(reference.trim()).filter(|r| !r.is_empty());
                    add_credits(c, &actor, now, &account, amount, reference).map(drop)
                }),
                "threshold-add" => money(&value, "threshold")
                    .and_then(|t| settings::add_threshold(c, &actor, &account, t, now)),
                _ => money(&value, "threshold")
                    .and_then(|t| settings::remove_threshold(c, &actor, &account, t, now)),
            })
        })
        .await?;
    match result {
        Ok(()) => Ok(HttpResponse::SeeOther()
            .insert_header((LOCATION, "/settings"))
            .finish()),
        Err(e) => {
            render(
                &session,
                &state,
                SentBack::refused(form_name, typed, e)?,
                None,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct TestMailForm {
    csrf: String,
}

/// How long "E-mail a test message" waits for the server before saying so.
const MAIL_TEST_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// Sends a test message to the signed-in owner at once, through the configured server, and shows
/// what the server answered; the answer is logged too.
pub async fn test_mail(
    owner: OwnerSession,
    form: web::Form<TestMailForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let session = owner.session;
    session.check_csrf(&form.csrf)?;
    let to = session.0.email.clone();
    let result = match Smtp::new(&state.config.smtp) {
        _ if state.config.smtp.host.is_empty() => {
            Err("no SMTP server is set up on this server".to_owned())
        }
        Err(e) => Err(e),
        Ok(smtp) => {
            let recipients = [to.clone()];
            let text = "This is a test message from Tidegate. Notices reach you this way.\n";
            let html = "<!DOCTYPE html><html><body><p>This is a test message from Tidegate. \
                        Notices reach you this way.</p></body></html>";
            let outgoing = Outgoing {
                to: &recipients,
                subject: "Tidegate test message",
                text,
                html,
            };
            tokio::time::timeout(MAIL_TEST_WAIT, smtp.send(&outgoing))
                .await
                .unwrap_or_else(|_| Err("the server did not answer in time".to_owned()))
        }
    };
    let said = match result {
        Ok(()) => {
            tracing::info!(account = %owner.account_id, "test e-mail sent");
            (true, format!("A test message was sent to {to}."))
        }
        Err(error) => {
            tracing::warn!(account = %owner.account_id, error = %error, "sending a test e-mail failed");
            (
                false,
                format!("The test message could not be sent: {error}"),
            )
        }
    };
    render_with(&session, &state, SentBack::none(), None, Some(said)).await
}

#[derive(Deserialize)]
pub struct LeakForm {
    csrf: String,
    #[serde(default)]
    leak_action: String,
}

/// Sets what is done with the workspace's keys reported leaked (owners).
pub async fn leak_action(
    req: HttpRequest,
    owner: OwnerSession,
    form: web::Form<LeakForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let (session, account) = (owner.session, owner.account_id);
    session.check_csrf(&form.csrf)?;
    let (actor, now) = (session.actor(&req, &state), state.clock.now());
    let chosen = form.leak_action.clone();
    let result = state
        .store
        .run(move |db| {
            Ok::<_, ServiceError>(leaks::set_account_action(
                db, &actor, &account, &chosen, now,
            ))
        })
        .await?;
    match result {
        Ok(()) => Ok(HttpResponse::SeeOther()
            .insert_header((LOCATION, "/settings#leaks"))
            .finish()),
        Err(e) => {
            let sent =
                SentBack::refused("leaks", vec![("leak_action", form.leak_action.clone())], e)?;
            render(&session, &state, sent, None).await
        }
    }
}
