//! The accounts' key lifetime policies (docs/keys.md, "Key policy"), and the one place they are
//! enforced: `keys::create_key`, `lifecycle::update_key` and `lifecycle::rotate_key` call the
//! checks below inside their own transaction, so the pages, the management API and the command
//! line are held to the same rules and a refused change stores nothing.

use super::changes::{self, Category, Change, Note};
use super::{Actor, ServiceError};
use crate::domain::key::policy::{Breach, KeyPolicy};
use crate::domain::{Preset, ScopeSet, Timestamp};
use crate::store::key_policy as store;
use crate::store::{Db, Tx};

fn refused(b: Breach) -> ServiceError {
    ServiceError::Invalid {
        field: b.field,
        message: b.message,
        index: None,
    }
}

/// The policy in force for the account: its own within the instance's ceiling, or the
/// instance's default when it has none (no rules when neither was set).
pub fn get(tx: &Tx<'_>, account_id: &str) -> Result<KeyPolicy, ServiceError> {
    let (own, instance) = store::get(tx, account_id)?;
    Ok(KeyPolicy::in_force(own, instance))
}

/// The instance's default and ceiling (no rules when none was set).
pub fn get_instance(tx: &Tx<'_>) -> Result<KeyPolicy, ServiceError> {
    Ok(store::get_instance(tx)?.unwrap_or_default())
}

/// Replaces the instance's default and ceiling (the instance administrator's), and records it.
pub fn set_instance(
    db: &mut Db,
    actor: &Actor,
    policy: &KeyPolicy,
    now: Timestamp,
) -> Result<KeyPolicy, ServiceError> {
    policy.validate().map_err(refused)?;
    let tx = db.write()?;
    store::put_instance(&tx, policy, now)?;
    let note = Note {
        account_id: None,
        category: Category::Account,
        action: "instance_key_policy_changed",
        target: None,
        description: format!("Changed the instance's key policy: {}", describe(policy)),
    };
    changes::record(&tx, actor, Change::Note(note), now)?;
    tx.commit()?;
    Ok(policy.clone())
}

/// Replaces the account's policy after checking its values and that it is no looser than the
/// instance's ceiling, and records the change.
pub fn set(
    db: &mut Db,
    actor: &Actor,
    account_id: &str,
    policy: &KeyPolicy,
    now: Timestamp,
) -> Result<KeyPolicy, ServiceError> {
    policy.validate().map_err(refused)?;
    let tx = db.write()?;
    super::accounts::live(&tx, account_id)?;
    if let Some(ceiling) = store::get_instance(&tx)?
        && let Some(looser) = policy.looser_than(&ceiling)
    {
        return Err(refused(looser));
    }
    store::put(&tx, account_id, policy, now)?;
    let note = Note {
        account_id: Some(account_id),
        category: Category::Account,
        action: "key_policy_changed",
        target: Some(account_id),
        description: format!("Changed the key policy: {}", describe(policy)),
    };
    changes::record(&tx, actor, Change::Note(note), now)?;
    tx.commit()?;
    Ok(policy.clone())
}

/// The policy in one line, for the activity log.
pub fn describe(policy: &KeyPolicy) -> String {
    let mut rules = Vec::new();
    if let Some(d) = policy.default_expiry_days {
        rules.push(format!("default expiry {d} days"));
    }
    if let Some(d) = policy.max_lifetime_days {
        rules.push(format!("lifetime at most {d} days"));
    }
    if policy.require_expiry {
        rules.push("expiry required".to_owned());
    }
    if let Some(h) = policy.max_rotation_grace_hours {
        rules.push(format!("rotation grace at most {h} hours"));
    }
    if let Some(presets) = &policy.allowed_presets {
        let ids: Vec<&str> = presets.iter().map(|p| p.id()).collect();
        rules.push(format!("presets {}", ids.join(", ")));
    }
    if policy.enforce_on_use {
        rules.push("enforced on use".to_owned());
    }
    if rules.is_empty() {
        return "no rules".to_owned();
    }
    rules.join("; ")
}

/// A new key's scopes and expiry under its account's policy: the expiry it gets (the default
/// expiry when none was given), or the rule it breaks. `field` names the expiry as it was given.
pub(super) fn check_new(
    tx: &Tx<'_>,
    account_id: &str,
    preset: Option<Preset>,
    scopes: ScopeSet,
    expires_at: Option<Timestamp>,
    field: &'static str,
    now: Timestamp,
) -> Result<Option<Timestamp>, ServiceError> {
    let policy = get(tx, account_id)?;
    policy.scopes(preset, scopes).map_err(refused)?;
    policy.expiry(expires_at, field, now, now).map_err(refused)
}

/// An edited expiry: refused when it breaks the policy, its lifetime counted from the key's
/// creation.
pub(super) fn check_expiry(
    tx: &Tx<'_>,
    account_id: &str,
    expires_at: Option<Timestamp>,
    field: &'static str,
    created: Timestamp,
    now: Timestamp,
) -> Result<Option<Timestamp>, ServiceError> {
    let policy = KeyPolicy {
        default_expiry_days: None,
        ..get(tx, account_id)?
    };
    policy
        .expiry(expires_at, field, created, now)
        .map_err(refused)
}

/// A rotation: its grace period, and the expiry of the new key.
pub(super) fn check_rotation(
    tx: &Tx<'_>,
    account_id: &str,
    grace_hours: i64,
    inherited: Option<Timestamp>,
    now: Timestamp,
) -> Result<Option<Timestamp>, ServiceError> {
    let policy = get(tx, account_id)?;
    policy.grace(grace_hours).map_err(refused)?;
    policy.rotated_expiry(inherited, now).map_err(refused)
}

/// The rule an issued key that still works breaks under the account's policy now, if any: the
/// field and the sentence, for the key page and the dashboard.
pub fn breach_of(
    policy: &KeyPolicy,
    key: &crate::domain::key::ApiKey,
    now: Timestamp,
) -> Option<(&'static str, String)> {
    use crate::domain::KeyStatus::{Active, Disabled};
    if !matches!(key.status(now), Active | Disabled) {
        return None;
    }
    policy
        .breach_of(key.expires_at, key.created_at, key.scopes)
        .map(|b| (b.field, b.message))
}
