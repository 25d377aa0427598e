//! The one place notifications are sent from (docs/notifications.md). A notice is about one
//! thing (a key, an account, an endpoint) for one period (an expiry, an hour, a day of last
//! use); [`send`] claims it in the notices-sent table and, only when the claim is the first,
//! records its change (activity row and webhook event) in the same transaction. Two job runs,
//! or two nodes running the same job, therefore send it once.

mod mail;

use super::changes::{self, Change, KeyChange, KeyRef};
use super::{Actor, ServiceError};
use crate::domain::key::budget::Budget;
use crate::domain::key::leak::LeakAction;
use crate::domain::webhook::{DisabledReason, WebhookEvent};
use crate::domain::{Money, Timestamp};
use crate::store::notifications::{self as store, KeyDue, NoticeKey};
use crate::store::{Db, StoreError, Tx};

/// The kinds of the notices about keys refused for their rate limit and keys left unused.
const RATE_LIMITED: &str = "ratelimit.exceeded";
const UNUSED: &str = "apikey.unused";
const GRACE_ENDING: &str = "apikey.grace_ending";
/// Keys handled per transaction.
const KEY_CHUNK: i64 = 500;

/// When keys are due a notice about how they are used.
#[derive(Clone, Copy, Debug)]
pub struct UsageNotices {
    /// More 429 refusals than this in an hour.
    pub refusals_per_hour: u32,
    /// No request for this many days.
    pub unused_days: u32,
}

/// What [`notify_keys`] sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeysNotified {
    pub rate_limited: u64,
    pub unused: u64,
    pub grace_ending: u64,
}

/// Sends `ratelimit.exceeded` for each key refused more than `refusals_per_hour` times in the
/// present hour or the one before it (so the end of an hour is not missed), once per key and
/// hour; `apikey.unused` for each usable key with no request for `unused_days`, once per
/// key and last use; and `apikey.grace_ending` for each rotated key used since its rotation
/// whose grace ends within a day, once per key and end.
pub fn notify_keys(
    db: &mut Db,
    now: Timestamp,
    rules: UsageNotices,
) -> Result<KeysNotified, ServiceError> {
    let mut sent = KeysNotified::default();
    let hour = now.0.div_euclid(Timestamp::MS_PER_HOUR);
    let over = i64::from(rules.refusals_per_hour);
    for hour in [hour - 1, hour] {
        sent.rate_limited += in_chunks(
            db,
            |tx| store::rate_limited_keys(tx, hour, over, RATE_LIMITED, KEY_CHUNK),
            |key| Notice::RateLimited {
                key: key_ref(key),
                hour,
                refusals: key.figure,
                threshold: rules.refusals_per_hour,
            },
            now,
        )?;
    }
    let before = now.plus_millis(-i64::from(rules.unused_days) * Timestamp::MS_PER_DAY);
    sent.unused = in_chunks(
        db,
        |tx| store::unused_keys(tx, now, before, UNUSED, KEY_CHUNK),
        |key| Notice::KeyUnused {
            key: key_ref(key),
            since: Timestamp(key.period),
            last_used: (key.figure > 0).then_some(Timestamp(key.figure)),
            days: rules.unused_days,
        },
        now,
    )?;
    let day = now.plus_millis(Timestamp::MS_PER_DAY);
    sent.grace_ending = in_chunks(
        db,
        |tx| store::grace_ending_keys(tx, now, day, GRACE_ENDING, KEY_CHUNK),
        |key| Notice::GraceEnding {
            key: key_ref(key),
            at: Timestamp(key.period),
            last_used: Timestamp(key.figure),
            replaced_by: key.replaced_by.as_deref(),
        },
        now,
    )?;
    Ok(sent)
}

/// Forgets the rate-limit notices of hours before the one before `now`, which the job no longer
/// looks at.
pub fn forget_spent(tx: &Tx<'_>, now: Timestamp) -> Result<u64, ServiceError> {
    let hour = now.0.div_euclid(Timestamp::MS_PER_HOUR);
    Ok(store::delete_spent(tx, RATE_LIMITED, hour - 1)?)
}

/// Sends the notice of each key `due` selects, a transaction per chunk, until a chunk is short.
/// Sending a key's notice takes it out of the selection.
fn in_chunks(
    db: &mut Db,
    due: impl Fn(&Tx<'_>) -> Result<Vec<KeyDue>, StoreError>,
    notice: impl for<'k> Fn(&'k KeyDue) -> Notice<'k>,
    now: Timestamp,
) -> Result<u64, ServiceError> {
    let mut sent = 0;
    loop {
        let tx = db.write()?;
        let keys = due(&tx)?;
        for key in &keys {
            if send(&tx, &notice(key), now)? {
                sent += 1;
            }
        }
        tx.commit()?;
        if (keys.len() as i64) < KEY_CHUNK {
            return Ok(sent);
        }
    }
}

