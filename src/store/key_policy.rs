//! The accounts' key policies (docs/keys.md, "Key policy"): one row per account that has one.

use super::{StoreError, Tx};
use crate::domain::Timestamp;
use crate::domain::key::policy::KeyPolicy;

/// The account's policy; the default (no rules) when it has none.
pub fn get(tx: &Tx<'_>, account_id: &str) -> Result<KeyPolicy, StoreError> {
    let found = tx.query_opt(
        "SELECT default_expiry_days, max_lifetime_days, require_expiry, max_rotation_grace_hours,
                allowed_presets, enforce_on_use
         FROM key_policies WHERE account_id = ?1",
        &[&account_id],
        |r| {
            let presets: Option<String> = r.get(4)?;
            Ok(KeyPolicy {
                default_expiry_days: r.get(0)?,
                max_lifetime_days: r.get(1)?,
                require_expiry: r.get(2)?,
                max_rotation_grace_hours: r.get(3)?,
                allowed_presets: KeyPolicy::presets_from_stored(presets.as_deref()),
                enforce_on_use: r.get(5)?,
            })
        },
    )?;
    Ok(found.unwrap_or_default())
}

/// Stores the account's policy in place of the one it had.
pub fn put(
    tx: &Tx<'_>,
    account_id: &str,
    policy: &KeyPolicy,
    now: Timestamp,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO key_policies (account_id, default_expiry_days, max_lifetime_days,
                                   require_expiry, max_rotation_grace_hours, allowed_presets,
                                   enforce_on_use, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (account_id) DO UPDATE SET
             default_expiry_days = excluded.default_expiry_days,
             max_lifetime_days = excluded.max_lifetime_days,
             require_expiry = excluded.require_expiry,
             max_rotation_grace_hours = excluded.max_rotation_grace_hours,
             allowed_presets = excluded.allowed_presets,
             enforce_on_use = excluded.enforce_on_use,
             updated_at = excluded.updated_at",
        &[
            &account_id,
            &policy.default_expiry_days,
            &policy.max_lifetime_days,
            &policy.require_expiry,
            &policy.max_rotation_grace_hours,
            &policy.presets_to_stored(),
            &policy.enforce_on_use,
            &now.0,
        ],
    )?;
    Ok(())
}
