//! The OpenAPI 3.0.3 document of the management API (`GET /api/v1/openapi.json`), generated from
//! the operation table: per operation its parameters, body, the `data` of its success and every
//! error status it can answer. The answers' schemas are those of the wire types the handlers
//! answer with (`src/wire`); the bodies' are those of the types the handlers read, described as
//! they are deserialized (`wire::input`).

use schemars::SchemaGenerator;
use serde_json::{Map, Value, json};

use super::operations::{Body, OPERATIONS, Operation, QueryParam, Reply, Value as Takes};
use crate::http::error::ErrorCode;
use crate::http::openapi::{common_headers, envelope, error_response_with, header};
use crate::http::session::SESSION_COOKIE;

/// What every operation can answer from authentication (a key or a session) and the store.
const PIPELINE: [u16; 5] = [401, 403, 404, 429, 503];
/// What a query string adds: an unknown parameter, or a value out of its range.
const QUERY: [u16; 1] = [400];
/// What reading a JSON body adds.
const BODY: [u16; 3] = [400, 408, 413];

/// Each error status: its name under `components/responses`, the codes it carries here and when
/// it is sent.
const ERRORS: [(u16, &str, &[ErrorCode], &str); 9] = {
    use ErrorCode::*;
    [
        (
            400,
            "BadRequest",
            &[InvalidInput],
            "Invalid input; `error.details.field` names the query parameter or body field \
             (`query` for a query string that cannot be read, `body` for a body that is not \
             JSON), and `error.details.index` the entry of a list.",
        ),
        (
            401,
            "Unauthorized",
            &[AuthenticationRequired, AuthenticationFailed],
            "No key (BSE1001), or one that is unknown, malformed, revoked, disabled, expired, \
             rotated past its grace period or of another region (BSE1002); or a dashboard \
             session that has expired (BSE1002).",
        ),
        (
            403,
            "Forbidden",
            &[InsufficientPermissions, IpNotAllowed],
            "The key lacks the operation's scope (BSE1003, `error.details.required_scope`) or \
             the client address is not in its allowlist (BSE1007). With a dashboard session \
             (BSE1003): no workspace is selected, or a change comes without the session's \
             `X-CSRF-Token` or from a member who is not an owner.",
        ),
        (
            404,
            "NotFound",
            &[AccountNotFound, ResourceNotFound],
            "The key's account is gone (BSE1008), or the account has no such key, webhook \
             endpoint or delivery (BSE2017); one of another account is not found either.",
        ),
        (
            408,
            "RequestTimeout",
            &[InvalidInput],
            "The body did not arrive in time (`details.field` is `body`); the connection is \
             closed.",
        ),
        (
            409,
            "Conflict",
            &[InvalidState],
            "The key or the webhook endpoint is not in a state that allows this (BSE2018): e.g. \
             rotating a key that is not active or disabled, expiring one that is not rotated, \
             editing or revoking a revoked key, testing or replaying to a disabled endpoint, or \
             an account that has as many endpoints as it may.",
        ),
        (
            413,
            "PayloadTooLarge",
            &[PayloadTooLarge],
            "The body is larger than the server accepts (`server.max_body_bytes`).",
        ),
        (
            429,
            "TooManyRequests",
            &[RateLimitExceeded, AuthRateLimited, KeyQuotaExceeded],
            "Rate limit of the key or its account (BSE1005), too many failed authentications \
             from this address (BSE1006), or the key's request quota used up until its refill \
             (BSE1011); retry after `Retry-After` seconds (none with BSE1011 for a quota that \
             never refills).",
        ),
        (
            503,
            "ServiceUnavailable",
            &[StorageUnavailable],
            "The store is unavailable or the request could not be written to the request log; \
             it was not carried out.",
        ),
    ]
};

