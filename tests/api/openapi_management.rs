//! The management API's OpenAPI document, and the check every management answer of these tests
//! goes through.

use std::sync::atomic::Ordering;

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use tidegate::testing::management::OPERATIONS;
use tidegate::testing::management::document;

use crate::contract::{CHECKED_MANAGEMENT, Contract, management_contract};
use crate::helpers::{SendChecked, TestApp, spawn_app, spawn_app_with};

const REQUEST_ID: &str = "req_0123456789abcdef0123456789abcdef";

fn headers(content_type: &str, extra: &[(&'static str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_str(content_type).unwrap());
    headers.insert("x-request-id", HeaderValue::from_static(REQUEST_ID));
    for (name, value) in extra {
        headers.insert(*name, HeaderValue::from_str(value).unwrap());
    }
    headers
}

fn success(data: Value) -> Vec<u8> {
    json!({
        "status": "success",
        "request_id": REQUEST_ID,
        "message": "Webhook endpoint deleted successfully",
        "timestamp": "2026-11-22T10:00:00.000Z",
        "data": data,
    })
    .to_string()
    .into_bytes()
}

fn error_body(code: &str) -> Vec<u8> {
    json!({
        "status": "error",
        "request_id": REQUEST_ID,
        "error": { "code": code, "type": "x", "message": "x", "retryable": false },
    })
    .to_string()
    .into_bytes()
}

/// Every `$ref` below `value`.
fn references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                found.push(target.clone());
            }
            map.values().for_each(|v| references(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, found)),
        _ => {}
    }
}

fn request_log_rows(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM request_logs", &[])
}

backend_tests!(
    the_served_management_document_needs_no_key_and_is_the_one_answers_are_checked_against
);
async fn the_served_management_document_needs_no_key_and_is_the_one_answers_are_checked_against() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(format!("{}/api/v1/openapi.json", app.address))
        .send_checked()
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc, document());
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().unwrap();
    let ops: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(ops, OPERATIONS.len());
    assert_eq!(ops, 23);
    for op in OPERATIONS.iter() {
        let described = &paths[&op.template()][op.method.as_str().to_ascii_lowercase()];
        assert_eq!(described["operationId"], op.id);
        assert_eq!(described["x-scope"], op.scope.as_str());
    }
    let mut found = Vec::new();
    references(&doc, &mut found);
    assert!(found.len() > 50, "{}", found.len());
    for target in found {
        let pointer = target.strip_prefix('#').unwrap();
        assert!(doc.pointer(pointer).is_some(), "{target} does not resolve");
    }
    // Served before the scope: no key asked for, nothing logged.
    let manager = app.manager_key();
    let res = app
        .client
        .get(format!("{}/api/v1/openapi.json", app.address))
        .bearer_auth(&manager)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(request_log_rows(&app), 0);
    assert_eq!(
        app.get("/v1/openapi.json", None).await.status(),
        200,
        "the /v1 document is still its own"
    );

    let before = CHECKED_MANAGEMENT.load(Ordering::Relaxed);
    let (status, _) = app.api("GET", "/api-keys", "bye_nope", None).await;
    assert_eq!(status, 401);
    let (status, _) = app.api("GET", "/api-keys?limit=2", &manager, None).await;
    assert_eq!(status, 200);
    assert_eq!(CHECKED_MANAGEMENT.load(Ordering::Relaxed), before + 2);
    assert_eq!(request_log_rows(&app), 1, "the keyed request is logged");
}

#[test]
fn answers_the_management_document_does_not_describe_fail_the_check() {
    let c = management_contract();
    let json = headers("application/json", &[]);
    let id = "0b8f1d3e-2c4a-4e5f-9a7b-1c2d3e4f5a6b";
    let path = format!("/api/v1/webhooks/{id}");
    let deleted = json!({ "id": id, "deleted": true });
    assert_eq!(
        c.check("DELETE", &path, 200, &json, &success(deleted.clone())),
        Ok(())
    );
    let mut missing = deleted.clone();
    missing.as_object_mut().unwrap().remove("deleted");
    let mut wrong = deleted.clone();
    wrong["deleted"] = json!(false);
    for data in [missing, wrong] {
        let verdict = c.check("DELETE", &path, 200, &json, &success(data.clone()));
        assert!(verdict.is_err(), "{data}");
    }
    let unlisted = c.check("DELETE", &path, 409, &json, &error_body("BSE2018"));
    assert!(unlisted.unwrap_err().contains("does not list"));
    assert!(
        c.check(
            "POST",
            &format!("{path}/test"),
            409,
            &json,
            &error_body("BSE2018")
        )
        .is_ok()
    );
    assert!(
        c.check(
            "POST",
            &format!("{path}/test"),
            409,
            &json,
            &error_body("BSE2016")
        )
        .is_err(),
        "a code the management API does not answer"
    );
    assert!(
        c.check(
            "GET",
            "/api/v1/webhooks",
            400,
            &json,
            &error_body("BSE2001")
        )
        .is_err()
    );
    assert!(
        c.check("GET", "/api/v1/logs", 400, &json, &error_body("BSE2001"))
            .is_ok()
    );
    let retry = headers("application/json", &[("retry-after", "3")]);
    assert!(
        c.check("GET", "/api/v1/logs", 429, &json, &error_body("BSE1005"))
            .is_err()
    );
    assert!(
        c.check("GET", "/api/v1/logs", 429, &retry, &error_body("BSE1005"))
            .is_ok()
    );
    let csv = headers("text/csv; charset=utf-8", &[("x-next-cursor", "12")]);
    assert!(
        c.check("GET", "/api/v1/logs", 200, &csv, b"created_at\r\n")
            .is_ok()
    );
    let bad_cursor = headers("text/csv; charset=utf-8", &[("x-next-cursor", "0")]);
    assert!(
        c.check("GET", "/api/v1/logs", 200, &bad_cursor, b"x\r\n")
            .is_err()
    );
    assert!(
        c.check("GET", "/api/v1/activity", 200, &csv, b"x\r\n")
            .is_err()
    );

    // What is no operation gets an error in the envelope, from authentication or routing.
    assert!(
        c.check(
            "PUT",
            "/api/v1/api-keys",
            404,
            &json,
            &error_body("BSE2017")
        )
        .is_ok()
    );
    assert!(
        c.check("GET", "/api/v1/nope", 401, &json, &error_body("BSE1001"))
            .is_ok()
    );
    assert!(
        c.check("GET", "/api/v1/nope", 200, &json, &success(json!({})))
            .is_err()
    );
    assert!(c.check("GET", "/api/v1/nope", 404, &json, b"{}").is_err());
    let text = headers("text/plain", &[]);
    assert!(
        c.check("GET", "/api/v1/nope", 404, &text, b"Not Found")
            .is_err()
    );
}

