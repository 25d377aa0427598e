//! The account routes done so far, and the OpenAPI document.

use serde_json::Value;

use crate::helpers::{assert_error, spawn_app};

fn assert_time(v: &Value) {
    let s = v.as_str().unwrap_or_else(|| panic!("{v} is not a time"));
    assert_eq!(s.len(), 24, "{s}");
    assert!(s.ends_with('Z') && s.as_bytes()[19] == b'.', "{s}");
}

fn assert_success(body: &Value, message: &str) {
    assert_eq!(body["status"], "success", "{body}");
    assert_eq!(body["message"], message);
    assert!(body["request_id"].as_str().unwrap().starts_with("req_"));
    assert_time(&body["timestamp"]);
}

backend_tests!(status_describes_the_calling_key);
async fn status_describes_the_calling_key() {
    let app = spawn_app().await;
    let (id, key) = app.create_key(&["--expires-in-days", "7"]);
    let (status, body) = app.get_json("/v1/status", &key).await;
    assert_eq!(status, 200);
    assert_success(&body, "API connected successfully");
    let data = &body["data"];
    assert_eq!(data["account_id"], app.account_id.as_str());
    assert_eq!(data["apikey_id"], id.as_str());
    assert_eq!(data["apikey_name"], "test key");
    assert_eq!(data["apikey_prefix"], &key[..9]);
    assert_time(&data["apikey_created_at"]);
    assert_time(&data["apikey_last_used_at"]);
    assert_time(&data["apikey_expires_at"]);
    assert_eq!(data.as_object().unwrap().len(), 7);

    let (_, never) = app.create_key(&[]);
    let (_, body) = app.get_json("/v1/status", &never).await;
    assert!(body["data"].get("apikey_expires_at") == Some(&Value::Null));
}

backend_tests!(account_and_billing_describe_the_keys_account);
async fn account_and_billing_describe_the_keys_account() {
    let app = spawn_app().await;
    let (_, key) = app.create_key(&[]);
    let (status, body) = app.get_json("/v1/user/account", &key).await;
    assert_eq!(status, 200);
    let data = &body["data"];
    assert_eq!(data["account_id"], app.account_id.as_str());
    assert_eq!(data["account_name"], "Acme");
    assert_eq!(
        data["account_email"], "admin@localhost",
        "the primary owner's address"
    );
    assert_eq!(data["account_is_personal"], true);
    assert!(data.get("account_picture_url") == Some(&Value::Null));
    assert_time(&data["account_created_at"]);

    app.db()
        .execute(
            "UPDATE accounts SET credit_balance = 12345 WHERE id = ?1",
            &[&&app.account_id],
        )
        .unwrap();
    let (status, body) = app.get_json("/v1/user/billing", &key).await;
    assert_eq!(status, 200);
    let data = &body["data"];
    assert_eq!(data["billing_plan"], "unthrottled");
    assert_eq!(data["billing_credit_balance"], 12.345);
    assert_eq!(data["billing_currency"], "USD");
    for field in [
        "billing_subscription_status",
        "billing_cancel_at_period_end",
        "billing_period_starts_at",
        "billing_period_ends_at",
        "billing_created_at",
        "billing_updated_at",
    ] {
        assert!(data.get(field) == Some(&Value::Null), "{field}");
    }
}

backend_tests!(usage_validates_days_and_counts_requests_by_endpoint_and_status);
async fn usage_validates_days_and_counts_requests_by_endpoint_and_status() {
    let app = spawn_app().await;
    let (_, key) = app.create_key(&[]);
    let (_, monitor) = app.create_key(&["--preset", "monitor_only"]);
    for _ in 0..3 {
        assert_eq!(app.get("/v1/status", Some(&key)).await.status(), 200);
    }
    assert_eq!(app.get("/v1/status", Some(&monitor)).await.status(), 403);
    for days in ["0", "91", "-1"] {
        let (status, body) = app.get_json(&format!("/v1/usage?days={days}"), &key).await;
        assert_eq!(status, 400, "days={days}");
        assert_eq!(assert_error(&body, "BSE2001")["details"]["field"], "days");
    }

    let (status, body) = app.get_json("/v1/usage", &key).await;
    assert_eq!(status, 200);
    let data = &body["data"];
    assert_eq!(data["usage_period_days"], 30);
    assert_eq!(
        data["usage_total_requests"], 7,
        "3 ok, 1 forbidden, 3 invalid: {data}"
    );
    assert_eq!(data["usage_total_success"], 3);
    assert_eq!(data["usage_total_client_errors"], 4);
    assert_eq!(data["usage_total_server_errors"], 0);
    let endpoints = data["usage_endpoints"].as_array().unwrap();
    let status_row = endpoints
        .iter()
        .find(|e| e["endpoint"] == "/v1/status")
        .unwrap();
    assert_eq!(status_row["total_requests"], 4);
    assert_eq!(status_row["success_count"], 3);
    assert_eq!(status_row["client_error_count"], 1);
    assert_eq!(status_row["error_codes"]["BSE1003"], 1);
    let usage_row = endpoints
        .iter()
        .find(|e| e["endpoint"] == "/v1/usage")
        .unwrap();
    assert_eq!(usage_row["error_codes"]["BSE2001"], 3);
    assert!(data["usage_providers"].as_array().unwrap().is_empty());
    assert_eq!(data["usage_total_generations"], 0);

    let (_, one_day) = app.get_json("/v1/usage?days=1", &key).await;
    assert_eq!(one_day["data"]["usage_period_days"], 1);
    assert_eq!(one_day["data"]["usage_total_requests"], 8);
}

backend_tests!(usage_survives_log_retention_and_key_deletion);
async fn usage_survives_log_retention_and_key_deletion() {
    let app = spawn_app().await;
    let (id, key) = app.create_key(&[]);
    let (_, reader) = app.create_key(&[]);
    assert_eq!(app.get("/v1/status", Some(&key)).await.status(), 200);
    {
        let db = app.db();
        db.execute("DELETE FROM request_logs", &[]).unwrap();
        db.execute(
            "UPDATE usage_daily SET key_id = NULL WHERE key_id = ?1",
            &[&&id],
        )
        .unwrap();
        db.execute("DELETE FROM api_keys WHERE id = ?1", &[&&id])
            .unwrap();
    }
    let (_, body) = app.get_json("/v1/usage", &reader).await;
    assert_eq!(body["data"]["usage_total_requests"], 1);
}
