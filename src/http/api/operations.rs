//! The operations of the management API: one table that registers the routes under /api/v1,
//! names the query parameters the handlers accept (with their defaults and ranges) and drives the
//! OpenAPI document, so the router, the handlers and the document cannot tell different stories.

use actix_web::http::Method;
use actix_web::{Route, web};

use super::{keys, logs, webhooks};
use crate::domain::Scope;
use crate::domain::key::KeyStatus;
use crate::domain::webhook::DeliveryStatus;
use crate::http::openapi::{SchemaOf, schema};
use crate::service::usage::MAX_DAYS;
use crate::wire::input::key::{CreateApiKeyRequest, RotateApiKeyRequest, UpdateApiKeyRequest};
use crate::wire::input::webhook::{CreateWebhookRequest, EmptyRequest, WebhookRequest};
use crate::wire::key::{
    CreatedKeyOut, DeletedKeyOut, KeyDetailOut, KeyListOut, KeyOut, KeyUsageOut, RotatedKeyOut,
};
use crate::wire::log::{ActivityPageOut, LogPageOut};
use crate::wire::webhook::{
    DeletedEndpointOut, DeliveryListOut, DeliveryOut, EndpointListOut, EndpointOut,
    EndpointWithSecretOut, ReleasedOut, TestSentOut,
};

/// Where the management API lives; the table's paths are below it.
pub const PREFIX: &str = "/api/v1";

/// What a query parameter takes. An empty value counts as left out.
#[derive(Clone, Copy, Debug)]
pub enum Value {
    /// A whole number within `min..=max` (400 outside), `default` when left out.
    Whole {
        default: i64,
        min: i64,
        max: i64,
    },
    /// The `next_cursor` of the previous page: a whole number from 1. Left out: the newest.
    Cursor,
    /// One of these words, and the one taken when left out.
    OneOf(fn() -> Vec<&'static str>, Option<&'static str>),
    /// Text matching this pattern.
    Pattern(&'static str),
    /// An RFC 3339 time or a `YYYY-MM-DD` date.
    Time,
    Text,
}

#[derive(Clone, Copy, Debug)]
pub struct QueryParam {
    pub name: &'static str,
    pub value: Value,
    pub description: &'static str,
}

const fn whole(
    name: &'static str,
    (default, min, max): (i64, i64, i64),
    description: &'static str,
) -> QueryParam {
    QueryParam {
        name,
        value: Value::Whole { default, min, max },
        description,
    }
}

const fn param(name: &'static str, value: Value, description: &'static str) -> QueryParam {
    QueryParam {
        name,
        value,
        description,
    }
}

fn key_statuses() -> Vec<&'static str> {
    let mut names: Vec<&str> = KeyStatus::ALL.iter().map(|s| s.as_str()).collect();
    names.push("all");
    names
}

fn delivery_statuses() -> Vec<&'static str> {
    DeliveryStatus::ALL.iter().map(|s| s.as_str()).collect()
}

fn log_formats() -> Vec<&'static str> {
    vec!["json", "csv"]
}

pub const KEY_STATUS: QueryParam = param(
    "status",
    Value::OneOf(key_statuses, Some("all")),
    "Only keys with this status",
);
pub const KEY_SEARCH: QueryParam = param(
    "search",
    Value::Text,
    "Only keys whose name contains this, or whose prefix starts with it",
);
pub const KEY_LIMIT: QueryParam = whole("limit", (50, 1, 500), "Keys per page");
pub const KEY_OFFSET: QueryParam = whole("offset", (0, 0, i64::MAX), "Keys to skip");
pub const USAGE_DAYS: QueryParam =
    whole("days", (30, 1, MAX_DAYS), "Days to cover, today included");

pub const LOG_KEY: QueryParam = param("key_id", Value::Text, "Only requests of this key");
pub const LOG_STATUS: QueryParam = param(
    "status",
    Value::Pattern("^(?:[1-5][xX][xX]|[1-5][0-9][0-9])$"),
    "Only answers of this status (`404`) or class (`4xx`)",
);
pub const LOG_ERROR_CODE: QueryParam = param(
    "error_code",
    Value::Text,
    "Only answers with this error code, e.g. `BSE1005`",
);
pub const LOG_SINCE: QueryParam = param("since", Value::Time, "Only requests from this time on");
pub const LOG_UNTIL: QueryParam = param("until", Value::Time, "Only requests before this time");
pub const LOG_LIMIT: QueryParam = whole("limit", (100, 1, 1000), "Requests per page");
pub const LOG_CURSOR: QueryParam = param("cursor", Value::Cursor, "Only requests older than this");
pub const LOG_FORMAT: QueryParam = param(
    "format",
    Value::OneOf(log_formats, Some("json")),
    "`csv`: the page as a CSV file (`text/csv`), its cursor in `X-Next-Cursor`",
);
pub const ACTIVITY_LIMIT: QueryParam = whole("limit", (50, 1, 500), "Entries per page");
pub const ACTIVITY_CURSOR: QueryParam =
    param("cursor", Value::Cursor, "Only entries older than this");
pub const DELIVERY_STATUS: QueryParam = param(
    "status",
    Value::OneOf(delivery_statuses, None),
    "Only deliveries with this status",
);
pub const DELIVERY_LIMIT: QueryParam = whole("limit", (50, 1, 500), "Deliveries per page");
pub const DELIVERY_CURSOR: QueryParam =
    param("cursor", Value::Cursor, "Only deliveries older than this");