pub fn document() -> Value {
    let mut answers = crate::wire::schema_generator();
    let mut bodies = crate::wire::input::schema_generator();
    let mut paths = Map::new();
    for op in OPERATIONS.iter() {
        let entry = paths.entry(op.template()).or_insert_with(|| json!({}));
        entry[op.method.as_str().to_ascii_lowercase()] = operation(op, &mut answers, &mut bodies);
    }
    let responses: Map<String, Value> = ERRORS
        .iter()
        .map(|&(status, name, codes, description)| {
            let codes: Vec<&str> = codes.iter().map(|c| c.code()).collect();
            let response = error_response_with(&mut answers, status, &codes, description);
            (name.to_owned(), Value::Object(response))
        })
        .collect();
    // The bodies' names (`…Request`) are not the answers' (`ApiKey…`, `Webhook…`).
    let mut schemas = answers.take_definitions(true);
    schemas.extend(bodies.take_definitions(true));
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Tidegate management API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The keys, webhook endpoints, request log and activity log of one \
                            account. Every request is authenticated, needs the scope its \
                            operation names (`x-scope`) and is written to the request log like \
                            a /v1 request.",
        },
        "servers": [{ "url": "/" }],
        "tags": [
            { "name": "API keys" },
            { "name": "Webhooks" },
            { "name": "Logs" },
        ],
        "security": security(false),
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A key of the account with the operation's scope.",
                },
                "sessionCookie": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": SESSION_COOKIE,
                    "description": "A dashboard session, for the dashboard's own pages: any \
                                    member of the selected workspace may read, only an owner \
                                    may change, with the session's CSRF token in \
                                    `X-CSRF-Token`. A request that sends `Authorization` is \
                                    authenticated by its key.",
                },
                "csrfToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-CSRF-Token",
                    "description": "The dashboard session's CSRF token, on every request that \
                                    changes something.",
                },
            },
            "schemas": schemas,
            "responses": responses,
        },
    })
}

/// A key, or a dashboard session (with its CSRF token when the request changes something).
fn security(changes: bool) -> Value {
    let session = if changes {
        json!({ "sessionCookie": [], "csrfToken": [] })
    } else {
        json!({ "sessionCookie": [] })
    };
    json!([{ "bearerAuth": [] }, session])
}

/// The statuses `op` can answer besides 200.
pub fn error_statuses(op: &Operation) -> Vec<u16> {
    let mut all: Vec<u16> = PIPELINE.to_vec();
    if !op.query.is_empty() {
        all.extend(QUERY);
    }
    if !matches!(op.body, Body::None) {
        all.extend(BODY);
    }
    all.extend(op.errors);
    all.sort_unstable();
    all.dedup();
    all
}

fn tag(op: &Operation) -> &'static str {
    if op.path.starts_with("/api-keys") {
        "API keys"
    } else if op.path.starts_with("/webhooks") {
        "Webhooks"
    } else {
        "Logs"
    }
}

fn operation(op: &Operation, answers: &mut SchemaGenerator, bodies: &mut SchemaGenerator) -> Value {
    let mut responses = Map::new();
    responses.insert("200".into(), success(op, answers));
    for status in error_statuses(op) {
        if let Some((_, name, _, _)) = ERRORS.iter().find(|e| e.0 == status) {
            let target = format!("#/components/responses/{name}");
            responses.insert(status.to_string(), json!({ "$ref": target }));
        }
    }
    let changes = op.method != actix_web::http::Method::GET;
    let who = if changes {
        "an owner of the workspace, with the `X-CSRF-Token` header"
    } else {
        "any member of the workspace"
    };
    let mut value = json!({
        "operationId": op.id,
        "summary": op.summary,
        "description": format!(
            "Requires the scope `{}`; with a dashboard session, {who}.",
            op.scope
        ),
        "tags": [tag(op)],
        "x-scope": op.scope.as_str(),
        "security": security(changes),
        "parameters": parameters(op),
        "responses": responses,
    });
    let body = match op.body {
        Body::None => None,
        Body::Required(schema) => Some((true, schema)),
        Body::Optional(schema) => Some((false, schema)),
    };
    if let Some((required, schema)) = body {
        value["requestBody"] = json!({
            "required": required,
            "content": { "application/json": { "schema": schema(bodies) } },
        });
        if !required {
            value["requestBody"]["description"] =
                "May be left out; one that is sent is checked.".into();
        }
    }
    value
}

