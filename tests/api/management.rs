//! The management API (keys.md §8) and the key lifecycle through it (keys.md §5).

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, spawn_app};

async fn create(app: &TestApp, manager: &str, body: Value) -> Value {
    let (status, res) = app.api("POST", "/api-keys", manager, Some(body)).await;
    assert_eq!(status, 200, "{res}");
    res["data"].clone()
}

#[tokio::test]
async fn keys_are_created_with_every_preset_and_custom_scopes_and_shown_once() {
    let app = spawn_app().await;
    let manager = app.manager_key();
    let presets = [
        ("full_access", 6),
        ("generate_only", 3),
        ("read_only", 4),
        ("monitor_only", 2),
        ("key_management", 2),
    ];
    for (preset, scopes) in presets {
        let key = create(&app, &manager, json!({ "name": preset, "preset": preset })).await;
        assert_eq!(key["scopes"].as_array().unwrap().len(), scopes, "{preset}");
        assert!(key["key"].as_str().unwrap().starts_with("bye_"));
    }
    let custom = create(
        &app,
        &manager,
        json!({ "name": "custom", "scopes": ["generation:*", "account:read"], "environment": "test",
                "ip_allowlist": ["10.0.0.0/8", "2001:db8::/32", "127.0.0.1"], "expires_in_days": 30,
                "allowed_models": ["local/flux-lite"], "rate_limit_per_minute": 10 }),
    )
    .await;
    assert_eq!(
        custom["scopes"],
        json!([
            "generation:write",
            "generation:read",
            "generation:delete",
            "account:read"
        ])
    );
    assert_eq!(custom["environment"], "test");
    assert!(custom["key"].as_str().unwrap().starts_with("bye_test_"));
    assert_eq!(custom["allowed_models"], json!(["local/flux-lite"]));

    let (_, shown) = app
        .api(
            "GET",
            &format!("/api-keys/{}", custom["id"].as_str().unwrap()),
            &manager,
            None,
        )
        .await;
    assert!(
        shown["data"].get("key").is_none(),
        "the secret is never shown again"
    );
    let (_, listed) = app.api("GET", "/api-keys?limit=100", &manager, None).await;
    assert_eq!(listed["total"], 7);
    assert!(!listed.to_string().contains(custom["key"].as_str().unwrap()));
    assert!(!listed.to_string().contains("key_hash"));
}

