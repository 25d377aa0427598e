//! The bodies of the management API's webhook operations, as they are read: create and edit an
//! endpoint, and the empty body of the actions that take none.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Deserialize;
use serde_json::Value;

use crate::domain::webhook::{MAX_URL_LEN, WebhookEvent};
use crate::service::webhooks::{EndpointInput, MAX_DESCRIPTION};
use crate::wire::webhook::Event;

/// A webhook endpoint's fields, as creating or editing one reads them: absent fields keep their
/// value (or take the default).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "UpdateWebhookRequest")]
#[schemars(
    description = "Changes to a webhook endpoint: a field left out (or `null`) keeps its value."
)]
pub struct WebhookRequest {
    /// Where deliveries are posted: `http://` or `https://`, without a `#fragment`. An address on a
    /// loopback or private network is refused unless `webhooks.allow_private_networks`.
    #[schemars(length(min = 1, max = MAX_URL_LEN))]
    #[schemars(extend("format" = "uri"), example = "http://127.0.0.1:9/webhooks")]
    pub url: Option<String>,
    /// The events to send, each once.
    #[schemars(with = "Option<Vec<Event>>")]
    #[schemars(length(min = 1), extend("uniqueItems" = true))]
    pub events: Option<Vec<String>>,
    #[schemars(length(max = MAX_DESCRIPTION))]
    pub description: Option<String>,
    /// `false` disables the endpoint: its events are queued until it is enabled again.
    pub enabled: Option<bool>,
}

impl From<WebhookRequest> for EndpointInput {
    fn from(r: WebhookRequest) -> EndpointInput {
        EndpointInput {
            url: r.url,
            events: r.events,
            description: r.description,
            enabled: r.enabled,
        }
    }
}

/// Bodies of the actions that take none; one sent must be an empty object.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "EmptyRequest")]
pub struct EmptyRequest {}

/// The body of `POST /api/v1/webhooks`: the fields of an edit, with the URL required.
pub struct CreateWebhookRequest;

impl JsonSchema for CreateWebhookRequest {
    fn schema_name() -> Cow<'static, str> {
        "CreateWebhookRequest".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut schema = WebhookRequest::json_schema(generator);
        // Required, so not null either.
        if let Some(Value::Object(url)) =
            schema.get_mut("properties").and_then(|p| p.get_mut("url"))
        {
            url.insert("type".into(), "string".into());
        }
        schema.insert("required".into(), Value::from(vec!["url"]));
        let events: Vec<&str> = WebhookEvent::DEFAULT.iter().map(|e| e.as_str()).collect();
        let description = format!(
            "A new webhook endpoint. Left out: `events` are {}, `description` is empty and \
             `enabled` is true.",
            events.join(", ")
        );
        schema.insert("description".into(), description.into());
        schema
    }
}
