//! What the two OpenAPI 3.0.3 documents (`/v1/openapi.json`, `/api/v1/openapi.json`) share:
//! schemas taken from the wire types, the success envelope, the error responses and the headers
//! every answer carries.

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

use crate::wire::error::{ErrorBody, ErrorCode, RequestId};

/// How an operation names the schema of its body or its `data`: the wire type's, registered
/// under `#/components/schemas` on the way.
pub type SchemaOf = fn(&mut SchemaGenerator) -> Schema;

/// The schema of `T`, as a reference for the named types.
pub fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// The success envelope around `data`; a page adds `total`, `limit` (within `limit_range`) and
/// `offset` beside it.
pub fn envelope(generator: &mut SchemaGenerator, data: Schema, page: Option<(i64, i64)>) -> Value {
    let mut properties = json!({
        "status": { "type": "string", "enum": ["success"] },
        "request_id": generator.subschema_for::<RequestId>(),
        "message": { "type": "string" },
        "timestamp": { "type": "string", "format": "date-time" },
        "data": data,
    });
    let mut required = vec!["status", "request_id", "message", "timestamp", "data"];
    if let Some((min, max)) = page {
        properties["total"] = json!({ "type": "integer", "minimum": 0 });
        properties["limit"] = json!({ "type": "integer", "minimum": min, "maximum": max });
        properties["offset"] = json!({ "type": "integer", "minimum": 0 });
        required.extend(["total", "limit", "offset"]);
    }
    json!({ "type": "object", "properties": properties, "required": required })
}

pub fn header(description: &str, required: bool, schema: Value) -> Value {
    json!({ "description": description, "required": required, "schema": schema })
}

/// `X-Request-Id` on every answer, and the rate-limit headers of an identified key.
pub fn common_headers(generator: &mut SchemaGenerator) -> Map<String, Value> {
    let whole = || json!({ "type": "integer", "minimum": 0 });
    let request_id = generator.subschema_for::<RequestId>().to_value();
    let mut headers = Map::new();
    let mut add = |name: &str, value: Value| headers.insert(name.to_owned(), value);
    add(
        "X-Request-Id",
        header(
            "This request's id, which the body's `request_id` repeats; a replayed generate \
             answer (`Idempotency-Replayed: true`) is the first answer's body, with its \
             `request_id`, under this request's own id",
            true,
            request_id,
        ),
    );
    add(
        "X-RateLimit-Limit",
        header(
            "Requests allowed per minute, when the account or the key has such a limit",
            false,
            whole(),
        ),
    );
    add(
        "X-RateLimit-Remaining",
        header("Requests left in the current minute", false, whole()),
    );
    add(
        "X-Key-Quota-Remaining",
        header(
            "Requests left of the key's request quota until its refill, when it has one",
            false,
            whole(),
        ),
    );
    add(
        "X-RateLimit-Reset",
        header(
            "When the current minute window ends (Unix seconds)",
            false,
            whole(),
        ),
    );
    headers
}

/// The codes an error with `status` carries.
pub fn codes_of(status: u16) -> Vec<&'static str> {
    // A body that arrives too late is invalid input, answered with 408.
    if status == 408 {
        return vec![ErrorCode::InvalidInput.code()];
    }
    ErrorCode::ALL
        .iter()
        .filter(|c| c.status() == status)
        .map(|c| c.code())
        .collect()
}

/// The error response of `status`: the envelope with the codes that status carries, and
/// `Retry-After` where a retry is due.
pub fn error_response(
    generator: &mut SchemaGenerator,
    status: u16,
    description: &str,
) -> Map<String, Value> {
    error_response_with(generator, status, &codes_of(status), description)
}

/// The error response of `status` for an API that answers it with `codes` only.
pub fn error_response_with(
    generator: &mut SchemaGenerator,
    status: u16,
    codes: &[&str],
    description: &str,
) -> Map<String, Value> {
    let schema = json!({
        "allOf": [
            generator.subschema_for::<ErrorBody<'static>>(),
            { "type": "object", "properties": { "error": { "type": "object", "properties": {
                "code": { "type": "string", "enum": codes },
            } } } },
        ],
    });
    let mut headers = common_headers(generator);
    let wait = json!({ "type": "integer", "minimum": 0 });
    let in_progress = ErrorCode::IdempotencyRequestInProgress.code();
    match status {
        429 => headers.insert(
            "Retry-After".into(),
            header(
                "Seconds to wait before retrying; left out only with BSE1011 for a request quota \
                 that never refills",
                false,
                wait,
            ),
        ),
        409 if codes.contains(&in_progress) => headers.insert(
            "Retry-After".into(),
            header("With BSE2016: seconds to wait before retrying", false, wait),
        ),
        _ => None,
    };
    let mut response = Map::new();
    response.insert("description".into(), description.into());
    response.insert("headers".into(), Value::Object(headers));
    response.insert(
        "content".into(),
        json!({ "application/json": { "schema": schema } }),
    );
    response
}

/// Every `$ref` of `doc` and the ones among them that point nowhere, for the documents' tests.
#[cfg(test)]
pub(crate) fn references(doc: &Value) -> (Vec<String>, Vec<String>) {
    fn walk(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    found.push(target.clone());
                }
                map.values().for_each(|v| walk(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(doc, &mut found);
    let dangling = found
        .iter()
        .filter(|t| {
            t.strip_prefix('#')
                .is_none_or(|pointer| doc.pointer(pointer).is_none())
        })
        .cloned()
        .collect();
    (found, dangling)
}
