//! Creating keys from the admin pages: presets and the scope grid, errors next to their field,
//! the key shown exactly once, and members refused on the server.

use crate::helpers::{TestApp, spawn_app};
use crate::people::{page, person, value_after as field_value};

/// Signs in a new user of the app's account with `role`; returns the browser and its CSRF token.
async fn signed_in(app: &TestApp, role: &str) -> (reqwest::Client, String) {
    let who = person(app, &format!("{role}@example.com"), role).await;
    (who.client, who.csrf)
}

fn count_keys(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM api_keys", &[])
}

backend_tests!(an_owner_creates_a_generate_only_key_and_sees_it_exactly_once);
async fn an_owner_creates_a_generate_only_key_and_sees_it_exactly_once() {
    let app = spawn_app().await;
    let (client, csrf) = signed_in(&app, "owner").await;
    let form = page(&client, &app, "/keys/new").await;
    for preset in [
        "Full Access",
        "Generate Only",
        "Read Only",
        "Monitor Only",
        "Key Management",
        "Custom",
    ] {
        assert!(form.contains(preset), "{preset}");
    }
    assert!(
        form.contains("value=\"generation:delete\""),
        "the custom grid"
    );

    let res = client
        .post(format!("{}/keys/new", app.address))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "ci <robot>"),
            ("mode", "generate_only"),
            ("ips", "127.0.0.1, 10.0.0.0/8"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let view = res.headers()["location"].to_str().unwrap().to_owned();
    let page = client
        .get(format!("{}{view}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains("You can only see this key once. Store it safely."));
    assert!(
        html.contains("ci &#60;robot&#62;") || html.contains("ci &lt;robot&gt;"),
        "the name is escaped"
    );
    let key = field_value(
        &html,
        "id=\"secret\" class=\"secret\" type=\"text\" readonly value=\"",
    );
    assert!(key.starts_with("bye_") && key.len() == 42);

    let again = client
        .get(format!("{}{view}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 410, "reloading never shows the key again");
    assert!(!again.text().await.unwrap().contains(&key));

    assert_eq!(
        app.get("/v1/library/models", Some(&key)).await.status(),
        200,
        "an allowed route passes"
    );
    let (status, body) = app.get_json("/v1/status", &key).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "BSE1003");
    let (actor, ip_hash): (String, Option<String>) = app
        .db()
        .query_row(
            "SELECT actor, ip_hash FROM activity WHERE action = 'created' AND category = 'apikey'",
            &[],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(actor, "user:owner@example.com");
    assert_eq!(
        ip_hash.map(|h| h.len()),
        Some(64),
        "the creator's address, hashed"
    );
}

backend_tests!(custom_scopes_come_from_the_grid);
async fn custom_scopes_come_from_the_grid() {
    let app = spawn_app().await;
    let (client, csrf) = signed_in(&app, "owner").await;
    let res = client
        .post(format!("{}/keys/new", app.address))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "reader"),
            ("mode", "custom"),
            ("scopes", "account:read"),
            ("scopes", "health:read"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let scopes: String = app
        .db()
        .query_row(
            "SELECT scopes FROM api_keys WHERE name = 'reader'",
            &[],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(scopes, "account:read,health:read");
}

backend_tests!(errors_are_shown_next_to_their_field_with_what_was_typed_kept);
async fn errors_are_shown_next_to_their_field_with_what_was_typed_kept() {
    let app = spawn_app().await;
    let (client, csrf) = signed_in(&app, "owner").await;
    let cases = [
        (
            vec![("name", ""), ("mode", "read_only")],
            "Name must not be empty",
        ),
        (
            vec![
                ("name", "k"),
                ("mode", "read_only"),
                ("ips", "10.0.0.0/33, 1.2.3.4"),
            ],
            "IP allowlist: entry 0",
        ),
        (
            vec![("name", "k"), ("mode", "custom")],
            "Permissions: at least one scope is required",
        ),
        (
            vec![
                ("name", "k"),
                ("mode", "read_only"),
                ("expires_at", "2001-01-01"),
            ],
            "Expiration must be in the future",
        ),
        (
            vec![("name", "k"), ("mode", "read_only"), ("rate_limit", "fast")],
            "Rate limit must be a positive whole number",
        ),
    ];
    for (fields, message) in cases {
        let mut form = fields.clone();
        form.push(("csrf", csrf.as_str()));
        let res = client
            .post(format!("{}/keys/new", app.address))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{fields:?}");
        let html = res.text().await.unwrap();
        assert!(html.contains(message), "{message}: {html}");
        for (name, value) in &fields {
            if *name == "ips" || *name == "rate_limit" {
                assert!(html.contains(&format!("value=\"{value}\"")), "{name} kept");
            }
        }
    }
    assert_eq!(count_keys(&app), 0);
}

backend_tests!(members_and_forged_forms_are_refused_and_change_nothing);
async fn members_and_forged_forms_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let (member, member_csrf) = signed_in(&app, "member").await;
    assert_eq!(
        member
            .get(format!("{}/keys/new", app.address))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let res = member
        .post(format!("{}/keys/new", app.address))
        .form(&[
            ("csrf", member_csrf.as_str()),
            ("name", "sneaky"),
            ("mode", "full_access"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let keys_page = page(&member, &app, "/keys").await;
    assert!(
        !keys_page.contains("href=\"/keys/new\""),
        "no create button for members"
    );

    let (owner, _) = signed_in(&app, "owner").await;
    let res = owner
        .post(format!("{}/keys/new", app.address))
        .form(&[
            ("csrf", "forged"),
            ("name", "forged"),
            ("mode", "full_access"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(count_keys(&app), 0);
}

async fn post(
    client: &reqwest::Client,
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(format!("{}{path}", app.address))
        .form(form)
        .send()
        .await
        .unwrap()
}

backend_tests!(rotate_with_a_grace_period_then_revoke_disable_enable_and_delete_from_the_pages);
async fn rotate_with_a_grace_period_then_revoke_disable_enable_and_delete_from_the_pages() {
    let app = spawn_app().await;
    let (client, csrf) = signed_in(&app, "owner").await;
    let (id, old) = app.create_key(&[]);

    let confirm = page(&client, &app, &format!("/keys/{id}/rotate")).await;
    for hours in [
        "1 hour",
        "6 hours",
        "12 hours",
        "24 hours",
        "48 hours",
        "72 hours",
        "168 hours",
    ] {
        assert!(confirm.contains(hours), "{hours}");
    }
    assert!(confirm.contains("value=\"24\" selected"));
    let res = post(
        &client,
        &app,
        &format!("/keys/{id}/rotate"),
        &[("csrf", &csrf), ("grace_hours", "1")],
    )
    .await;
    assert_eq!(res.status(), 303);
    let view = res.headers()["location"].to_str().unwrap().to_owned();
    let html = page(&client, &app, &view.to_string()).await;
    let new = field_value(
        &html,
        "id=\"secret\" class=\"secret\" type=\"text\" readonly value=\"",
    );
    assert_eq!(
        app.get("/v1/status", Some(&old)).await.status(),
        200,
        "the old key works during the grace"
    );
    assert_eq!(app.get("/v1/status", Some(&new)).await.status(), 200);
    let listing = page(&client, &app, "/keys").await;
    assert!(
        listing.contains("Rotated · 0h 59m left") || listing.contains("Rotated · 1h 00m left"),
        "{listing}"
    );

    let revoke = page(&client, &app, &format!("/keys/{id}/revoke")).await;
    assert!(revoke.contains(&old[..9]) && revoke.contains("cannot be undone"));
    assert_eq!(
        post(
            &client,
            &app,
            &format!("/keys/{id}/revoke"),
            &[("csrf", &csrf)]
        )
        .await
        .status(),
        303
    );
    assert_eq!(app.get("/v1/status", Some(&old)).await.status(), 401);

    let new_id: String = app
        .db()
        .query_row(
            "SELECT id FROM api_keys WHERE replaces = ?1",
            &[&&id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        post(
            &client,
            &app,
            &format!("/keys/{new_id}/disable"),
            &[("csrf", &csrf)]
        )
        .await
        .status(),
        303
    );
    assert_eq!(app.get("/v1/status", Some(&new)).await.status(), 401);
    assert_eq!(
        post(
            &client,
            &app,
            &format!("/keys/{new_id}/enable"),
            &[("csrf", &csrf)]
        )
        .await
        .status(),
        303
    );
    assert_eq!(app.get("/v1/status", Some(&new)).await.status(), 200);
    let again = post(
        &client,
        &app,
        &format!("/keys/{id}/revoke"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(again.status(), 409, "revoked is final");

    let delete = page(&client, &app, &format!("/keys/{new_id}/delete")).await;
    assert!(delete.contains("request-log rows are removed"), "{delete}");
    assert_eq!(
        post(
            &client,
            &app,
            &format!("/keys/{new_id}/delete"),
            &[("csrf", &csrf)]
        )
        .await
        .status(),
        303
    );
    assert_eq!(app.get("/v1/status", Some(&new)).await.status(), 401);
    let logs = app.log_rows(&new_id);
    assert_eq!(logs, 0);
}

backend_tests!(members_cannot_change_keys_and_other_workspaces_keys_are_not_found);
async fn members_cannot_change_keys_and_other_workspaces_keys_are_not_found() {
    let app = spawn_app().await;
    let (id, key) = app.create_key(&[]);
    let (member, csrf) = signed_in(&app, "member").await;
    let shown = page(&member, &app, "/keys").await;
    assert!(
        shown.contains("owners manage them") && !shown.contains("class=\"menu\""),
        "a member is told who manages keys, and offered no actions"
    );
    for action in ["revoke", "disable", "delete", "rotate", "expire"] {
        let res = post(
            &member,
            &app,
            &format!("/keys/{id}/{action}"),
            &[("csrf", &csrf)],
        )
        .await;
        assert_eq!(res.status(), 403, "{action}");
    }
    assert_eq!(
        member
            .get(format!("{}/keys/{id}/revoke", app.address))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        app.get("/v1/status", Some(&key)).await.status(),
        200,
        "nothing changed"
    );
    let activity = app.count(
        "SELECT count(*) FROM activity WHERE category = 'apikey'",
        &[],
    );
    assert_eq!(activity, 1, "only the creation");

    let other = app.cli_json(&["accounts", "create", "--name", "Other"]);
    let theirs = app.cli_json(&[
        "keys",
        "create",
        "--account",
        other["id"].as_str().unwrap(),
        "--name",
        "x",
        "--preset",
        "read_only",
    ]);
    let (owner, owner_csrf) = signed_in(&app, "owner").await;
    let their_id = theirs["id"].as_str().unwrap();
    let res = post(
        &owner,
        &app,
        &format!("/keys/{their_id}/revoke"),
        &[("csrf", &owner_csrf)],
    )
    .await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        owner
            .get(format!("{}/keys/{their_id}/delete", app.address))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

backend_tests!(the_management_api_accepts_a_session_with_the_csrf_header_under_the_role_rules);
async fn the_management_api_accepts_a_session_with_the_csrf_header_under_the_role_rules() {
    let app = spawn_app().await;
    let (owner, _) = signed_in(&app, "owner").await;
    let owner_page = page(&owner, &app, "/keys").await;
    let token = field_value(&owner_page, "name=\"csrf-token\" content=\"");
    let url = format!("{}/api/v1/api-keys", app.address);
    let body = serde_json::json!({ "name": "via session", "preset": "read_only" });

    assert_eq!(owner.get(&url).send().await.unwrap().status(), 200);
    let res = owner.post(&url).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 403, "a change needs the CSRF header");
    let error: serde_json::Value = res.json().await.unwrap();
    assert_eq!(error["error"]["code"], "BSE1003");
    let res = owner
        .post(&url)
        .header("x-csrf-token", &token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let created: serde_json::Value = res.json().await.unwrap();
    assert!(created["data"]["key"].as_str().unwrap().starts_with("bye_"));
    let actor: String = app
        .db()
        .query_row(
            "SELECT actor FROM activity WHERE description LIKE '%via session%'",
            &[],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(actor, "user:owner@example.com");

    let (member, _) = signed_in(&app, "member").await;
    let member_page = page(&member, &app, "/keys").await;
    let member_token = field_value(&member_page, "name=\"csrf-token\" content=\"");
    assert_eq!(
        member.get(&url).send().await.unwrap().status(),
        200,
        "members read"
    );
    let res = member
        .post(&url)
        .header("x-csrf-token", &member_token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "members do not change keys");
    assert_eq!(count_keys(&app), 1);
}