fn parameters(op: &Operation) -> Vec<Value> {
    let whose = if op.path.starts_with("/webhooks") {
        "The webhook endpoint's id"
    } else {
        "The key's id"
    };
    let mut parameters: Vec<Value> = op
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let description = match name {
                "delivery_id" => "The delivery's id",
                _ => whose,
            };
            json!({
                "name": name, "in": "path", "required": true, "description": description,
                "schema": { "type": "string", "format": "uuid" },
            })
        })
        .collect();
    parameters.extend(op.query.iter().map(query_parameter));
    parameters
}

fn query_parameter(p: &QueryParam) -> Value {
    let schema = match p.value {
        Takes::Whole { default, min, max } => json!({
            "type": "integer", "format": "int64", "minimum": min, "maximum": max,
            "default": default,
        }),
        Takes::Cursor => json!({ "type": "integer", "format": "int64", "minimum": 1 }),
        Takes::OneOf(values, default) => {
            let mut schema = json!({ "type": "string", "enum": values() });
            if let Some(default) = default {
                schema["default"] = default.into();
            }
            schema
        }
        Takes::Pattern(pattern) => json!({ "type": "string", "pattern": pattern }),
        Takes::Time => json!({
            "type": "string", "format": "date-time",
            "description": "An RFC 3339 time; a YYYY-MM-DD date (its midnight, UTC) is also \
                            accepted.",
        }),
        Takes::Text => json!({ "type": "string" }),
    };
    json!({
        "name": p.name, "in": "query", "required": false, "description": p.description,
        "schema": schema,
    })
}

fn success(op: &Operation, generator: &mut SchemaGenerator) -> Value {
    let (data, page) = match op.reply {
        Reply::Data(data) | Reply::DataOrCsv(data) => (data, None),
        Reply::Page(data) => {
            let limit = op.query.iter().find_map(|p| match p.value {
                Takes::Whole { min, max, .. } if p.name == "limit" => Some((min, max)),
                _ => None,
            });
            (data, limit)
        }
    };
    let data = data(generator);
    let envelope = envelope(generator, data, page);
    let mut headers = common_headers(generator);
    let mut content = json!({ "application/json": { "schema": envelope } });
    if let Reply::DataOrCsv(_) = op.reply {
        headers.insert(
            "X-Next-Cursor".into(),
            header(
                "With `format=csv`: the `cursor` of the next page, when this one is full",
                false,
                json!({ "type": "integer", "minimum": 1 }),
            ),
        );
        headers.insert(
            "Content-Disposition".into(),
            header(
                "With `format=csv`: an attachment named `request-logs.csv`",
                false,
                json!({ "type": "string" }),
            ),
        );
        // The header row of an empty export names the columns.
        let columns = crate::wire::log::to_csv(&[]).trim_end().replace(',', ", ");
        content["text/csv"] = json!({
            "schema": {
                "type": "string",
                "description": format!(
                    "With `format=csv`: RFC 4180, CRLF line ends, a header row of {columns}; \
                     a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return \
                     gets a leading `'`."
                ),
            },
        });
    }
    let mut response = json!({ "description": "Success" });
    response["headers"] = Value::Object(headers);
    response["content"] = content;
    if !op.links.is_empty() {
        let links: Map<String, Value> = op
            .links
            .iter()
            .map(|link| {
                let parameters: Map<String, Value> = link
                    .parameters
                    .iter()
                    .map(|&(name, from)| (name.to_owned(), from.into()))
                    .collect();
                let value = json!({ "operationId": link.operation, "parameters": parameters });
                (link.name.to_owned(), value)
            })
            .collect();
        response["links"] = Value::Object(links);
    }
    response
}

#[cfg(test)]
mod tests;
