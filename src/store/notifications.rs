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
