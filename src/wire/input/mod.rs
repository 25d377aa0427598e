//! What the management API accepts: its request bodies, which the handlers read and turn into
//! the services' inputs, and which its OpenAPI document describes as they are deserialized (a
//! field that may be left out is not required, one that may be sent as `null` is nullable, an
//! unknown field is refused), with the names and ranges the services check.

pub(crate) mod key;
pub(crate) mod policy;
pub(crate) mod webhook;

use std::borrow::Cow;
use std::collections::BTreeSet;

use schemars::generate::SchemaSettings;
use schemars::transform::{RestrictFormats, Transform, transform_subschemas};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::Value;

use crate::domain::{Preset, Scope};

/// Settings for the request bodies of the management document: schemas under
/// `#/components/schemas`, describing what the server accepts. Unlike the answers' schemas, an
/// `Option` field stays nullable: `null` is accepted, and on an edit it clears the field.
pub fn schema_generator() -> SchemaGenerator {
    let mut formats = RestrictFormats::default();
    formats.infer_from_meta_schema = false;
    // Only the formats the document means; a Rust type's own (`int64`) goes, as in the answers.
    formats.allowed_formats =
        BTreeSet::from(["date-time", "date", "uuid", "uri"].map(Cow::Borrowed));
    SchemaSettings::openapi3()
        .for_deserialize()
        .with(|s| s.meta_schema = None)
        .with_transform(formats)
        .with_transform(NoNullDefault)
        .into_generator()
}

/// A field that may be left out has no `default: null`: on an edit, leaving it out keeps its
/// value, while `null` clears it.
#[derive(Clone, Copy, Debug)]
struct NoNullDefault;

impl Transform for NoNullDefault {
    fn transform(&mut self, schema: &mut Schema) {
        if schema.get("default").is_some_and(Value::is_null) {
            schema.remove("default");
        }
        transform_subschemas(self, schema);
    }
}

/// A preset a new key can take its scopes from.
pub struct PresetName;

impl JsonSchema for PresetName {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "PresetName".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = Preset::ALL.iter().map(|p| p.id()).collect();
        json_schema!({ "type": "string", "enum": names })
    }
}

/// A scope a new key can carry; `generation:*` stands for the three generation scopes.
pub struct ScopeName;

impl JsonSchema for ScopeName {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "ScopeName".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let mut names: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
        names.push("generation:*");
        json_schema!({ "type": "string", "enum": names })
    }
}

/// A time as the management API reads it: RFC 3339, or a `YYYY-MM-DD` date (its midnight, UTC).
pub struct TimeInput;

impl JsonSchema for TimeInput {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "TimeInput".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "format": "date-time",
            "description": "An RFC 3339 time; a YYYY-MM-DD date (its midnight, UTC) is also accepted.",
        })
    }
}
