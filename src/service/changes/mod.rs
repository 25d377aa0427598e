//! The one door for "something happened". Every use case that changes something calls
//! [`record`] in its own transaction, with a [`Change`] that says what happened; the change
//! gives the activity log its row and, where receivers can hear of it, the webhook outbox its
//! event with one delivery per endpoint that listens. A change that commits has both; one that
//! rolls back has neither.

mod key;
mod outbox;

pub use crate::domain::log::Category;
pub use key::{KeyChange, KeyRef};

use super::{Actor, ServiceError};
use crate::domain::generation::Generation;
use crate::domain::webhook::{DisabledReason, WebhookEvent};
use crate::domain::{Money, Timestamp};
use crate::store::Tx;
use crate::store::activity::{self, NewActivity};

/// A change the activity log records and no webhook event reports.
#[derive(Clone, Debug)]
pub struct Note<'a> {
    pub account_id: Option<&'a str>,
    pub category: Category,
    /// What was done, e.g. `invited`, `signed_in`, `plan_changed`.
    pub action: &'a str,
    /// The id of what it was done to.
    pub target: Option<&'a str>,
    pub description: String,
}

impl<'a> Note<'a> {
    /// A change to a person: a user, a membership or a password (category `member`).
    pub fn member(
        account_id: Option<&'a str>,
        action: &'a str,
        user_id: &'a str,
        description: String,
    ) -> Note<'a> {
        Note {
            account_id,
            category: Category::Member,
            action,
            target: Some(user_id),
            description,
        }
    }
}

/// What became of a generation: reported by its event only (the activity log is for what
/// people and the system change, not for each generation).
#[derive(Clone, Copy, Debug)]
pub enum GenerationChange {
    Started,
    Completed,
    /// Failed; `refunded` went back to the balance (nothing for test keys and free models).
    Failed {
        refunded: Money,
    },
    Canceled {
        refunded: Money,
    },
}

/// Something that happened.
#[derive(Clone, Debug)]
pub enum Change<'a> {
    Key(KeyRef<'a>, KeyChange<'a>),
    Generation(&'a Generation, GenerationChange),
    /// The balance fell below the thresholds `crossed` (thousandths), which are now disarmed.
    LowBalance {
        account_id: &'a str,
        balance: Money,
        crossed: &'a [i64],
    },
    /// An endpoint was disabled for `reason` after `failures` failed deliveries in a row;
    /// `url` is its URL redacted.
    EndpointDisabled {
        account_id: &'a str,
        endpoint_id: &'a str,
        url: &'a str,
        reason: DisabledReason,
        failures: i64,
    },
    /// `webhook.test`, to that one endpoint only.
    WebhookTest {
        account_id: &'a str,
        endpoint_id: &'a str,
    },
    Note(Note<'a>),
}

/// Records `change` in the caller's transaction: its activity row, if it has one, and its
/// event, if it has one, with a delivery for each endpoint that listens (a delivery due now
/// wakes the deliverer when the transaction commits). Returns the deliveries written.
pub fn record(
    tx: &Tx<'_>,
    actor: &Actor,
    change: Change<'_>,
    now: Timestamp,
) -> Result<Vec<String>, ServiceError> {
    if let Some(note) = change.note(now) {
        activity::append(
            tx,
            &NewActivity {
                account_id: note.account_id,
                actor: &actor.label(),
                category: note.category.as_str(),
                action: note.action,
                target: note.target,
                description: &note.description,
                ip_hash: actor.ip_hash(),
                created_at: now,
            },
        )?;
    }
    outbox::emit(tx, &change, now)
}

impl Change<'_> {
    /// The activity row of the change, if it has one.
    fn note(&self, now: Timestamp) -> Option<Note<'_>> {
        match self {
            Change::Key(key, change) => Some(change.note(key, now)),
            Change::Note(note) => Some(note.clone()),
            Change::LowBalance {
                account_id,
                balance,
                crossed,
            } => {
                let list: Vec<String> = crossed.iter().map(|t| Money(*t).to_string()).collect();
                Some(Note {
                    account_id: Some(account_id),
                    category: Category::Credits,
                    action: "low_balance",
                    target: Some(account_id),
                    description: format!(
                        "The balance fell to {balance}, below the low-balance alert at {}",
                        list.join(", ")
                    ),
                })
            }
            Change::EndpointDisabled {
                account_id,
                endpoint_id,
                url,
                reason,
                failures,
            } => Some(Note {
                account_id: Some(account_id),
                category: Category::Webhook,
                action: "disabled",
                target: Some(endpoint_id),
                description: format!(
                    "Disabled webhook endpoint {url}: {}",
                    match reason {
                        DisabledReason::Gone => "it answered 410 Gone".to_owned(),
                        _ => format!("{failures} deliveries in a row failed"),
                    }
                ),
            }),
            Change::Generation(..) | Change::WebhookTest { .. } => None,
        }
    }

    /// The event receivers hear of, if any.
    pub(crate) fn event(&self) -> Option<WebhookEvent> {
        match self {
            Change::Key(_, change) => change.event(),
            Change::Generation(_, change) => Some(match change {
                GenerationChange::Started => WebhookEvent::GenerationStarted,
                GenerationChange::Completed => WebhookEvent::GenerationCompleted,
                GenerationChange::Failed { .. } => WebhookEvent::GenerationFailed,
                GenerationChange::Canceled { .. } => WebhookEvent::GenerationCanceled,
            }),
            Change::LowBalance { .. } => Some(WebhookEvent::CreditsLowBalance),
            Change::EndpointDisabled { .. } => Some(WebhookEvent::WebhookDisabled),
            Change::WebhookTest { .. } => Some(WebhookEvent::Test),
            Change::Note(_) => None,
        }
    }
}

/// `rotated` → `Rotated`: an action at the start of an activity line.
pub(crate) fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
