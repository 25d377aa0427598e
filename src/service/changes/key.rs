//! What happens to keys: each change gives its activity row and, where there is one, its
//! `apikey.*` event, from the same value.

use super::{Category, Note, capitalised};
use crate::domain::key::ApiKey;
use crate::domain::key::budget::Budget;
use crate::domain::webhook::WebhookEvent;
use crate::domain::webhook::payload::KeyEventData;
use crate::domain::{Money, Timestamp};

/// The key a change is about, as the log and the events name it.
#[derive(Clone, Copy, Debug)]
pub struct KeyRef<'a> {
    pub account_id: &'a str,
    pub id: &'a str,
    pub name: &'a str,
    pub prefix: &'a str,
    pub expires_at: Option<Timestamp>,
}

impl<'a> KeyRef<'a> {
    pub fn of(key: &'a ApiKey) -> KeyRef<'a> {
        KeyRef {
            account_id: &key.account_id,
            id: &key.id,
            name: &key.name,
            prefix: &key.key_prefix,
            expires_at: key.expires_at,
        }
    }
}

#[derive(Clone, Debug)]
pub enum KeyChange<'a> {
    Created,
    Revoked,
    Disabled,
    Enabled,
    /// Its name, expiry, allowlist, models or rate limit changed (`fields` names which).
    Edited {
        fields: Vec<&'static str>,
    },
    /// Replaced by `new`; the old key works until `grace_ends`.
    Rotated {
        new: &'a ApiKey,
        grace_ends: Timestamp,
    },
    /// A rotated key's grace period ended early, by hand.
    GraceEnded,
    /// The scheduler recorded that the key expired at `at`.
    Expired {
        at: Timestamp,
    },
    /// The scheduler warned that the key expires at `at`, within `warning_days` days.
    Expiring {
        at: Timestamp,
        warning_days: u32,
    },
    /// Deleted with its request-log rows.
    Deleted {
        request_logs: i64,
    },
    /// No request for `days` days since `last_used` (`None`: never used).
    Unused {
        last_used: Option<Timestamp>,
        days: u32,
    },
    /// A rotated key that still receives requests (its last at `last_used`) stops working at
    /// `at`, within a day; `replaced_by` is the key that replaces it.
    GraceEnding {
        at: Timestamp,
        last_used: Timestamp,
        replaced_by: Option<&'a str>,
    },
    /// Found at `source` (a URL, a file and line), and what was done about it (`revoked`,
    /// `disabled`, `notified`).
    Leaked {
        source: &'a str,
        done: &'static str,
    },
    /// Its generations spent `spent` of its `budget` in the period from `period_start`:
    /// `percent` of it.
    BudgetReached {
        percent: u32,
        budget: Budget,
        spent: Money,
        period_start: Timestamp,
    },
    /// Refused with 429 `refusals` times in the hour starting at `hour_start`, more than
    /// `threshold`.
    RateLimited {
        hour_start: Timestamp,
        refusals: i64,
        threshold: u32,
    },
}

