//! Rotation, expiry, edits and deletion of keys (docs/keys.md, "Lifecycle").

use super::changes::{self, Change, KeyChange, KeyRef};
use super::keys::{
    Scope, get_key_in, parse_allowlist, parse_expiry, parse_models, parse_rate_limit,
};
use super::{Actor, ServiceError, key_policy};
use crate::domain::key::ApiKey;
use crate::domain::key::budget::Budget;
use crate::domain::key::quota::KeyQuota;
use crate::domain::{KeyFormat, KeySecret, KeyStatus, Name, Timestamp};
use crate::store::Db;
use crate::store::keys;

pub const DEFAULT_GRACE_HOURS: i64 = 24;
pub const MAX_GRACE_HOURS: i64 = 168;

/// Rotates an Active (or Disabled) key: a new key inherits everything, the old one keeps working
/// until `min(its expiry, now + grace)`.
pub fn rotate_key(
    db: &mut Db,
    format: &KeyFormat,
    actor: &Actor,
    now: Timestamp,
    scope: Scope<'_>,
    grace_hours: Option<i64>,
) -> Result<(ApiKey, ApiKey, KeySecret), ServiceError> {
    let grace = grace_hours.unwrap_or(DEFAULT_GRACE_HOURS);
    if !(1..=MAX_GRACE_HOURS).contains(&grace) {
        return Err(ServiceError::invalid(
            "grace_hours",
            format!("must be between 1 and {MAX_GRACE_HOURS}"),
        ));
    }
    let tx = db.write()?;
    let old = get_key_in(&tx, scope.0, scope.1)?;
    match old.status(now) {
        KeyStatus::Active | KeyStatus::Disabled
            if old.rotated_at.is_none() && !expired(&old, now) => {}
        status => {
            return Err(ServiceError::InvalidState(format!(
                "a {} key cannot be rotated",
                status.as_str()
            )));
        }
    }
    let expires_at = key_policy::check_rotation(&tx, &old.account_id, grace, old.expires_at, now)?;
    let secret = format
        .generate(old.environment)
        .map_err(crate::store::StoreError::from)?;
    let new = ApiKey {
        id: uuid::Uuid::new_v4().to_string(),
        key_prefix: secret.prefix().to_owned(),
        key_hash: secret.digest().to_hex(),
        created_at: now,
        created_by: Some(actor.label()),
        last_used_at: None,
        rotated_at: None,
        replaced_by: None,
        replaces: Some(old.id.clone()),
        disabled_at: None,
        revoked_at: None,
        expires_at,
        ..old.clone()
    };
    keys::insert_key(&tx, &new)?;
    let grace_end = now.plus_millis(grace * Timestamp::MS_PER_HOUR);
    let old_expiry = old.expires_at.map_or(grace_end, |e| e.min(grace_end));
    keys::mark_rotated(&tx, &old.id, now, &new.id, old_expiry)?;
    let rotated = KeyChange::Rotated {
        new: &new,
        grace_ends: old_expiry,
    };
    changes::record(&tx, actor, Change::Key(KeyRef::of(&old), rotated), now)?;
    tx.commit()?;
    let old = get_key_in(&db.read(), None, &old.id)?;
    Ok((old, new, secret))
}

fn expired(key: &ApiKey, now: Timestamp) -> bool {
    key.expires_at.is_some_and(|e| e <= now)
}

/// Ends a rotated key's grace period now.
pub fn expire_now(
    db: &mut Db,
    actor: &Actor,
    now: Timestamp,
    scope: Scope<'_>,
) -> Result<ApiKey, ServiceError> {
    let tx = db.write()?;
    let key = get_key_in(&tx, scope.0, scope.1)?;
    if key.status(now) != KeyStatus::Rotated {
        return Err(ServiceError::InvalidState(
            "only a rotated key in its grace period can be expired now".into(),
        ));
    }
    keys::expire_at(&tx, &key.id, now)?;
    let ended = Change::Key(KeyRef::of(&key), KeyChange::GraceEnded);
    changes::record(&tx, actor, ended, now)?;
    tx.commit()?;
    get_key_in(&db.read(), None, &key.id)
}

/// Deletes a key and all its request-log rows; returns the key as it was and the rows removed.
pub fn delete_key(
    db: &mut Db,
    actor: &Actor,
    now: Timestamp,
    scope: Scope<'_>,
) -> Result<(ApiKey, i64), ServiceError> {
    let tx = db.write()?;
    let key = get_key_in(&tx, scope.0, scope.1)?;
    let logs = keys::delete_key(&tx, &key.id)?;
    let deleted = KeyChange::Deleted { request_logs: logs };
    changes::record(&tx, actor, Change::Key(KeyRef::of(&key), deleted), now)?;
    tx.commit()?;
    Ok((key, logs))
}

