//! Rotation, expiry, edits and deletion of keys (keys.md §5).

use schemars::JsonSchema;
use serde::Deserialize;

use super::keys::{
    Scope, get_key_in, parse_allowlist, parse_expiry, parse_models, parse_rate_limit, record,
};
use super::{Actor, ServiceError};
use crate::domain::key::ApiKey;
use crate::domain::webhook::WebhookEvent;
use crate::domain::{KeyFormat, KeySecret, KeyStatus, Name, Timestamp};
use crate::store::Db;
use crate::store::keys;

pub const DEFAULT_GRACE_HOURS: i64 = 24;
pub const MAX_GRACE_HOURS: i64 = 168;
const MS_PER_HOUR: i64 = 3_600_000;

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
        ..old.clone()
    };
    keys::insert_key(&tx, &new)?;
    let grace_end = now.plus_millis(grace * MS_PER_HOUR);
    let old_expiry = old.expires_at.map_or(grace_end, |e| e.min(grace_end));
    keys::mark_rotated(&tx, &old.id, now, &new.id, old_expiry)?;
    let detail = format!(
        "replaced by {}, grace ends {}",
        new.key_prefix,
        old_expiry.to_rfc3339()
    );
    record(&tx, actor, &old, "rotated", now, Some(&detail))?;
    let extra = [
        ("replaced_by", serde_json::json!(new.id)),
        ("grace_ends_at", serde_json::json!(old_expiry.to_rfc3339())),
    ];
    super::events::key(&tx, &old, WebhookEvent::ApiKeyRotated, &extra, now)?;
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
    record(
        &tx,
        actor,
        &key,
        "expired",
        now,
        Some("grace period ended early"),
    )?;
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
    let detail = format!("{logs} request-log rows removed");
    record(&tx, actor, &key, "deleted", now, Some(&detail))?;
    tx.commit()?;
    Ok((key, logs))
}

/// A partial edit. `Some(None)` clears a field; an absent field is left alone.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "UpdateApiKeyRequest")]
#[schemars(description = concat!(
    "Changes to a key. A field left out is left alone, and so is `null` for `name`, ",
    "`expires_in_days` and `disabled`; `null` clears `expires_at`, `ip_allowlist`, ",
    "`allowed_models` and `rate_limit_per_minute`."
))]
pub struct KeyPatch {
    #[schemars(length(min = 1, max = crate::domain::name::MAX_NAME_CHARS))]
    pub name: Option<String>,
    /// Must be in the future. Give either this or `expires_in_days`; a rotated key's expiry is its
    /// grace period and cannot be edited.
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Option<crate::wire::input::TimeInput>")]
    pub expires_at: Option<Option<String>>,
    #[schemars(range(min = 1, max = super::keys::MAX_EXPIRES_IN_DAYS))]
    pub expires_in_days: Option<i64>,
    /// Addresses and networks (CIDR) the key may be used from; `null` or empty: any.
    #[serde(default, deserialize_with = "present")]
    #[schemars(length(max = crate::domain::ip::MAX_ENTRIES))]
    pub ip_allowlist: Option<Option<Vec<String>>>,
    /// Models (`owner/name`) the key may generate with; `null` or empty: every model.
    #[serde(default, deserialize_with = "present")]
    #[schemars(length(max = super::keys::MAX_ALLOWED_MODELS))]
    pub allowed_models: Option<Option<Vec<String>>>,
    /// `null`: no limit of the key's own.
    #[serde(default, deserialize_with = "present")]
    #[schemars(range(min = 1, max = u32::MAX))]
    pub rate_limit_per_minute: Option<Option<i64>>,
    /// `true` disables the key, `false` enables it again.
    pub disabled: Option<bool>,
}

/// Tells a field sent as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
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
    let mut changes: Vec<&str> = Vec::new();
    if let Some(name) = &patch.name {
        key.name = Name::parse(name)
            .map_err(|m| ServiceError::invalid("name", m))?
            .as_str()
            .to_owned();
        changes.push("name");
    }
    if patch.expires_at.is_some() || patch.expires_in_days.is_some() {
        if status == KeyStatus::Rotated {
            return Err(ServiceError::InvalidState(
                "the expiry of a rotated key is its grace period; use expire-now".into(),
            ));
        }
        let at = patch.expires_at.clone().flatten();
        key.expires_at = parse_expiry(at.as_deref(), patch.expires_in_days, now)?;
        changes.push("expiry");
    }
    if let Some(list) = &patch.ip_allowlist {
        key.ip_allowlist = parse_allowlist(list.as_deref().unwrap_or_default())?;
        changes.push("IP allowlist");
    }
    if let Some(models) = &patch.allowed_models {
        key.allowed_models = parse_models(models.as_deref())?;
        changes.push("allowed models");
    }
    if let Some(limit) = patch.rate_limit_per_minute {
        key.rate_limit_per_minute = parse_rate_limit(limit)?;
        changes.push("rate limit");
    }
    let mut action = "edited";
    if let Some(disabled) = patch.disabled {
        match (disabled, old.disabled_at) {
            (true, None) => {
                key.disabled_at = Some(now);
                action = "disabled";
            }
            (false, Some(_)) => {
                key.disabled_at = None;
                action = "enabled";
            }
            _ => {}
        }
    }
    keys::update_editable(&tx, &key)?;
    if action != "edited" {
        record(&tx, actor, &key, action, now, None)?;
    }
    if !changes.is_empty() {
        let detail = format!("changed {}", changes.join(", "));
        record(&tx, actor, &key, "edited", now, Some(&detail))?;
    }
    tx.commit()?;
    get_key_in(&db.read(), None, &key.id)
}
