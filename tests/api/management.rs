//! The management API (docs/keys.md, "Management API") and the key lifecycle through it
//! (docs/keys.md, "Lifecycle").

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, spawn_app};

async fn create(app: &TestApp, manager: &str, body: Value) -> Value {
    let (status, res) = app.api("POST", "/api-keys", manager, Some(body)).await;
    assert_eq!(status, 200, "{res}");
    res["data"].clone()
}

backend_tests!(keys_are_created_with_every_preset_and_custom_scopes_and_shown_once);
async fn keys_are_created_with_every_preset_and_custom_scopes_and_shown_once() {
    let app = spawn_app().await;
    let manager = app.manager_key();
    let presets = [
        ("full_access", 6),
        ("generate_only", 3),
        ("read_only", 4),
        ("monitor_only", 2),
        ("key_management", 5),
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

    let (status, shown) = app
        .api(
            "GET",
            &format!("/api-keys/{}", custom["id"].as_str().unwrap()),
            &manager,
            None,
        )
        .await;
    assert_eq!(status, 200, "{shown}");
    assert!(
        shown["data"].get("key").is_none(),
        "the secret is never shown again"
    );
    let (_, listed) = app.api("GET", "/api-keys?limit=100", &manager, None).await;
    assert_eq!(listed["total"], 7);
    assert!(!listed.to_string().contains(custom["key"].as_str().unwrap()));
    assert!(!listed.to_string().contains("key_hash"));
}

backend_tests!(rotation_keeps_both_keys_working_until_the_exact_end_of_the_grace_period);
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

backend_tests!(the_grace_period_never_outlives_the_keys_own_expiry);
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
            &[&id, &(app.clock.now().millis() + 60_000)],
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
    let end = tidegate::testing::Timestamp::parse(grace_end).unwrap();
    assert!(
        end.millis() <= app.clock.now().millis() + 60_000,
        "min(expiry, now + 24 h)"
    );
}

backend_tests!(expire_now_revoke_disable_enable_and_delete_follow_the_lifecycle);
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

    let logs_before = app.log_rows(&new_id);
    assert!(logs_before >= 3);
    let (status, deleted) = app
        .api("DELETE", &format!("/api-keys/{new_id}"), &manager, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(deleted["data"]["request_logs_deleted"], logs_before);
    let db = app.db();
    let left = app.log_rows(&new_id);
    assert_eq!(left, 0);
    let rolled: i64 = db
        .query_row(
            "SELECT COALESCE(SUM(requests), 0) FROM usage_daily WHERE key_id IS NULL",
            &[],
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
        .query_map(&[&&new_id], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(actions, ["disabled", "enabled", "revoked", "deleted"]);
}

backend_tests!(edits_change_name_expiry_allowlist_models_and_rate_limit);
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
    let (status, cleared) = app
        .api("PATCH", &format!("/api-keys/{id}"), &manager, Some(clear))
        .await;
    assert_eq!(status, 200, "{cleared}");
    let data = &cleared["data"];
    assert!(
        data.get("expires_at") == Some(&Value::Null)
            && data.get("ip_allowlist") == Some(&Value::Null)
    );
    assert!(
        data.get("allowed_models") == Some(&Value::Null)
            && data.get("rate_limit_per_minute") == Some(&Value::Null)
    );
    assert_eq!(app.get("/v1/status", Some(&secret)).await.status(), 200);
    let edits = app.count(
        "SELECT count(*) FROM activity WHERE action = 'edited' AND target = ?1",
        &[&&id],
    );
    assert_eq!(edits, 2);
}

backend_tests!(the_key_list_filters_by_each_status_at_the_moment_of_asking);
async fn the_key_list_filters_by_each_status_at_the_moment_of_asking() {
    let app = spawn_app().await;
    let manager = app.manager_key();
    let key = |name: &str, extra: Value| {
        let mut body = json!({ "name": name, "preset": "read_only" });
        if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
            body.extend(extra);
        }
        body
    };
    let mut ids = std::collections::HashMap::new();
    for (name, extra) in [
        ("lasting", json!({})),
        ("dated", json!({ "expires_in_days": 10 })),
        ("short", json!({ "expires_in_days": 1 })),
        ("off", json!({})),
        ("gone", json!({})),
        ("old", json!({})),
    ] {
        let created = create(&app, &manager, key(name, extra)).await;
        ids.insert(name, created["id"].as_str().unwrap().to_owned());
    }
    let act = |name: &str, action: &str| format!("/api-keys/{}/{action}", ids[name]);
    let (status, _) = app
        .api(
            "PATCH",
            &format!("/api-keys/{}", ids["off"]),
            &manager,
            Some(json!({ "disabled": true })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        app.api("POST", &act("gone", "revoke"), &manager, None)
            .await
            .0,
        200
    );
    assert_eq!(
        app.api("POST", &act("old", "rotate"), &manager, None)
            .await
            .0,
        200
    );
    let names = |listed: &Value| {
        let mut names: Vec<String> = listed["data"]["api_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    let (_, rotated) = app
        .api("GET", "/api-keys?status=rotated", &manager, None)
        .await;
    assert_eq!(names(&rotated), ["old"]);
    // Two days on: the one-day key and the rotated key (a day of grace) have expired, the
    // ten-day key is still active.
    app.clock.advance(2 * 86_400_000);
    for (status, expected) in [
        // The manager key ("test key") and the key the rotation made ("old") are active too.
        ("active", vec!["dated", "lasting", "old", "test key"]),
        ("expired", vec!["old", "short"]),
        ("disabled", vec!["off"]),
        ("revoked", vec!["gone"]),
    ] {
        let (code, listed) = app
            .api("GET", &format!("/api-keys?status={status}"), &manager, None)
            .await;
        assert_eq!(code, 200, "{listed}");
        let mut expected: Vec<String> = expected.into_iter().map(str::to_owned).collect();
        expected.sort();
        assert_eq!(names(&listed), expected, "{status}");
        assert_eq!(listed["total"], expected.len(), "{status}");
    }
}
