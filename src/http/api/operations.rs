//! The operations of the management API: one table that registers the routes under /api/v1,
//! names the query parameters the handlers accept (with their defaults and ranges) and drives the
//! OpenAPI document, so the router, the handlers and the document cannot tell different stories.

use actix_web::http::Method;
use actix_web::web;

use super::{keys, logs, policy, webhooks};
use crate::domain::Scope;
use crate::http::openapi::schema;
use crate::wire::input::key::{CreateApiKeyRequest, RotateApiKeyRequest, UpdateApiKeyRequest};
use crate::wire::input::policy::KeyPolicyRequest;
use crate::wire::input::webhook::{CreateWebhookRequest, EmptyRequest, WebhookRequest};
use crate::wire::key::{
    CreatedKeyOut, DeletedKeyOut, KeyDetailOut, KeyListOut, KeyOut, KeyUsageOut, RotatedKeyOut,
};
use crate::wire::log::{ActivityPageOut, LogPageOut};
use crate::wire::policy::KeyPolicyOut;
use crate::wire::webhook::{
    DeletedEndpointOut, DeliveryListOut, DeliveryOut, EndpointListOut, EndpointOut,
    EndpointWithSecretOut, ReleasedOut, TestSentOut,
};

use super::operation::links::{NEW_ENDPOINT, NEW_KEY, ROTATED_KEY, TEST_SENT};
pub use super::operation::{Body, Operation, PREFIX, QueryParam, Reply, Value};
pub use super::params::*;
use Method as M;
use Scope::{ActivityRead, KeysRead, KeysWrite, WebhooksRead, WebhooksWrite};

const NONE: &[QueryParam] = &[];

