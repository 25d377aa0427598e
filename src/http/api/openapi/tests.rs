use super::*;
use crate::http::api::extract::CSRF_HEADER;

fn operation_of<'a>(doc: &'a Value, op: &Operation) -> &'a Value {
    &doc["paths"][op.template()][op.method.as_str().to_ascii_lowercase()]
}

#[test]
fn the_document_lists_every_operation_once_under_its_path() {
    let doc = document();
    let count: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|m| m.as_object().unwrap().len())
        .sum();
    assert_eq!(count, OPERATIONS.len());
    assert_eq!(doc["openapi"], "3.0.3");
    for op in OPERATIONS.iter() {
        let described = operation_of(&doc, op);
        assert_eq!(described["operationId"], op.id);
        assert_eq!(described["x-scope"], op.scope.as_str());
        let description = described["description"].as_str().unwrap();
        assert!(description.contains(op.scope.as_str()), "{}", op.id);
    }
}

#[test]
fn every_reference_in_the_document_resolves() {
    let (found, dangling) = crate::http::openapi::references(&document());
    assert!(found.len() > 50, "{}", found.len());
    assert!(dangling.is_empty(), "{dangling:?}");
}

#[test]
fn the_bodies_and_the_answers_have_schemas_of_distinct_names() {
    let mut answers = crate::wire::schema_generator();
    let mut bodies = crate::wire::input::schema_generator();
    for op in OPERATIONS.iter() {
        let _ = success(op, &mut answers);
        if let Body::Required(schema) | Body::Optional(schema) = op.body {
            let _ = schema(&mut bodies);
        }
    }
    let answers = answers.take_definitions(true);
    let bodies = bodies.take_definitions(true);
    assert!(bodies.len() >= 5, "{:?}", bodies.keys());
    for name in bodies.keys() {
        assert!(!answers.contains_key(name), "{name}");
    }
}

#[test]
fn each_operation_answers_the_pipeline_errors_and_its_own() {
    let doc = document();
    for op in OPERATIONS.iter() {
        let responses = operation_of(&doc, op)["responses"].as_object().unwrap();
        for status in ["200", "401", "403", "404", "429", "503"] {
            assert!(responses.contains_key(status), "{} {status}", op.id);
        }
        let body = !matches!(op.body, Body::None);
        let body_errors = ["408", "413"].map(|s| responses.contains_key(s));
        assert_eq!(body_errors, [body, body], "{}", op.id);
        let takes_input = body || !op.query.is_empty();
        assert_eq!(responses.contains_key("400"), takes_input, "{}", op.id);
    }
    let statuses = |id: &str| {
        let op = OPERATIONS.iter().find(|o| o.id == id).unwrap();
        error_statuses(op)
    };
    assert_eq!(
        statuses("rotateApiKey"),
        [400, 401, 403, 404, 408, 409, 413, 429, 503]
    );
    assert_eq!(statuses("listWebhooks"), [401, 403, 404, 429, 503]);
    assert_eq!(statuses("listRequestLogs"), [400, 401, 403, 404, 429, 503]);
    let responses = &doc["components"]["responses"];
    let codes = |name: &str| {
        responses[name]["content"]["application/json"]["schema"]["allOf"][1]["properties"]["error"]
            ["properties"]["code"]["enum"]
            .clone()
    };
    assert_eq!(
        codes("TooManyRequests"),
        json!(["BSE1005", "BSE1006", "BSE1011"])
    );
    assert_eq!(codes("Conflict"), json!(["BSE2018"]));
    assert_eq!(codes("ServiceUnavailable"), json!(["BSE5002"]));
    assert_eq!(
        responses["TooManyRequests"]["headers"]["Retry-After"]["required"], false,
        "left out for a request quota that never refills"
    );
    assert!(
        responses["Conflict"]["headers"]
            .get("Retry-After")
            .is_none()
    );
}

