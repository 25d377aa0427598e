//! Webhook endpoints (docs/generation.md, "Webhooks"): what the pages, the management API and the
//! command line do with them, and how the deliverer records what became of a delivery. Only owners
//! manage endpoints; the callers check the role, as for keys.

use super::changes::{self, Category, Change, Note, capitalised};
use super::notify::{self, Notice};
use super::{Actor, ServiceError};
use crate::config::WebhooksConfig;
use crate::domain::Timestamp;
use crate::domain::name::can_match;
use crate::domain::webhook::{DisabledReason, EndpointUrl, EventSet, WebhookSecret, redact_url};
use crate::providers::outbound::AddressPolicy;
use crate::store::webhooks::{self as store, Attempted};

pub use crate::domain::webhook::{Delivery, DeliveryStatus, Endpoint, EndpointSummary};
use crate::store::{Db, StoreError, Tx};

pub const MAX_DESCRIPTION: usize = 500;

/// A new endpoint or changes to one; absent fields keep their value (or take the default).
#[derive(Clone, Debug, Default)]
pub struct EndpointInput {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

/// A URL that names an address deliveries may never reach is refused when it is saved; one that
/// names a host is checked again at every delivery, on the address it then resolves to.
fn valid_url(raw: Option<&str>, config: &WebhooksConfig) -> Result<EndpointUrl, ServiceError> {
    let url = EndpointUrl::parse(raw.unwrap_or("")).map_err(|m| ServiceError::invalid("url", m))?;
    let policy = AddressPolicy {
        allow_private: config.allow_private_networks,
    };
    policy
        .check_url(url.url())
        .map_err(|refused| ServiceError::invalid("url", refused.to_string()))?;
    Ok(url)
}

fn valid_events(names: Option<&[String]>) -> Result<EventSet, ServiceError> {
    EventSet::parse(names).map_err(|(index, message)| ServiceError::Invalid {
        field: "events",
        message,
        index,
    })
}

fn valid_description(raw: Option<&str>) -> Result<String, ServiceError> {
    let text = raw.unwrap_or("").trim();
    if text.chars().count() > MAX_DESCRIPTION {
        return Err(ServiceError::invalid(
            "description",
            format!("at most {MAX_DESCRIPTION} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(ServiceError::invalid(
            "description",
            "must not contain control characters",
        ));
    }
    Ok(text.to_owned())
}

fn record(
    tx: &Tx<'_>,
    actor: &Actor,
    endpoint: &Endpoint,
    action: &str,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let description = format!(
        "{} webhook endpoint {}",
        capitalised(action),
        redact_url(&endpoint.url)
    );
    let note = Note {
        account_id: Some(&endpoint.account_id),
        category: Category::Webhook,
        action,
        target: Some(&endpoint.id),
        description,
    };
    changes::record(tx, actor, Change::Note(note), now)?;
    Ok(())
}

fn endpoint_in(tx: &Tx<'_>, account_id: &str, id: &str) -> Result<Endpoint, ServiceError> {
    if !can_match(id) {
        return Err(ServiceError::NotFound("webhook endpoint"));
    }
    store::get_endpoint(tx, account_id, id)?.ok_or(ServiceError::NotFound("webhook endpoint"))
}

/// Creates an endpoint; its secret is returned here and never again.
pub fn create_endpoint(
    db: &mut Db,
    config: &WebhooksConfig,
    actor: &Actor,
    account_id: &str,
    input: &EndpointInput,
    now: Timestamp,
) -> Result<(Endpoint, WebhookSecret), ServiceError> {
    let url = valid_url(input.url.as_deref(), config)?;
    let events = valid_events(input.events.as_deref())?;
    let description = valid_description(input.description.as_deref())?;
    let secret = WebhookSecret::generate().map_err(StoreError::from)?;
    let tx = db.write()?;
    if store::count_endpoints(&tx, account_id)? >= i64::from(config.max_endpoints_per_account) {
        return Err(ServiceError::InvalidState(format!(
            "an account has at most {} webhook endpoints",
            config.max_endpoints_per_account
        )));
    }
    let id = uuid::Uuid::new_v4().to_string();
    store::insert_endpoint(
        &tx,
        &store::NewEndpoint {
            id: &id,
            account_id,
            url: url.as_str(),
            description: &description,
            events: &events.names(),
            secret: secret.expose(),
            enabled: input.enabled.unwrap_or(true),
            now,
        },
    )?;
    let endpoint = endpoint_in(&tx, account_id, &id)?;
    record(&tx, actor, &endpoint, "created", now)?;
    tx.commit()?;
    Ok((endpoint, secret))
}

/// Changes the URL, events, description or enabled flag of an endpoint.
pub fn update_endpoint(
    db: &mut Db,
    config: &WebhooksConfig,
    actor: &Actor,
    account_id: &str,
    id: &str,
    input: &EndpointInput,
    now: Timestamp,
) -> Result<Endpoint, ServiceError> {
    let tx = db.write()?;
    let old = endpoint_in(&tx, account_id, id)?;
    let url = match &input.url {
        Some(raw) => valid_url(Some(raw), config)?.as_str().to_owned(),
        None => old.url.clone(),
    };
    let events = match &input.events {
        Some(names) => valid_events(Some(names))?,
        None => old.events.clone(),
    };
    let description = match &input.description {
        Some(text) => valid_description(Some(text))?,
        None => old.description.clone(),
    };
    if url != old.url || events != old.events || description != old.description {
        store::update_endpoint(&tx, id, &url, &description, &events.names(), now)?;
        record(&tx, actor, &old, "edited", now)?;
    }
    match input.enabled {
        Some(true) if !old.enabled => {
            store::set_enabled(&tx, id, None, now)?;
            record(&tx, actor, &old, "enabled", now)?;
        }
        Some(false) if old.enabled => {
            store::set_enabled(&tx, id, Some(DisabledReason::Manual), now)?;
            record(&tx, actor, &old, "disabled", now)?;
        }
        _ => {}
    }
    let endpoint = endpoint_in(&tx, account_id, id)?;
    tx.commit()?;
    Ok(endpoint)
}

/// A new signing secret, returned here and never again; the old one stops signing at once.
pub fn rotate_secret(
    db: &mut Db,
    actor: &Actor,
    account_id: &str,
    id: &str,
    now: Timestamp,
) -> Result<(Endpoint, WebhookSecret), ServiceError> {
    let secret = WebhookSecret::generate().map_err(StoreError::from)?;
    let tx = db.write()?;
    let endpoint = endpoint_in(&tx, account_id, id)?;
    store::set_secret(&tx, id, secret.expose(), now)?;
    record(&tx, actor, &endpoint, "rotated the secret of", now)?;
    let endpoint = endpoint_in(&tx, account_id, id)?;
    tx.commit()?;
    Ok((endpoint, secret))
}

pub fn delete_endpoint(
    db: &mut Db,
    actor: &Actor,
    account_id: &str,
    id: &str,
    now: Timestamp,
) -> Result<Endpoint, ServiceError> {
    let tx = db.write()?;
    let endpoint = endpoint_in(&tx, account_id, id)?;
    store::delete_endpoint(&tx, id)?;
    record(&tx, actor, &endpoint, "deleted", now)?;
    tx.commit()?;
    Ok(endpoint)
}

fn require_enabled(endpoint: &Endpoint) -> Result<(), ServiceError> {
    if endpoint.enabled {
        return Ok(());
    }
    Err(ServiceError::InvalidState(
        "the endpoint is disabled; enable it first".into(),
    ))
}

/// Sends `webhook.test` to the endpoint; returns the delivery id.
pub fn send_test(
    db: &mut Db,
    account_id: &str,
    id: &str,
    now: Timestamp,
) -> Result<String, ServiceError> {
    let tx = db.write()?;
    let endpoint = endpoint_in(&tx, account_id, id)?;
    require_enabled(&endpoint)?;
    let test = Change::WebhookTest {
        account_id,
        endpoint_id: id,
    };
    let deliveries = changes::record(&tx, &Actor::System, test, now)?;
    tx.commit()?;
    deliveries
        .into_iter()
        .next()
        .ok_or(ServiceError::NotFound("webhook endpoint"))
}

/// Sends the event of a past delivery again, as a new delivery (fresh id, timestamp and
/// signature); returns it.
pub fn replay(
    db: &mut Db,
    account_id: &str,
    endpoint_id: &str,
    delivery_id: &str,
    now: Timestamp,
) -> Result<Delivery, ServiceError> {
    let tx = db.write()?;
    let endpoint = endpoint_in(&tx, account_id, endpoint_id)?;
    require_enabled(&endpoint)?;
    let past = Some(delivery_id)
        .filter(|id| can_match(id))
        .map(|id| store::get_delivery(&tx, endpoint_id, id))
        .transpose()?
        .flatten()
        .ok_or(ServiceError::NotFound("delivery"))?;
    let id = uuid::Uuid::new_v4().to_string();
    store::insert_delivery(
        &tx,
        &id,
        endpoint_id,
        past.event_id,
        true,
        Some(&past.id),
        now,
    )?;
    let delivery =
        store::get_delivery(&tx, endpoint_id, &id)?.ok_or(ServiceError::NotFound("delivery"))?;
    tx.commit()?;
    Ok(delivery)
}

/// What "Deliver queued events" did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Released {
    pub delivering: usize,
    pub expired: usize,
}

/// Sends the events queued while the endpoint was disabled, if they are recent enough.
pub fn deliver_queued(
    db: &mut Db,
    config: &WebhooksConfig,
    account_id: &str,
    id: &str,
    now: Timestamp,
) -> Result<Released, ServiceError> {
    let tx = db.write()?;
    let endpoint = endpoint_in(&tx, account_id, id)?;
    require_enabled(&endpoint)?;
    let since = now.plus_millis(-i64::from(config.queue_hours) * 3_600_000);
    let (delivering, expired) = store::release_queued(&tx, id, since, now)?;
    tx.commit()?;
    Ok(Released {
        delivering,
        expired,
    })
}

pub fn list(tx: &Tx<'_>, account_id: &str) -> Result<Vec<EndpointSummary>, ServiceError> {
    Ok(store::list_endpoints(tx, account_id)?)
}

pub fn get(tx: &Tx<'_>, account_id: &str, id: &str) -> Result<Endpoint, ServiceError> {
    endpoint_in(tx, account_id, id)
}

/// The endpoint's delivery log, newest first.
pub fn deliveries(
    tx: &Tx<'_>,
    account_id: &str,
    id: &str,
    status: Option<DeliveryStatus>,
    before: Option<i64>,
    limit: usize,
) -> Result<Vec<Delivery>, ServiceError> {
    endpoint_in(tx, account_id, id)?;
    Ok(store::deliveries(tx, id, status, before, limit)?)
}

/// Records what became of the attempts the deliverer made, in one transaction; an endpoint whose
/// deliveries failed `disable_after` times in a row, or that answered 410 Gone, is disabled.
pub fn record_attempts(
    db: &mut Db,
    attempts: &[(String, Attempted<'_>, bool)],
    disable_after: u32,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let tx = db.write()?;
    for (endpoint_id, attempt, gone) in attempts {
        let failures = store::record_attempt(&tx, endpoint_id, attempt, now)?;
        let reason = if *gone {
            Some(DisabledReason::Gone)
        } else if failures >= i64::from(disable_after) {
            Some(DisabledReason::Failures)
        } else {
            None
        };
        let Some(reason) = reason else { continue };
        let Some(endpoint) = store::get_endpoint_any(&tx, endpoint_id)? else {
            continue;
        };
        if !endpoint.enabled {
            continue;
        }
        store::set_enabled(&tx, endpoint_id, Some(reason), now)?;
        let url = redact_url(&endpoint.url);
        let notice = Notice::EndpointDisabled {
            account_id: &endpoint.account_id,
            endpoint_id: &endpoint.id,
            url: &url,
            reason,
            failures,
            at: now,
        };
        notify::send(&tx, &notice, now)?;
    }
    tx.commit()?;
    Ok(())
}
