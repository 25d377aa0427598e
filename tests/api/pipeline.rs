//! The /v1 pipeline in its documented order (docs/api.md, "Authentication").

use serde_json::json;

use crate::helpers::{SendChecked, assert_error, spawn_app, spawn_app_with};

const GID: &str = "0b8f1d3e-2c4a-4e5f-9a7b-1c2d3e4f5a6b";

backend_tests!(requests_outside_the_route_table_get_a_bare_403_before_authentication);
async fn requests_outside_the_route_table_get_a_bare_403_before_authentication() {
    let app = spawn_app().await;
    let (_, key) = app.create_key(&[]);
    let cases: Vec<(&str, String, Option<&str>)> = vec![
        ("GET", "/v1/unknown".into(), None),
        ("GET", "/v1".into(), None),
        ("GET", "/v1/status/".into(), None),
        ("POST", "/v1/status".into(), None),
        ("PUT", "/v1/usage".into(), None),
        ("GET", "/v1/content/not-a-uuid".into(), None),
        ("GET", "/v1/estimate/Upper/Case".into(), None),
        ("GET", "/v1/estimate/only-owner".into(), None),
        ("GET", "/v1/estimate/a/b/c".into(), None),
        ("GET", "/v1/usage?dayz=3".into(), None),
        ("GET", "/v1/usage?days=abc".into(), None),
        ("GET", "/v1/content/list?limit=1.5".into(), None),
        ("GET", "/v1/estimate/local/flux?audio=maybe".into(), None),
        (
            "POST",
            "/v1/generate/image/local/flux".into(),
            Some("text/plain"),
        ),
        (
            "POST",
            "/v1/generate/image/local/flux".into(),
            Some("application/x-www-form-urlencoded"),
        ),
        ("DELETE", "/v1/content/list".into(), None),
        ("GET", format!("/v1/content/{GID}/extra"), None),
    ];
    for (method, path, content_type) in cases {
        for key in [None, Some(key.as_str())] {
            let mut req = app
                .client
                .request(method.parse().unwrap(), format!("{}{path}", app.address));
            if let Some(key) = key {
                req = req.bearer_auth(key);
            }
            if let Some(ct) = content_type {
                req = req.header("content-type", ct).body("x");
            }
            let res = req.send_checked().await;
            assert_eq!(res.status(), 403, "{method} {path}");
            assert!(
                res.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/plain"),
                "{method} {path}"
            );
            assert!(res.headers().contains_key("x-request-id"));
        }
    }
    let logged = app.count("SELECT count(*) FROM request_logs", &[]);
    assert_eq!(logged, 0, "firewall refusals are not request-log rows");
    crate::helpers::eventually("firewall refusals counted", || {
        app.db()
            .query_row(
                "SELECT COALESCE(SUM(requests), 0) FROM refusals_daily WHERE reason = 'firewall'",
                &[],
                |r| r.get::<i64>(0),
            )
            .unwrap_or(0)
            >= 34
    })
    .await;
}

backend_tests!(every_operation_in_the_table_passes_the_firewall);
async fn every_operation_in_the_table_passes_the_firewall() {
    let app = spawn_app().await;
    let ops = [
        ("GET", "/v1/status".to_owned()),
        ("GET", "/v1/usage?days=3".into()),
        ("GET", "/v1/user/account".into()),
        ("GET", "/v1/user/billing".into()),
        (
            "GET",
            "/v1/estimate/local/flux-lite?count=2&duration=5&resolution=720p&audio=true".into(),
        ),
        ("POST", "/v1/generate/image/local/flux-lite".into()),
        ("POST", "/v1/generate/video/local/clip.v1".into()),
        ("GET", "/v1/content/list?limit=10&offset=0".into()),
        ("GET", format!("/v1/content/{GID}")),
        ("DELETE", format!("/v1/content/{GID}")),
        ("POST", format!("/v1/content/generation/cancel/{GID}")),
        ("GET", "/v1/library/models".into()),
        ("GET", "/v1/library/providers".into()),
        ("GET", "/v1/health/inference/providers".into()),
        ("GET", "/v1/health/inference/models".into()),
        ("GET", "/v1/health/storage".into()),
        ("GET", "/v1/health/cache".into()),
    ];
    for (method, path) in ops {
        let res = app
            .client
            .request(method.parse().unwrap(), format!("{}{path}", app.address))
            .send_checked()
            .await;
        assert_eq!(res.status(), 401, "{method} {path} reaches authentication");
        assert_error(&res.json().await.unwrap(), "BSE1001");
    }
}