/// A partial edit. `Some(None)` clears a field; an absent field is left alone.
#[derive(Clone, Debug, Default)]
pub struct KeyPatch {
    pub name: Option<String>,
    pub expires_at: Option<Option<String>>,
    pub expires_in_days: Option<i64>,
    pub ip_allowlist: Option<Option<Vec<String>>>,
    pub allowed_models: Option<Option<Vec<String>>>,
    pub rate_limit_per_minute: Option<Option<i64>>,
    pub disabled: Option<bool>,
    /// The credit budget as typed (credits, period): both to set it, neither to remove it.
    pub budget: Option<(Option<String>, Option<String>)>,
    /// The request quota: `Some(None)` removes it; a field left out of the input keeps the
    /// key's own (a monthly day only while the refill stays monthly).
    pub quota: Option<Option<super::keys::QuotaInput>>,
}

pub fn update_key(
    db: &mut Db,
    actor: &Actor,
    now: Timestamp,
    scope: Scope<'_>,
    patch: &KeyPatch,
) -> Result<ApiKey, ServiceError> {
    let tx = db.write()?;
    let old = get_key_in(&tx, scope.0, scope.1)?;
    let status = old.status(now);
    if status == KeyStatus::Revoked {
        return Err(ServiceError::InvalidState(
            "a revoked key cannot be edited".into(),
        ));
    }
    let mut key = old.clone();
    let mut fields: Vec<&'static str> = Vec::new();
    if let Some(name) = &patch.name {
        key.name = Name::parse(name)
            .map_err(|m| ServiceError::invalid("name", m))?
            .as_str()
            .to_owned();
        fields.push("name");
    }
    if patch.expires_at.is_some() || patch.expires_in_days.is_some() {
        if status == KeyStatus::Rotated {
            return Err(ServiceError::InvalidState(
                "the expiry of a rotated key is its grace period; use expire-now".into(),
            ));
        }
        let at = patch.expires_at.clone().flatten();
        let field = match patch.expires_in_days {
            Some(_) => "expires_in_days",
            None => "expires_at",
        };
        let given = parse_expiry(at.as_deref(), patch.expires_in_days, now)?;
        key.expires_at =
            key_policy::check_expiry(&tx, &old.account_id, given, field, old.created_at, now)?;
        fields.push("expiry");
    }
    if let Some(list) = &patch.ip_allowlist {
        key.ip_allowlist = parse_allowlist(list.as_deref().unwrap_or_default())?;
        fields.push("IP allowlist");
    }
    if let Some(models) = &patch.allowed_models {
        key.allowed_models = parse_models(models.as_deref())?;
        fields.push("allowed models");
    }
    if let Some(limit) = patch.rate_limit_per_minute {
        key.rate_limit_per_minute = parse_rate_limit(limit)?;
        fields.push("rate limit");
    }
    if let Some((credits, period)) = &patch.budget {
        key.budget = Budget::parse(credits.as_deref(), period.as_deref())
            .map_err(|(field, message)| ServiceError::invalid(field, message))?;
        fields.push("budget");
    }
    if let Some(input) = &patch.quota {
        let merged = input.as_ref().map(|i| i.over(old.quota.map(|q| q.quota)));
        let parsed = match merged {
            Some(input) => input.parse()?,
            None => None,
        };
        // The count stays with the quota; a new refill period starts it again at the next use.
        key.quota = parsed.map(|quota| KeyQuota {
            quota,
            used: old.quota.map_or(0, |q| q.used),
            period_start: old.quota.map_or(Timestamp(0), |q| q.period_start),
        });
        fields.push("request quota");
    }
    let mut switched = None;
    if let Some(disabled) = patch.disabled {
        match (disabled, old.disabled_at) {
            (true, None) => {
                key.disabled_at = Some(now);
                switched = Some(KeyChange::Disabled);
            }
            (false, Some(_)) => {
                key.disabled_at = None;
                switched = Some(KeyChange::Enabled);
            }
            _ => {}
        }
    }
    keys::update_editable(&tx, &key)?;
    if let Some(change) = switched {
        changes::record(&tx, actor, Change::Key(KeyRef::of(&key), change), now)?;
    }
    if !fields.is_empty() {
        let edited = KeyChange::Edited { fields };
        changes::record(&tx, actor, Change::Key(KeyRef::of(&key), edited), now)?;
    }
    tx.commit()?;
    get_key_in(&db.read(), None, &key.id)
}
