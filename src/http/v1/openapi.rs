//! The OpenAPI 3.0.3 document of the /v1 API, generated from the route table.

use serde_json::{Map, Value, json};

use super::routes::{OPERATIONS, Operation, QueryType};
use crate::http::error::ErrorCode;

pub fn document() -> Value {
    let mut paths = Map::new();
    for op in OPERATIONS.iter() {
        let entry = paths
            .entry(op.template.to_owned())
            .or_insert_with(|| json!({}));
        if let Value::Object(methods) = entry {
            methods.insert(op.method.as_str().to_ascii_lowercase(), operation(op));
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Tidegate /v1 API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "BabySea-compatible generative-media API. Requests that do not match an operation \
                            below are refused with a bare 403 before authentication.",
        },
        "servers": [{ "url": "/" }],
        "security": [{ "bearerAuth": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": { "bearerAuth": { "type": "http", "scheme": "bearer" } },
            "schemas": schemas(),
        },
    })
}

fn operation(op: &Operation) -> Value {
    let mut parameters: Vec<Value> = Vec::new();
    if op.template.contains("{generation_id}") {
        parameters.push(json!({
            "name": "generation_id", "in": "path", "required": true,
            "schema": { "type": "string", "format": "uuid" },
        }));
    }
    if op.template.contains("{model_identifier}") {
        parameters.push(json!({
            "name": "model_identifier", "in": "path", "required": true,
            "description": "owner/name; the slash is part of the path",
            "schema": { "type": "string", "pattern": "^[a-z0-9._-]+/[a-z0-9._-]+$" },
        }));
    }
    for p in op.query {
        let ty = match p.ty {
            QueryType::Integer => "integer",
            QueryType::Number => "number",
            QueryType::String => "string",
            QueryType::Boolean => "boolean",
        };
        parameters.push(json!({
            "name": p.name, "in": "query", "required": false, "description": p.description,
            "schema": { "type": ty },
        }));
    }
    let mut value = json!({
        "operationId": op.id,
        "summary": op.summary,
        "description": format!("Requires the scope `{}`.", op.scope),
        "x-scope": op.scope.as_str(),
        "parameters": parameters,
        "responses": {
            "200": { "description": "Success", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Success" } } } },
            "default": { "description": "Error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
            "403": { "description": "Refused by the scope check (JSON) or by the schema firewall (plain text)" },
        },
    });
    if op.body {
        value["requestBody"] = json!({
            "required": false,
            "content": { "application/json": { "schema": { "type": "object" } } },
        });
    }
    value
}

fn schemas() -> Value {
    let codes: Vec<&str> = ALL_CODES.iter().map(|c| c.code()).collect();
    json!({
        "Success": {
            "type": "object",
            "required": ["status", "request_id", "message", "timestamp", "data"],
            "properties": {
                "status": { "type": "string", "enum": ["success"] },
                "request_id": { "type": "string", "pattern": "^req_[0-9a-f]{32}$" },
                "message": { "type": "string" },
                "timestamp": { "type": "string", "format": "date-time" },
                "data": { "type": "object" },
                "total": { "type": "integer" },
                "limit": { "type": "integer" },
                "offset": { "type": "integer" },
            },
        },
        "Error": {
            "type": "object",
            "required": ["status", "request_id", "error"],
            "properties": {
                "status": { "type": "string", "enum": ["error"] },
                "request_id": { "type": "string" },
                "error": {
                    "type": "object",
                    "required": ["code", "type", "message", "retryable"],
                    "properties": {
                        "code": { "type": "string", "enum": codes },
                        "type": { "type": "string" },
                        "message": { "type": "string" },
                        "retryable": { "type": "boolean" },
                        "details": { "type": "object" },
                        "provider_errors": { "type": "array", "items": { "type": "object" } },
                    },
                },
            },
        },
    })
}

const ALL_CODES: [ErrorCode; 25] = {
    use ErrorCode::*;
    [
        AuthenticationRequired,
        AuthenticationFailed,
        InsufficientPermissions,
        InsufficientCredits,
        RateLimitExceeded,
        AuthRateLimited,
        IpNotAllowed,
        AccountNotFound,
        ConcurrencyLimitExceeded,
        InvalidInput,
        PayloadTooLarge,
        ModelNotFound,
        GenerationNotFound,
        GenerationNotCancelable,
        IdempotencyKeyReused,
        IdempotencyRequestInProgress,
        ResourceNotFound,
        InvalidState,
        ProviderError,
        ProviderTimeout,
        AllProvidersFailed,
        ProviderCreditsExhausted,
        ProviderUnavailable,
        InternalError,
        StorageUnavailable,
    ]
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_lists_every_operation_once() {
        let doc = document();
        let count: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|m| m.as_object().unwrap().len())
            .sum();
        assert_eq!(count, 17);
        assert_eq!(doc["openapi"], "3.0.3");
        assert_eq!(
            doc["paths"]["/v1/usage"]["get"]["parameters"][0]["name"],
            "days"
        );
    }
}
