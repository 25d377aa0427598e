//! The account's key policy (docs/keys.md, "Key policy"): set through the management API, held
//! on every surface that creates, edits or rotates a key, refusals naming the field with
//! nothing stored.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, spawn_app};
use crate::people::{page, person};

const DAY_MS: i64 = 86_400_000;

fn keys(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM api_keys", &[])
}

fn policy_notes(app: &TestApp) -> i64 {
    app.count(
        "SELECT count(*) FROM activity WHERE action = 'key_policy_changed'",
        &[],
    )
}

/// A refusal: 400 BSE2001 naming `field`, its message speaking of the policy when `policy`.
fn refused(status: u16, body: &Value, field: &str, policy: bool) {
    assert_eq!(status, 400, "{body}");
    let error = assert_error(body, "BSE2001");
    assert_eq!(error["details"]["field"], field, "{body}");
    if policy {
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("key policy"), "{message}");
    }
}

async fn put_policy(app: &TestApp, manager: &str, policy: Value) -> (u16, Value) {
    app.api("PUT", "/policy", manager, Some(policy)).await
}

fn millis(rfc3339: &Value) -> i64 {
    let text = rfc3339
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {rfc3339}"));
    let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339);
    (at.unwrap().unix_timestamp_nanos() / 1_000_000) as i64
}

backend_tests!(a_bad_policy_is_refused_naming_the_field_and_nothing_is_stored);
async fn a_bad_policy_is_refused_naming_the_field_and_nothing_is_stored() {
    let app = spawn_app().await;
    let manager = app.manager_key();
    let (status, body) = app.api("GET", "/policy", &manager, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({ "default_expiry_days": null, "max_lifetime_days": null, "require_expiry": false,
                "max_rotation_grace_hours": null, "allowed_presets": null,
                "enforce_on_use": false })
    );
    let bad = [
        (json!({ "max_lifetime_days": 0 }), "max_lifetime_days"),
        (json!({ "max_lifetime_days": -5 }), "max_lifetime_days"),
        (json!({ "default_expiry_days": 0 }), "default_expiry_days"),
        (
            json!({ "max_rotation_grace_hours": 500 }),
            "max_rotation_grace_hours",
        ),
        (
            json!({ "default_expiry_days": 60, "max_lifetime_days": 30 }),
            "default_expiry_days",
        ),
        (
            json!({ "allowed_presets": ["full_access", "everything"] }),
            "allowed_presets",
        ),
        (json!({ "allowed_presets": [] }), "allowed_presets"),
    ];
    for (policy, field) in bad {
        let (status, body) = put_policy(&app, &manager, policy).await;
        refused(status, &body, field, false);
    }
    let (_, body) = app.api("GET", "/policy", &manager, None).await;
    assert_eq!(body["data"]["max_lifetime_days"], Value::Null);
    assert_eq!(app.count("SELECT count(*) FROM key_policies", &[]), 0);
    assert_eq!(policy_notes(&app), 0);

    let wanted = json!({ "default_expiry_days": 30, "max_lifetime_days": 90,
                         "require_expiry": true, "max_rotation_grace_hours": 12,
                         "allowed_presets": ["generate_only", "key_management"],
                         "enforce_on_use": false });
    let (status, body) = put_policy(&app, &manager, wanted.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], wanted);
    let (_, body) = app.api("GET", "/policy", &manager, None).await;
    assert_eq!(body["data"], wanted);
    assert_eq!(policy_notes(&app), 1, "the change is in the activity log");
}

