//! What goes over the wire: one response type per record, built from the domain records and
//! serialized by the management API, the /v1 API and the command line's `--json` alike. The
//! OpenAPI documents derive their schemas from these same types (`schemas`), so a field is added
//! to an answer and to its document in one edit.

pub mod account;
pub mod generation;
pub mod key;
pub mod log;
pub mod webhook;

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
    /// A region: `us`, `eu` or `jp`.
    Region(crate::domain::Region),
    crate::domain::Region::ALL
);

/// Settings for the OpenAPI 3.0 documents: schemas under `#/components/schemas`, describing
/// what the server sends (an `Option` field without `skip_serializing_if` is required and
/// nullable), integers without the Rust-specific `format`s.
pub fn schema_generator() -> SchemaGenerator {
    SchemaSettings::openapi3()
        .for_serialize()
        .with(|s| s.meta_schema = None)
        .with_transform(PlainIntegers)
        .into_generator()
}

/// Drops the `format` schemars gives Rust's integer types (`uint32`, `int64`, …), which OpenAPI
/// does not define; the `minimum` of an unsigned type stays.
#[derive(Clone, Copy, Debug)]
struct PlainIntegers;

impl Transform for PlainIntegers {
    fn transform(&mut self, schema: &mut Schema) {
        if schema.get("type").and_then(|t| t.as_str()) == Some("integer")
            && schema
                .get("format")
                .and_then(|f| f.as_str())
                .is_some_and(|f| f.starts_with("int") || f.starts_with("uint"))
        {
            schema.remove("format");
        }
        transform_subschemas(self, schema);
    }
}