#[test]
fn query_parameters_carry_their_ranges_defaults_and_words() {
    let doc = document();
    let parameter = |path: &str, name: &str| {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()["schema"]
            .clone()
    };
    let limit = parameter("/api/v1/api-keys", "limit");
    assert_eq!(
        (&limit["minimum"], &limit["maximum"], &limit["default"]),
        (&json!(1), &json!(500), &json!(50))
    );
    let status = parameter("/api/v1/api-keys", "status");
    assert_eq!(
        status["enum"],
        json!(["active", "rotated", "expired", "disabled", "revoked", "all"])
    );
    assert_eq!(parameter("/api/v1/logs", "limit")["maximum"], 1000);
    assert_eq!(parameter("/api/v1/logs", "cursor")["minimum"], 1);
    assert_eq!(
        parameter("/api/v1/logs", "format")["enum"],
        json!(["json", "csv"])
    );
    assert_eq!(
        parameter("/api/v1/api-keys/{id}/usage", "days")["maximum"],
        90
    );
    let page = &doc["paths"]["/api/v1/api-keys"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"];
    assert_eq!(page["properties"]["limit"]["maximum"], 500);
    let id = &doc["paths"]["/api/v1/api-keys/{id}"]["get"]["parameters"][0];
    assert_eq!(
        (&id["in"], &id["schema"]["format"]),
        (&json!("path"), &json!("uuid"))
    );
}

#[test]
fn request_bodies_describe_what_the_server_accepts() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let body = |path: &str, method: &str| doc["paths"][path][method]["requestBody"].clone();
    let create = body("/api/v1/api-keys", "post");
    assert_eq!(create["required"], true);
    assert_eq!(
        create["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/CreateApiKeyRequest"
    );
    let create = &schemas["CreateApiKeyRequest"];
    assert_eq!(create["required"], json!(["name"]));
    assert_eq!(create["additionalProperties"], false);
    assert_eq!(create["properties"]["preset"]["nullable"], true);
    assert!(
        create["properties"]["preset"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("key_management"))
    );
    assert!(
        create["properties"]["scopes"]["items"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("generation:*"))
    );
    let patch = &schemas["UpdateApiKeyRequest"];
    assert!(patch.get("required").is_none());
    assert_eq!(patch["properties"]["expires_at"]["nullable"], true);
    assert_eq!(patch["properties"]["rate_limit_per_minute"]["minimum"], 1);
    let rotate = body("/api/v1/api-keys/{id}/rotate", "post");
    assert_eq!(rotate["required"], false);
    assert_eq!(
        schemas["RotateApiKeyRequest"]["properties"]["grace_hours"]["maximum"],
        168
    );
    let webhook = &schemas["CreateWebhookRequest"];
    assert_eq!(webhook["required"], json!(["url"]));
    assert!(webhook["properties"]["url"].get("nullable").is_none());
    assert_eq!(
        schemas["UpdateWebhookRequest"]["properties"]["url"]["nullable"],
        true
    );
    assert_eq!(schemas["EmptyRequest"]["additionalProperties"], false);
    assert_eq!(
        body("/api/v1/webhooks/{id}/test", "post")["required"],
        false
    );
    assert!(body("/api/v1/api-keys/{id}/revoke", "post").is_null());
}

#[test]
fn the_request_log_answers_json_or_csv_and_changes_need_the_csrf_token_with_a_session() {
    let doc = document();
    let logs = &doc["paths"]["/api/v1/logs"]["get"]["responses"]["200"];
    assert!(logs["content"].get("text/csv").is_some());
    assert!(logs["headers"].get("X-Next-Cursor").is_some());
    let entry = &doc["components"]["schemas"]["LogEntry"]["properties"];
    assert_eq!(entry["client_ip"]["type"], "string");
    assert_eq!(entry["client_ip"]["nullable"], true, "null for members");
    let csrf = &doc["components"]["securitySchemes"]["csrfToken"];
    assert!(
        csrf["name"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case(CSRF_HEADER)
    );
    let create = &doc["paths"]["/api/v1/api-keys"]["post"]["security"];
    assert_eq!(create[1], json!({ "sessionCookie": [], "csrfToken": [] }));
    let list = &doc["paths"]["/api/v1/api-keys"]["get"]["security"];
    assert_eq!(list[1], json!({ "sessionCookie": [] }));
    let created = &doc["paths"]["/api/v1/api-keys"]["post"]["responses"]["200"]["links"];
    assert_eq!(created["GetApiKey"]["operationId"], "getApiKey");
}

#[test]
fn no_schema_has_an_empty_required_list_which_openapi_3_0_forbids() {
    fn walk(value: &Value) {
        match value {
            Value::Object(map) => {
                assert_ne!(map.get("required"), Some(&json!([])), "{value}");
                map.values().for_each(walk);
            }
            Value::Array(items) => items.iter().for_each(walk),
            _ => {}
        }
    }
    walk(&document());
}
