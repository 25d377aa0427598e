//! The OpenAPI 3.0.3 document of the /v1 API, generated from the route table: per operation its
//! parameters, body, the `data` of its success and every error status it can answer. The
//! schemas are those of the wire types the handlers answer with (`src/wire`).

use schemars::SchemaGenerator;
use serde_json::{Map, Value, json};

use super::operation::{LIMIT, Operation, QueryParam, QueryType, Reply};
use super::routes::OPERATIONS;
use crate::http::openapi::{common_headers, envelope, error_response, header};

/// What every operation can answer from the key pipeline and from the store
/// (docs/api.md, "Authentication").
const PIPELINE: [u16; 5] = [401, 403, 404, 429, 503];
/// What reading a JSON body adds.
const BODY: [u16; 3] = [400, 408, 413];

/// Each error status: its name under `components/responses` and when it is sent.
const ERRORS: [(u16, &str, &str); 10] = [
    (
        400,
        "BadRequest",
        "Invalid input; `error.details.field` names the query parameter, header or body field.",
    ),
    (
        401,
        "Unauthorized",
        "No key (BSE1001), or one that is unknown, malformed, revoked, disabled, expired, rotated \
         past its grace period or of another region (BSE1002).",
    ),
    (
        402,
        "PaymentRequired",
        "The credit balance cannot cover the generation (BSE1004), or it would pass the key's \
         credit budget for the period (BSE1010); nothing was created.",
    ),
    (
        403,
        "Forbidden",
        "The key lacks the operation's scope or may not use the model (BSE1003), or the client \
         address is not in its allowlist (BSE1007). As `text/plain`, before any authentication: \
         the schema firewall's refusal of a request that is not an operation of this document \
         (a path parameter of the wrong shape, an unknown query parameter, a value of the wrong \
         type, a POST body that is not JSON).",
    ),
    (
        404,
        "NotFound",
        "The key's account is gone (BSE1008), or no such model (BSE2011) or generation (BSE2012).",
    ),
    (
        408,
        "RequestTimeout",
        "The body did not arrive in time (`details.field` is `body`); the connection is closed.",
    ),
    (
        409,
        "Conflict",
        "The generation is not pending or processing (BSE2013); the Idempotency-Key was used with \
         another body (BSE2015) or its first request is still running (BSE2016, retryable).",
    ),
    (
        413,
        "PayloadTooLarge",
        "The body is larger than the server accepts (`server.max_body_bytes`).",
    ),
    (
        429,
        "TooManyRequests",
        "Rate limit (BSE1005), too many failed authentications from this address (BSE1006), \
         too many generations in flight (BSE1009), or the key's request quota used up until its \
         refill (BSE1011); retry after `Retry-After` seconds (none with BSE1011 for a quota that \
         never refills: `error.retryable` is false then).",
    ),
    (
        503,
        "ServiceUnavailable",
        "The store is unavailable or the request could not be written to the audit log; it was \
         not carried out.",
    ),
];

/// The firewall's refusal, the one answer that is not JSON.
pub const FIREWALL_BODY: &str = "Forbidden\n";

/// A segment of an owner or a name: `[a-z0-9._-]+`, except `.` and `..`, which clients resolve
/// away as relative path segments before sending.
const SEGMENT: &str = r"^(?:[a-z0-9_-][a-z0-9._-]*|\.[a-z0-9_-][a-z0-9._-]*|\.\.[a-z0-9._-]+)$";
const UUID: &str = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// The document's path for a route-table template. `{model_identifier}` becomes two parameters,
/// so that a generated client sends its slash as a slash: percent-encoded, it is no operation.
pub fn path_of(template: &str) -> String {
    template.replace("{model_identifier}", "{owner}/{name}")
}

pub fn document() -> Value {
    let mut generator = crate::wire::schema_generator();
    let mut paths = Map::new();
    for op in OPERATIONS.iter() {
        let entry = paths
            .entry(path_of(op.template))
            .or_insert_with(|| json!({}));
        entry[op.method.as_str().to_ascii_lowercase()] = operation(op, &mut generator);
    }
    let responses: Map<String, Value> = ERRORS
        .iter()
        .map(|&(status, name, description)| {
            let mut response = error_response(&mut generator, status, description);
            if status == 403
                && let Some(content) = response.get_mut("content")
            {
                content["text/plain"] =
                    json!({ "schema": { "type": "string", "enum": [FIREWALL_BODY] } });
            }
            (name.to_owned(), Value::Object(response))
        })
        .collect();
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Tidegate /v1 API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "BabySea-compatible generative-media API. A request that is not one of \
                            the operations below is refused with a bare `403` (text/plain) before \
                            authentication.",
        },
        "servers": [{ "url": "/" }],
        "security": [{ "bearerAuth": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": { "bearerAuth": { "type": "http", "scheme": "bearer" } },
            "schemas": generator.take_definitions(true),
            "responses": responses,
        },
    })
}

