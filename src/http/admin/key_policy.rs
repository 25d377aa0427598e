//! The key policy form of the settings page (docs/admin.md, "Settings"; docs/keys.md, "Key
//! policy"): owners change it, through the same use case as `PUT /api/v1/policy`.

use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};

use super::form::{Pairs, SentBack};
use crate::domain::Preset;
use crate::domain::key::policy::KeyPolicy;
use crate::http::session::{AdminError, AdminSession, OwnerSession};
use crate::http::state::AppState;
use crate::service::{ServiceError, key_policy};

/// What the form shows: the policy in force, or what was typed when it was sent back.
#[derive(Debug, Default)]
pub struct PolicyFields {
    pub default_expiry_days: String,
    pub max_lifetime_days: String,
    pub max_rotation_grace_hours: String,
    pub require_expiry: bool,
    pub enforce_on_use: bool,
    pub presets: Vec<String>,
}

impl PolicyFields {
    pub fn of(policy: &KeyPolicy) -> PolicyFields {
        let text = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
        PolicyFields {
            default_expiry_days: text(policy.default_expiry_days),
            max_lifetime_days: text(policy.max_lifetime_days),
            max_rotation_grace_hours: text(policy.max_rotation_grace_hours),
            require_expiry: policy.require_expiry,
            enforce_on_use: policy.enforce_on_use,
            presets: policy
                .allowed_presets
                .iter()
                .flatten()
                .map(|p| p.id().to_owned())
                .collect(),
        }
    }

    /// Whether the preset's box is ticked (none ticked: any preset).
    pub fn allows(&self, id: &&str) -> bool {
        self.presets.iter().any(|p| p == id)
    }

    /// The form as sent, after its CSRF token is checked.
    fn read(session: &AdminSession, body: &[u8]) -> Result<PolicyFields, AdminError> {
        let form = Pairs::read(session, body)?;
        let field = |name: &str| form.one(name);
        Ok(PolicyFields {
            default_expiry_days: field("default_expiry_days"),
            max_lifetime_days: field("max_lifetime_days"),
            max_rotation_grace_hours: field("max_rotation_grace_hours"),
            require_expiry: field("require_expiry") == "on",
            enforce_on_use: field("enforce_on_use") == "on",
            presets: form.all("allowed_presets"),
        })
    }

    /// The typed values, as the sent-back form keeps them.
    fn typed(&self) -> Vec<(&'static str, String)> {
        vec![
            ("default_expiry_days", self.default_expiry_days.clone()),
            ("max_lifetime_days", self.max_lifetime_days.clone()),
            (
                "max_rotation_grace_hours",
                self.max_rotation_grace_hours.clone(),
            ),
        ]
    }

    fn policy(&self) -> Result<KeyPolicy, ServiceError> {
        let whole = |raw: &str, field: &'static str| -> Result<Option<i64>, ServiceError> {
            match raw.trim() {
                "" => Ok(None),
                raw => raw
                    .parse::<i64>()
                    .map(Some)
                    .map_err(|_| ServiceError::invalid(field, "must be a whole number")),
            }
        };
        let mut allowed = Vec::new();
        for (index, id) in self.presets.iter().enumerate() {
            allowed.push(Preset::parse(id).ok_or_else(|| ServiceError::Invalid {
                field: "allowed_presets",
                message: format!("unknown preset {id:?}"),
                index: Some(index),
            })?);
        }
        Ok(KeyPolicy {
            default_expiry_days: whole(&self.default_expiry_days, "default_expiry_days")?,
            max_lifetime_days: whole(&self.max_lifetime_days, "max_lifetime_days")?,
            require_expiry: self.require_expiry,
            max_rotation_grace_hours: whole(
                &self.max_rotation_grace_hours,
                "max_rotation_grace_hours",
            )?,
            allowed_presets: Some(allowed).filter(|a| !a.is_empty()),
            enforce_on_use: self.enforce_on_use,
        })
    }
}

/// The presets the form offers: id and title.
pub fn preset_choices() -> Vec<(&'static str, &'static str)> {
    Preset::ALL.iter().map(|p| (p.id(), p.title())).collect()
}

pub async fn submit(
    req: HttpRequest,
    owner: OwnerSession,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let (session, account) = (owner.session, owner.account_id);
    let fields = PolicyFields::read(&session, &body)?;
    let actor = session.actor(&req, &state);
    let now = state.clock.now();
    let asked = fields.policy();
    let result = match asked {
        Ok(policy) => {
            state
                .store
                .run(move |c| {
                    Ok::<_, ServiceError>(key_policy::set(c, &actor, &account, &policy, now))
                })
                .await?
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(HttpResponse::SeeOther()
            .insert_header((LOCATION, "/settings"))
            .finish()),
        Err(e) => {
            let sent = SentBack::refused("policy", fields.typed(), e)?;
            super::settings::render(&session, &state, sent, Some(fields)).await
        }
    }
}

/// The instance's default and ceiling, from the instance page (docs/admin.md, "Instance").
pub async fn submit_instance(
    req: HttpRequest,
    session: AdminSession,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    if !session.0.is_instance_admin {
        return Err(AdminError::Forbidden(
            "Only the instance administrator can open the Instance page.".into(),
        ));
    }
    let fields = PolicyFields::read(&session, &body)?;
    let actor = session.actor(&req, &state);
    let now = state.clock.now();
    let result = match fields.policy() {
        Ok(policy) => {
            state
                .store
                .run(move |c| {
                    Ok::<_, ServiceError>(key_policy::set_instance(c, &actor, &policy, now))
                })
                .await?
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(HttpResponse::SeeOther()
            .insert_header((LOCATION, "/instance#key-policy"))
            .finish()),
        Err(e) => {
            let sent = SentBack::refused("policy", fields.typed(), e)?;
            super::instance::render_with(&session.0, &state, None, sent, None, Some(fields)).await
        }
    }
}
