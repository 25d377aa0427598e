//! API keys on the wire: the key itself (never its secret, never its digest), the key with its
//! secret right after it was made, its rotation chain and its usage.

use schemars::JsonSchema;
use serde::Serialize;

use super::{BudgetPeriodName, Environment, QuotaRefillName, Time, count, named};
use crate::domain::Timestamp;
use crate::domain::key::ApiKey;

named!(
    /// A key's status at the moment of the answer.
    KeyStatus(crate::domain::KeyStatus),
    crate::domain::KeyStatus::ALL
);

named!(
    /// A scope a key carries.
    Scope(crate::domain::Scope),
    crate::domain::Scope::ALL
);

/// An API key as people and programs see it.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "ApiKey")]
pub struct KeyOut {
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
    #[schemars(extend("format" = "uuid"))]
    pub account_id: String,
    pub name: String,
    /// The first characters of the key, shown wherever the key is named.
    pub key_prefix: String,
    pub environment: Environment,
    pub status: KeyStatus,
    pub scopes: Vec<Scope>,
    /// Addresses and networks (CIDR) the key may be used from; `null`: any.
    pub ip_allowlist: Option<Vec<String>>,
    /// Models the key may generate with; `null`: every model.
    pub allowed_models: Option<Vec<String>>,
    #[schemars(range(min = 1))]
    pub rate_limit_per_minute: Option<u32>,
    pub created_at: Time,
    pub created_by: Option<String>,
    pub last_used_at: Option<Time>,
    pub expires_at: Option<Time>,
    pub rotated_at: Option<Time>,
    /// The key that replaced this one at its rotation.
    pub replaced_by: Option<String>,
    /// The key this one replaced.
    pub replaces: Option<String>,
    pub disabled_at: Option<Time>,
    pub revoked_at: Option<Time>,
    /// Credits its generations may spend per `budget_period`; `null`: no budget.
    pub budget_credits: Option<f64>,
    pub budget_period: Option<BudgetPeriodName>,
    /// Requests it may make per refill period; `null`: no quota.
    pub quota_requests: Option<u64>,
    pub quota_refill: Option<QuotaRefillName>,
    /// The day of the month of a `monthly` refill.
    pub quota_refill_day: Option<u8>,
    /// Requests left until the refill (shared with the key that replaced it, once rotated).
    pub quota_remaining: Option<u64>,
    /// When the quota is whole again; `null` without a quota or a refill.
    pub quota_refills_at: Option<Time>,
}

impl KeyOut {
    pub fn of(k: &ApiKey, now: Timestamp) -> KeyOut {
        KeyOut {
            id: k.id.clone(),
            account_id: k.account_id.clone(),
            name: k.name.clone(),
            key_prefix: k.key_prefix.clone(),
            environment: Environment(k.environment),
            status: KeyStatus(k.status(now)),
            scopes: k.scopes.iter().map(Scope).collect(),
            ip_allowlist: (!k.ip_allowlist.is_empty()).then(|| k.ip_allowlist.entries()),
            allowed_models: k.allowed_models.clone(),
            rate_limit_per_minute: k.rate_limit_per_minute,
            created_at: Time(k.created_at),
            created_by: k.created_by.clone(),
            last_used_at: Time::of(k.last_used_at),
            expires_at: Time::of(k.expires_at),
            rotated_at: Time::of(k.rotated_at),
            replaced_by: k.replaced_by.clone(),
            replaces: k.replaces.clone(),
            disabled_at: Time::of(k.disabled_at),
            revoked_at: Time::of(k.revoked_at),
            budget_credits: k.budget.map(|b| b.credits.thousandths() as f64 / 1000.0),
            budget_period: k.budget.map(|b| BudgetPeriodName(b.period)),
            quota_requests: k.quota.map(|q| count(q.quota.requests)),
            quota_refill: k.quota.map(|q| QuotaRefillName(q.quota.refill)),
            quota_refill_day: k.quota.and_then(|q| q.quota.refill.day()),
            quota_remaining: k.quota.map(|q| count(q.remaining(now))),
            quota_refills_at: Time::of(k.quota.and_then(|q| q.refills_at(now))),
        }
    }
}

/// A new key, with its secret: this is the only answer that ever carries it.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "ApiKeyCreated")]
pub struct CreatedKeyOut {
    #[serde(flatten)]
    pub key: KeyOut,
    /// The key itself, shown only in this answer.
    #[serde(rename = "key")]
    pub secret: String,
}

/// A key with the chain of rotations it belongs to.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "ApiKeyDetail")]
pub struct KeyDetailOut {
    #[serde(flatten)]
    pub key: KeyOut,
    /// Oldest first; the key itself is marked `is_current`.
    pub rotation_chain: Vec<ChainLinkOut>,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "RotationLink")]
pub struct ChainLinkOut {
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
    pub key_prefix: String,
    pub status: KeyStatus,
    pub created_at: Time,
    pub is_current: bool,
}

