//! Rate limits and the pre-authentication limiter (docs/api.md, "Rate limits" and
//! "Authentication").

use serde_json::json;

use crate::helpers::{assert_error, spawn_app, spawn_app_with};

backend_tests!(rate_limits_refuse_with_retry_after_and_describe_the_window);
async fn rate_limits_refuse_with_retry_after_and_describe_the_window() {
    let app = spawn_app_with(&[("plans.unthrottled.requests_per_minute", json!(3))]).await;
    let (_, key) = app.create_key(&[]);
    let (_, slow) = app.create_key(&["--rate-limit", "1"]);

    let res = app.get("/v1/status", Some(&slow)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-ratelimit-limit"], "1");
    assert_eq!(res.headers()["x-ratelimit-remaining"], "0");
    let res = app.get("/v1/status", Some(&slow)).await;
    assert_eq!(res.status(), 429, "the key's own limit");

    for remaining in ["1", "0"] {
        let res = app.get("/v1/status", Some(&key)).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["x-ratelimit-limit"], "3");
        assert_eq!(res.headers()["x-ratelimit-remaining"], remaining);
        let reset: i64 = res.headers()["x-ratelimit-reset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(reset > app.clock.now().millis() / 1000);
    }
    let res = app.get("/v1/status", Some(&key)).await;
    assert_eq!(res.status(), 429, "the account limit is shared by its keys");
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    let body: serde_json::Value = res.json().await.unwrap();
    let error = assert_error(&body, "BSE1005");
    assert_eq!(error["retryable"], true);
    assert_eq!(error["details"]["limit"], 3);
    assert_eq!(error["details"]["retry_after_seconds"], retry);

    app.clock.advance(60_000);
    assert_eq!(
        app.get("/v1/status", Some(&key)).await.status(),
        200,
        "a new window opens"
    );
}

backend_tests!(unlimited_plans_send_no_rate_limit_headers);
async fn unlimited_plans_send_no_rate_limit_headers() {
    let app = spawn_app().await;
    let (_, key) = app.create_key(&[]);
    let res = app.get("/v1/status", Some(&key)).await;
    assert!(!res.headers().contains_key("x-ratelimit-limit"));
}

backend_tests!(a_blocked_address_is_refused_only_what_no_usable_key_stands_behind);
async fn a_blocked_address_is_refused_only_what_no_usable_key_stands_behind() {
    let app = spawn_app_with(&[("auth.preauth_max_failures", json!(3))]).await;
    let (_, key) = app.create_key(&[]);
    let (revoked_id, revoked) = app.create_key(&[]);
    app.cli_json(&["keys", "revoke", &revoked_id]);
    // A client behind the same address still calls with the key revoked at a rotation.
    for _ in 0..3 {
        let (status, body) = app.get_json("/v1/status", &revoked).await;
        assert_eq!(status, 401);
        assert_eq!(body["error"]["message"], "This API key has been revoked.");
    }

    for (what, token) in [
        ("an unknown key", Some("bye_wrong")),
        ("no key", None),
        ("the revoked key", Some(revoked.as_str())),
    ] {
        let res = app.get("/v1/status", token).await;
        assert_eq!(res.status(), 429, "{what}");
        assert!(res.headers().contains_key("retry-after"), "{what}");
        let error = assert_error(&res.json().await.unwrap(), "BSE1006");
        assert_eq!(error["retryable"], true);
    }
    // A valid key is never refused by the limiter, however long the block lasts.
    for _ in 0..5 {
        assert_eq!(app.get("/v1/status", Some(&key)).await.status(), 200);
    }
    // The refused attempts with the revoked key are still audit rows of that key.
    let refused = app.count(
        "SELECT count(*) FROM request_logs WHERE key_id = ?1 AND error_code = 'BSE1006'",
        &[&&revoked_id],
    );
    assert_eq!(refused, 1);

    app.clock.advance(61_000);
    let (status, body) = app.get_json("/v1/status", "bye_wrong").await;
    assert_eq!(status, 401);
    assert_error(&body, "BSE1002");
}

backend_tests!(a_daily_limit_alone_refuses_without_minute_headers);
async fn a_daily_limit_alone_refuses_without_minute_headers() {
    let app = spawn_app_with(&[("plans.unthrottled.requests_per_day", json!(2))]).await;
    let (_, key) = app.create_key(&[]);
    for _ in 0..2 {
        let res = app.get("/v1/status", Some(&key)).await;
        assert_eq!(res.status(), 200);
        assert!(!res.headers().contains_key("x-ratelimit-limit"));
    }
    let res = app.get("/v1/status", Some(&key)).await;
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry <= 86_400);
    let error = assert_error(&res.json().await.unwrap(), "BSE1005");
    assert_eq!(error["details"]["limit"], 2);
}

backend_tests!(management_api_refusals_keep_their_rate_limit_headers);
async fn management_api_refusals_keep_their_rate_limit_headers() {
    let app = spawn_app().await;
    let (_, manager) = app.create_key(&["--preset", "key_management", "--rate-limit", "1"]);
    let call = || app.get("/api/v1/api-keys", Some(&manager));
    assert_eq!(call().await.status(), 200);
    let res = call().await;
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["x-ratelimit-limit"], "1");
    assert_eq!(res.headers()["x-ratelimit-remaining"], "0");
    let retry_after: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0);
    assert_error(&res.json().await.unwrap(), "BSE1005");
}