backend_tests!(a_management_document_that_drifted_from_the_server_fails_the_check);
async fn a_management_document_that_drifted_from_the_server_fails_the_check() {
    let app = spawn_app().await;
    let manager = app.manager_key();
    let (id, _) = app.create_key(&[]);
    let path = format!("/api/v1/api-keys/{id}");
    let res = app
        .client
        .get(format!("{}{path}", app.address))
        .bearer_auth(&manager)
        .send()
        .await
        .unwrap();
    let (status, headers) = (res.status().as_u16(), res.headers().clone());
    let body = res.bytes().await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        management_contract().check("GET", &path, status, &headers, &body),
        Ok(())
    );
    let mut drifted = document();
    drifted["components"]["schemas"]["ApiKeyDetail"]["required"]
        .as_array_mut()
        .unwrap()
        .push(json!("colour"));
    let verdict = Contract::management(&drifted).check("GET", &path, status, &headers, &body);
    assert!(verdict.unwrap_err().contains("colour"));
}

backend_tests!(the_request_log_as_csv_and_an_empty_action_body_are_answered_as_documented);
async fn the_request_log_as_csv_and_an_empty_action_body_are_answered_as_documented() {
    let app = spawn_app().await;
    let manager = app.manager_key();
    for _ in 0..3 {
        app.api("GET", "/activity", &manager, None).await;
    }
    let res = app
        .client
        .get(format!("{}/api/v1/logs?format=csv&limit=2", app.address))
        .bearer_auth(&manager)
        .send_checked()
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("x-next-cursor"));
    let created = json!({ "url": "http://127.0.0.1:9/webhooks", "enabled": false });
    let (status, endpoint) = app.api("POST", "/webhooks", &manager, Some(created)).await;
    assert_eq!(status, 200, "{endpoint}");
    let id = endpoint["data"]["id"].as_str().unwrap();
    let rotate = format!("{}/api/v1/webhooks/{id}/rotate-secret", app.address);
    let empty = app.client.post(&rotate).bearer_auth(&manager);
    assert_eq!(empty.send_checked().await.status(), 200);
    for (body, status) in [("{}", 200), ("{\"x\":1}", 400), ("[", 400)] {
        let res = app
            .client
            .post(&rotate)
            .bearer_auth(&manager)
            .header("content-type", "application/json")
            .body(body)
            .send_checked()
            .await;
        assert_eq!(res.status(), status, "{body}");
    }
    let (status, _) = app
        .api("POST", &format!("/webhooks/{id}/test"), &manager, None)
        .await;
    assert_eq!(status, 409, "the endpoint is disabled");
}

backend_tests!(a_management_body_that_arrives_too_slowly_is_a_documented_408);
async fn a_management_body_that_arrives_too_slowly_is_a_documented_408() {
    use std::io::{Read, Write};
    let app = spawn_app_with(&[("server.body_timeout_seconds", json!(1))]).await;
    let manager = app.manager_key();
    let path = "/api/v1/api-keys";
    let mut conn = std::net::TcpStream::connect(app.address.trim_start_matches("http://")).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: tidegate\r\nAuthorization: Bearer {manager}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"name\""
    );
    conn.write_all(head.as_bytes()).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let headers: HeaderMap = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.parse().unwrap(), v.parse().unwrap()))
        .collect();
    crate::contract::assert_documented("POST", path, 408, &headers, body.as_bytes());
    let body: Value = serde_json::from_str(body).unwrap();
    let error = crate::helpers::assert_error(&body, "BSE2001");
    assert_eq!(error["details"]["field"], "body");
}
