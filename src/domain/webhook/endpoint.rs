//! Webhook endpoints and the log of what was delivered to them, as the product knows them.

use std::fmt;

use super::EventSet;
use crate::domain::Timestamp;

/// Why an endpoint is switched off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisabledReason {
    /// Switched off by a person.
    Manual,
    /// Too many deliveries in a row failed.
    Failures,
    /// The receiver answered 410 Gone.
    Gone,
}

impl DisabledReason {
    pub const ALL: [DisabledReason; 3] = [
        DisabledReason::Manual,
        DisabledReason::Failures,
        DisabledReason::Gone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DisabledReason::Manual => "manual",
            DisabledReason::Failures => "failures",
            DisabledReason::Gone => "gone",
        }
    }

    /// A reason a newer version stored reads as a manual switch.
    pub fn parse(s: &str) -> DisabledReason {
        match s {
            "failures" => DisabledReason::Failures,
            "gone" => DisabledReason::Gone,
            _ => DisabledReason::Manual,
        }
    }
}

impl fmt::Display for DisabledReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug)]
pub struct Endpoint {
    pub id: String,
    pub account_id: String,
    /// As stored, credentials included; shown only through `redact_url`.
    pub url: String,
    pub description: String,
    pub events: EventSet,
    pub enabled: bool,
    pub disabled_reason: Option<DisabledReason>,
    pub consecutive_failures: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub secret_rotated_at: Option<Timestamp>,
}

/// The last delivery that finished.
#[derive(Clone, Debug)]
pub struct LastDelivery {
    pub status: DeliveryStatus,
    pub status_code: Option<i64>,
    pub at: Option<Timestamp>,
}

/// An endpoint as lists show it: with its last delivery and how many events wait for it.
#[derive(Clone, Debug)]
pub struct EndpointSummary {
    pub endpoint: Endpoint,
    pub last_delivery: Option<LastDelivery>,
    pub queued: i64,
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Due now or at its next attempt.
    Pending,
    Succeeded,
    /// Every attempt failed.
    Failed,
    /// Waiting for its disabled endpoint to be enabled.
    Queued,
    /// Queued longer than the queue keeps events.
    Expired,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 5] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Succeeded,
        DeliveryStatus::Failed,
        DeliveryStatus::Queued,
        DeliveryStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Queued => "queued",
            DeliveryStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        DeliveryStatus::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A delivery as the delivery log shows it.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub id: String,
    pub endpoint_id: String,
    pub event_id: i64,
    /// The event's name as stored (an event a newer version wrote keeps its name).
    pub event: String,
    pub generation_id: Option<String>,
    /// The event's `webhook_data`, as JSON text.
    pub data: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: Option<Timestamp>,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub duration_ms: Option<i64>,
    pub replay_of: Option<String>,
    pub created_at: Timestamp,
    pub completed_at: Option<Timestamp>,
    /// Position in the log, for paging.
    pub seq: i64,
}