impl KeyChange<'_> {
    fn action(&self) -> &'static str {
        match self {
            KeyChange::Created => "created",
            KeyChange::Revoked => "revoked",
            KeyChange::Disabled => "disabled",
            KeyChange::Enabled => "enabled",
            KeyChange::Edited { .. } => "edited",
            KeyChange::Rotated { .. } => "rotated",
            KeyChange::GraceEnded | KeyChange::Expired { .. } => "expired",
            KeyChange::Expiring { .. } => "expiring",
            KeyChange::Deleted { .. } => "deleted",
            KeyChange::Unused { .. } => "unused",
            KeyChange::GraceEnding { .. } => "grace_ending",
            KeyChange::Leaked { .. } => "leaked",
            KeyChange::BudgetReached { .. } => "budget_reached",
            KeyChange::RateLimited { .. } => "rate_limited",
        }
    }

    pub(super) fn note<'k>(&self, key: &KeyRef<'k>, _now: Timestamp) -> Note<'k> {
        let named = format!("API key \"{}\" ({})", key.name, key.prefix);
        let description = match self {
            KeyChange::Expired { .. } => format!("{named} expired"),
            KeyChange::Expiring { at, .. } => format!("{named} expires at {}", at.to_rfc3339()),
            KeyChange::Unused { days, .. } => format!("{named} has not been used for {days} days"),
            KeyChange::BudgetReached {
                percent,
                budget,
                spent,
                ..
            } => format!(
                "{named} spent {spent} of its {} credits a {}: {percent} %",
                budget.credits,
                budget.period.as_str()
            ),
            KeyChange::Leaked { source, done } => {
                format!("{named} was found leaked at {source}: {done}")
            }
            KeyChange::GraceEnding { at, .. } => format!(
                "{named} still receives requests and its rotation grace ends at {}",
                at.to_rfc3339()
            ),
            KeyChange::RateLimited {
                hour_start,
                refusals,
                ..
            } => format!(
                "{named} was refused for its rate limit {refusals} times in the hour from {}",
                hour_start.to_rfc3339()
            ),
            _ => {
                let mut line = format!("{} {named}", capitalised(self.action()));
                let detail = match self {
                    KeyChange::Edited { fields } => Some(format!("changed {}", fields.join(", "))),
                    KeyChange::Rotated { new, grace_ends } => Some(format!(
                        "replaced by {}, grace ends {}",
                        new.key_prefix,
                        grace_ends.to_rfc3339()
                    )),
                    KeyChange::GraceEnded => Some("grace period ended early".to_owned()),
                    KeyChange::Deleted { request_logs } => {
                        Some(format!("{request_logs} request-log rows removed"))
                    }
                    _ => None,
                };
                if let Some(detail) = detail {
                    line.push_str(": ");
                    line.push_str(&detail);
                }
                line
            }
        };
        Note {
            account_id: Some(key.account_id),
            category: Category::ApiKey,
            action: self.action(),
            target: Some(key.id),
            description,
        }
    }

    pub(super) fn event(&self) -> Option<WebhookEvent> {
        Some(match self {
            KeyChange::Created => WebhookEvent::ApiKeyCreated,
            KeyChange::Revoked => WebhookEvent::ApiKeyRevoked,
            KeyChange::Deleted { .. } => WebhookEvent::ApiKeyDeleted,
            KeyChange::Rotated { .. } => WebhookEvent::ApiKeyRotated,
            KeyChange::GraceEnded | KeyChange::Expired { .. } => WebhookEvent::ApiKeyExpired,
            KeyChange::Expiring { .. } => WebhookEvent::ApiKeyExpiring,
            KeyChange::Unused { .. } => WebhookEvent::ApiKeyUnused,
            KeyChange::GraceEnding { .. } => WebhookEvent::ApiKeyGraceEnding,
            KeyChange::Leaked { .. } => WebhookEvent::ApiKeyLeaked,
            KeyChange::BudgetReached { .. } => WebhookEvent::ApiKeyBudgetReached,
            KeyChange::RateLimited { .. } => WebhookEvent::RateLimitExceeded,
            KeyChange::Disabled | KeyChange::Enabled | KeyChange::Edited { .. } => return None,
        })
    }

    /// The event's `webhook_data`.
    pub(super) fn data(&self, key: &KeyRef<'_>, now: Timestamp) -> KeyEventData {
        let time = |t: Option<Timestamp>| Some(t.map(Timestamp::to_rfc3339));
        let mut data = KeyEventData {
            account_id: key.account_id.to_owned(),
            apikey_id: key.id.to_owned(),
            apikey_name: key.name.to_owned(),
            apikey_prefix: key.prefix.to_owned(),
            expires_at: None,
            replaced_by: None,
            grace_ends_at: None,
            warning_days: None,
            last_used_at: None,
            unused_days: None,
            hour_start: None,
            refusals: None,
            refusals_threshold: None,
            leak_source: None,
            leak_action: None,
            budget_credits: None,
            budget_period: None,
            budget_spent: None,
            budget_percent: None,
            period_start: None,
        };
        match self {
            KeyChange::Expiring { warning_days, .. } => data.warning_days = Some(*warning_days),
            KeyChange::Unused { last_used, days } => {
                data.last_used_at = time(*last_used);
                data.unused_days = Some(*days);
                return data;
            }
            KeyChange::BudgetReached {
                percent,
                budget,
                spent,
                period_start,
            } => {
                let credits = |m: Money| m.thousandths() as f64 / 1000.0;
                data.budget_credits = Some(credits(budget.credits));
                data.budget_period = Some(budget.period.as_str());
                data.budget_spent = Some(credits(*spent));
                data.budget_percent = Some(*percent);
                data.period_start = Some(period_start.to_rfc3339());
                return data;
            }
            KeyChange::Leaked { source, done } => {
                data.leak_source = Some((*source).to_owned());
                data.leak_action = Some(done);
                return data;
            }
            KeyChange::GraceEnding {
                at,
                last_used,
                replaced_by,
            } => {
                data.grace_ends_at = Some(at.to_rfc3339());
                data.last_used_at = time(Some(*last_used));
                data.replaced_by = replaced_by.map(str::to_owned);
                return data;
            }
            KeyChange::RateLimited {
                hour_start,
                refusals,
                threshold,
            } => {
                data.hour_start = Some(hour_start.to_rfc3339());
                data.refusals = Some(*refusals);
                data.refusals_threshold = Some(*threshold);
                return data;
            }
            _ => {}
        }
        let (expires_at, replaced_by, grace_ends_at) = match self {
            KeyChange::Rotated { new, grace_ends } => {
                (None, Some(new.id.clone()), Some(grace_ends.to_rfc3339()))
            }
            KeyChange::GraceEnded => (time(Some(now)), None, None),
            KeyChange::Expired { at } | KeyChange::Expiring { at, .. } => {
                (time(Some(*at)), None, None)
            }
            _ => (time(key.expires_at), None, None),
        };
        data.expires_at = expires_at;
        data.replaced_by = replaced_by;
        data.grace_ends_at = grace_ends_at;
        data
    }
}
