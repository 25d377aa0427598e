//! An account's key policy on the wire (docs/keys.md, "Key policy").

use schemars::JsonSchema;
use serde::Serialize;

use crate::domain::key::policy::KeyPolicy;

/// The rules every key of the account is created, edited and rotated under; `null`: no rule.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "KeyPolicy")]
pub struct KeyPolicyOut {
    /// Days until a key created without an expiry expires.
    pub default_expiry_days: Option<i64>,
    /// The longest a key may live, from its creation to its expiry, in days.
    pub max_lifetime_days: Option<i64>,
    /// Whether every key must carry an expiry.
    pub require_expiry: bool,
    /// The longest grace period a rotation may give the old key, in hours.
    pub max_rotation_grace_hours: Option<i64>,
    /// The presets a key may be created from; its scopes stay within theirs. `null`: any.
    pub allowed_presets: Option<Vec<String>>,
    /// Whether a key that breaks the policy is refused at use, as an expired key is.
    pub enforce_on_use: bool,
}

impl KeyPolicyOut {
    pub fn of(policy: &KeyPolicy) -> KeyPolicyOut {
        KeyPolicyOut {
            default_expiry_days: policy.default_expiry_days,
            max_lifetime_days: policy.max_lifetime_days,
            require_expiry: policy.require_expiry,
            max_rotation_grace_hours: policy.max_rotation_grace_hours,
            allowed_presets: policy
                .allowed_presets
                .as_ref()
                .map(|ps| ps.iter().map(|p| p.id().to_owned()).collect()),
            enforce_on_use: policy.enforce_on_use,
        }
    }
}