backend_tests!(the_management_api_holds_new_and_edited_keys_to_the_policy);
async fn the_management_api_holds_new_and_edited_keys_to_the_policy() {
    let app = spawn_app().await;
    let manager = app.manager_key();
    let (status, body) = app
        .api(
            "POST",
            "/api-keys",
            &manager,
            Some(json!({ "name": "old", "preset": "full_access" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let old = body["data"]["id"].as_str().unwrap().to_owned();
    let policy = json!({ "default_expiry_days": 30, "max_lifetime_days": 90,
                         "require_expiry": true,
                         "allowed_presets": ["generate_only", "key_management"] });
    let (status, body) = put_policy(&app, &manager, policy).await;
    assert_eq!(status, 200, "{body}");
    let before = keys(&app);

    let refusals = [
        (
            json!({ "name": "long", "preset": "generate_only", "expires_in_days": 91 }),
            "expires_in_days",
        ),
        (
            json!({ "name": "late", "preset": "generate_only", "expires_at": "2099-01-01" }),
            "expires_at",
        ),
        (json!({ "name": "wide", "preset": "full_access" }), "preset"),
        (
            json!({ "name": "odd", "scopes": ["generation:read", "account:read"] }),
            "scopes",
        ),
    ];
    for (body, field) in refusals {
        let (status, res) = app.api("POST", "/api-keys", &manager, Some(body)).await;
        refused(status, &res, field, true);
    }
    assert_eq!(keys(&app), before, "nothing stored");

    let (status, body) = app
        .api(
            "POST",
            "/api-keys",
            &manager,
            Some(json!({ "name": "new", "preset": "generate_only" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let created = millis(&body["data"]["created_at"]);
    let expires = millis(&body["data"]["expires_at"]);
    assert_eq!(expires - created, 30 * DAY_MS, "the default expiry applies");
    let new = body["data"]["id"].as_str().unwrap().to_owned();

    for (edit, field) in [
        (json!({ "expires_in_days": 120 }), "expires_in_days"),
        (json!({ "expires_at": null }), "expires_at"),
    ] {
        let (status, res) = app
            .api("PATCH", &format!("/api-keys/{new}"), &manager, Some(edit))
            .await;
        refused(status, &res, field, true);
    }
    let (_, shown) = app
        .api("GET", &format!("/api-keys/{new}"), &manager, None)
        .await;
    assert_eq!(
        millis(&shown["data"]["expires_at"]),
        expires,
        "the edit stored nothing"
    );
    let (status, res) = app
        .api(
            "PATCH",
            &format!("/api-keys/{new}"),
            &manager,
            Some(json!({ "expires_in_days": 60 })),
        )
        .await;
    assert_eq!(status, 200, "{res}");

    let (_, shown) = app
        .api("GET", &format!("/api-keys/{old}"), &manager, None)
        .await;
    assert_eq!(
        shown["data"]["status"], "active",
        "an issued key keeps working"
    );
}

backend_tests!(rotation_and_the_command_line_are_held_to_the_policy);
async fn rotation_and_the_command_line_are_held_to_the_policy() {
    let app = spawn_app().await;
    let manager = app.manager_key();
    let (id, _) = app.create_key(&["--preset", "generate_only"]);
    let policy = json!({ "max_lifetime_days": 10, "max_rotation_grace_hours": 12 });
    let (status, body) = put_policy(&app, &manager, policy).await;
    assert_eq!(status, 200, "{body}");
    let before = keys(&app);

    let (status, res) = app
        .api(
            "POST",
            &format!("/api-keys/{id}/rotate"),
            &manager,
            Some(json!({ "grace_hours": 24 })),
        )
        .await;
    refused(status, &res, "grace_hours", true);
    let rotate = app.cli(&["keys", "rotate", &id, "--grace-hours", "13"]);
    assert_ne!(rotate.status, 0);
    assert!(rotate.stderr.contains("grace_hours"), "{}", rotate.stderr);
    assert!(rotate.stderr.contains("key policy"), "{}", rotate.stderr);
    let create = app.cli(&[
        "keys",
        "create",
        "--account",
        &app.account_id,
        "--name",
        "cli",
        "--preset",
        "generate_only",
        "--expires-in-days",
        "11",
    ]);
    assert_ne!(create.status, 0);
    assert!(
        create.stderr.contains("--expires-in-days"),
        "{}",
        create.stderr
    );
    assert!(create.stderr.contains("key policy"), "{}", create.stderr);
    let owner = person(&app, "owner@example.com", "owner").await;
    let res = owner
        .client
        .post(format!("{}/keys/{id}/rotate", app.address))
        .form(&[("csrf", owner.csrf.as_str()), ("grace_hours", "24")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "the rotate page refuses it too");
    assert!(res.text().await.unwrap().contains("key policy"));
    assert_eq!(keys(&app), before, "nothing stored");
    let (_, shown) = app
        .api("GET", &format!("/api-keys/{id}"), &manager, None)
        .await;
    assert_eq!(shown["data"]["status"], "active", "the key was not rotated");

    let (status, res) = app
        .api(
            "POST",
            &format!("/api-keys/{id}/rotate"),
            &manager,
            Some(json!({ "grace_hours": 12 })),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    let new = &res["data"];
    let lifetime = millis(&new["expires_at"]) - millis(&new["created_at"]);
    assert_eq!(
        lifetime,
        10 * DAY_MS,
        "the new key's expiry is capped at the longest lifetime"
    );
}

backend_tests!(the_pages_refuse_a_key_out_of_policy_and_flag_an_issued_one);
async fn the_pages_refuse_a_key_out_of_policy_and_flag_an_issued_one() {
    let app = spawn_app().await;
    let owner = person(&app, "owner@example.com", "owner").await;
    let manager = app.manager_key();
    let (old, _) = app.create_key(&["--preset", "read_only", "--expires-in-days", "300"]);
    let policy = json!({ "max_lifetime_days": 30 });
    let (status, body) = put_policy(&app, &manager, policy).await;
    assert_eq!(status, 200, "{body}");
    let before = keys(&app);

    let form = [
        ("csrf", owner.csrf.as_str()),
        ("name", "too long a life"),
        ("mode", "generate_only"),
        ("expires_at", "2099-01-01"),
    ];
    let res = owner
        .client
        .post(format!("{}/keys/new", app.address))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body = res.text().await.unwrap();
    assert!(body.contains("key policy"), "{body}");
    assert!(
        body.contains("aria-describedby=\"expires_at-error\""),
        "{body}"
    );
    assert!(body.contains("value=\"2099-01-01\""), "the input is kept");
    assert!(
        body.contains("value=\"too long a life\""),
        "the input is kept"
    );
    assert_eq!(keys(&app), before, "nothing stored");

    let res = owner
        .client
        .post(format!("{}/keys/{old}/edit", app.address))
        .form(&[
            ("csrf", owner.csrf.as_str()),
            ("name", "test key"),
            ("expires_at", "2099-02-02"),
            ("ips", ""),
            ("rate_limit", ""),
            ("models", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "the edit form refuses it");
    let body = res.text().await.unwrap();
    assert!(body.contains("id=\"expires_at-error\""), "{body}");
    assert!(
        body.contains("key policy") && body.contains("2099-02-02"),
        "{body}"
    );

    let shown = page(&owner.client, &app, &format!("/keys/{old}")).await;
    assert!(
        shown.contains("id=\"out-of-policy\""),
        "the key page flags it"
    );
    assert!(shown.contains("max_lifetime_days"), "and names the rule");
    let board = page(&owner.client, &app, "/").await;
    assert!(board.contains("Out of policy"), "the dashboard flags it");
    assert!(board.contains(&format!("/keys/{old}")));
}

backend_tests!(an_enforced_policy_refuses_an_issued_key_at_use_as_expired);
async fn an_enforced_policy_refuses_an_issued_key_at_use_as_expired() {
    let app = spawn_app().await;
    // The key that manages the policy is held to it too: it lives within it.
    let (_, manager) = app.create_key(&["--preset", "key_management", "--expires-in-days", "10"]);
    let (_, old) = app.create_key(&["--preset", "read_only", "--expires-in-days", "300"]);
    let (_, fine) = app.create_key(&["--preset", "read_only", "--expires-in-days", "20"]);
    let policy = json!({ "max_lifetime_days": 30 });
    let (status, body) = put_policy(&app, &manager, policy).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.get("/v1/status", Some(&old)).await.status(),
        200,
        "flagged, not refused"
    );

    let policy = json!({ "max_lifetime_days": 30, "enforce_on_use": true });
    let (status, body) = put_policy(&app, &manager, policy).await;
    assert_eq!(status, 200, "{body}");
    let res = app.get("/v1/status", Some(&old)).await;
    assert_eq!(
        res.status(),
        401,
        "the policy change reaches the cached key"
    );
    let body: Value = res.json().await.unwrap();
    assert_error(&body, "BSE1002");
    assert_eq!(app.get("/v1/status", Some(&fine)).await.status(), 200);

    let (status, body) = put_policy(&app, &manager, json!({ "max_lifetime_days": 30 })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.get("/v1/status", Some(&old)).await.status(), 200);
}

backend_tests!(
    owners_set_the_policy_on_the_settings_page_and_a_mistake_comes_back_beside_its_field
);
async fn owners_set_the_policy_on_the_settings_page_and_a_mistake_comes_back_beside_its_field() {
    let app = spawn_app().await;
    let owner = person(&app, "owner@example.com", "owner").await;
    let member = person(&app, "member@example.com", "member").await;
    let manager = app.manager_key();
    let shown = page(&owner.client, &app, "/settings").await;
    assert!(shown.contains("action=\"/settings/key-policy\""));

    let send = |form: Vec<(&'static str, String)>| {
        let client = owner.client.clone();
        let url = format!("{}/settings/key-policy", app.address);
        let mut all = vec![("csrf", owner.csrf.clone())];
        all.extend(form);
        async move { client.post(url).form(&all).send().await.unwrap() }
    };
    for (field, value) in [
        ("max_lifetime_days", "0"),
        ("max_lifetime_days", "-3"),
        ("default_expiry_days", "ten"),
    ] {
        let res = send(vec![
            (field, value.to_owned()),
            ("require_expiry", "on".into()),
        ])
        .await;
        assert_eq!(res.status(), 400, "{field}={value}");
        let body = res.text().await.unwrap();
        assert!(
            body.contains(&format!("aria-describedby=\"{field}-error\"")),
            "{body}"
        );
        assert!(
            body.contains(&format!("value=\"{value}\"")),
            "the input is kept"
        );
    }
    let res = send(vec![("allowed_presets", "everything".into())]).await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("id=\"allowed_presets-error\"")
    );
    assert_eq!(
        app.count("SELECT count(*) FROM key_policies", &[]),
        0,
        "nothing stored"
    );

    let res = member
        .client
        .post(format!("{}/settings/key-policy", app.address))
        .form(&[("csrf", member.csrf.as_str()), ("max_lifetime_days", "30")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "members do not change it");

    let res = send(vec![
        ("default_expiry_days", "7".into()),
        ("max_lifetime_days", "30".into()),
        ("allowed_presets", "generate_only".into()),
        ("allowed_presets", "read_only".into()),
    ])
    .await;
    assert!(res.status().is_redirection(), "{}", res.status());
    let (_, body) = app.api("GET", "/policy", &manager, None).await;
    assert_eq!(
        body["data"],
        json!({ "default_expiry_days": 7, "max_lifetime_days": 30, "require_expiry": false,
                "max_rotation_grace_hours": null,
                "allowed_presets": ["generate_only", "read_only"], "enforce_on_use": false })
    );
    let shown = page(&owner.client, &app, "/settings").await;
    assert!(
        shown.contains("value=\"30\""),
        "the form shows the policy in force"
    );
    assert_eq!(policy_notes(&app), 1);
}