pub static OPERATIONS: [Operation; 23] = [
    Operation {
        id: "listApiKeys",
        method: M::GET,
        path: "/api-keys",
        scope: KeysRead,
        summary: "List the account's keys, newest first",
        query: LIST_KEYS,
        body: Body::None,
        reply: Reply::Page(schema::<KeyListOut>),
        errors: &[],
        links: &[],
        to: || web::route().to(keys::list),
    },
    Operation {
        id: "createApiKey",
        method: M::POST,
        path: "/api-keys",
        scope: KeysWrite,
        summary: "Create a key; its secret is in this answer only",
        query: NONE,
        body: Body::Required(schema::<CreateApiKeyRequest>),
        reply: Reply::Data(schema::<CreatedKeyOut>),
        errors: &[],
        links: NEW_KEY,
        to: || web::route().to(keys::create),
    },
    Operation {
        id: "getApiKey",
        method: M::GET,
        path: "/api-keys/{id}",
        scope: KeysRead,
        summary: "A key with its rotation chain",
        query: NONE,
        body: Body::None,
        reply: Reply::Data(schema::<KeyDetailOut>),
        errors: &[404],
        links: &[],
        to: || web::route().to(keys::show),
    },
    Operation {
        id: "updateApiKey",
        method: M::PATCH,
        path: "/api-keys/{id}",
        scope: KeysWrite,
        summary: "Rename, restrict, disable or enable a key, or change its expiry",
        query: NONE,
        body: Body::Required(schema::<UpdateApiKeyRequest>),
        reply: Reply::Data(schema::<KeyOut>),
        errors: &[404, 409],
        links: &[],
        to: || web::route().to(keys::update),
    },
    Operation {
        id: "deleteApiKey",
        method: M::DELETE,
        path: "/api-keys/{id}",
        scope: KeysWrite,
        summary: "Delete a key and its request-log rows",
        query: NONE,
        body: Body::None,
        reply: Reply::Data(schema::<DeletedKeyOut>),
        errors: &[404],
        links: &[],
        to: || web::route().to(keys::delete),
    },
    Operation {
        id: "rotateApiKey",
        method: M::POST,
        path: "/api-keys/{id}/rotate",
        scope: KeysWrite,
        summary: "Replace a key with a new one; the old one works until its grace period ends",
        query: NONE,
        body: Body::Optional(schema::<RotateApiKeyRequest>),
        reply: Reply::Data(schema::<RotatedKeyOut>),
        errors: &[404, 409],
        links: ROTATED_KEY,
        to: || web::route().to(keys::rotate),
    },
    Operation {
        id: "revokeApiKey",
        method: M::POST,
        path: "/api-keys/{id}/revoke",
        scope: KeysWrite,
        summary: "Revoke a key for good",
        query: NONE,
        body: Body::None,
        reply: Reply::Data(schema::<KeyOut>),
        errors: &[404, 409],
        links: &[],
        to: || web::route().to(keys::revoke),
    },
    Operation {
        id: "expireApiKey",
        method: M::POST,
        path: "/api-keys/{id}/expire",
        scope: KeysWrite,
        summary: "End a rotated key's grace period now",
        query: NONE,
        body: Body::None,
        reply: Reply::Data(schema::<KeyOut>),
        errors: &[404, 409],
        links: &[],
        to: || web::route().to(keys::expire),
    },
    Operation {
        id: "getApiKeyUsage",
        method: M::GET,
        path: "/api-keys/{id}/usage",
        scope: KeysRead,
        summary: "A key's requests per endpoint and per day",
        query: KEY_USAGE,
        body: Body::None,
        reply: Reply::Data(schema::<KeyUsageOut>),
        errors: &[404],
        links: &[],
        to: || web::route().to(keys::usage),
    },
    Operation {
        id: "getKeyPolicy",
        method: M::GET,
        path: "/policy",
        scope: KeysRead,
        summary: "The account's key policy",
        query: NONE,
        body: Body::None,
        reply: Reply::Data(schema::<KeyPolicyOut>),
        errors: &[],
        links: &[],
        to: || web::route().to(policy::show),
    },
    Operation {
        id: "updateKeyPolicy",
        method: M::PUT,
        path: "/policy",
        scope: KeysWrite,
        summary: "Replace the account's key policy; keys already issued are not changed",
        query: NONE,
        body: Body::Required(schema::<KeyPolicyRequest>),
        reply: Reply::Data(schema::<KeyPolicyOut>),
        errors: &[],
        links: &[],
        to: || web::route().to(policy::update),
    },
    Operation {
        id: "listWebhooks",
        method: M::GET,
        path: "/webhooks",
        scope: WebhooksRead,
        summary: "List the account's webhook endpoints",
        query: NONE,
        body: Body::None,
        reply: Reply::Data(schema::<EndpointListOut>),
        errors: &[],
        links: &[],
        to: || web::route().to(webhooks::list),
    },
    Operation {
        id: "createWebhook",
        method: M::POST,
        path: "/webhooks",
        scope: WebhooksWrite,
        summary: "Create a webhook endpoint; its signing secret is in this answer only",
        query: NONE,
        body: Body::Required(schema::<CreateWebhookRequest>),
        reply: Reply::Data(schema::<EndpointWithSecretOut>),
        errors: &[409],
        links: NEW_ENDPOINT,
        to: || web::route().to(webhooks::create),
    },
    Operation {
        id: "getWebhook",
        method: M::GET,
        path: "/webhooks/{id}",
        scope: WebhooksRead,
        summary: "A webhook endpoint",
        query: NONE,
        body: Body::None,
        reply: Reply::Data(schema::<EndpointOut>),
        errors: &[404],
        links: &[],
        to: || web::route().to(webhooks::show),
    },
    Operation {
        id: "updateWebhook",
        method: M::PATCH,
        path: "/webhooks/{id}",
        scope: WebhooksWrite,
        summary: "Change a webhook endpoint's URL, events or description, or enable or disable it",
        query: NONE,
        body: Body::Required(schema::<WebhookRequest>),
        reply: Reply::Data(schema::<EndpointOut>),
        errors: &[404],
        links: &[],
        to: || web::route().to(webhooks::update),
    },
    Operation {
        id: "deleteWebhook",
        method: M::DELETE,
        path: "/webhooks/{id}",
        scope: WebhooksWrite,
        summary: "Delete a webhook endpoint and its deliveries",
        query: NONE,
        body: Body::None,
        reply: Reply::Data(schema::<DeletedEndpointOut>),
        errors: &[404],
        links: &[],
        to: || web::route().to(webhooks::delete),
    },
    Operation {
        id: "rotateWebhookSecret",
        method: M::POST,
        path: "/webhooks/{id}/rotate-secret",
        scope: WebhooksWrite,
        summary: "Give a webhook endpoint a new signing secret; the old one stops signing at once",
        query: NONE,
        body: Body::Optional(schema::<EmptyRequest>),
        reply: Reply::Data(schema::<EndpointWithSecretOut>),
        errors: &[404],
        links: &[],
        to: || web::route().to(webhooks::rotate_secret),
    },
    Operation {
        id: "testWebhook",
        method: M::POST,
        path: "/webhooks/{id}/test",
        scope: WebhooksWrite,
        summary: "Queue a `webhook.test` event for a webhook endpoint",
        query: NONE,
        body: Body::Optional(schema::<EmptyRequest>),
        reply: Reply::Data(schema::<TestSentOut>),
        errors: &[404, 409],
        links: TEST_SENT,
        to: || web::route().to(webhooks::test),
    },
    Operation {
        id: "listWebhookDeliveries",
        method: M::GET,
        path: "/webhooks/{id}/deliveries",
        scope: WebhooksRead,
        summary: "A webhook endpoint's deliveries, newest first",
        query: DELIVERIES,
        body: Body::None,
        reply: Reply::Data(schema::<DeliveryListOut>),
        errors: &[404],
        links: &[],
        to: || web::route().to(webhooks::deliveries),
    },
    Operation {
        id: "replayWebhookDelivery",
        method: M::POST,
        path: "/webhooks/{id}/deliveries/{delivery_id}/replay",
        scope: WebhooksWrite,
        summary: "Send the event of a past delivery again, as a new delivery",
        query: NONE,
        body: Body::Optional(schema::<EmptyRequest>),
        reply: Reply::Data(schema::<DeliveryOut>),
        errors: &[404, 409],
        links: &[],
        to: || web::route().to(webhooks::replay),
    },
    Operation {
        id: "deliverQueuedWebhookEvents",
        method: M::POST,
        path: "/webhooks/{id}/deliver-queued",
        scope: WebhooksWrite,
        summary: "Deliver the events queued while a webhook endpoint was disabled",
        query: NONE,
        body: Body::Optional(schema::<EmptyRequest>),
        reply: Reply::Data(schema::<ReleasedOut>),
        errors: &[404, 409],
        links: &[],
        to: || web::route().to(webhooks::deliver_queued),
    },
    Operation {
        id: "listRequestLogs",
        method: M::GET,
        path: "/logs",
        scope: KeysRead,
        summary: "The account's request log, newest first, as JSON or CSV",
        query: LOGS,
        body: Body::None,
        reply: Reply::DataOrCsv(schema::<LogPageOut>),
        errors: &[],
        links: &[],
        to: || web::route().to(logs::logs),
    },
    Operation {
        id: "listActivity",
        method: M::GET,
        path: "/activity",
        scope: ActivityRead,
        summary: "The account's activity log, newest first, with its hash-chain fields",
        query: ACTIVITY,
        body: Body::None,
        reply: Reply::Data(schema::<ActivityPageOut>),
        errors: &[],
        links: &[],
        to: || web::route().to(logs::activity),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_twenty_three_distinct_operations() {
        let mut seen: Vec<(String, &str)> = OPERATIONS
            .iter()
            .map(|o| (o.method.to_string(), o.path))
            .collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 23);
        let mut ids: Vec<&str> = OPERATIONS.iter().map(|o| o.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 23);
    }

    #[test]
    fn each_operation_needs_the_scope_authentication_asks_for() {
        for op in OPERATIONS.iter() {
            let asked = super::super::extract::scope_for(&op.template(), &op.method);
            assert_eq!(asked, op.scope, "{}", op.id);
        }
    }

    #[test]
    fn no_get_takes_a_body_and_links_name_operations_of_the_table() {
        for op in OPERATIONS.iter() {
            if op.method == Method::GET {
                assert!(matches!(op.body, Body::None), "{}", op.id);
            }
            for link in op.links {
                assert!(
                    OPERATIONS.iter().any(|o| o.id == link.operation),
                    "{} links to {}",
                    op.id,
                    link.operation
                );
            }
        }
    }

    #[test]
    fn query_defaults_are_within_their_ranges() {
        for op in OPERATIONS.iter() {
            for p in op.query {
                match p.value {
                    Value::Whole { default, min, max } => {
                        assert!((min..=max).contains(&default), "{} {}", op.id, p.name);
                    }
                    Value::OneOf(values, Some(default)) => {
                        assert!(values().contains(&default), "{} {}", op.id, p.name);
                    }
                    _ => {}
                }
            }
        }
    }
}
