//! The key page as the place to act on a key: every action of its state, each leading back to
//! the page; an edit form through the management API's use case (only what changed is
//! recorded; mistakes next to their field, nothing saved); error codes with their meaning.

use crate::helpers::{TestApp, spawn_app};
use crate::people::{page, person, post};

fn description(app: &TestApp, key: &str, action: &str) -> Vec<String> {
    let db = app.db();
    let mut stmt = db
        .prepare("SELECT description FROM activity WHERE target = ?1 AND action = ?2 ORDER BY id")
        .unwrap();
    stmt.query_map(&[&key, &action], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn column(app: &TestApp, key: &str, column: &str) -> Option<String> {
    app.db()
        .query_row(
            &format!("SELECT CAST({column} AS TEXT) FROM api_keys WHERE id = ?1"),
            &[&key],
            |r| r.get(0),
        )
        .unwrap()
}

backend_tests!(a_key_is_edited_and_acted_on_from_its_page);
async fn a_key_is_edited_and_acted_on_from_its_page() {
    let app = spawn_app().await;
    let owner = person(&app, "owner@example.com", "owner").await;
    let member = person(&app, "member@example.com", "member").await;
    let (id, secret) = app.create_key(&["--preset", "read_only", "--expires-in-days", "30"]);
    let path = format!("/keys/{id}");
    let edit = format!("{path}/edit");
    let expiry = column(&app, &id, "expires_at");

    // The page offers the state's actions and the edit form, to owners only.
    let shown = page(&owner.client, &app, &path).await;
    for action in [
        "/edit\"",
        "/disable\"",
        "/rotate?back=key\"",
        "/revoke?back=key\"",
        "/delete?back=key\"",
    ] {
        assert!(shown.contains(action), "{action} on the key page");
    }
    let seen = page(&member.client, &app, &path).await;
    assert!(!seen.contains("/edit\""));
    let res = member
        .client
        .get(format!("{}{edit}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // The form shows what the key holds; a mistake comes back beside its field.
    let form = page(&owner.client, &app, &edit).await;
    assert!(form.contains("value=\"test key\""));
    let sent = [
        ("name", "deploy bot"),
        ("expires_at", ""),
        ("ips", "10.0.0.0/8, 300.1.1.1"),
        ("rate_limit", "60"),
        ("models", ""),
    ];
    let mut with_csrf = vec![("csrf", owner.csrf.as_str())];
    with_csrf.extend_from_slice(&sent);
    let res = owner
        .client
        .post(format!("{}{edit}", app.address))
        .form(&with_csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body = res.text().await.unwrap();
    assert!(body.contains("id=\"ips-error\"") && body.contains("300.1.1.1"));
    assert!(body.contains("value=\"deploy bot\""), "the input is kept");
    assert_eq!(column(&app, &id, "name").as_deref(), Some("test key"));
    assert!(description(&app, &id, "edited").is_empty(), "nothing saved");
    // Corrected, it is saved; the expiry left as shown is not touched.
    let expires = form
        .split("id=\"expires_at\" name=\"expires_at\" type=\"date\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let res = owner
        .client
        .post(format!("{}{edit}", app.address))
        .form(&[
            ("csrf", owner.csrf.as_str()),
            ("name", "deploy bot"),
            ("expires_at", &expires),
            ("ips", "10.0.0.0/8, 127.0.0.1"),
            ("rate_limit", "60"),
            ("models", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], path.as_str());
    assert_eq!(column(&app, &id, "name").as_deref(), Some("deploy bot"));
    assert_eq!(column(&app, &id, "expires_at"), expiry, "expiry untouched");
    assert_eq!(
        column(&app, &id, "rate_limit_per_minute").as_deref(),
        Some("60")
    );
    let edited = description(&app, &id, "edited");
    assert_eq!(edited.len(), 1);
    assert!(
        edited[0].contains("changed name, IP allowlist, rate limit"),
        "{edited:?}"
    );
    // The key still works from the allowed loopback address.
    assert_eq!(app.get("/v1/status", Some(&secret)).await.status(), 200);

    // Actions from the page lead back to it.
    for action in ["disable", "enable"] {
        let res = owner
            .client
            .post(format!("{}{path}/{action}", app.address))
            .form(&[("csrf", owner.csrf.as_str()), ("back", "key")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{action}");
        assert_eq!(res.headers()["location"], path.as_str());
    }
    let confirm = page(&owner.client, &app, &format!("{path}/revoke?back=key")).await;
    assert!(confirm.contains(&format!("href=\"{path}\">Cancel")));
    assert!(confirm.contains("name=\"back\" value=\"key\""));
    let res = owner
        .client
        .post(format!("{}{path}/revoke", app.address))
        .form(&[("csrf", owner.csrf.as_str()), ("back", "key")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], path.as_str());
    // A revoked key offers only deletion and cannot be edited.
    let shown = page(&owner.client, &app, &path).await;
    assert!(!shown.contains("/edit\"") && shown.contains("/delete?back=key\""));
    let res = owner
        .client
        .get(format!("{}{edit}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("A revoked key cannot be edited.")
    );
    // Deleting from the page leads to the list, the page being gone.
    assert_eq!(
        post(&app, &owner, &format!("{path}/delete"), &[("back", "key")]).await,
        303
    );
    assert_eq!(column_count(&app, &id), 0);
}

fn column_count(app: &TestApp, key: &str) -> i64 {
    app.count("SELECT count(*) FROM api_keys WHERE id = ?1", &[&key])
}

backend_tests!(the_key_page_says_what_each_error_code_means);
async fn the_key_page_says_what_each_error_code_means() {
    let app = spawn_app().await;
    let owner = person(&app, "owner@example.com", "owner").await;
    let (id, secret) = app.create_key(&["--preset", "read_only"]);
    // A read-only key may not generate: 403 BSE1003.
    let res = app
        .client
        .post(format!(
            "{}/v1/generate/image/tidegate/pattern-1",
            app.address
        ))
        .bearer_auth(&secret)
        .json(&serde_json::json!({"generation_prompt": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let shown = page(&owner.client, &app, &format!("/keys/{id}")).await;
    assert!(shown.contains("BSE1003"));
    assert!(
        shown.contains("The key lacks the scope, or the model is not among its allowed models."),
        "the meaning beside the code"
    );
}

/// The table row of a key on a keys page.
fn row_of<'a>(page: &'a str, id: &str) -> &'a str {
    let at = page
        .find(&format!("href=\"/keys/{id}\""))
        .unwrap_or_else(|| panic!("{id} listed"));
    let start = page[..at].rfind("<tr>").unwrap();
    let end = at + page[at..].find("</tr>").unwrap();
    &page[start..end]
}

backend_tests!(the_keys_list_shows_use_and_expiry_and_finds_keys_that_need_a_look);
async fn the_keys_list_shows_use_and_expiry_and_finds_keys_that_need_a_look() {
    let app = spawn_app().await;
    let owner = person(&app, "owner@example.com", "owner").await;
    let (busy, secret) = app.create_key(&[]);
    for _ in 0..3 {
        assert_eq!(app.get("/v1/status", Some(&secret)).await.status(), 200);
    }
    let (expiring, _) = app.create_key(&["--expires-in-days", "3", "--test"]);
    let (idle, _) = app.create_key(&[]);
    let forty_days = 40 * 86_400_000_i64;
    app.db()
        .execute(
            "UPDATE api_keys SET created_at = created_at - ?2 WHERE id = ?1",
            &[&idle.as_str(), &forty_days],
        )
        .unwrap();
    // The request-log writer rolls the three requests up; the list reads the roll-up.
    crate::helpers::eventually("the requests are rolled up", || {
        app.count(
            "SELECT COALESCE(SUM(requests), 0) FROM usage_daily WHERE key_id = ?1",
            &[&busy.as_str()],
        ) == 3
    })
    .await;

    let list = page(&owner.client, &app, "/keys").await;
    let row = row_of(&list, &busy);
    assert!(row.contains("data-number=\"3\""), "{row}");
    assert!(row.contains("<polyline points=\""), "a sparkline");
    assert!(row.contains("env-live"));
    let row = row_of(&list, &expiring);
    assert!(row.contains("env-test") && row.contains("data-relative"));
    assert!(row.contains("Actions<span class=\"visually-hidden\"> for test key"));

    let soon = page(&owner.client, &app, "/keys?need=expiring").await;
    assert!(soon.contains(&expiring) && !soon.contains(&busy) && !soon.contains(&idle));
    let unused = page(&owner.client, &app, "/keys?need=unused").await;
    assert!(unused.contains(&idle) && !unused.contains(&busy) && !unused.contains(&expiring));
    assert!(unused.contains("value=\"unused\" selected"));
}