backend_tests!(generation_routes_pass_auth_scope_and_rate_limit_before_answering);
async fn generation_routes_pass_auth_scope_and_rate_limit_before_answering() {
    let app = spawn_app().await;
    let (_, full) = app.create_key(&["--rate-limit", "100"]);
    let (_, monitor) = app.create_key(&["--preset", "monitor_only"]);
    let res = app.get("/v1/library/models", Some(&full)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-ratelimit-limit"], "100");

    let res = app
        .client
        .post(format!("{}/v1/generate/image/local/flux", app.address))
        .bearer_auth(&monitor)
        .json(&json!({"generation_prompt": "a cat"}))
        .send_checked()
        .await;
    assert_eq!(
        res.status(),
        403,
        "scope is checked before the route answers"
    );
    assert_error(&res.json().await.unwrap(), "BSE1003");
}

backend_tests!(authentication_failures_answer_in_the_documented_order);
async fn authentication_failures_answer_in_the_documented_order() {
    let app = spawn_app().await;
    let (_, key) = app.create_key(&[]);
    let mut tampered = key.clone().into_bytes();
    tampered[10] = if tampered[10] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered).unwrap();
    let well_formed_unknown = tidegate::testing::KeyFormat::new("bye_")
        .unwrap()
        .generate(tidegate::testing::Environment::Live)
        .unwrap();

    let res = app.get("/v1/status", None).await;
    assert_eq!(res.status(), 401);
    assert_error(&res.json().await.unwrap(), "BSE1001");
    let res = app
        .client
        .get(format!("{}/v1/status", app.address))
        .header("authorization", "Bearer ")
        .send_checked()
        .await;
    assert_error(&res.json().await.unwrap(), "BSE1001");
    for bad in [
        "not-a-key",
        tampered.as_str(),
        well_formed_unknown.expose(),
        &format!("{key}x"),
    ] {
        let (status, body) = app.get_json("/v1/status", bad).await;
        assert_eq!(status, 401, "{bad}");
        assert_eq!(
            assert_error(&body, "BSE1002")["message"],
            "Invalid API key."
        );
    }
}

backend_tests!(expired_keys_and_keys_of_deleted_accounts_are_refused);
async fn expired_keys_and_keys_of_deleted_accounts_are_refused() {
    let app = spawn_app().await;
    let (id, key) = app.create_key(&["--expires-in-days", "1"]);
    assert_eq!(app.get("/v1/status", Some(&key)).await.status(), 200);
    app.db()
        .execute(
            "UPDATE api_keys SET expires_at = 1000 WHERE id = ?1",
            &[&&id],
        )
        .unwrap();
    let (status, body) = app.get_json("/v1/status", &key).await;
    assert_eq!(status, 401);
    assert!(
        assert_error(&body, "BSE1002")["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );

    let (_, other) = app.create_key(&[]);
    app.db()
        .execute(
            "UPDATE accounts SET deleted_at = 1 WHERE id = ?1",
            &[&&app.account_id],
        )
        .unwrap();
    let (status, body) = app.get_json("/v1/status", &other).await;
    assert_eq!(status, 404);
    assert_error(&body, "BSE1008");
}

backend_tests!(a_key_fails_on_another_regions_host_like_an_unknown_key);
async fn a_key_fails_on_another_regions_host_like_an_unknown_key() {
    let app = spawn_app().await;
    let (_, key) = app.create_key(&[]);
    let on_host = |host: &'static str| {
        app.client
            .get(format!("{}/v1/status", app.address))
            .header("host", host)
            .bearer_auth(&key)
            .send_checked()
    };
    assert_eq!(on_host("api.us.example.com").await.status(), 200);
    assert_eq!(
        on_host("localhost").await.status(),
        200,
        "other hosts get the default region"
    );
    let res = on_host("api.eu.example.com").await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        assert_error(&res.json().await.unwrap(), "BSE1002")["message"],
        "Invalid API key."
    );

    let eu = app.cli_json(&[
        "accounts", "create", "--name", "EU team", "--team", "--region", "eu",
    ]);
    let eu_key = app.cli_json(&[
        "keys",
        "create",
        "--account",
        eu["id"].as_str().unwrap(),
        "--name",
        "eu",
        "--preset",
        "read_only",
    ]);
    let eu_key = eu_key["key"].as_str().unwrap();
    let res = app
        .client
        .get(format!("{}/v1/status", app.address))
        .header("host", "api.eu.example.com")
        .bearer_auth(eu_key)
        .send_checked()
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.get("/v1/status", Some(eu_key)).await.status(),
        401,
        "default region is us"
    );
}

backend_tests!(ip_allowlists_match_addresses_and_cidr_blocks);
async fn ip_allowlists_match_addresses_and_cidr_blocks() {
    let app = spawn_app().await;
    let (_, outside) = app.create_key(&["--ips", "10.0.0.0/8,203.0.113.7"]);
    let (_, inside) = app.create_key(&["--ips", "10.0.0.0/8,127.0.0.0/24"]);
    let (_, exact) = app.create_key(&["--ips", "127.0.0.1"]);
    let (status, body) = app.get_json("/v1/status", &outside).await;
    assert_eq!(status, 403);
    assert_eq!(
        assert_error(&body, "BSE1007")["message"],
        "This IP address is not in the allowlist for this API key."
    );
    assert_eq!(app.get("/v1/status", Some(&inside)).await.status(), 200);
    assert_eq!(app.get("/v1/status", Some(&exact)).await.status(), 200);
    // Without trusted proxies, X-Forwarded-For is ignored.
    let res = app
        .client
        .get(format!("{}/v1/status", app.address))
        .bearer_auth(&outside)
        .header("x-forwarded-for", "203.0.113.7")
        .send_checked()
        .await;
    assert_eq!(res.status(), 403);
}