impl KeyDetailOut {
    pub fn of(key: &ApiKey, chain: &[ApiKey], now: Timestamp) -> KeyDetailOut {
        KeyDetailOut {
            key: KeyOut::of(key, now),
            rotation_chain: chain
                .iter()
                .map(|k| ChainLinkOut {
                    id: k.id.clone(),
                    key_prefix: k.key_prefix.clone(),
                    status: KeyStatus(k.status(now)),
                    created_at: Time(k.created_at),
                    is_current: k.id == key.id,
                })
                .collect(),
        }
    }
}

/// The key a rotation made (with its secret) and the key it replaced.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "ApiKeyRotated")]
pub struct RotatedKeyOut {
    #[serde(flatten)]
    pub key: CreatedKeyOut,
    pub previous_key: PreviousKeyOut,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "PreviousKey")]
pub struct PreviousKeyOut {
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
    pub key_prefix: String,
    pub status: KeyStatus,
    /// When the old key stops working.
    pub grace_ends_at: Option<Time>,
}

impl RotatedKeyOut {
    pub fn of(old: &ApiKey, new: &ApiKey, secret: &str, now: Timestamp) -> RotatedKeyOut {
        RotatedKeyOut {
            key: CreatedKeyOut::of(new, secret, now),
            previous_key: PreviousKeyOut {
                id: old.id.clone(),
                key_prefix: old.key_prefix.clone(),
                status: KeyStatus(old.status(now)),
                grace_ends_at: Time::of(old.expires_at),
            },
        }
    }
}

impl CreatedKeyOut {
    pub fn of(key: &ApiKey, secret: &str, now: Timestamp) -> CreatedKeyOut {
        CreatedKeyOut {
            key: KeyOut::of(key, now),
            secret: secret.to_owned(),
        }
    }
}

/// What deleting a key removed.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "ApiKeyDeleted")]
pub struct DeletedKeyOut {
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
    #[schemars(extend("enum" = [true]))]
    pub deleted: bool,
    pub request_logs_deleted: u64,
}

impl DeletedKeyOut {
    pub fn of(key: &ApiKey, logs: i64) -> DeletedKeyOut {
        DeletedKeyOut {
            id: key.id.clone(),
            deleted: true,
            request_logs_deleted: count(logs),
        }
    }
}

/// A page of keys.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "ApiKeyList")]
pub struct KeyListOut {
    pub api_keys: Vec<KeyOut>,
}

/// A key's requests over its last days.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "ApiKeyUsage")]
pub struct KeyUsageOut {
    #[schemars(extend("format" = "uuid"))]
    pub key_id: String,
    #[schemars(range(min = 1))]
    pub days: u32,
    pub total_requests: u64,
    pub successful: u64,
    pub failed: u64,
    pub by_endpoint: Vec<EndpointCountOut>,
    /// One entry per day, oldest first, days without requests included.
    pub by_day: Vec<DayCountOut>,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "ApiKeyEndpointUsage")]
pub struct EndpointCountOut {
    /// The route template, e.g. `/v1/content/{generation_id}`.
    pub endpoint: String,
    pub total_requests: u64,
    pub successful: u64,
    pub failed: u64,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "ApiKeyDayUsage")]
pub struct DayCountOut {
    /// The UTC day, `YYYY-MM-DD`.
    #[schemars(extend("format" = "date"))]
    pub date: String,
    pub total_requests: u64,
    pub successful: u64,
    pub failed: u64,
}

/// `GET /v1/status`: the calling key.
// Borrowed: the busiest answer is serialized once, straight from the key.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "StatusData")]
pub struct StatusData<'a> {
    #[schemars(extend("format" = "uuid"))]
    pub account_id: &'a str,
    #[schemars(extend("format" = "uuid"))]
    pub apikey_id: &'a str,
    pub apikey_name: &'a str,
    pub apikey_prefix: &'a str,
    pub apikey_created_at: Time,
    /// This request: the status call is a use of the key.
    pub apikey_last_used_at: Time,
    pub apikey_expires_at: Option<Time>,
    /// The key's request quota, when it has one (docs/keys.md, "Request quotas").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apikey_quota_requests: Option<u64>,
    /// Requests left after this one until the refill.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apikey_quota_remaining: Option<u64>,
    /// When the quota is whole again; left out when it never refills.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apikey_quota_refills_at: Option<Time>,
}

impl<'a> StatusData<'a> {
    pub fn of(
        key: &'a ApiKey,
        quota: Option<crate::service::quota::QuotaLeft>,
        now: Timestamp,
    ) -> StatusData<'a> {
        StatusData {
            apikey_quota_requests: quota.map(|q| count(q.requests)),
            apikey_quota_remaining: quota.map(|q| count(q.remaining)),
            apikey_quota_refills_at: Time::of(quota.and_then(|q| q.refills_at)),
            account_id: &key.account_id,
            apikey_id: &key.id,
            apikey_name: &key.name,
            apikey_prefix: &key.key_prefix,
            apikey_created_at: Time(key.created_at),
            apikey_last_used_at: Time(now),
            apikey_expires_at: Time::of(key.expires_at),
        }
    }
}
