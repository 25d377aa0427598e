//! What an operation of the management API is: its method and path below `/api/v1`, the scope
//! it needs, the query parameters it accepts, the body it reads, the shape of its answer and the
//! errors its handler may give. The table (`operations`) lists them all.

use actix_web::Route;
use actix_web::http::Method;

use crate::domain::Scope;
use crate::http::openapi::SchemaOf;

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

pub(super) const fn whole(
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

pub(super) const fn param(
    name: &'static str,
    value: Value,
    description: &'static str,
) -> QueryParam {
    QueryParam {
        name,
        value,
        description,
    }
}

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

/// The links of the document: from an answer to the operations it leads to.
pub(super) mod links {
    use super::Link;

    pub(in crate::http::api) const KEY_ID: &[(&str, &str)] = &[("id", "$response.body#/data/id")];
    pub(in crate::http::api) const ENDPOINT_ID: &[(&str, &str)] =
        &[("id", "$response.body#/data/id")];

    pub(in crate::http::api) const fn link(
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

    pub(in crate::http::api) const NEW_KEY: &[Link] = &[
        link("GetApiKey", "getApiKey", KEY_ID),
        link("UpdateApiKey", "updateApiKey", KEY_ID),
        link("RotateApiKey", "rotateApiKey", KEY_ID),
        link("RevokeApiKey", "revokeApiKey", KEY_ID),
        link("GetApiKeyUsage", "getApiKeyUsage", KEY_ID),
        link("DeleteApiKey", "deleteApiKey", KEY_ID),
    ];
    pub(in crate::http::api) const ROTATED_KEY: &[Link] = &[
        link("GetNewApiKey", "getApiKey", KEY_ID),
        link(
            "ExpireOldApiKey",
            "expireApiKey",
            &[("id", "$request.path.id")],
        ),
    ];
    pub(in crate::http::api) const NEW_ENDPOINT: &[Link] = &[
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
    pub(in crate::http::api) const TEST_SENT: &[Link] = &[link(
        "ReplayWebhookDelivery",
        "replayWebhookDelivery",
        &[
            ("id", "$request.path.id"),
            ("delivery_id", "$response.body#/data/delivery_id"),
        ],
    )];
}
