//! The body of `PUT /api/v1/policy` (docs/keys.md, "Key policy").

use schemars::JsonSchema;
use serde::Deserialize;

use super::PresetName;
use crate::domain::Preset;
use crate::domain::key::policy::{KeyPolicy, MAX_POLICY_DAYS, MAX_POLICY_GRACE_HOURS};
use crate::service::ServiceError;

/// The account's whole key policy, replacing the one it had; a field left out (or `null`) is a
/// rule not set.
#[derive(Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "KeyPolicyRequest")]
#[schemars(example = policy_example())]
pub struct KeyPolicyRequest {
    /// Days until a key created without an expiry expires; at most `max_lifetime_days`.
    #[schemars(range(min = 1, max = MAX_POLICY_DAYS))]
    pub default_expiry_days: Option<i64>,
    /// The longest a key may live, from its creation to its expiry, in days.
    #[schemars(range(min = 1, max = MAX_POLICY_DAYS))]
    pub max_lifetime_days: Option<i64>,
    /// Every key must carry an expiry. Left out: false.
    pub require_expiry: Option<bool>,
    /// The longest grace period a rotation may give the old key, in hours.
    #[schemars(range(min = 1, max = MAX_POLICY_GRACE_HOURS))]
    pub max_rotation_grace_hours: Option<i64>,
    /// The presets a key may be created from; its scopes stay within theirs. Left out: any.
    #[schemars(with = "Option<Vec<PresetName>>", length(min = 1))]
    pub allowed_presets: Option<Vec<String>>,
    /// Refuse a key that breaks the policy at use, with the expired key's error. Left out: false.
    pub enforce_on_use: Option<bool>,
}

fn policy_example() -> serde_json::Value {
    serde_json::json!({ "default_expiry_days": 30, "max_lifetime_days": 90, "require_expiry": true })
}

impl KeyPolicyRequest {
    /// The policy asked for; an unknown preset is refused naming its place in the list.
    pub fn into_policy(self) -> Result<KeyPolicy, ServiceError> {
        let allowed_presets = self
            .allowed_presets
            .map(|names| {
                names
                    .iter()
                    .enumerate()
                    .map(|(index, id)| {
                        Preset::parse(id.trim()).ok_or_else(|| ServiceError::Invalid {
                            field: "allowed_presets",
                            message: format!("unknown preset {id:?}"),
                            index: Some(index),
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        Ok(KeyPolicy {
            default_expiry_days: self.default_expiry_days,
            max_lifetime_days: self.max_lifetime_days,
            require_expiry: self.require_expiry.unwrap_or(false),
            max_rotation_grace_hours: self.max_rotation_grace_hours,
            allowed_presets,
            enforce_on_use: self.enforce_on_use.unwrap_or(false),
        })
    }
}
