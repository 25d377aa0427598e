//! What goes over the wire: one response type per record, built from the domain records and
//! serialized by the management API, the /v1 API and the command line's `--json` alike. The
//! OpenAPI documents derive their schemas from these same types (`schemas`), so a field is added
//! to an answer and to its document in one edit.

pub(crate) mod account;
pub(crate) mod admin;
pub(crate) mod error;
pub(crate) mod generation;
pub(crate) mod health;
pub(crate) mod input;
pub(crate) mod key;
pub(crate) mod library;
pub(crate) mod log;
pub(crate) mod policy;
pub(crate) mod usage;
pub(crate) mod webhook;

use std::borrow::Cow;

use schemars::generate::SchemaSettings;
use schemars::transform::{Transform, transform_subschemas};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Serialize, Serializer};

use crate::domain::{Money, Timestamp};

/// A time as the API writes it: RFC 3339, UTC, with milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Time(pub Timestamp);

impl Time {
    pub fn of(t: Option<Timestamp>) -> Option<Time> {
        t.map(Time)
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_rfc3339())
    }
}

impl JsonSchema for Time {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Time".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "format": "date-time" })
    }
}

/// Credits as the API writes them: a number with at most three decimals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Credits(pub Money);

impl Serialize for Credits {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0.thousandths() as f64 / 1000.0)
    }
}

impl JsonSchema for Credits {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Credits".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "number" })
    }
}

/// A count the store keeps as a signed integer; never negative on the wire.
pub fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A product word sent as one of a fixed list of strings (a status, an environment, a role):
/// serialized by its name, with the names as the schema's `enum`.
macro_rules! named {
    ($(#[$doc:meta])* $name:ident($inner:ty), $all:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name(pub $inner);

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.0.as_str())
            }
        }

        impl schemars::JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }

            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                let names: Vec<&str> = $all.iter().map(|v| v.as_str()).collect();
                schemars::json_schema!({ "type": "string", "enum": names })
            }
        }
    };
}

pub(crate) use named;

named!(
    /// A key's environment: `live` or `test`.
    Environment(crate::domain::Environment),
    crate::domain::Environment::ALL
);

named!(
    /// When a key's credit budget renews: `day`, `week` (from Monday) or `month`, at UTC
    /// midnight.
    BudgetPeriodName(crate::domain::key::budget::BudgetPeriod),
    crate::domain::key::budget::BudgetPeriod::ALL
);

named!(
    /// When a key's request quota is whole again, at UTC midnight: `none` (never), `daily`,
    /// `weekly` (every Monday) or `monthly` (on `quota_refill_day`).
    QuotaRefillName(crate::domain::key::quota::Refill),
    crate::domain::key::quota::Refill::KINDS
);

named!(
    /// A region: `us`, `eu` or `jp`.
    Region(crate::domain::Region),
    crate::domain::Region::ALL
);

/// Settings for the OpenAPI 3.0 documents: schemas under `#/components/schemas`, describing
/// what the server sends. An `Option` field is either always sent, and then required and
/// nullable, or left out when it has no value (`skip_serializing_if`), and then optional but
/// never null.
pub fn schema_generator() -> SchemaGenerator {
    SchemaSettings::openapi3()
        .for_serialize()
        .with(|s| s.meta_schema = None)
        .with_transform(WireSchema)
        .into_generator()
}

/// What the wire's schemas say beyond schemars' OpenAPI 3.0 settings: numbers without the
/// `format` of their Rust type (`uint32`, `int64`, `double`; the `minimum` of an unsigned one
/// stays), and a field left out when empty is not nullable.
#[derive(Clone, Copy, Debug)]
struct WireSchema;

impl Transform for WireSchema {
    fn transform(&mut self, schema: &mut Schema) {
        let numeric = matches!(
            schema.get("type").and_then(|t| t.as_str()),
            Some("integer" | "number")
        );
        if numeric
            && schema
                .get("format")
                .and_then(|f| f.as_str())
                .is_some_and(|f| f.starts_with("int") || f.starts_with("uint") || f == "double")
        {
            schema.remove("format");
        }
        let required: Vec<String> = schema
            .get("required")
            .and_then(|r| r.as_array())
            .map(|r| {
                r.iter()
                    .filter_map(|n| n.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(serde_json::Value::Object(properties)) = schema.get_mut("properties") {
            for (name, property) in properties.iter_mut() {
                if required.contains(name) {
                    continue;
                }
                if let serde_json::Value::Object(property) = property
                    && property.remove("nullable").is_some()
                    && let Some(serde_json::Value::Array(values)) = property.get_mut("enum")
                {
                    values.retain(|v| !v.is_null());
                }
            }
        }
        transform_subschemas(self, schema);
    }
}