#[tokio::test]
async fn rotation_keeps_both_keys_working_until_the_exact_end_of_the_grace_period() {
    let app = spawn_app().await;
    let manager = app.manager_key();
    let old = create(
        &app,
        &manager,
        json!({ "name": "ci", "preset": "full_access", "ip_allowlist": ["127.0.0.1"],
                                             "rate_limit_per_minute": 50, "expires_in_days": 10 }),
    )
    .await;
    let old_key = old["key"].as_str().unwrap().to_owned();
    let id = old["id"].as_str().unwrap();

    let (status, rotated) = app
        .api(
            "POST",
            &format!("/api-keys/{id}/rotate"),
            &manager,
            Some(json!({ "grace_hours": 1 })),
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    let new = &rotated["data"];
    let new_key = new["key"].as_str().unwrap().to_owned();
    assert_ne!(new_key, old_key);
    assert_eq!(new["name"], "ci");
    assert_eq!(new["scopes"], old["scopes"]);
    assert_eq!(new["ip_allowlist"], json!(["127.0.0.1"]));
    assert_eq!(new["rate_limit_per_minute"], 50);
    assert_eq!(
        new["expires_at"], old["expires_at"],
        "the new key inherits the expiry"
    );
    assert_eq!(new["replaces"], id);
    assert_eq!(new["previous_key"]["status"], "rotated");

    assert_eq!(app.get("/v1/status", Some(&old_key)).await.status(), 200);
    assert_eq!(app.get("/v1/status", Some(&new_key)).await.status(), 200);

    let (_, shown) = app
        .api("GET", &format!("/api-keys/{id}"), &manager, None)
        .await;
    assert_eq!(shown["data"]["status"], "rotated");
    assert_eq!(shown["data"]["replaced_by"], new["id"]);
    assert_eq!(shown["data"]["rotation_chain"].as_array().unwrap().len(), 2);

    // One millisecond before the grace ends the old key still works; at the end it stops,
    // without any scheduler having run.
    app.clock.advance(3_600_000 - 1_000);
    assert_eq!(app.get("/v1/status", Some(&old_key)).await.status(), 200);
    app.clock.advance(1_000);
    let (status, body) = app.get_json("/v1/status", &old_key).await;
    assert_eq!(status, 401);
    assert!(
        assert_error(&body, "BSE1002")["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    assert_eq!(app.get("/v1/status", Some(&new_key)).await.status(), 200);

    let (status, body) = app
        .api("POST", &format!("/api-keys/{id}/rotate"), &manager, None)
        .await;
    assert_eq!(status, 409);
    assert_error(&body, "BSE2018");
}

#[tokio::test]
async fn the_grace_period_never_outlives_the_keys_own_expiry() {
    let app = spawn_app().await;
    let manager = app.manager_key();
    let key = create(
        &app,
        &manager,
        json!({ "name": "soon", "preset": "read_only", "expires_at": "2099-01-01T00:00:00Z" }),
    )
    .await;
    let id = key["id"].as_str().unwrap();
    app.db()
        .execute(
            "UPDATE api_keys SET expires_at = ?2 WHERE id = ?1",
            rusqlite::params![id, app.clock.now().millis() + 60_000],
        )
        .unwrap();
    let (_, rotated) = app
        .api(
            "POST",
            &format!("/api-keys/{id}/rotate"),
            &manager,
            Some(json!({})),
        )
        .await;
    let grace_end = rotated["data"]["previous_key"]["grace_ends_at"]
        .as_str()
        .unwrap();
    let end = tidegate::domain::Timestamp::parse(grace_end).unwrap();
    assert!(
        end.millis() <= app.clock.now().millis() + 60_000,
        "min(expiry, now + 24 h)"
    );
}

#[tokio::test]
async fn expire_now_revoke_disable_enable_and_delete_follow_the_lifecycle() {
    let app = spawn_app().await;
    let manager = app.manager_key();
    let key = create(
        &app,
        &manager,
        json!({ "name": "k", "preset": "full_access" }),
    )
    .await;
    let (id, secret) = (
        key["id"].as_str().unwrap().to_owned(),
        key["key"].as_str().unwrap().to_owned(),
    );

    let (status, body) = app
        .api("POST", &format!("/api-keys/{id}/expire"), &manager, None)
        .await;
    assert_eq!(status, 409, "only a rotated key can be expired now");
    assert_error(&body, "BSE2018");

    let (_, rotated) = app
        .api("POST", &format!("/api-keys/{id}/rotate"), &manager, None)
        .await;
    let new_id = rotated["data"]["id"].as_str().unwrap().to_owned();
    let new_secret = rotated["data"]["key"].as_str().unwrap().to_owned();
    let (status, expired) = app
        .api("POST", &format!("/api-keys/{id}/expire"), &manager, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(expired["data"]["status"], "expired");
    assert_eq!(app.get("/v1/status", Some(&secret)).await.status(), 401);

    let (_, disabled) = app
        .api(
            "PATCH",
            &format!("/api-keys/{new_id}"),
            &manager,
            Some(json!({ "disabled": true })),
        )
        .await;
    assert_eq!(disabled["data"]["status"], "disabled");
    assert_eq!(app.get("/v1/status", Some(&new_secret)).await.status(), 401);
    let (_, enabled) = app
        .api(
            "PATCH",
            &format!("/api-keys/{new_id}"),
            &manager,
            Some(json!({ "disabled": false })),
        )
        .await;
    assert_eq!(enabled["data"]["status"], "active");
    assert_eq!(app.get("/v1/status", Some(&new_secret)).await.status(), 200);

    let (status, revoked) = app
        .api(
            "POST",
            &format!("/api-keys/{new_id}/revoke"),
            &manager,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(revoked["data"]["status"], "revoked");
    assert_eq!(app.get("/v1/status", Some(&new_secret)).await.status(), 401);
    for (method, path, body) in [
        ("POST", format!("/api-keys/{new_id}/revoke"), None),
        ("POST", format!("/api-keys/{new_id}/rotate"), None),
        (
            "PATCH",
            format!("/api-keys/{new_id}"),
            Some(json!({ "disabled": false })),
        ),
        (
            "PATCH",
            format!("/api-keys/{new_id}"),
            Some(json!({ "name": "again" })),
        ),
    ] {
        let (status, body) = app.api(method, &path, &manager, body).await;
        assert_eq!(status, 409, "{method} {path}");
        assert_error(&body, "BSE2018");
    }

    let logs_before: i64 = app
        .db()
        .query_row(
            "SELECT count(*) FROM request_logs WHERE key_id = ?1",
            [&new_id],
            |r| r.get(0),
        )
        .unwrap();
    assert!(logs_before >= 3);
    let (status, deleted) = app
        .api("DELETE", &format!("/api-keys/{new_id}"), &manager, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(deleted["data"]["request_logs_deleted"], logs_before);
    let db = app.db();
    let left: i64 = db
        .query_row(
            "SELECT count(*) FROM request_logs WHERE key_id = ?1",
            [&new_id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0);
    let rolled: i64 = db
        .query_row(
            "SELECT COALESCE(SUM(requests), 0) FROM usage_daily WHERE key_id IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(rolled >= logs_before, "roll-ups stay without the key");
    let (status, _) = app
        .api("GET", &format!("/api-keys/{new_id}"), &manager, None)
        .await;
    assert_eq!(status, 404);
    let actions: Vec<String> = db
        .prepare(
            "SELECT action FROM activity WHERE category = 'apikey' AND target = ?1 ORDER BY id",
        )
        .unwrap()
        .query_map([&new_id], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(actions, ["disabled", "enabled", "revoked", "deleted"]);
}

#[tokio::test]
async fn edits_change_name_expiry_allowlist_models_and_rate_limit() {
    let app = spawn_app().await;
    let manager = app.manager_key();
    let key = create(
        &app,
        &manager,
        json!({ "name": "before", "preset": "read_only" }),
    )
    .await;
    let (id, secret) = (
        key["id"].as_str().unwrap().to_owned(),
        key["key"].as_str().unwrap().to_owned(),
    );
    let patch = json!({ "name": "after", "expires_in_days": 5, "ip_allowlist": ["10.1.0.0/16"],
                        "allowed_models": ["local/a", "local/b"], "rate_limit_per_minute": 7 });
    let (status, edited) = app
        .api("PATCH", &format!("/api-keys/{id}"), &manager, Some(patch))
        .await;
    assert_eq!(status, 200, "{edited}");
    let data = &edited["data"];
    assert_eq!(data["name"], "after");
    assert_eq!(data["ip_allowlist"], json!(["10.1.0.0/16"]));
    assert_eq!(data["allowed_models"], json!(["local/a", "local/b"]));
    assert_eq!(data["rate_limit_per_minute"], 7);
    assert!(data["expires_at"].is_string());
    assert_eq!(
        app.get("/v1/status", Some(&secret)).await.status(),
        403,
        "the new allowlist applies at once"
    );

    let clear = json!({ "expires_at": null, "ip_allowlist": null, "allowed_models": [], "rate_limit_per_minute": null });
    let (_, cleared) = app
        .api("PATCH", &format!("/api-keys/{id}"), &manager, Some(clear))
        .await;
    let data = &cleared["data"];
    assert!(data["expires_at"].is_null() && data["ip_allowlist"].is_null());
    assert!(data["allowed_models"].is_null() && data["rate_limit_per_minute"].is_null());
    assert_eq!(app.get("/v1/status", Some(&secret)).await.status(), 200);
    let edits: i64 = app
        .db()
        .query_row(
            "SELECT count(*) FROM activity WHERE action = 'edited' AND target = ?1",
            [&id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(edits, 2);
}

#[tokio::test]
async fn a_key_manages_only_its_own_account_and_needs_the_right_scope() {
    let app = spawn_app().await;
    let manager = app.manager_key();
    let other = app.cli_json(&["accounts", "create", "--name", "Other"]);
    let other_key = app.cli_json(&[
        "keys",
        "create",
        "--account",
        other["id"].as_str().unwrap(),
        "--name",
        "theirs",
        "--preset",
        "full_access",
    ]);
    let their_id = other_key["id"].as_str().unwrap();
    for (method, path) in [
        ("GET", format!("/api-keys/{their_id}")),
        ("POST", format!("/api-keys/{their_id}/revoke")),
        ("DELETE", format!("/api-keys/{their_id}")),
        ("GET", format!("/api-keys/{their_id}/usage")),
    ] {
        let (status, body) = app.api(method, &path, &manager, None).await;
        assert_eq!(status, 404, "{method} {path}");
        assert_error(&body, "BSE2017");
    }
    let (_, listed) = app.api("GET", "/api-keys", &manager, None).await;
    assert!(!listed.to_string().contains(their_id));
    let status: Option<String> = app
        .db()
        .query_row(
            "SELECT revoked_at FROM api_keys WHERE id = ?1",
            [their_id],
            |r| r.get::<_, Option<i64>>(0).map(|v| v.map(|x| x.to_string())),
        )
        .unwrap();
    assert!(status.is_none(), "nothing changed on the other account");

    let (_, reader) = app.create_key(&["--scopes", "keys:read"]);
    assert_eq!(app.api("GET", "/api-keys", &reader, None).await.0, 200);
    let (status, body) = app
        .api(
            "POST",
            "/api-keys",
            &reader,
            Some(json!({ "name": "x", "preset": "read_only" })),
        )
        .await;
    assert_eq!(status, 403);
    assert_error(&body, "BSE1003");
    let (_, full) = app.create_key(&[]);
    let (status, body) = app.api("GET", "/api-keys", &full, None).await;
    assert_eq!(status, 403, "full_access has no management scope");
    assert_error(&body, "BSE1003");
    let (status, body) = app.api("GET", "/api-keys", "bye_nope", None).await;
    assert_eq!(status, 401);
    assert_error(&body, "BSE1002");
}

#[tokio::test]
async fn management_requests_are_logged_and_logs_export_as_json_and_csv() {
    let app = spawn_app().await;
    let manager = app.manager_key();
    let (id, key) = app.create_key(&[]);
    for _ in 0..3 {
        app.get("/v1/status", Some(&key)).await;
    }
    app.get("/v1/usage?days=0", Some(&key)).await;

    let (status, body) = app
        .api("GET", &format!("/logs?key_id={id}"), &manager, None)
        .await;
    assert_eq!(status, 200);
    let logs = body["data"]["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 4);
    assert_eq!(logs[0]["endpoint"], "/v1/usage", "newest first");
    assert_eq!(logs[0]["error_code"], "BSE2001");

    let (_, failed) = app
        .api(
            "GET",
            &format!("/logs?key_id={id}&status=4xx"),
            &manager,
            None,
        )
        .await;
    assert_eq!(failed["data"]["logs"].as_array().unwrap().len(), 1);
    let (_, page) = app
        .api("GET", &format!("/logs?key_id={id}&limit=2"), &manager, None)
        .await;
    let cursor = page["data"]["next_cursor"].as_i64().unwrap();
    let (_, rest) = app
        .api(
            "GET",
            &format!("/logs?key_id={id}&limit=2&cursor={cursor}"),
            &manager,
            None,
        )
        .await;
    assert_eq!(rest["data"]["logs"].as_array().unwrap().len(), 2);

    let res = app
        .client
        .get(format!(
            "{}/api/v1/logs?key_id={id}&format=csv",
            app.address
        ))
        .bearer_auth(&manager)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(lines[0].starts_with("created_at,request_id,key_id"));
    assert!(lines[1].contains("/v1/usage") && lines[1].contains("BSE2001"));

    let mgmt_rows: i64 = app
        .db()
        .query_row(
            "SELECT count(*) FROM request_logs WHERE route LIKE '/api/v1/%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(mgmt_rows >= 4, "management requests are logged too");
    let route: String = app
        .db()
        .query_row(
            "SELECT route FROM request_logs WHERE endpoint LIKE '/api/v1/logs%' LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(route, "/api/v1/logs");
}

#[tokio::test]
async fn key_usage_and_the_activity_feed_are_served() {
    let app = spawn_app().await;
    let manager = app.manager_key();
    let (id, key) = app.create_key(&[]);
    app.get("/v1/status", Some(&key)).await;
    app.get("/v1/status", Some(&key)).await;
    app.get("/v1/health/cache", Some(&key)).await;
    let (status, body) = app
        .api(
            "GET",
            &format!("/api-keys/{id}/usage?days=7"),
            &manager,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert_eq!(data["total_requests"], 3);
    assert_eq!(data["successful"], 2);
    assert_eq!(data["failed"], 1);
    assert_eq!(data["by_day"].as_array().unwrap().len(), 7);
    assert_eq!(data["by_day"][6]["total_requests"], 3);
    assert_eq!(data["by_endpoint"][0]["endpoint"], "/v1/status");

    let (status, feed) = app.api("GET", "/activity?limit=10", &manager, None).await;
    assert_eq!(status, 200);
    let items = feed["data"]["activity"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|a| a["action"] == "created" && a["target"] == id.as_str())
    );
}

#[tokio::test]
async fn bad_input_is_refused_with_the_field_and_changes_nothing() {
    let app = spawn_app().await;
    let manager = app.manager_key();
    let existing = create(
        &app,
        &manager,
        json!({ "name": "existing", "preset": "full_access" }),
    )
    .await;
    let id = existing["id"].as_str().unwrap().to_owned();
    let ips51: Vec<String> = (0..51).map(|i| format!("10.0.0.{i}")).collect();
    let long_entry = "1".repeat(46);
    let base = |extra: Value| {
        let mut body = json!({ "name": "k", "preset": "read_only" });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let create_cases: Vec<(Value, &str, Option<usize>)> = vec![
        (json!({ "preset": "read_only" }), "name", None),
        (base(json!({ "name": "" })), "name", None),
        (base(json!({ "name": "   " })), "name", None),
        (base(json!({ "name": "x".repeat(101) })), "name", None),
        (base(json!({ "name": "bell\u{7}" })), "name", None),
        (base(json!({ "name": "line\nbreak" })), "name", None),
        (base(json!({ "name": 42 })), "name", None),
        (json!({ "name": "k" }), "preset", None),
        (base(json!({ "preset": "everything" })), "preset", None),
        (
            json!({ "name": "k", "preset": "read_only", "scopes": ["account:read"] }),
            "scopes",
            None,
        ),
        (json!({ "name": "k", "scopes": [] }), "scopes", None),
        (json!({ "name": "k", "scopes": ["*"] }), "scopes", Some(0)),
        (json!({ "name": "k", "scopes": ["*:*"] }), "scopes", Some(0)),
        (
            json!({ "name": "k", "scopes": ["account:read", "account:write"] }),
            "scopes",
            Some(1),
        ),
        (
            json!({ "name": "k", "scopes": "account:read" }),
            "scopes",
            None,
        ),
        (json!({ "name": "k", "scopes": [1] }), "scopes", Some(0)),
        (base(json!({ "ip_allowlist": ips51 })), "ip_allowlist", None),
        (
            base(json!({ "ip_allowlist": [long_entry] })),
            "ip_allowlist",
            Some(0),
        ),
        (
            base(json!({ "ip_allowlist": ["10.0.0.0/33"] })),
            "ip_allowlist",
            Some(0),
        ),
        (
            base(json!({ "ip_allowlist": ["1.2.3.4", "::ffff:1.2.3.4/129"] })),
            "ip_allowlist",
            Some(1),
        ),
        (
            base(json!({ "ip_allowlist": ["1.2.3.4", "5.6.7.8", "localhost"] })),
            "ip_allowlist",
            Some(2),
        ),
        (
            base(json!({ "ip_allowlist": ["256.1.1.1"] })),
            "ip_allowlist",
            Some(0),
        ),
        (
            base(json!({ "ip_allowlist": [""] })),
            "ip_allowlist",
            Some(0),
        ),
        (
            base(json!({ "ip_allowlist": "10.0.0.1" })),
            "ip_allowlist",
            None,
        ),
        (
            base(json!({ "expires_at": "2001-01-01T00:00:00Z" })),
            "expires_at",
            None,
        ),
        (
            base(json!({ "expires_at": "tomorrow" })),
            "expires_at",
            None,
        ),
        (
            base(json!({ "expires_at": "2099-01-01", "expires_in_days": 3 })),
            "expires_at",
            None,
        ),
        (
            base(json!({ "expires_in_days": 0 })),
            "expires_in_days",
            None,
        ),
        (
            base(json!({ "expires_in_days": 3651 })),
            "expires_in_days",
            None,
        ),
        (
            base(json!({ "expires_in_days": "7" })),
            "expires_in_days",
            None,
        ),
        (
            base(json!({ "rate_limit_per_minute": -1 })),
            "rate_limit_per_minute",
            None,
        ),
        (
            base(json!({ "rate_limit_per_minute": 0 })),
            "rate_limit_per_minute",
            None,
        ),
        (
            base(json!({ "rate_limit_per_minute": 1.5 })),
            "rate_limit_per_minute",
            None,
        ),
        (
            base(json!({ "allowed_models": ["Not A Model"] })),
            "allowed_models",
            Some(0),
        ),
        (
            base(json!({ "allowed_models": ["local/ok", "nope"] })),
            "allowed_models",
            Some(1),
        ),
        (
            base(json!({ "environment": "staging" })),
            "environment",
            None,
        ),
        (
            base(json!({ "unknown_field": true })),
            "unknown_field",
            None,
        ),
        (base(json!({ "key_hash": "abc" })), "key_hash", None),
    ];
    let case_count = create_cases.len();
    for (body, field, index) in create_cases {
        let (status, res) = app
            .api("POST", "/api-keys", &manager, Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body}: {res}");
        let error = assert_error(&res, "BSE2001");
        assert_eq!(error["details"]["field"], field, "{body}: {res}");
        if let Some(index) = index {
            assert_eq!(error["details"]["index"], index, "{body}: {res}");
        }
    }
    let other_cases: Vec<(&str, String, Option<Value>, &str)> = vec![
        (
            "POST",
            format!("/api-keys/{id}/rotate"),
            Some(json!({ "grace_hours": 0 })),
            "grace_hours",
        ),
        (
            "POST",
            format!("/api-keys/{id}/rotate"),
            Some(json!({ "grace_hours": 169 })),
            "grace_hours",
        ),
        (
            "POST",
            format!("/api-keys/{id}/rotate"),
            Some(json!({ "grace_hours": "24" })),
            "grace_hours",
        ),
        (
            "POST",
            format!("/api-keys/{id}/rotate"),
            Some(json!({ "grace": 24 })),
            "grace",
        ),
        (
            "PATCH",
            format!("/api-keys/{id}"),
            Some(json!({ "name": "" })),
            "name",
        ),
        (
            "PATCH",
            format!("/api-keys/{id}"),
            Some(json!({ "expires_at": "1999-12-31" })),
            "expires_at",
        ),
        (
            "PATCH",
            format!("/api-keys/{id}"),
            Some(json!({ "ip_allowlist": ["10.0.0.0/40"] })),
            "ip_allowlist",
        ),
        (
            "PATCH",
            format!("/api-keys/{id}"),
            Some(json!({ "rate_limit_per_minute": -5 })),
            "rate_limit_per_minute",
        ),
        (
            "PATCH",
            format!("/api-keys/{id}"),
            Some(json!({ "scopes": ["account:read"] })),
            "scopes",
        ),
        (
            "PATCH",
            format!("/api-keys/{id}"),
            Some(json!({ "disabled": "yes" })),
            "disabled",
        ),
        ("GET", "/api-keys?status=sleeping".into(), None, "status"),
        ("GET", "/api-keys?limit=0".into(), None, "limit"),
        ("GET", "/api-keys?offset=-1".into(), None, "offset"),
        ("GET", "/api-keys?colour=red".into(), None, "colour"),
        ("GET", format!("/api-keys/{id}/usage?days=91"), None, "days"),
        ("GET", "/logs?status=9xx".into(), None, "status"),
        ("GET", "/logs?since=yesterday".into(), None, "since"),
        ("GET", "/logs?format=xml".into(), None, "format"),
        ("GET", "/logs?limit=1001".into(), None, "limit"),
        ("GET", "/activity?cursor=abc".into(), None, "cursor"),
    ];
    assert!(case_count + other_cases.len() >= 40);
    for (method, path, body, field) in other_cases {
        let (status, res) = app.api(method, &path, &manager, body).await;
        assert_eq!(status, 400, "{method} {path}: {res}");
        assert_eq!(
            assert_error(&res, "BSE2001")["details"]["field"],
            field,
            "{method} {path}: {res}"
        );
    }
    let res = app
        .client
        .post(format!("{}/api/v1/api-keys", app.address))
        .bearer_auth(&manager)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_error(&res.json().await.unwrap(), "BSE2001");

    // Nothing changed: one key created above plus the manager, no extra activity.
    let keys: i64 = app
        .db()
        .query_row("SELECT count(*) FROM api_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(keys, 2);
    let (_, shown) = app
        .api("GET", &format!("/api-keys/{id}"), &manager, None)
        .await;
    assert_eq!(shown["data"]["name"], "existing");
    assert_eq!(shown["data"]["status"], "active");
    let activity: i64 = app
        .db()
        .query_row(
            "SELECT count(*) FROM activity WHERE category = 'apikey'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(activity, 2);
}
