//! The OpenAPI document, and the check every /v1 answer of these tests goes through.

use std::sync::atomic::Ordering;

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use tidegate::testing::v1::OPERATIONS;
use tidegate::testing::v1::{document, path_of};

use crate::contract::{CHECKED, Contract, contract};
use crate::helpers::{SendChecked, spawn_app};

fn headers(content_type: &str, extra: &[(&'static str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_str(content_type).unwrap());
    headers.insert(
        "x-request-id",
        HeaderValue::from_static("req_0123456789abcdef0123456789abcdef"),
    );
    for (name, value) in extra {
        headers.insert(*name, HeaderValue::from_str(value).unwrap());
    }
    headers
}

fn status_body(data: Value) -> Vec<u8> {
    json!({
        "status": "success",
        "request_id": "req_0123456789abcdef0123456789abcdef",
        "message": "API connected successfully",
        "timestamp": "2026-11-22T10:00:00.000Z",
        "data": data,
    })
    .to_string()
    .into_bytes()
}

fn status_data() -> Value {
    json!({
        "account_id": "0b8f1d3e-2c4a-4e5f-9a7b-1c2d3e4f5a6b",
        "apikey_id": "1b8f1d3e-2c4a-4e5f-9a7b-1c2d3e4f5a6b",
        "apikey_name": "ci",
        "apikey_prefix": "bye_abcd",
        "apikey_created_at": "2026-11-22T10:00:00.000Z",
        "apikey_last_used_at": "2026-11-22T10:00:00.000Z",
        "apikey_expires_at": null,
    })
}

fn error_body(code: &str) -> Vec<u8> {
    json!({
        "status": "error",
        "request_id": "req_0123456789abcdef0123456789abcdef",
        "error": { "code": code, "type": "x", "message": "x", "retryable": true },
    })
    .to_string()
    .into_bytes()
}

backend_tests!(the_served_document_is_the_one_the_helpers_check_every_answer_against);
async fn the_served_document_is_the_one_the_helpers_check_every_answer_against() {
    let app = spawn_app().await;
    let before = CHECKED.load(Ordering::Relaxed);
    assert_eq!(app.get("/v1/status", None).await.status(), 401);
    assert!(CHECKED.load(Ordering::Relaxed) > before);
    let res = app.get("/v1/openapi.json", None).await;
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc, document());
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().unwrap();
    let ops: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(ops, 17);
    for op in OPERATIONS.iter() {
        let described = &paths[&path_of(op.template)][op.method.as_str().to_ascii_lowercase()];
        assert_eq!(described["operationId"], op.id);
        assert_eq!(described["x-scope"], op.scope.as_str());
    }
}

#[test]
fn answers_the_document_does_not_describe_fail_the_check() {
    let c = contract();
    let json = headers("application/json", &[]);
    let check = |path: &str, status: u16, headers: &HeaderMap, body: &[u8]| {
        c.check("GET", path, status, headers, body)
    };
    assert_eq!(
        check("/v1/status", 200, &json, &status_body(status_data())),
        Ok(())
    );

    let mut missing = status_data();
    missing.as_object_mut().unwrap().remove("apikey_prefix");
    let mut null = status_data();
    null["apikey_name"] = Value::Null;
    let mut extra = status_data();
    extra["apikey_colour"] = json!("blue");
    for (data, documented) in [(missing, false), (null, false), (extra, true)] {
        let verdict = check("/v1/status", 200, &json, &status_body(data.clone()));
        assert_eq!(verdict.is_ok(), documented, "{data}: {verdict:?}");
    }

    let unlisted = check("/v1/status", 418, &json, &error_body("BSE2001"));
    assert!(unlisted.unwrap_err().contains("does not list"));
    assert!(check("/v1/status", 400, &json, &error_body("BSE2001")).is_err());
    assert!(check("/v1/usage", 400, &json, &error_body("BSE2001")).is_ok());
    assert!(
        check("/v1/status", 401, &json, &error_body("BSE1005")).is_err(),
        "a code of another status"
    );
    let retry = headers("application/json", &[("retry-after", "3")]);
    assert!(check("/v1/status", 429, &json, &error_body("BSE1005")).is_err());
    assert!(check("/v1/status", 429, &retry, &error_body("BSE1005")).is_ok());

    let limited = headers("application/json", &[("x-ratelimit-limit", "many")]);
    assert!(check("/v1/status", 200, &limited, &status_body(status_data())).is_err());
    let mut unnamed = json.clone();
    unnamed.insert("x-request-id", HeaderValue::from_static("42"));
    assert!(check("/v1/status", 200, &unnamed, &status_body(status_data())).is_err());

    let text = headers("text/plain; charset=utf-8", &[]);
    assert!(check("/v1/status", 403, &text, b"Forbidden\n").is_ok());
    assert!(check("/v1/nope", 403, &text, b"Forbidden\n").is_ok());
    assert!(check("/v1/nope", 404, &json, &error_body("BSE2017")).is_err());
    assert!(check("/v1/status", 200, &text, b"Forbidden\n").is_err());
}

backend_tests!(a_document_that_drifted_from_the_server_fails_the_check);
async fn a_document_that_drifted_from_the_server_fails_the_check() {
    let app = spawn_app().await;
    let (_, key) = app.create_key(&[]);
    let res = app
        .client
        .get(format!("{}/v1/status", app.address))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let (status, headers) = (res.status().as_u16(), res.headers().clone());
    let body = res.bytes().await.unwrap();
    assert_eq!(
        contract().check("GET", "/v1/status", status, &headers, &body),
        Ok(())
    );
    let mut drifted = document();
    let status_data = &mut drifted["components"]["schemas"]["StatusData"];
    status_data["required"]
        .as_array_mut()
        .unwrap()
        .push(json!("apikey_colour"));
    let verdict = Contract::new(&drifted).check("GET", "/v1/status", status, &headers, &body);
    assert!(verdict.unwrap_err().contains("apikey_colour"));
}

backend_tests!(every_owner_and_name_the_document_allows_passes_the_firewall);
async fn every_owner_and_name_the_document_allows_passes_the_firewall() {
    let doc = document();
    let owner = &doc["paths"]["/v1/estimate/{owner}/{name}"]["get"]["parameters"][0];
    assert_eq!(owner["name"], "owner");
    let pattern = jsonschema::validator_for(&owner["schema"]).unwrap();
    let samples = [
        "tidegate",
        "pattern-1",
        "a",
        "a.b",
        "x.",
        ".x",
        "..x",
        "...",
        "_",
        "-",
        "clip.v1",
        ".",
        "..",
        "",
        "A",
        "a b",
        "a%2Fb",
        "ü",
    ];
    for sample in samples {
        let allowed = pattern.is_valid(&json!(sample));
        let accepted = tidegate::testing::is_model_identifier(&format!("{sample}/x"));
        // The document leaves out `.` and `..`: clients resolve them away before sending.
        let expected = accepted && sample != "." && sample != "..";
        assert_eq!(allowed, expected, "{sample:?}");
    }
    let app = spawn_app().await;
    let (_, key) = app.create_key(&[]);
    for model in ["tidegate/pattern-1", "a/b", ".x/..y", "_/-", "acme/clip.v1"] {
        for (method, path) in [
            ("GET", format!("/v1/estimate/{model}")),
            ("POST", format!("/v1/generate/image/{model}")),
            ("POST", format!("/v1/generate/video/{model}")),
        ] {
            let mut req = app
                .client
                .request(method.parse().unwrap(), format!("{}{path}", app.address))
                .bearer_auth(&key);
            if method == "POST" {
                req = req.json(&json!({ "generation_prompt": "a lighthouse" }));
            }
            let res = req.send_checked().await;
            let json = res.headers()["content-type"] == "application/json";
            assert!(json, "{method} {path} was refused by the firewall");
        }
    }
}
