//! The one place notifications are sent from (docs/notifications.md). A notice is about one
//! thing (a key, an account, an endpoint) for one period (an expiry, an hour, a day of last
//! use); [`send`] claims it in the notices-sent table and, only when the claim is the first,
//! records its change (activity row and webhook event) in the same transaction. Two job runs,
//! or two nodes running the same job, therefore send it once.

use super::changes::{self, Change, KeyChange, KeyRef};
use super::{Actor, ServiceError};
use crate::domain::Timestamp;
use crate::store::Tx;
use crate::store::notifications::{self as store, NoticeKey};

/// The kind of the expiry warning sent `warning_days` before a key expires.
pub fn expiring_kind(warning_days: u32) -> String {
    format!("apikey.expiring:{warning_days}d")
}

/// Something receivers are told about once per period.
#[derive(Clone, Debug)]
pub enum Notice<'a> {
    /// The key expires at `at`, within `warning_days` days.
    KeyExpiring {
        key: KeyRef<'a>,
        at: Timestamp,
        warning_days: u32,
    },
    /// The key expired at `at`.
    KeyExpired { key: KeyRef<'a>, at: Timestamp },
}

impl Notice<'_> {
    fn kind(&self) -> String {
        match self {
            Notice::KeyExpiring { warning_days, .. } => expiring_kind(*warning_days),
            Notice::KeyExpired { .. } => "apikey.expired".to_owned(),
        }
    }

    /// The thing the notice is about, its account and its period.
    fn subject(&self) -> (&str, Option<&str>, i64) {
        match self {
            Notice::KeyExpiring { key, at, .. } | Notice::KeyExpired { key, at } => {
                (key.id, Some(key.account_id), at.0)
            }
        }
    }

    fn change(&self) -> Change<'_> {
        match self {
            Notice::KeyExpiring {
                key,
                at,
                warning_days,
            } => Change::Key(
                *key,
                KeyChange::Expiring {
                    at: *at,
                    warning_days: *warning_days,
                },
            ),
            Notice::KeyExpired { key, at } => Change::Key(*key, KeyChange::Expired { at: *at }),
        }
    }
}

/// Sends `notice` in the caller's transaction unless it was sent already; returns whether it
/// was sent now.
pub fn send(tx: &Tx<'_>, notice: &Notice<'_>, now: Timestamp) -> Result<bool, ServiceError> {
    let kind = notice.kind();
    let (subject, account_id, period) = notice.subject();
    let key = NoticeKey {
        kind: &kind,
        subject,
        period,
    };
    if !store::claim(tx, key, account_id, now)? {
        return Ok(false);
    }
    changes::record(tx, &Actor::System, notice.change(), now)?;
    Ok(true)
}
