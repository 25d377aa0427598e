//! /api/v1/webhooks: endpoints, their secrets, test events and delivery logs.

use actix_web::{HttpRequest, HttpResponse, web};

use super::extract::{ApiJsonOrEmpty, Params};
use super::operations::{self, DELIVERY_CURSOR, DELIVERY_LIMIT, DELIVERY_STATUS};
use super::{ApiJson, ApiPrincipal, reply};
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::service::ServiceError;
use crate::service::webhooks::{self as service, DeliveryStatus, EndpointInput};
use crate::wire::input::webhook::{EmptyRequest, WebhookRequest};
use crate::wire::webhook::{
    DeletedEndpointOut, DeliveryListOut, DeliveryOut, EndpointListOut, EndpointOut,
    EndpointSummaryOut, EndpointWithSecretOut, ReleasedOut, TestSentOut,
};

pub async fn list(p: ApiPrincipal, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let account = p.account_id().to_owned();
    let endpoints = state
        .store
        .run(move |c| service::list(&c.read(), &account))
        .await?;
    let data = EndpointListOut {
        webhooks: endpoints.iter().map(EndpointSummaryOut::of).collect(),
    };
    Ok(reply(
        &p.caller,
        "Webhook endpoints retrieved successfully",
        data,
        None,
    ))
}

pub async fn create(
    p: ApiPrincipal,
    body: ApiJson<WebhookRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let input = EndpointInput::from(body.0);
    let (actor, account, now) = (p.actor.clone(), p.account_id().to_owned(), p.caller.now);
    let config = state.config.clone();
    let (endpoint, secret) = state
        .store
        .run(move |c| -> Result<_, ServiceError> {
            service::create_endpoint(c, &config.webhooks, &actor, &account, &input, now)
        })
        .await?;
    let data = EndpointWithSecretOut::of(&endpoint, secret.expose());
    Ok(reply(
        &p.caller,
        "Webhook endpoint created successfully",
        data,
        None,
    ))
}

pub async fn show(
    p: ApiPrincipal,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let account = p.account_id().to_owned();
    let endpoint = state
        .store
        .run(move |c| service::get(&c.read(), &account, &id))
        .await?;
    let data = EndpointOut::of(&endpoint);
    Ok(reply(
        &p.caller,
        "Webhook endpoint retrieved successfully",
        data,
        None,
    ))
}

pub async fn update(
    p: ApiPrincipal,
    id: web::Path<String>,
    body: ApiJson<WebhookRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let input = EndpointInput::from(body.0);
    let (actor, account, now) = (p.actor.clone(), p.account_id().to_owned(), p.caller.now);
    let config = state.config.clone();
    let endpoint = state
        .store
        .run(move |c| -> Result<_, ServiceError> {
            service::update_endpoint(c, &config.webhooks, &actor, &account, &id, &input, now)
        })
        .await?;
    let data = EndpointOut::of(&endpoint);
    Ok(reply(
        &p.caller,
        "Webhook endpoint updated successfully",
        data,
        None,
    ))
}

pub async fn delete(
    p: ApiPrincipal,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (actor, account, now) = (p.actor.clone(), p.account_id().to_owned(), p.caller.now);
    let endpoint = state
        .store
        .run(move |c| -> Result<_, ServiceError> {
            service::delete_endpoint(c, &actor, &account, &id, now)
        })
        .await?;
    let data = DeletedEndpointOut {
        id: endpoint.id,
        deleted: true,
    };
    Ok(reply(
        &p.caller,
        "Webhook endpoint deleted successfully",
        data,
        None,
    ))
}

pub async fn rotate_secret(
    p: ApiPrincipal,
    id: web::Path<String>,
    _body: ApiJsonOrEmpty<EmptyRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (actor, account, now) = (p.actor.clone(), p.account_id().to_owned(), p.caller.now);
    let (endpoint, secret) = state
        .store
        .run(move |c| -> Result<_, ServiceError> {
            service::rotate_secret(c, &actor, &account, &id, now)
        })
        .await?;
    let data = EndpointWithSecretOut::of(&endpoint, secret.expose());
    Ok(reply(
        &p.caller,
        "Webhook secret rotated successfully",
        data,
        None,
    ))
}

pub async fn test(
    p: ApiPrincipal,
    id: web::Path<String>,
    _body: ApiJsonOrEmpty<EmptyRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (account, now) = (p.account_id().to_owned(), p.caller.now);
    let delivery = state
        .store
        .run(move |c| service::send_test(c, &account, &id, now))
        .await?;
    let data = TestSentOut {
        delivery_id: delivery,
        event: "webhook.test".into(),
    };
    Ok(reply(
        &p.caller,
        "Test event queued for delivery",
        data,
        None,
    ))
}

pub async fn deliveries(
    req: HttpRequest,
    p: ApiPrincipal,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = Params::parse(&req, operations::DELIVERIES)?;
    let limit = params.whole(&DELIVERY_LIMIT)?;
    let cursor = params.cursor(&DELIVERY_CURSOR)?;
    let status = params
        .get(DELIVERY_STATUS.name)
        .map(|s| {
            DeliveryStatus::parse(s).ok_or_else(|| {
                ApiError::invalid(
                    "status",
                    "one of pending, succeeded, failed, queued, expired",
                )
            })
        })
        .transpose()?;
    let account = p.account_id().to_owned();
    let size = usize::try_from(limit).unwrap_or(50);
    let rows = state
        .store
        .run(move |c| -> Result<_, ServiceError> {
            service::deliveries(&c.read(), &account, &id, status, cursor, size)
        })
        .await?;
    let next = (rows.len() == size)
        .then(|| rows.last().map(|d| d.seq))
        .flatten();
    let data = DeliveryListOut {
        deliveries: rows.iter().map(DeliveryOut::of).collect(),
        next_cursor: next.map(|n| n.to_string()),
    };
    Ok(reply(
        &p.caller,
        "Deliveries retrieved successfully",
        data,
        None,
    ))
}

pub async fn replay(
    p: ApiPrincipal,
    path: web::Path<(String, String)>,
    _body: ApiJsonOrEmpty<EmptyRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (id, delivery) = path.into_inner();
    let (account, now) = (p.account_id().to_owned(), p.caller.now);
    let replayed = state
        .store
        .run(move |c| -> Result<_, ServiceError> {
            service::replay(c, &account, &id, &delivery, now)
        })
        .await?;
    let data = DeliveryOut::of(&replayed);
    Ok(reply(&p.caller, "Delivery queued again", data, None))
}

pub async fn deliver_queued(
    p: ApiPrincipal,
    id: web::Path<String>,
    _body: ApiJsonOrEmpty<EmptyRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (account, now) = (p.account_id().to_owned(), p.caller.now);
    let config = state.config.clone();
    let released = state
        .store
        .run(move |c| -> Result<_, ServiceError> {
            service::deliver_queued(c, &config.webhooks, &account, &id, now)
        })
        .await?;
    let data = ReleasedOut {
        delivering: released.delivering as u64,
        expired: released.expired as u64,
    };
    Ok(reply(
        &p.caller,
        "Queued events are being delivered",
        data,
        None,
    ))
}