pub const LIST_KEYS: &[QueryParam] = &[KEY_STATUS, KEY_SEARCH, KEY_LIMIT, KEY_OFFSET];
pub const KEY_USAGE: &[QueryParam] = &[USAGE_DAYS];
pub const LOGS: &[QueryParam] = &[
    LOG_KEY,
    LOG_STATUS,
    LOG_ERROR_CODE,
    LOG_SINCE,
    LOG_UNTIL,
    LOG_LIMIT,
    LOG_CURSOR,
    LOG_FORMAT,
];
pub const ACTIVITY: &[QueryParam] = &[ACTIVITY_LIMIT, ACTIVITY_CURSOR];
pub const DELIVERIES: &[QueryParam] = &[DELIVERY_STATUS, DELIVERY_LIMIT, DELIVERY_CURSOR];
const NONE: &[QueryParam] = &[];

/// The JSON body an operation reads.
#[derive(Clone, Copy, Debug)]
pub enum Body {
    None,
    Required(SchemaOf),
    /// May be left out; one that is sent is checked.
    Optional(SchemaOf),
}

/// The `data` of a success: the schema of its wire type.
#[derive(Clone, Copy, Debug)]
pub enum Reply {
    Data(SchemaOf),
    /// In the paginated envelope (`total`, `limit`, `offset` beside `data`).
    Page(SchemaOf),
    /// `data` in JSON, or the same page as CSV with `format=csv`.
    DataOrCsv(SchemaOf),
}

/// An OpenAPI link: an operation a success leads to, and where its parameters come from.
#[derive(Clone, Copy, Debug)]
pub struct Link {
    pub name: &'static str,
    pub operation: &'static str,
    pub parameters: &'static [(&'static str, &'static str)],
}

pub struct Operation {
    pub id: &'static str,
    pub method: Method,
    /// Below `PREFIX`; `{id}` and `{delivery_id}` are UUIDs.
    pub path: &'static str,
    pub scope: Scope,
    pub summary: &'static str,
    pub query: &'static [QueryParam],
    pub body: Body,
    pub reply: Reply,
    /// Statuses the handler itself may answer; those of authentication, of the query string and
    /// of reading a body are added by the document.
    pub errors: &'static [u16],
    pub links: &'static [Link],
    /// The handler, as a route without a method: the router adds `method`.
    pub to: fn() -> Route,
}

impl Operation {
    /// The path as the server serves it.
    pub fn template(&self) -> String {
        format!("{PREFIX}{}", self.path)
    }
}

const KEY_ID: &[(&str, &str)] = &[("id", "$response.body#/data/id")];
const ENDPOINT_ID: &[(&str, &str)] = &[("id", "$response.body#/data/id")];

const fn link(
    name: &'static str,
    operation: &'static str,
    parameters: &'static [(&'static str, &'static str)],
) -> Link {
    Link {
        name,
        operation,
        parameters,
    }
}

const NEW_KEY: &[Link] = &[
    link("GetApiKey", "getApiKey", KEY_ID),
    link("UpdateApiKey", "updateApiKey", KEY_ID),
    link("RotateApiKey", "rotateApiKey", KEY_ID),
    link("RevokeApiKey", "revokeApiKey", KEY_ID),
    link("GetApiKeyUsage", "getApiKeyUsage", KEY_ID),
    link("DeleteApiKey", "deleteApiKey", KEY_ID),
];
const ROTATED_KEY: &[Link] = &[
    link("GetNewApiKey", "getApiKey", KEY_ID),
    link(
        "ExpireOldApiKey",
        "expireApiKey",
        &[("id", "$request.path.id")],
    ),
];
const NEW_ENDPOINT: &[Link] = &[
    link("GetWebhook", "getWebhook", ENDPOINT_ID),
    link("UpdateWebhook", "updateWebhook", ENDPOINT_ID),
    link("RotateWebhookSecret", "rotateWebhookSecret", ENDPOINT_ID),
    link("TestWebhook", "testWebhook", ENDPOINT_ID),
    link(
        "ListWebhookDeliveries",
        "listWebhookDeliveries",
        ENDPOINT_ID,
    ),
    link(
        "DeliverQueuedWebhookEvents",
        "deliverQueuedWebhookEvents",
        ENDPOINT_ID,
    ),
    link("DeleteWebhook", "deleteWebhook", ENDPOINT_ID),
];
const TEST_SENT: &[Link] = &[link(
    "ReplayWebhookDelivery",
    "replayWebhookDelivery",
    &[
        ("id", "$request.path.id"),
        ("delivery_id", "$response.body#/data/delivery_id"),
    ],
)];

use Method as M;
use Scope::{KeysRead, KeysWrite, WebhooksRead, WebhooksWrite};

pub static OPERATIONS: [Operation; 21] = [
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
        scope: KeysRead,
        summary: "The account's activity log, newest first",
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
    fn the_table_has_twenty_one_distinct_operations() {
        let mut seen: Vec<(String, &str)> = OPERATIONS
            .iter()
            .map(|o| (o.method.to_string(), o.path))
            .collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 21);
        let mut ids: Vec<&str> = OPERATIONS.iter().map(|o| o.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 21);
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
