use super::*;
use crate::http::openapi::codes_of;
use crate::http::v1::firewall::match_path;

fn operation_of<'a>(doc: &'a Value, op: &Operation) -> &'a Value {
    &doc["paths"][path_of(op.template)][op.method.as_str().to_ascii_lowercase()]
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
    assert_eq!(count, 17);
    assert_eq!(doc["openapi"], "3.0.3");
    for op in OPERATIONS.iter() {
        let described = operation_of(&doc, op);
        assert_eq!(described["operationId"], op.id);
        assert_eq!(described["x-scope"], op.scope.as_str());
    }
}

#[test]
fn every_reference_in_the_document_resolves() {
    let (found, dangling) = crate::http::openapi::references(&document());
    assert!(found.len() > 50, "{}", found.len());
    assert!(dangling.is_empty(), "{dangling:?}");
}

#[test]
fn model_routes_take_the_owner_and_the_name_as_two_parameters_of_the_same_urls() {
    let doc = document();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.keys().all(|p| !p.contains("model_identifier")));
    for op in OPERATIONS
        .iter()
        .filter(|o| o.template.contains("{model_identifier}"))
    {
        let parameters = operation_of(&doc, op)["parameters"].as_array().unwrap();
        let example = |name: &str| {
            let p = parameters.iter().find(|p| p["name"] == name).unwrap();
            assert_eq!((&p["in"], &p["required"]), (&json!("path"), &json!(true)));
            p["schema"]["example"].as_str().unwrap().to_owned()
        };
        let url = path_of(op.template)
            .replace("{owner}", &example("owner"))
            .replace("{name}", &example("name"));
        let (_, model) = match_path(op.template, &url).unwrap();
        assert!(model.unwrap().starts_with("tidegate/"), "{url}");
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
        let body_errors = ["408", "413"].map(|s| responses.contains_key(s));
        let body = op.body.is_some();
        assert_eq!(body_errors, [body, body], "{}", op.id);
    }
    let statuses = |id: &str| {
        let op = OPERATIONS.iter().find(|o| o.id == id).unwrap();
        error_statuses(op)
    };
    assert_eq!(
        statuses("generateImage"),
        [400, 401, 402, 403, 404, 408, 409, 413, 429, 503]
    );
    assert_eq!(statuses("cancelGeneration"), [401, 403, 404, 409, 429, 503]);
    assert_eq!(statuses("getStatus"), [401, 403, 404, 429, 503]);
    for (status, _, _) in ERRORS {
        assert!(!codes_of(status).is_empty(), "{status}");
    }
    assert_eq!(codes_of(429), ["BSE1005", "BSE1006", "BSE1009", "BSE1011"]);
    let forbidden = &doc["components"]["responses"]["Forbidden"]["content"];
    assert_eq!(forbidden["text/plain"]["schema"]["enum"][0], FIREWALL_BODY);
    let limited = &doc["components"]["responses"]["TooManyRequests"]["headers"];
    assert_eq!(
        limited["Retry-After"]["required"], false,
        "not with a quota that never refills"
    );
    assert!(limited["X-Key-Quota-Remaining"].is_object());
}

#[test]
fn query_parameters_carry_their_ranges_and_generate_its_idempotency_key() {
    let doc = document();
    let usage = &doc["paths"]["/v1/usage"]["get"]["parameters"][0];
    assert_eq!(usage["name"], "days");
    assert_eq!(
        (
            &usage["schema"]["minimum"],
            &usage["schema"]["maximum"],
            &usage["schema"]["default"]
        ),
        (&json!(1), &json!(90), &json!(30))
    );
    let list = doc["paths"]["/v1/content/list"]["get"]["parameters"]
        .as_array()
        .unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["schema"]["maximum"], 100);
    assert_eq!(list[1]["schema"]["minimum"], 0);
    let generate = &doc["paths"]["/v1/generate/video/{owner}/{name}"]["post"];
    let key = generate["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Idempotency-Key")
        .unwrap();
    assert_eq!(
        (&key["in"], &key["schema"]["maxLength"]),
        (&json!("header"), &json!(255))
    );
    assert_eq!(
        generate["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/GenerateVideoRequest"
    );
}

#[test]
fn nullable_fields_are_marked_and_their_enums_list_null() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let status = &schemas["StatusData"]["properties"];
    assert_eq!(status["apikey_expires_at"]["nullable"], true);
    assert!(status["apikey_id"].get("nullable").is_none());
    let provider = &schemas["ProviderList"]["properties"]["providers"]["items"];
    let cancel = &provider["properties"]["babysea_implementation"]["properties"]["cancel_method"];
    assert_eq!(cancel["nullable"], true);
    assert!(cancel["enum"].as_array().unwrap().contains(&Value::Null));
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
