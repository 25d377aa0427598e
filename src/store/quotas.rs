//! Request quotas (docs/keys.md, "Request quotas"): the quota is on the key row, and so is what
//! its period used. A rotated key counts on the quota of the key that replaced it
//! (`quota_owner`), so the old and the new key share one count while the grace lasts.

use super::{StoreError, Tx};
use crate::domain::Timestamp;
use crate::domain::key::quota::{KeyQuota, Quota, Refill};

/// Requests granted from a quota, and what the quota has left after them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claimed {
    /// At most what was asked for; 0 when the quota is used up for the period.
    pub granted: i64,
    /// Left in the period after this grant.
    pub left: i64,
    pub quota: Quota,
    /// When the period ends and the quota is whole again; `None`: never.
    pub refills_at: Option<Timestamp>,
}

/// The key whose row holds the count for `key_id`: the one that replaced it, or itself (also
/// when that key is gone).
fn owner(tx: &Tx<'_>, key_id: &str) -> Result<Option<String>, StoreError> {
    tx.query_opt(
        "SELECT COALESCE(o.id, k.id) FROM api_keys k LEFT JOIN api_keys o ON o.id = k.quota_owner
         WHERE k.id = ?1",
        &[&key_id],
        |r| r.get(0),
    )
}

/// Takes up to `wanted` requests from the quota `key_id` counts on, in the caller's write
/// transaction: the period is worked out from `now`, so a new period starts from 0 without any
/// job. `None` when the key (or its quota) is gone.
pub fn claim(
    tx: &Tx<'_>,
    key_id: &str,
    now: Timestamp,
    wanted: i64,
) -> Result<Option<Claimed>, StoreError> {
    // The row that holds the count, and its quota, in one read.
    let row = tx.query_opt(
        "SELECT w.id, w.quota_requests, w.quota_refill, w.quota_refill_day, w.quota_used,
                w.quota_period_start
         FROM api_keys k LEFT JOIN api_keys o ON o.id = k.quota_owner
              JOIN api_keys w ON w.id = COALESCE(o.id, k.id)
         WHERE k.id = ?1",
        &[&key_id],
        |r| {
            Ok((
                r.get::<String>(0)?,
                r.get::<Option<i64>>(1)?,
                r.get::<Option<String>>(2)?,
                r.get::<Option<i64>>(3)?,
                r.get::<i64>(4)?,
                r.get::<i64>(5)?,
            ))
        },
    )?;
    let Some((owner, Some(requests), Some(refill), day, used, period_start)) = row else {
        return Ok(None);
    };
    let Some(refill) = Refill::from_stored(&refill, day) else {
        return Ok(None);
    };
    let stored = KeyQuota {
        quota: Quota { requests, refill },
        used,
        period_start: Timestamp(period_start),
    };
    let (used, start) = stored.used_at(now);
    let granted = wanted.min(requests - used).max(0);
    if granted > 0 || period_start != start.0 {
        tx.execute(
            "UPDATE api_keys SET quota_used = ?2, quota_period_start = ?3 WHERE id = ?1",
            &[&owner, &(used + granted), &start.0],
        )?;
    }
    Ok(Some(Claimed {
        granted,
        left: (requests - used - granted).max(0),
        quota: stored.quota,
        refills_at: stored.refills_at(now),
    }))
}

/// Sets the quota of `key_id` and of every key sharing its count; the count is kept (a new
/// refill period starts it again at the next use).
pub fn set(tx: &Tx<'_>, key_id: &str, quota: Option<Quota>) -> Result<(), StoreError> {
    let Some(owner) = owner(tx, key_id)? else {
        return Ok(());
    };
    tx.execute(
        "UPDATE api_keys SET quota_requests = ?3, quota_refill = ?4, quota_refill_day = ?5
         WHERE id = ?1 OR id = ?2 OR quota_owner = ?2",
        &[
            &key_id,
            &owner,
            &quota.map(|q| q.requests),
            &quota.map(|q| q.refill.as_str()),
            &quota.and_then(|q| q.refill.day()).map(i64::from),
        ],
    )?;
    Ok(())
}

/// At a rotation: the old key, and the keys that counted on it, count on the new key from now
/// on. The new key was made with the old key's quota and count.
pub fn hand_over(tx: &Tx<'_>, old_id: &str, new_id: &str) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE api_keys SET quota_owner = ?2 WHERE id = ?1 OR quota_owner = ?1",
        &[&old_id, &new_id],
    )?;
    Ok(())
}