backend_tests!(behind_a_trusted_proxy_the_forwarded_client_address_is_checked);
async fn behind_a_trusted_proxy_the_forwarded_client_address_is_checked() {
    let app = spawn_app_with(&[("server.trusted_proxies", json!(["127.0.0.0/8"]))]).await;
    let (_, key) = app.create_key(&["--ips", "203.0.113.0/24"]);
    let with_xff = |xff: &'static str| {
        app.client
            .get(format!("{}/v1/status", app.address))
            .bearer_auth(&key)
            .header("x-forwarded-for", xff)
            .send_checked()
    };
    assert_eq!(with_xff("203.0.113.9").await.status(), 200);
    assert_eq!(
        with_xff("203.0.113.9, 127.0.0.5").await.status(),
        200,
        "trusted hops are skipped"
    );
    assert_eq!(with_xff("198.51.100.1").await.status(), 403);
    assert_eq!(
        with_xff("203.0.113.9, 198.51.100.1").await.status(),
        403,
        "the right-most untrusted hop counts"
    );
    assert_eq!(app.get("/v1/status", Some(&key)).await.status(), 403);
}

backend_tests!(scopes_are_checked_per_route);
async fn scopes_are_checked_per_route() {
    let app = spawn_app().await;
    let (_, monitor) = app.create_key(&["--preset", "monitor_only"]);
    let (_, custom) = app.create_key(&["--scopes", "account:read"]);
    let (status, body) = app.get_json("/v1/status", &monitor).await;
    assert_eq!(status, 403);
    assert!(
        assert_error(&body, "BSE1003")["message"]
            .as_str()
            .unwrap()
            .contains("account:read")
    );
    assert_eq!(app.get("/v1/usage", Some(&custom)).await.status(), 200);
    assert_eq!(
        app.get("/v1/health/cache", Some(&custom)).await.status(),
        403
    );
}

backend_tests!(errors_raised_by_the_framework_use_the_json_envelope);
async fn errors_raised_by_the_framework_use_the_json_envelope() {
    let app = spawn_app().await;
    let (_, key) = app.create_key(&[]);
    let res = app
        .client
        .post(format!("{}/healthz", app.address))
        .send_checked()
        .await;
    assert_eq!(res.status(), 405);
    assert!(res.headers().contains_key("x-request-id"));
    assert_error(&res.json().await.unwrap(), "BSE2001");
    let res = app
        .client
        .get(format!("{}/media/no-such-file", app.address))
        .send_checked()
        .await;
    assert_eq!(res.status(), 404);
    assert_error(&res.json().await.unwrap(), "BSE2017");
    // A person's browser gets a page instead.
    let res = app
        .client
        .get(format!("{}/no/such/page", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("There is no page at this address.")
    );

    let big = json!({ "generation_prompt": "x".repeat(200 * 1024) });
    let res = app
        .client
        .post(format!("{}/v1/generate/image/local/flux", app.address))
        .bearer_auth(&key)
        .json(&big)
        .send_checked()
        .await;
    assert_eq!(res.status(), 413);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_error(&body, "BSE2010");
}

backend_tests!(request_ids_are_sent_in_the_header_and_the_envelope);
async fn request_ids_are_sent_in_the_header_and_the_envelope() {
    let app = spawn_app().await;
    let (_, key) = app.create_key(&[]);
    let res = app.get("/v1/status", Some(&key)).await;
    let header = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["request_id"], header);
    assert!(
        header.starts_with("req_")
            && header.len() == 36
            && header[4..]
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    let res = app.get("/v1/status", None).await;
    let header = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["request_id"], header);
}

backend_tests!(metrics_are_served_only_when_enabled);
async fn metrics_are_served_only_when_enabled() {
    let app = spawn_app().await;
    assert_eq!(app.get("/metrics", None).await.status(), 404);
    let app = spawn_app_with(&[("server.metrics", json!(true))]).await;
    let (_, key) = app.create_key(&[]);
    app.get("/v1/nope", None).await;
    app.get("/v1/status", Some(&key)).await;
    let text = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        text.contains("tidegate_firewall_refusals_total 1"),
        "{text}"
    );
    assert!(
        text.contains("tidegate_v1_responses_total{class=\"2xx\"} 1"),
        "{text}"
    );
    // The request path's distributions: the row of /v1/status waited for its commit (the
    // firewall's refusal was tallied in a commit of its own).
    let wait = "tidegate_request_log_row_wait_seconds";
    assert!(text.contains(&format!("# TYPE {wait} histogram")), "{text}");
    assert!(
        text.contains(&format!("{wait}_bucket{{le=\"+Inf\"}} 1\n")),
        "{text}"
    );
    assert!(text.contains(&format!("{wait}_count 1\n")), "{text}");
    assert!(
        !text.contains("tidegate_request_log_commit_seconds_count 0\n"),
        "{text}"
    );
    assert!(text.contains("# TYPE tidegate_wal_checkpoint_restart_seconds histogram"));
}
