//! The event a change makes: written to the outbox with one delivery per endpoint of the
//! account that listens to it (queued for a disabled one), in the change's transaction.

use serde::Serialize;

use super::{Change, GenerationChange};
use crate::domain::generation::Generation;
use crate::domain::webhook::payload::{
    EndpointDisabledData, GenerationEventData, LowBalanceData, ThresholdCrossed,
};
use crate::domain::{Money, Timestamp};
use crate::service::ServiceError;
use crate::store::Tx;
use crate::store::webhooks as store;

/// The generation id of `webhook.test` events.
pub const TEST_GENERATION_ID: &str = "00000000-0000-0000-0000-000000000000";

/// Writes the event of `change`, if it has one; returns the deliveries written.
pub(super) fn emit(
    tx: &Tx<'_>,
    change: &Change<'_>,
    now: Timestamp,
) -> Result<Vec<String>, ServiceError> {
    let Some(event) = change.event() else {
        return Ok(Vec::new());
    };
    let (account_id, generation_id, data, only) = match change {
        Change::Key(key, change) => (key.account_id, None, json(&change.data(key, now)), None),
        Change::Generation(g, change) => (
            g.account_id.as_str(),
            Some(g.id.as_str()),
            json(&generation_data(g, *change)),
            None,
        ),
        Change::LowBalance {
            account_id,
            balance,
            crossed,
        } => (
            *account_id,
            None,
            json(&low_balance_data(account_id, *balance, crossed)),
            None,
        ),
        Change::EndpointDisabled {
            account_id,
            endpoint_id,
            url,
            reason,
            failures,
        } => (
            *account_id,
            None,
            json(&EndpointDisabledData {
                account_id: (*account_id).to_owned(),
                endpoint_id: (*endpoint_id).to_owned(),
                endpoint_url: (*url).to_owned(),
                reason: reason.as_str(),
                consecutive_failures: *failures,
                disabled_at: now.to_rfc3339(),
            }),
            None,
        ),
        Change::WebhookTest {
            account_id,
            endpoint_id,
        } => (
            *account_id,
            Some(TEST_GENERATION_ID),
            json(&test_data(account_id)),
            Some(*endpoint_id),
        ),
        Change::Note(_) => return Ok(Vec::new()),
    };
    let listeners = match only {
        Some(endpoint) => vec![(endpoint.to_owned(), true)],
        None => store::listeners(tx, account_id, event.as_str())?,
    };
    if listeners.is_empty() {
        return Ok(Vec::new());
    }
    let event_id = store::insert_event(tx, account_id, event.as_str(), generation_id, &data, now)?;
    let mut deliveries = Vec::with_capacity(listeners.len());
    for (endpoint, enabled) in listeners {
        let id = uuid::Uuid::new_v4().to_string();
        store::insert_delivery(tx, &id, &endpoint, event_id, enabled, None, now)?;
        deliveries.push(id);
    }
    Ok(deliveries)
}

fn json(data: &impl Serialize) -> String {
    serde_json::to_string(data).unwrap_or_else(|_| "{}".into())
}

fn credits(m: Money) -> f64 {
    m.thousandths() as f64 / 1000.0
}

/// `generation.started|completed|failed|canceled` for `g` as it now is.
fn generation_data(g: &Generation, change: GenerationChange) -> GenerationEventData {
    let status = match change {
        GenerationChange::Started => "processing",
        GenerationChange::Completed => "succeeded",
        GenerationChange::Failed { .. } => "failed",
        GenerationChange::Canceled { .. } => "canceled",
    };
    let mut data = GenerationEventData::new(&g.account_id, &g.model_identifier, &g.id, status);
    match change {
        GenerationChange::Started => {
            data.generation_provider_initialize = g.provider_order.first().cloned();
        }
        GenerationChange::Completed => {
            data.generation_provider_used = g.provider_used.clone();
            data.generation_prediction_id = g.prediction_id.clone();
            data.generation_output_file = g.output_urls(g.origin.as_deref().unwrap_or(""));
        }
        GenerationChange::Failed { refunded } => {
            data.generation_prediction_id = g.prediction_id.clone();
            data.generation_error = g.error.clone();
            data.generation_error_code = g.error_code.clone();
            data.credits_refunded = Some(refunded.thousandths() > 0);
        }
        GenerationChange::Canceled { refunded } => {
            data.credits_refunded = Some(refunded.thousandths() > 0);
        }
    }
    data
}

fn low_balance_data(account_id: &str, balance: Money, crossed: &[i64]) -> LowBalanceData {
    LowBalanceData {
        account_id: account_id.to_owned(),
        current_balance: credits(balance),
        thresholds_crossed: crossed
            .iter()
            .map(|t| ThresholdCrossed {
                threshold: credits(Money(*t)),
                balance_at: credits(balance),
            })
            .collect(),
    }
}

fn test_data(account_id: &str) -> GenerationEventData {
    GenerationEventData::new(account_id, "tidegate/test", TEST_GENERATION_ID, "succeeded")
}
