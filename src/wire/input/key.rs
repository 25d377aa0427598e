//! The bodies of the management API's key operations, as they are read: create, edit, rotate.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{PresetName, ScopeName, TimeInput};
use crate::domain::ip::MAX_ENTRIES;
use crate::domain::key::quota::MAX_QUOTA_REQUESTS;
use crate::domain::name::MAX_NAME_CHARS;
use crate::service::keys::{MAX_ALLOWED_MODELS, MAX_EXPIRES_IN_DAYS};
use crate::service::lifecycle::{KeyPatch, MAX_GRACE_HOURS};

/// A new key: its name, and its scopes from a preset or as a list (one of the two).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CreateApiKeyRequest")]
#[schemars(example = create_example())]
pub struct CreateApiKeyRequest {
    #[schemars(length(min = 1, max = MAX_NAME_CHARS))]
    pub name: String,
    /// Scopes of a preset; give either this or `scopes`.
    #[schemars(with = "Option<PresetName>")]
    pub preset: Option<String>,
    /// Give either this or `preset`.
    #[schemars(with = "Option<Vec<ScopeName>>", length(min = 1))]
    pub scopes: Option<Vec<String>>,
    /// Addresses and networks (CIDR) the key may be used from; left out or empty: any.
    #[schemars(length(max = MAX_ENTRIES))]
    pub ip_allowlist: Option<Vec<String>>,
    /// Must be in the future; give either this or `expires_in_days`. Left out: no expiry.
    #[schemars(with = "Option<TimeInput>")]
    pub expires_at: Option<String>,
    #[schemars(range(min = 1, max = MAX_EXPIRES_IN_DAYS))]
    pub expires_in_days: Option<i64>,
    /// Models (`owner/name`) the key may generate with; left out or empty: every model.
    #[schemars(length(max = MAX_ALLOWED_MODELS))]
    pub allowed_models: Option<Vec<String>>,
    /// Requests per minute this key may make.
    #[schemars(range(min = 1, max = u32::MAX))]
    pub rate_limit_per_minute: Option<i64>,
    /// Left out: `live`.
    #[schemars(with = "Option<crate::wire::Environment>")]
    pub environment: Option<String>,
    /// Credits the key's generations may spend per `budget_period`; give both or neither.
    /// Left out: no budget.
    #[schemars(range(max = 1_000_000))]
    pub budget_credits: Option<f64>,
    #[schemars(with = "Option<crate::wire::BudgetPeriodName>")]
    pub budget_period: Option<String>,
    /// Requests the key may make per refill period; give `quota_refill` with it. Left out: no
    /// quota.
    #[schemars(range(min = 1, max = MAX_QUOTA_REQUESTS))]
    pub quota_requests: Option<i64>,
    #[schemars(with = "Option<crate::wire::QuotaRefillName>")]
    pub quota_refill: Option<String>,
    /// The day of the month of a `monthly` refill (only then); past a month's end, its last day.
    #[schemars(range(min = 1, max = 31))]
    pub quota_refill_day: Option<i64>,
}

fn create_example() -> serde_json::Value {
    serde_json::json!({ "name": "CI deploys", "preset": "generate_only" })
}

/// A rotation: how long the old key keeps working beside the new one.
#[derive(Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RotateApiKeyRequest")]
pub struct RotateApiKeyRequest {
    /// Hours the old key keeps working (never past its own expiry); left out: 24.
    #[schemars(range(min = 1, max = MAX_GRACE_HOURS))]
    pub grace_hours: Option<i64>,
}

/// A partial edit of a key. `Some(None)` clears a field; an absent field is left alone.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "UpdateApiKeyRequest")]
#[schemars(description = concat!(
    "Changes to a key. A field left out is left alone, and so is `null` for `name`, ",
    "`expires_in_days` and `disabled`; `null` clears `expires_at`, `ip_allowlist`, ",
    "`allowed_models` and `rate_limit_per_minute`, and `null` for `budget_credits` or ",
    "`quota_requests` removes the budget or the quota."
))]
pub struct UpdateApiKeyRequest {
    #[schemars(length(min = 1, max = MAX_NAME_CHARS))]
    pub name: Option<String>,
    /// Must be in the future. Give either this or `expires_in_days`; a rotated key's expiry is its
    /// grace period and cannot be edited.
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Option<TimeInput>")]
    pub expires_at: Option<Option<String>>,
    #[schemars(range(min = 1, max = MAX_EXPIRES_IN_DAYS))]
    pub expires_in_days: Option<i64>,
    /// Addresses and networks (CIDR) the key may be used from; `null` or empty: any.
    #[serde(default, deserialize_with = "present")]
    #[schemars(length(max = MAX_ENTRIES))]
    pub ip_allowlist: Option<Option<Vec<String>>>,
    /// Models (`owner/name`) the key may generate with; `null` or empty: every model.
    #[serde(default, deserialize_with = "present")]
    #[schemars(length(max = MAX_ALLOWED_MODELS))]
    pub allowed_models: Option<Option<Vec<String>>>,
    /// `null`: no limit of the key's own.
    #[serde(default, deserialize_with = "present")]
    #[schemars(range(min = 1, max = u32::MAX))]
    pub rate_limit_per_minute: Option<Option<i64>>,
    /// `true` disables the key, `false` enables it again.
    pub disabled: Option<bool>,
    /// Credits the key's generations may spend per `budget_period`: give both to set a
    /// budget; `budget_credits: null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schemars(range(max = 1_000_000))]
    pub budget_credits: Option<Option<f64>>,
    #[schemars(with = "Option<crate::wire::BudgetPeriodName>")]
    pub budget_period: Option<String>,
    /// Requests the key may make per refill period; `null` removes the quota. A quota field left
    /// out keeps its value (the day only while the refill stays `monthly`).
    #[serde(default, deserialize_with = "present")]
    #[schemars(range(min = 1, max = MAX_QUOTA_REQUESTS))]
    pub quota_requests: Option<Option<i64>>,
    #[schemars(with = "Option<crate::wire::QuotaRefillName>")]
    pub quota_refill: Option<String>,
    /// The day of the month of a `monthly` refill; past a month's end, its last day.
    #[schemars(range(min = 1, max = 31))]
    pub quota_refill_day: Option<i64>,
}

/// The quota fields of a key body as typed.
pub fn quota_input(
    requests: Option<i64>,
    refill: Option<String>,
    day: Option<i64>,
) -> crate::service::keys::QuotaInput {
    crate::service::keys::QuotaInput {
        requests: requests.map(|n| n.to_string()),
        refill,
        refill_day: day.map(|d| d.to_string()),
    }
}

/// Tells a field sent as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl From<UpdateApiKeyRequest> for KeyPatch {
    fn from(r: UpdateApiKeyRequest) -> KeyPatch {
        KeyPatch {
            name: r.name,
            expires_at: r.expires_at,
            expires_in_days: r.expires_in_days,
            ip_allowlist: r.ip_allowlist,
            allowed_models: r.allowed_models,
            rate_limit_per_minute: r.rate_limit_per_minute,
            disabled: r.disabled,
            budget: match (r.budget_credits, r.budget_period) {
                (None, None) => None,
                (Some(None), _) => Some((None, None)),
                (credits, period) => Some((credits.flatten().map(|c| c.to_string()), period)),
            },
            quota: match (r.quota_requests, r.quota_refill, r.quota_refill_day) {
                (None, None, None) => None,
                (Some(None), _, _) => Some(None),
                (requests, refill, day) => Some(Some(quota_input(requests.flatten(), refill, day))),
            },
        }
    }
}
