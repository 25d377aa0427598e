//! Members and roles (docs/keys.md, "Roles") through the pages: every rule checked on the server.

use crate::helpers::{TestApp, spawn_app};
use crate::people::{page, person, post, value_after};

fn roles(app: &TestApp) -> Vec<(String, String)> {
    let db = app.db();
    let mut stmt = db
        .prepare("SELECT u.email, m.role FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.account_id = ?1 ORDER BY u.email")
        .unwrap();
    stmt.query_map(&[&&app.account_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

backend_tests!(owners_manage_members_only_and_members_manage_nobody);
async fn owners_manage_members_only_and_members_manage_nobody() {
    let app = spawn_app().await;
    let owner = person(&app, "owner@example.com", "owner").await;
    let other_owner = person(&app, "owner2@example.com", "owner").await;
    let member = person(&app, "member@example.com", "member").await;

    let res = owner
        .client
        .post(format!("{}/members/new/invite", app.address))
        .form(&[
            ("csrf", owner.csrf.as_str()),
            ("email", "new@example.com"),
            ("role", "member"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("Give them this one-time password; it is shown only now"));
    assert!(
        html.contains("data-toggle-secret=\"invite-secret\"")
            && html.contains("data-copy=\"invite-secret\""),
        "masked, with Show and Copy"
    );
    assert_eq!(
        post(
            &app,
            &owner,
            "/members/new/invite",
            &[("email", "boss@example.com"), ("role", "owner")]
        )
        .await,
        403
    );
    assert_eq!(
        post(
            &app,
            &owner,
            &format!("/members/{}/remove", other_owner.user_id),
            &[]
        )
        .await,
        403
    );
    assert_eq!(
        post(
            &app,
            &owner,
            &format!("/members/{}/role", member.user_id),
            &[("role", "owner")]
        )
        .await,
        403
    );
    assert_eq!(
        post(
            &app,
            &owner,
            &format!("/members/{}/transfer", member.user_id),
            &[]
        )
        .await,
        403
    );

    let before = roles(&app);
    for (path, extra) in [
        (
            "/members/new/invite".to_owned(),
            vec![("email", "x@example.com"), ("role", "member")],
        ),
        (format!("/members/{}/remove", owner.user_id), vec![]),
        (
            format!("/members/{}/role", owner.user_id),
            vec![("role", "member")],
        ),
        (format!("/members/{}/transfer", owner.user_id), vec![]),
    ] {
        assert_eq!(post(&app, &member, &path, &extra).await, 403, "{path}");
    }
    assert_eq!(roles(&app), before, "nothing changed");

    let new_id: String = app
        .db()
        .query_row(
            "SELECT id FROM users WHERE email = 'new@example.com'",
            &[],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        post(&app, &owner, &format!("/members/{new_id}/remove"), &[]).await,
        303
    );
    assert!(!roles(&app).iter().any(|(e, _)| e == "new@example.com"));
}

backend_tests!(the_primary_owner_changes_roles_and_transfers_the_workspace);
async fn the_primary_owner_changes_roles_and_transfers_the_workspace() {
    let app = spawn_app().await;
    let primary = person(&app, "primary@example.com", "primary-owner").await;
    let member = person(&app, "member@example.com", "member").await;
    assert_eq!(
        post(
            &app,
            &primary,
            &format!("/members/{}/role", member.user_id),
            &[("role", "owner")]
        )
        .await,
        303
    );
    assert_eq!(
        post(
            &app,
            &primary,
            &format!("/members/{}/transfer", member.user_id),
            &[]
        )
        .await,
        303
    );
    assert_eq!(
        roles(&app),
        vec![
            ("member@example.com".to_owned(), "primary-owner".to_owned()),
            ("primary@example.com".to_owned(), "owner".to_owned())
        ]
    );
    let actions = app.count("SELECT count(*) FROM activity WHERE category = 'member' AND action IN ('role_changed', 'transferred')", &[]);
    assert_eq!(actions, 2);
}

backend_tests!(only_the_primary_owner_changes_settings_credits_and_thresholds);
async fn only_the_primary_owner_changes_settings_credits_and_thresholds() {
    let app = spawn_app().await;
    let primary = person(&app, "primary@example.com", "primary-owner").await;
    let owner = person(&app, "owner@example.com", "owner").await;
    let settings = page(&primary.client, &app, "/settings").await;
    assert!(
        settings.contains("0.500"),
        "the default low-balance threshold"
    );

    for (path, value) in [
        ("/settings/credits", "10"),
        ("/settings/plan", "free"),
        ("/settings/name", "Renamed"),
        ("/settings/threshold-add", "2"),
    ] {
        assert_eq!(
            post(&app, &owner, path, &[("value", value)]).await,
            403,
            "{path}"
        );
    }
    let balance = |app: &TestApp| -> i64 {
        app.db()
            .query_row(
                "SELECT credit_balance FROM accounts WHERE id = ?1",
                &[&&app.account_id],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!(balance(&app), 0);

    assert_eq!(
        post(
            &app,
            &primary,
            "/settings/credits",
            &[("value", "12.5"), ("reference", "inv-7")]
        )
        .await,
        303
    );
    assert_eq!(
        post(
            &app,
            &primary,
            "/settings/credits",
            &[("value", "12.5"), ("reference", "inv-7")]
        )
        .await,
        303
    );
    assert_eq!(balance(&app), 12_500, "once per reference");
    assert_eq!(
        post(&app, &primary, "/settings/credits", &[("value", "-1")]).await,
        400,
        "sent back with the amount in error"
    );
    assert_eq!(
        post(&app, &primary, "/settings/plan", &[("value", "pro")]).await,
        303
    );
    assert_eq!(
        post(&app, &primary, "/settings/plan", &[("value", "gold")]).await,
        400
    );
    assert_eq!(
        post(&app, &primary, "/settings/threshold-add", &[("value", "2")]).await,
        303
    );
    assert_eq!(
        post(
            &app,
            &primary,
            "/settings/threshold-remove",
            &[("value", "0.5")]
        )
        .await,
        303
    );
    let html = page(&primary.client, &app, "/settings").await;
    assert!(
        html.contains("12.500")
            && html.contains("inv-7")
            && html.contains("2.000")
            && !html.contains("<li>0.500")
    );
    let plan: String = app
        .db()
        .query_row(
            "SELECT plan FROM accounts WHERE id = ?1",
            &[&&app.account_id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(plan, "pro");
    assert_eq!(app.cli(&["check"]).status, 0, "the ledger still balances");
}

backend_tests!(the_instance_page_is_for_the_instance_administrator_only);
async fn the_instance_page_is_for_the_instance_administrator_only() {
    let app = spawn_app().await;
    let reset = app.cli_json(&["users", "set-password", "--email", "admin@localhost"]);
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = page(&client, &app, "/login").await;
    let csrf = value_after(&login, "name=\"csrf\" value=\"");
    let res = client
        .post(format!("{}/login", app.address))
        .form(&[
            ("email", "admin@localhost"),
            ("password", reset["password"].as_str().unwrap()),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    crate::people::choose_password(&app, &client, reset["password"].as_str().unwrap()).await;
    let shown = page(&client, &app, "/instance").await;
    assert!(
        shown.contains("Acme")
            && shown.contains("admin@localhost <span class=\"badge\">administrator</span>")
    );
    let csrf = value_after(&shown, "name=\"csrf\" value=\"");
    let res = client
        .post(format!("{}/instance/accounts", app.address))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Gamma <i>"),
            ("team", "on"),
            ("region", "eu"),
            ("plan", "free"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(
        !html.contains("Gamma <i>")
            && (html.contains("Gamma &#60;i&#62;") || html.contains("Gamma &lt;i&gt;")),
        "escaped"
    );
    let res = client
        .post(format!("{}/instance/users", app.address))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "fresh@example.com"),
            ("account", app.account_id.as_str()),
            ("role", "member"),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("One-time password for fresh@example.com — shown only now")
    );
    let region: String = app
        .db()
        .query_row(
            "SELECT region FROM accounts WHERE name = 'Gamma <i>'",
            &[],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(region, "eu");

    let owner = person(&app, "owner@example.com", "owner").await;
    assert_eq!(
        owner
            .client
            .get(format!("{}/instance", app.address))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        post(&app, &owner, "/instance/accounts", &[("name", "Sneaky")]).await,
        403
    );
    let sneaky = app.count("SELECT count(*) FROM accounts WHERE name = 'Sneaky'", &[]);
    assert_eq!(sneaky, 0);
}

/// Counts of everything a mutating request could change.
fn snapshot(app: &TestApp) -> Vec<i64> {
    [
        "SELECT count(*) FROM api_keys",
        "SELECT count(*) FROM api_keys WHERE revoked_at IS NOT NULL OR disabled_at IS NOT NULL OR rotated_at IS NOT NULL",
        "SELECT count(*) FROM memberships",
        "SELECT count(*) FROM users",
        "SELECT count(*) FROM accounts",
        "SELECT count(*) FROM credit_ledger",
        "SELECT count(*) FROM low_balance_thresholds",
        "SELECT count(*) FROM activity WHERE category != 'auth'",
    ]
    .iter()
    .map(|sql| app.count(sql, &[]))
    .collect()
}

backend_tests!(a_member_is_refused_every_change_on_every_path_and_nothing_changes);
async fn a_member_is_refused_every_change_on_every_path_and_nothing_changes() {
    let app = spawn_app().await;
    let (key_id, _) = app.create_key(&[]);
    let owner = person(&app, "owner@example.com", "owner").await;
    let member = person(&app, "member@example.com", "member").await;
    let before = snapshot(&app);

    let mut pages = vec![
        (
            "/keys/new".to_owned(),
            vec![("name", "x"), ("mode", "full_access")],
        ),
        (
            "/members/new/invite".to_owned(),
            vec![("email", "x@example.com"), ("role", "member")],
        ),
        (format!("/members/{}/remove", owner.user_id), vec![]),
        (
            format!("/members/{}/role", owner.user_id),
            vec![("role", "member")],
        ),
        (format!("/members/{}/transfer", owner.user_id), vec![]),
        ("/instance/accounts".to_owned(), vec![("name", "x")]),
        (
            "/instance/users".to_owned(),
            vec![("email", "y@example.com")],
        ),
    ];
    for action in ["rotate", "revoke", "disable", "enable", "expire", "delete"] {
        pages.push((format!("/keys/{key_id}/{action}"), vec![]));
    }
    for setting in [
        "name",
        "plan",
        "credits",
        "threshold-add",
        "threshold-remove",
    ] {
        pages.push((format!("/settings/{setting}"), vec![("value", "1")]));
    }
    for (path, extra) in &pages {
        assert_eq!(post(&app, &member, path, extra).await, 403, "{path}");
    }

    let shown = page(&member.client, &app, "/keys").await;
    let token = value_after(&shown, "name=\"csrf-token\" content=\"");
    let api = format!("{}/api/v1/api-keys", app.address);
    let calls = [
        member
            .client
            .post(&api)
            .json(&serde_json::json!({ "name": "x", "preset": "read_only" })),
        member
            .client
            .patch(format!("{api}/{key_id}"))
            .json(&serde_json::json!({ "name": "renamed" })),
        member.client.post(format!("{api}/{key_id}/rotate")),
        member.client.post(format!("{api}/{key_id}/revoke")),
        member.client.post(format!("{api}/{key_id}/expire")),
        member.client.delete(format!("{api}/{key_id}")),
    ];
    for call in calls {
        let res = call.header("x-csrf-token", &token).send().await.unwrap();
        assert_eq!(res.status(), 403, "{}", res.url());
    }
    assert_eq!(snapshot(&app), before, "nothing changed");
}
