//! The durable request log (docs/keys.md, "Request log").

use sha2::{Digest, Sha256};

use crate::helpers::{SendChecked, assert_error, spawn_app};

backend_tests!(every_authenticated_request_has_a_committed_row_before_its_response);
async fn every_authenticated_request_has_a_committed_row_before_its_response() {
    let app = spawn_app().await;
    let (id, key) = app.create_key(&[]);
    let res = app
        .client
        .get(format!("{}/v1/usage?days=7", app.address))
        .bearer_auth(&key)
        .header("user-agent", format!("babysea-sdk/1.0 {}", "x".repeat(400)))
        .send_checked()
        .await;
    assert_eq!(res.status(), 200);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();

    // Read right after the response: the row is already committed.
    let db = app.db();
    let row = db
        .query_row(
            "SELECT key_id, account_id, key_prefix, environment, method, endpoint, route, query, status_code,
                    error_code, idempotency_replayed, ip_hash, user_agent, region, latency_us, created_at
             FROM request_logs WHERE request_id = ?1",
            &[&&request_id],
            |r| {
                Ok((
                    r.get::<String>(0)?, r.get::<String>(1)?, r.get::<String>(2)?, r.get::<String>(3)?,
                    r.get::<String>(4)?, r.get::<String>(5)?, r.get::<String>(6)?, r.get::<Option<String>>(7)?,
                    r.get::<i64>(8)?, r.get::<Option<String>>(9)?, r.get::<i64>(10)?, r.get::<String>(11)?,
                    r.get::<String>(12)?, r.get::<String>(13)?, r.get::<i64>(14)?, r.get::<i64>(15)?,
                ))
            },
        )
        .unwrap();
    assert_eq!(row.0, id);
    assert_eq!(row.1, app.account_id);
    assert_eq!(row.2, &key[..9]);
    assert_eq!(row.3, "live");
    assert_eq!(row.4, "GET");
    assert_eq!(row.5, "/v1/usage");
    assert_eq!(row.6, "/v1/usage");
    assert_eq!(row.7.as_deref(), Some("days=7"));
    assert_eq!(row.8, 200);
    assert_eq!(row.9, None);
    assert_eq!(row.10, 0);
    assert_eq!(row.11.len(), 64);
    let plain: String = Sha256::digest(b"127.0.0.1")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_ne!(row.11, plain, "the IP hash is keyed, not a plain SHA-256");
    assert_eq!(row.12.len(), 256, "user agent is cut at 256 characters");
    assert_eq!(row.13, "us");
    assert!(row.14 > 0);
    assert!((app.clock.now().millis() - row.15).abs() < 60_000);

    let last_used: Option<i64> = db
        .query_row(
            "SELECT last_used_at FROM api_keys WHERE id = ?1",
            &[&&id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(last_used, Some(row.15));
}

backend_tests!(failed_requests_of_a_known_key_are_rows_with_their_error_code);
async fn failed_requests_of_a_known_key_are_rows_with_their_error_code() {
    let app = spawn_app().await;
    let (id, key) = app.create_key(&["--preset", "monitor_only"]);
    let res = app.get("/v1/status", Some(&key)).await;
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(res.status(), 403);
    assert_eq!(
        app.log_outcomes(&request_id),
        vec![(403, Some("BSE1003".to_owned()))]
    );

    app.cli_json(&["keys", "revoke", &id]);
    let before: Option<i64> = app
        .db()
        .query_row(
            "SELECT last_used_at FROM api_keys WHERE id = ?1",
            &[&&id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(app.get("/v1/status", Some(&key)).await.status(), 401);
    let rows = app.count(
        "SELECT count(*) FROM request_logs WHERE key_id = ?1 AND error_code = 'BSE1002'",
        &[&&id],
    );
    assert_eq!(
        rows, 1,
        "attempts with a revoked key stay in its audit trail"
    );
    let after: Option<i64> = app
        .db()
        .query_row(
            "SELECT last_used_at FROM api_keys WHERE id = ?1",
            &[&&id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(before, after, "a refused attempt is not a use");
}

backend_tests!(requests_without_an_identified_key_are_counted_per_ip_hash_not_logged);
async fn requests_without_an_identified_key_are_counted_per_ip_hash_not_logged() {
    let app = spawn_app().await;
    app.get("/v1/status", None).await;
    app.get("/v1/status", Some("bye_nope")).await;
    let rows = app.count("SELECT count(*) FROM request_logs", &[]);
    assert_eq!(rows, 0);
    crate::helpers::eventually("refusals counted", || {
        let counted: i64 = app
            .db()
            .query_row("SELECT COALESCE(SUM(requests), 0) FROM refusals_daily WHERE reason IN ('BSE1001', 'BSE1002')", &[], |r| r.get(0))
            .unwrap_or(0);
        counted == 2
    })
    .await;
}

backend_tests!(a_request_whose_row_cannot_be_written_fails_with_503_and_is_not_served);
async fn a_request_whose_row_cannot_be_written_fails_with_503_and_is_not_served() {
    let app = spawn_app().await;
    let (_, key) = app.create_key(&[]);
    app.db()
        .refuse("request_logs", "INSERT", "disk full")
        .unwrap();
    let res = app.get("/v1/status", Some(&key)).await;
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    let error = assert_error(&body, "BSE5002");
    assert_eq!(error["retryable"], true);
    assert!(
        !error["message"].as_str().unwrap().contains("disk full"),
        "no internal detail leaks"
    );
    assert!(body.get("data").is_none());

    app.db().allow("request_logs").unwrap();
    assert_eq!(
        app.get("/v1/status", Some(&key)).await.status(),
        200,
        "the writer recovers"
    );
}

backend_tests!(concurrent_requests_each_get_their_own_row);
async fn concurrent_requests_each_get_their_own_row() {
    let app = spawn_app().await;
    let (id, key) = app.create_key(&[]);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let client = app.client.clone();
        let url = format!("{}/v1/status", app.address);
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            client
                .get(url)
                .bearer_auth(key)
                .send_checked()
                .await
                .status()
                .as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let rows = app.log_rows(&id);
    assert_eq!(rows, 50);
    let rolled: i64 = app
        .db()
        .query_row(
            "SELECT SUM(requests) FROM usage_daily WHERE key_id = ?1",
            &[&&id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rolled, 50);
}
