//! The key policies (docs/keys.md, "Key policy"): one row per account that has its own, and the
//! instance's default and ceiling in a one-row table.

use super::engine::Row;
use super::{StoreError, Tx};
use crate::domain::Timestamp;
use crate::domain::key::policy::KeyPolicy;

/// The columns a policy is read from, in `read`'s order, for a table aliased `alias`.
pub(super) fn columns(alias: &str) -> String {
    [
        "default_expiry_days",
        "max_lifetime_days",
        "require_expiry",
        "max_rotation_grace_hours",
        "allowed_presets",
        "enforce_on_use",
    ]
    .map(|c| format!("{alias}.{c}"))
    .join(", ")
}

/// The policy in the six columns from `first`; `None` when there is no row (a LEFT JOIN's NULLs).
pub(super) fn read(r: &Row<'_>, first: usize) -> Result<Option<KeyPolicy>, StoreError> {
    let require: Option<bool> = r.get(first + 2)?;
    let Some(require_expiry) = require else {
        return Ok(None);
    };
    let presets: Option<String> = r.get(first + 4)?;
    Ok(Some(KeyPolicy {
        default_expiry_days: r.get(first)?,
        max_lifetime_days: r.get(first + 1)?,
        require_expiry,
        max_rotation_grace_hours: r.get(first + 3)?,
        allowed_presets: KeyPolicy::presets_from_stored(presets.as_deref()),
        enforce_on_use: r.get(first + 5)?,
    }))
}

/// The account's own policy and the instance's, each when it has one.
pub fn get(
    tx: &Tx<'_>,
    account_id: &str,
) -> Result<(Option<KeyPolicy>, Option<KeyPolicy>), StoreError> {
    let sql = format!(
        "SELECT {}, {} FROM (SELECT 1 AS one) o
         LEFT JOIN key_policies p ON p.account_id = ?1
         LEFT JOIN instance_key_policy i ON i.id = 1",
        columns("p"),
        columns("i")
    );
    tx.query_one(&sql, &[&account_id], |r| Ok((read(r, 0)?, read(r, 6)?)))
}

/// The instance's default and ceiling, when one is set.
pub fn get_instance(tx: &Tx<'_>) -> Result<Option<KeyPolicy>, StoreError> {
    let sql = format!(
        "SELECT {} FROM instance_key_policy i WHERE i.id = 1",
        columns("i")
    );
    Ok(tx.query_opt(&sql, &[], |r| read(r, 0))?.flatten())
}

fn values(policy: &KeyPolicy) -> [Box<dyn super::engine::Param>; 6] {
    [
        Box::new(policy.default_expiry_days),
        Box::new(policy.max_lifetime_days),
        Box::new(policy.require_expiry),
        Box::new(policy.max_rotation_grace_hours),
        Box::new(policy.presets_to_stored()),
        Box::new(policy.enforce_on_use),
    ]
}

const SET: &str = "default_expiry_days = excluded.default_expiry_days,
             max_lifetime_days = excluded.max_lifetime_days,
             require_expiry = excluded.require_expiry,
             max_rotation_grace_hours = excluded.max_rotation_grace_hours,
             allowed_presets = excluded.allowed_presets,
             enforce_on_use = excluded.enforce_on_use,
             updated_at = excluded.updated_at";

/// Stores the account's policy in place of the one it had.
pub fn put(
    tx: &Tx<'_>,
    account_id: &str,
    policy: &KeyPolicy,
    now: Timestamp,
) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO key_policies (account_id, default_expiry_days, max_lifetime_days,
                                   require_expiry, max_rotation_grace_hours, allowed_presets,
                                   enforce_on_use, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (account_id) DO UPDATE SET {SET}"
    );
    let [a, b, c, d, e, f] = values(policy);
    tx.execute(&sql, &[&account_id, &*a, &*b, &*c, &*d, &*e, &*f, &now.0])?;
    Ok(())
}

/// Stores the instance's default and ceiling in place of the one it had.
pub fn put_instance(tx: &Tx<'_>, policy: &KeyPolicy, now: Timestamp) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO instance_key_policy (id, default_expiry_days, max_lifetime_days,
                                          require_expiry, max_rotation_grace_hours,
                                          allowed_presets, enforce_on_use, updated_at)
         VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (id) DO UPDATE SET {SET}"
    );
    let [a, b, c, d, e, f] = values(policy);
    tx.execute(&sql, &[&*a, &*b, &*c, &*d, &*e, &*f, &now.0])?;
    Ok(())
}
