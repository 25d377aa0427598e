//! Webhook events, emitted from one place: every change that produces an event calls `emit` (or
//! one of the builders below) inside its own transaction, which writes the event and one
//! delivery per endpoint that listens to it. A change that commits has its events; one that
//! rolls back has none.

use serde_json::{Map, Value, json};

use super::ServiceError;
use crate::domain::generation::Generation;
use crate::domain::key::ApiKey;
use crate::domain::webhook::WebhookEvent;
use crate::domain::{Money, Timestamp};
use crate::store::Tx;
use crate::store::webhooks as store;

/// The generation id of `webhook.test` events.
pub const TEST_GENERATION_ID: &str = "00000000-0000-0000-0000-000000000000";

/// Writes `event` with `data` (its `webhook_data`) for every endpoint of the account that
/// listens to it, or only for `only` (a test event). Returns the deliveries written.
pub fn emit(
    tx: &Tx<'_>,
    account_id: &str,
    event: WebhookEvent,
    generation_id: Option<&str>,
    data: &Value,
    only: Option<&str>,
    now: Timestamp,
) -> Result<Vec<String>, ServiceError> {
    let listeners = match only {
        Some(endpoint) => vec![(endpoint.to_owned(), true)],
        None => store::listeners(tx, account_id, event.as_str())?,
    };
    if listeners.is_empty() {
        return Ok(Vec::new());
    }
    let event_id = store::insert_event(
        tx,
        account_id,
        event.as_str(),
        generation_id,
        &data.to_string(),
        now,
    )?;
    let mut deliveries = Vec::with_capacity(listeners.len());
    for (endpoint, enabled) in listeners {
        let id = uuid::Uuid::new_v4().to_string();
        store::insert_delivery(tx, &id, &endpoint, event_id, enabled, None, now)?;
        deliveries.push(id);
    }
    Ok(deliveries)
}

/// What became of a generation, for its event.
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

/// `generation.started|completed|failed|canceled` for `g` as it now is.
pub fn generation(
    tx: &Tx<'_>,
    g: &Generation,
    change: GenerationChange,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let (event, status) = match change {
        GenerationChange::Started => (WebhookEvent::GenerationStarted, "processing"),
        GenerationChange::Completed => (WebhookEvent::GenerationCompleted, "succeeded"),
        GenerationChange::Failed { .. } => (WebhookEvent::GenerationFailed, "failed"),
        GenerationChange::Canceled { .. } => (WebhookEvent::GenerationCanceled, "canceled"),
    };
    let mut data = Map::new();
    data.insert("account_id".into(), json!(g.account_id));
    data.insert("model_identifier".into(), json!(g.model_identifier));
    data.insert("generation_id".into(), json!(g.id));
    data.insert("generation_status".into(), json!(status));
    // Fields that are not known are left out, as the SDK declares them optional.
    let mut put = |name: &str, value: Option<Value>| {
        if let Some(value) = value {
            data.insert(name.into(), value);
        }
    };
    let text = |v: &Option<String>| v.as_ref().map(|s| json!(s));
    match change {
        GenerationChange::Started => {
            put(
                "generation_provider_initialize",
                g.provider_order.first().map(|p| json!(p)),
            );
        }
        GenerationChange::Completed => {
            put("generation_provider_used", text(&g.provider_used));
            put("generation_prediction_id", text(&g.prediction_id));
            let origin = g.origin.as_deref().unwrap_or("");
            let urls = g.output_urls(origin);
            put("generation_output_file", urls.map(|u| json!(u)));
        }
        GenerationChange::Failed { refunded } => {
            put("generation_prediction_id", text(&g.prediction_id));
            put("generation_error", text(&g.error));
            put("generation_error_code", text(&g.error_code));
            put("credits_refunded", Some(json!(refunded.thousandths() > 0)));
        }
        GenerationChange::Canceled { refunded } => {
            put("credits_refunded", Some(json!(refunded.thousandths() > 0)));
        }
    }
    emit(
        tx,
        &g.account_id,
        event,
        Some(&g.id),
        &Value::Object(data),
        None,
        now,
    )?;
    Ok(())
}

/// `credits.low_balance`: the balance fell below the thresholds `crossed`.
pub fn low_balance(
    tx: &Tx<'_>,
    account_id: &str,
    balance: Money,
    crossed: &[i64],
    now: Timestamp,
) -> Result<(), ServiceError> {
    let thresholds: Vec<Value> = crossed
        .iter()
        .map(|t| json!({ "threshold": Money(*t).to_json(), "balance_at": balance.to_json() }))
        .collect();
    let data = json!({
        "account_id": account_id,
        "current_balance": balance.to_json(),
        "thresholds_crossed": thresholds,
    });
    emit(
        tx,
        account_id,
        WebhookEvent::CreditsLowBalance,
        None,
        &data,
        None,
        now,
    )?;
    Ok(())
}

/// An `apikey.*` event for `key`, with the event's own fields in `extra`.
pub fn key(
    tx: &Tx<'_>,
    key: &ApiKey,
    event: WebhookEvent,
    extra: &[(&str, Value)],
    now: Timestamp,
) -> Result<(), ServiceError> {
    key_fields(
        tx,
        &KeyFields {
            account_id: &key.account_id,
            id: &key.id,
            name: &key.name,
            prefix: &key.key_prefix,
        },
        event,
        extra,
        now,
    )
}

/// What `apikey.*` events say about a key.
pub struct KeyFields<'a> {
    pub account_id: &'a str,
    pub id: &'a str,
    pub name: &'a str,
    pub prefix: &'a str,
}

pub fn key_fields(
    tx: &Tx<'_>,
    key: &KeyFields<'_>,
    event: WebhookEvent,
    extra: &[(&str, Value)],
    now: Timestamp,
) -> Result<(), ServiceError> {
    let mut data = Map::new();
    data.insert("account_id".into(), json!(key.account_id));
    data.insert("apikey_id".into(), json!(key.id));
    data.insert("apikey_name".into(), json!(key.name));
    data.insert("apikey_prefix".into(), json!(key.prefix));
    for (name, value) in extra {
        data.insert((*name).to_owned(), value.clone());
    }
    emit(
        tx,
        key.account_id,
        event,
        None,
        &Value::Object(data),
        None,
        now,
    )?;
    Ok(())
}

/// The `webhook_data` of a test event.
pub fn test_data(account_id: &str) -> Value {
    json!({
        "account_id": account_id,
        "model_identifier": "tidegate/test",
        "generation_id": TEST_GENERATION_ID,
        "generation_status": "succeeded",
    })
}