fn key_ref(key: &KeyDue) -> KeyRef<'_> {
    KeyRef {
        account_id: &key.account_id,
        id: &key.id,
        name: &key.name,
        prefix: &key.key_prefix,
        expires_at: key.expires_at,
    }
}

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
    /// The key has had no request for `days` days since `since` (its last request, or its
    /// creation when `last_used` is `None`).
    KeyUnused {
        key: KeyRef<'a>,
        since: Timestamp,
        last_used: Option<Timestamp>,
        days: u32,
    },
    /// The key was refused with 429 `refusals` times in `hour` (hours since the epoch).
    RateLimited {
        key: KeyRef<'a>,
        hour: i64,
        refusals: i64,
        threshold: u32,
    },
    /// The rotated key, last used at `last_used` (after its rotation), stops working at `at`.
    GraceEnding {
        key: KeyRef<'a>,
        at: Timestamp,
        last_used: Timestamp,
        replaced_by: Option<&'a str>,
    },
    /// The key was found at `source` at `at`, and `action` was taken.
    KeyLeaked {
        key: KeyRef<'a>,
        source: &'a str,
        action: LeakAction,
        at: Timestamp,
    },
    /// The key's generations spent `percent` of its budget in the period from `period_start`.
    BudgetReached {
        key: KeyRef<'a>,
        percent: u32,
        budget: Budget,
        spent: Money,
        period_start: Timestamp,
    },
    /// The endpoint (its URL redacted) was disabled at `at` for `reason`.
    EndpointDisabled {
        account_id: &'a str,
        endpoint_id: &'a str,
        url: &'a str,
        reason: DisabledReason,
        failures: i64,
        at: Timestamp,
    },
    /// The balance fell to `balance` at `at`, below the thresholds `crossed` (thousandths).
    LowBalance {
        account_id: &'a str,
        balance: Money,
        crossed: &'a [i64],
        at: Timestamp,
    },
}

impl Notice<'_> {
    fn kind(&self) -> String {
        match self {
            Notice::KeyExpiring { warning_days, .. } => expiring_kind(*warning_days),
            Notice::KeyExpired { .. } => "apikey.expired".to_owned(),
            Notice::KeyUnused { .. } => UNUSED.to_owned(),
            Notice::RateLimited { .. } => RATE_LIMITED.to_owned(),
            Notice::GraceEnding { .. } => GRACE_ENDING.to_owned(),
            Notice::BudgetReached { percent, .. } => format!("apikey.budget_reached:{percent}"),
            Notice::KeyLeaked { .. }
            | Notice::EndpointDisabled { .. }
            | Notice::LowBalance { .. } => self.event().as_str().to_owned(),
        }
    }

    /// The event the notice is, and the name its e-mail settings go by.
    pub fn event(&self) -> WebhookEvent {
        self.change()
            .event()
            .unwrap_or(WebhookEvent::ApiKeyExpiring)
    }

    /// The thing the notice is about, its account and its period.
    fn subject(&self) -> (&str, Option<&str>, i64) {
        match self {
            Notice::KeyExpiring { key, at, .. } | Notice::KeyExpired { key, at } => {
                (key.id, Some(key.account_id), at.0)
            }
            Notice::KeyUnused { key, since, .. } => (key.id, Some(key.account_id), since.0),
            Notice::RateLimited { key, hour, .. } => (key.id, Some(key.account_id), *hour),
            Notice::GraceEnding { key, at, .. } | Notice::KeyLeaked { key, at, .. } => {
                (key.id, Some(key.account_id), at.0)
            }
            Notice::BudgetReached {
                key, period_start, ..
            } => (key.id, Some(key.account_id), period_start.0),
            Notice::EndpointDisabled {
                account_id,
                endpoint_id,
                at,
                ..
            } => (endpoint_id, Some(account_id), at.0),
            Notice::LowBalance { account_id, at, .. } => (account_id, Some(account_id), at.0),
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
            Notice::KeyUnused {
                key,
                last_used,
                days,
                ..
            } => Change::Key(
                *key,
                KeyChange::Unused {
                    last_used: *last_used,
                    days: *days,
                },
            ),
            Notice::RateLimited {
                key,
                hour,
                refusals,
                threshold,
            } => Change::Key(
                *key,
                KeyChange::RateLimited {
                    hour_start: Timestamp(hour * Timestamp::MS_PER_HOUR),
                    refusals: *refusals,
                    threshold: *threshold,
                },
            ),
            Notice::GraceEnding {
                key,
                at,
                last_used,
                replaced_by,
            } => Change::Key(
                *key,
                KeyChange::GraceEnding {
                    at: *at,
                    last_used: *last_used,
                    replaced_by: *replaced_by,
                },
            ),
            Notice::BudgetReached {
                key,
                percent,
                budget,
                spent,
                period_start,
            } => Change::Key(
                *key,
                KeyChange::BudgetReached {
                    percent: *percent,
                    budget: *budget,
                    spent: *spent,
                    period_start: *period_start,
                },
            ),
            Notice::KeyLeaked {
                key,
                source,
                action,
                ..
            } => Change::Key(
                *key,
                KeyChange::Leaked {
                    source,
                    done: action.done(),
                },
            ),
            Notice::EndpointDisabled {
                account_id,
                endpoint_id,
                url,
                reason,
                failures,
                ..
            } => Change::EndpointDisabled {
                account_id,
                endpoint_id,
                url,
                reason: *reason,
                failures: *failures,
            },
            Notice::LowBalance {
                account_id,
                balance,
                crossed,
                ..
            } => Change::LowBalance {
                account_id,
                balance: *balance,
                crossed,
            },
        }
    }
}

/// Sends `notice` in the caller's transaction unless it was sent already: its change (activity
/// row and webhook event) and, when the store mails, an e-mail to the members the account's
/// notification settings choose, in the outbox. Returns whether it was sent now.
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
    if tx.mails() {
        mail::enqueue(tx, notice, now)?;
    }
    Ok(true)
}
