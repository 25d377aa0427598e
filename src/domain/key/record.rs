//! An API key as the product knows it: never the secret, only its digest.

use super::{Environment, KeyStatus};
use crate::domain::{IpAllowlist, ScopeSet, Timestamp};

#[derive(Clone, Debug)]
pub struct ApiKey {
    pub id: String,
    pub account_id: String,
    pub name: String,
    /// The first characters of the key, shown wherever the key is named.
    pub key_prefix: String,
    /// The SHA-256 digest of the whole key, in hex.
    pub key_hash: String,
    pub environment: Environment,
    pub scopes: ScopeSet,
    pub ip_allowlist: IpAllowlist,
    /// `None`: every model.
    pub allowed_models: Option<Vec<String>>,
    pub rate_limit_per_minute: Option<u32>,
    pub created_at: Timestamp,
    /// Who created it, as the activity log names them.
    pub created_by: Option<String>,
    pub last_used_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub rotated_at: Option<Timestamp>,
    /// The key that replaced this one at its rotation.
    pub replaced_by: Option<String>,
    /// The key this one replaced.
    pub replaces: Option<String>,
    pub disabled_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    /// At most this many credits spent by its generations per period.
    pub budget: Option<super::budget::Budget>,
    /// At most this many requests per refill period, and what the period has used (shared
    /// with the key that replaced this one, once rotated).
    pub quota: Option<super::quota::KeyQuota>,
}

impl ApiKey {
    /// The status at `now`, derived from the lifecycle timestamps.
    pub fn status(&self, now: Timestamp) -> KeyStatus {
        KeyStatus::derive(
            now,
            self.expires_at,
            self.rotated_at,
            self.disabled_at,
            self.revoked_at,
        )
    }

    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|e| e <= now)
    }
}
