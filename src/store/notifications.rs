//! The notices sent (docs/notifications.md): a notice is claimed by inserting its row, once.

use super::{StoreError, Tx};
use crate::domain::Timestamp;

/// What a notice is about and the period it covers; two notices with the same three are one.
#[derive(Clone, Copy, Debug)]
pub struct NoticeKey<'a> {
    pub kind: &'a str,
    pub subject: &'a str,
    pub period: i64,
}

/// Claims the notice `key` in the caller's transaction: true when this is the first claim, false
/// when it was sent already (by an earlier run, or by another node whose transaction committed
/// first; PostgreSQL makes the second insert wait for the first).
pub fn claim(
    tx: &Tx<'_>,
    key: NoticeKey<'_>,
    account_id: Option<&str>,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let n = tx.execute(
        "INSERT INTO notices_sent (kind, subject, period, account_id, sent_at)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (kind, subject, period) DO NOTHING",
        &[&key.kind, &key.subject, &key.period, &account_id, &now.0],
    )?;
    Ok(n == 1)
}

/// Deletes the notices of `kind` whose period is before `period`: those no selection can find
/// due again (the rate-limit notices of hours gone by).
pub fn delete_spent(tx: &Tx<'_>, kind: &str, period: i64) -> Result<u64, StoreError> {
    let n = tx.execute(
        "DELETE FROM notices_sent WHERE kind = ?1 AND period < ?2",
        &[&kind, &period],
    )?;
    Ok(n as u64)
}

/// A key a notice may be about, with the figure that makes it due.
#[derive(Clone, Debug)]
pub struct KeyDue {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub key_prefix: String,
    pub expires_at: Option<Timestamp>,
    /// Rate limited: the refusals of the hour; unused: the last request (0: never used).
    pub figure: i64,
    /// The notice's period.
    pub period: i64,
    /// A rotated key's replacement.
    pub replaced_by: Option<String>,
}

fn keys_due(
    tx: &Tx<'_>,
    sql: &str,
    args: &[&dyn super::engine::Param],
) -> Result<Vec<KeyDue>, StoreError> {
    tx.query_all(sql, args, |r| {
        Ok(KeyDue {
            id: r.get(0)?,
            account_id: r.get(1)?,
            name: r.get(2)?,
            key_prefix: r.get(3)?,
            expires_at: r.get::<Option<i64>>(4)?.map(Timestamp),
            figure: r.get(5)?,
            period: r.get(6)?,
            replaced_by: r.get(7)?,
        })
    })
}

/// Up to `limit` keys refused with 429 more than `over` times in `hour` (hours since the epoch,
/// from the hourly roll-ups the request-log writer keeps), with no notice `kind` for that hour.
pub fn rate_limited_keys(
    tx: &Tx<'_>,
    hour: i64,
    over: i64,
    kind: &str,
    limit: i64,
) -> Result<Vec<KeyDue>, StoreError> {
    keys_due(
        tx,
        "SELECT k.id, k.account_id, k.name, k.key_prefix, k.expires_at, h.rate_limited, h.hour,
                k.replaced_by
         FROM usage_hourly h JOIN api_keys k ON k.id = h.key_id
         WHERE h.hour = ?1 AND h.rate_limited > ?2 AND NOT EXISTS (SELECT 1 FROM notices_sent n
             WHERE n.kind = ?3 AND n.subject = k.id AND n.period = h.hour)
         ORDER BY k.id LIMIT ?4",
        &[&hour, &over, &kind, &limit],
    )
}

/// Up to `limit` keys that authenticate at `now` and have had no request since `before` (nor
/// were created since), with no notice `kind` for their last use (their creation when never
/// used): a key used again and then left alone is due again.
pub fn unused_keys(
    tx: &Tx<'_>,
    now: Timestamp,
    before: Timestamp,
    kind: &str,
    limit: i64,
) -> Result<Vec<KeyDue>, StoreError> {
    keys_due(
        tx,
        "SELECT id, account_id, name, key_prefix, expires_at, COALESCE(last_used_at, 0),
                COALESCE(last_used_at, created_at) AS since, replaced_by
         FROM api_keys
         WHERE revoked_at IS NULL AND disabled_at IS NULL AND rotated_at IS NULL
           AND (expires_at IS NULL OR expires_at > ?1)
           AND COALESCE(last_used_at, created_at) <= ?2
           AND account_id IN (SELECT id FROM accounts WHERE deleted_at IS NULL)
           AND NOT EXISTS (SELECT 1 FROM notices_sent n WHERE n.kind = ?3
               AND n.subject = api_keys.id AND n.period = COALESCE(last_used_at, created_at))
         ORDER BY id LIMIT ?4",
        &[&now.0, &before.0, &kind, &limit],
    )
}

/// Up to `limit` rotated keys that were used after their rotation and stop working after `now`
/// and by `until`, with no notice `kind` for that end (the period is the end).
pub fn grace_ending_keys(
    tx: &Tx<'_>,
    now: Timestamp,
    until: Timestamp,
    kind: &str,
    limit: i64,
) -> Result<Vec<KeyDue>, StoreError> {
    keys_due(
        tx,
        "SELECT id, account_id, name, key_prefix, expires_at, last_used_at, expires_at,
                replaced_by
         FROM api_keys
         WHERE rotated_at IS NOT NULL AND revoked_at IS NULL AND disabled_at IS NULL
           AND expires_at > ?1 AND expires_at <= ?2 AND last_used_at > rotated_at
           AND account_id IN (SELECT id FROM accounts WHERE deleted_at IS NULL)
           AND NOT EXISTS (SELECT 1 FROM notices_sent n WHERE n.kind = ?3
               AND n.subject = api_keys.id AND n.period = api_keys.expires_at)
         ORDER BY id LIMIT ?4",
        &[&now.0, &until.0, &kind, &limit],
    )
}
