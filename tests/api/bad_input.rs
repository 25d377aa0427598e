//! Bad input to the management API: 400 BSE2001 naming the field, and nothing changes
//! (docs/keys.md, "Create", "Scopes and presets" and "IP allowlists"; at least 40 cases).

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, spawn_app};

async fn create(app: &TestApp, manager: &str, body: Value) -> Value {
    let (status, res) = app.api("POST", "/api-keys", manager, Some(body)).await;
    assert_eq!(status, 200, "{res}");
    res["data"].clone()
}

backend_tests!(bad_input_is_refused_with_the_field_and_changes_nothing);
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
    let keys = app.count("SELECT count(*) FROM api_keys", &[]);
    assert_eq!(keys, 2);
    let (_, shown) = app
        .api("GET", &format!("/api-keys/{id}"), &manager, None)
        .await;
    assert_eq!(shown["data"]["name"], "existing");
    assert_eq!(shown["data"]["status"], "active");
    let activity = app.count(
        "SELECT count(*) FROM activity WHERE category = 'apikey'",
        &[],
    );
    assert_eq!(activity, 2);
}

backend_tests!(a_nul_character_in_a_lookup_names_nothing_on_either_engine);
async fn a_nul_character_in_a_lookup_names_nothing_on_either_engine() {
    let app = spawn_app().await;
    let manager = app.manager_key();
    create(
        &app,
        &manager,
        json!({ "name": "kept", "preset": "read_only" }),
    )
    .await;
    // No stored text holds a NUL, so a search or a filter with one matches nothing; PostgreSQL
    // cannot even compare with it, which must not make the store look unavailable.
    for path in [
        "/api-keys?search=%00",
        "/logs?key_id=a%00b",
        "/logs?error_code=BSE%001001",
    ] {
        let (status, res) = app.api("GET", path, &manager, None).await;
        assert_eq!(status, 200, "{path}: {res}");
        let list = res["data"]
            .as_object()
            .and_then(|d| d.values().find_map(Value::as_array))
            .unwrap();
        assert!(list.is_empty(), "{path}: {res}");
    }
    for (method, path) in [
        ("GET", "/api-keys/a%00b"),
        ("POST", "/api-keys/a%00b/revoke"),
        ("GET", "/webhooks/a%00b"),
        ("POST", "/webhooks/a%00b/deliveries/c%00d/replay"),
    ] {
        let (status, res) = app.api(method, path, &manager, None).await;
        assert_eq!(status, 404, "{method} {path}: {res}");
        assert_error(&res, "BSE2017");
    }
}
