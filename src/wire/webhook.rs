//! Webhook endpoints and their deliveries on the wire: never the signing secret (but in the
//! answer that makes one), the URL's credentials redacted.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::{Time, count, named};
use crate::domain::webhook::{Delivery, Endpoint, EndpointSummary, redact_url};

named!(
    /// An event an endpoint listens to.
    Event(crate::domain::webhook::WebhookEvent),
    crate::domain::webhook::WebhookEvent::SUBSCRIBABLE
);

named!(
    /// Why an endpoint is disabled: switched off by a person (`manual`), too many failed
    /// deliveries in a row (`failures`), or the receiver answered 410 Gone (`gone`).
    DisabledReason(crate::domain::webhook::DisabledReason),
    crate::domain::webhook::DisabledReason::ALL
);

named!(
    /// Where a delivery stands.
    DeliveryStatus(crate::domain::webhook::DeliveryStatus),
    crate::domain::webhook::DeliveryStatus::ALL
);

#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "WebhookEndpoint")]
pub struct EndpointOut {
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
    #[schemars(extend("format" = "uuid"))]
    pub account_id: String,
    /// With any credentials in it redacted.
    pub url: String,
    pub description: String,
    pub events: Vec<Event>,
    pub enabled: bool,
    pub disabled_reason: Option<DisabledReason>,
    pub consecutive_failures: u64,
    pub created_at: Time,
    pub updated_at: Time,
    pub secret_rotated_at: Option<Time>,
}

impl EndpointOut {
    pub fn of(e: &Endpoint) -> EndpointOut {
        EndpointOut {
            id: e.id.clone(),
            account_id: e.account_id.clone(),
            url: redact_url(&e.url),
            description: e.description.clone(),
            events: e.events.iter().map(Event).collect(),
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.map(DisabledReason),
            consecutive_failures: count(e.consecutive_failures),
            created_at: Time(e.created_at),
            updated_at: Time(e.updated_at),
            secret_rotated_at: Time::of(e.secret_rotated_at),
        }
    }
}

/// An endpoint with its signing secret: only the answers that make one carry it.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "WebhookEndpointWithSecret")]
pub struct EndpointWithSecretOut {
    #[serde(flatten)]
    pub endpoint: EndpointOut,
    /// Signs every delivery (`whsec_…`); shown only in this answer.
    pub secret: String,
}

impl EndpointWithSecretOut {
    pub fn of(e: &Endpoint, secret: &str) -> EndpointWithSecretOut {
        EndpointWithSecretOut {
            endpoint: EndpointOut::of(e),
            secret: secret.to_owned(),
        }
    }
}

/// An endpoint as lists show it: with its last finished delivery and what waits for it.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "WebhookEndpointSummary")]
pub struct EndpointSummaryOut {
    #[serde(flatten)]
    pub endpoint: EndpointOut,
    pub last_delivery: Option<LastDeliveryOut>,
    /// Events waiting for the endpoint to be enabled.
    pub queued_events: u64,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "LastDelivery")]
pub struct LastDeliveryOut {
    pub status: DeliveryStatus,
    pub status_code: Option<i64>,
    pub at: Option<Time>,
}

impl EndpointSummaryOut {
    pub fn of(s: &EndpointSummary) -> EndpointSummaryOut {
        EndpointSummaryOut {
            endpoint: EndpointOut::of(&s.endpoint),
            last_delivery: s.last_delivery.as_ref().map(|d| LastDeliveryOut {
                status: DeliveryStatus(d.status),
                status_code: d.status_code,
                at: Time::of(d.at),
            }),
            queued_events: count(s.queued),
        }
    }
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "WebhookEndpointList")]
pub struct EndpointListOut {
    pub webhooks: Vec<EndpointSummaryOut>,
}

/// One delivery of the delivery log.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "WebhookDelivery")]
pub struct DeliveryOut {
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
    #[schemars(extend("format" = "uuid"))]
    pub endpoint_id: String,
    /// The event's name, e.g. `generation.completed` or `webhook.test`.
    pub event: String,
    pub generation_id: Option<String>,
    /// The event's `webhook_data`, as sent.
    pub payload: Value,
    pub status: DeliveryStatus,
    pub attempts: u64,
    pub next_attempt_at: Option<Time>,
    /// The receiver's last HTTP status.
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: Option<i64>,
    /// The delivery this one sends again.
    pub replay_of: Option<String>,
    pub created_at: Time,
    pub completed_at: Option<Time>,
}

impl DeliveryOut {
    pub fn of(d: &Delivery) -> DeliveryOut {
        DeliveryOut {
            id: d.id.clone(),
            endpoint_id: d.endpoint_id.clone(),
            event: d.event.clone(),
            generation_id: d.generation_id.clone(),
            payload: serde_json::from_str(&d.data).unwrap_or(Value::Null),
            status: DeliveryStatus(d.status),
            attempts: count(d.attempts),
            next_attempt_at: Time::of(d.next_attempt_at),
            status_code: d.last_status_code,
            error: d.last_error.clone(),
            duration_ms: d.duration_ms,
            replay_of: d.replay_of.clone(),
            created_at: Time(d.created_at),
            completed_at: Time::of(d.completed_at),
        }
    }
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "WebhookDeliveryList")]
pub struct DeliveryListOut {
    pub deliveries: Vec<DeliveryOut>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "WebhookEndpointDeleted")]
pub struct DeletedEndpointOut {
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
    #[schemars(extend("enum" = [true]))]
    pub deleted: bool,
}

/// The delivery a test event made.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "WebhookTestSent")]
pub struct TestSentOut {
    #[schemars(extend("format" = "uuid"))]
    pub delivery_id: String,
    #[schemars(extend("enum" = ["webhook.test"]))]
    pub event: String,
}

/// What "deliver queued events" did.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "WebhookQueueReleased")]
pub struct ReleasedOut {
    /// Queued events now being delivered.
    pub delivering: u64,
    /// Events queued too long ago, which expired instead.
    pub expired: u64,
}