/// The statuses `op` can answer besides 200.
pub fn error_statuses(op: &Operation) -> Vec<u16> {
    let mut all: Vec<u16> = PIPELINE.to_vec();
    if op.body.is_some() {
        all.extend(BODY);
    }
    all.extend(op.errors);
    all.sort_unstable();
    all.dedup();
    all
}

fn is_generate(op: &Operation) -> bool {
    op.template.starts_with("/v1/generate/")
}

fn operation(op: &Operation, generator: &mut SchemaGenerator) -> Value {
    let mut responses = Map::new();
    responses.insert("200".into(), success(op, generator));
    for status in error_statuses(op) {
        if let Some((_, name, _)) = ERRORS.iter().find(|e| e.0 == status) {
            let target = format!("#/components/responses/{name}");
            responses.insert(status.to_string(), json!({ "$ref": target }));
        }
    }
    let mut value = json!({
        "operationId": op.id,
        "summary": op.summary,
        "description": format!("Requires the scope `{}`.", op.scope),
        "x-scope": op.scope.as_str(),
        "parameters": parameters(op),
        "responses": responses,
    });
    if let Some(body) = op.body {
        value["requestBody"] = json!({
            "required": true,
            "content": { "application/json": { "schema": body(generator) } },
        });
    }
    value
}

fn parameters(op: &Operation) -> Vec<Value> {
    let mut parameters: Vec<Value> = Vec::new();
    let path = path_of(op.template);
    for name in path
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
    {
        let (schema, description) = match name {
            "generation_id" => (
                json!({ "type": "string", "format": "uuid", "pattern": UUID }),
                "The generation's id",
            ),
            "owner" => (
                json!({ "type": "string", "pattern": SEGMENT, "example": "tidegate" }),
                "The model identifier's part before its slash",
            ),
            _ => {
                let example = if op.template.contains("/video/") {
                    "motion-1"
                } else {
                    "pattern-1"
                };
                (
                    json!({ "type": "string", "pattern": SEGMENT, "example": example }),
                    "The model identifier's part after its slash",
                )
            }
        };
        parameters.push(json!({
            "name": name, "in": "path", "required": true, "description": description,
            "schema": schema,
        }));
    }
    parameters.extend(op.query.iter().map(query_parameter));
    if is_generate(op) {
        parameters.push(json!({
            "name": "Idempotency-Key", "in": "header", "required": false,
            "description": "Makes a retry safe: the same key and body replay the first response \
                            for 24 hours (`Idempotency-Replayed: true`).",
            "schema": { "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[A-Za-z0-9_:.-]+$" },
        }));
    }
    parameters
}

fn query_parameter(p: &QueryParam) -> Value {
    let mut schema = match p.ty {
        QueryType::Integer => json!({ "type": "integer", "format": "int64" }),
        QueryType::Number => json!({ "type": "number" }),
        QueryType::String => json!({ "type": "string" }),
        QueryType::Boolean => json!({ "type": "boolean" }),
    };
    if let Some(b) = p.bounds {
        schema["minimum"] = b.min.into();
        schema["maximum"] = b.max.into();
        schema["default"] = b.default.into();
    }
    json!({
        "name": p.name, "in": "query", "required": false, "description": p.description,
        "schema": schema,
    })
}

fn success(op: &Operation, generator: &mut SchemaGenerator) -> Value {
    let (data, page) = match op.reply {
        Reply::Data(data) => (data, None),
        Reply::Page(data) => (data, LIMIT.bounds.map(|b| (b.min, b.max))),
    };
    let data = data(generator);
    let envelope = envelope(generator, data, page);
    let mut headers = common_headers(generator);
    let mut response = json!({ "description": "Success" });
    if is_generate(op) {
        headers.insert(
            "Idempotency-Replayed".into(),
            header(
                "`true` when this is the stored response of an earlier request with the same \
                 Idempotency-Key and body",
                false,
                json!({ "type": "string", "enum": ["true"] }),
            ),
        );
        let id = json!({ "generation_id": "$response.body#/data/generation_id" });
        response["links"] = json!({
            "GetGeneration": { "operationId": "getContent", "parameters": id },
            "CancelGeneration": { "operationId": "cancelGeneration", "parameters": id },
            "DeleteGeneration": { "operationId": "deleteContent", "parameters": id },
        });
    }
    response["headers"] = Value::Object(headers);
    response["content"] = json!({ "application/json": { "schema": envelope } });
    response
}

#[cfg(test)]
mod tests;
