//! The webhook pages: owners manage endpoints in a real browser; members only look, on every
//! surface.

use serde_json::json;

use crate::browser::{browser_missing, sign_in_as_admin};
use crate::helpers::{TestApp, eventually, spawn_app};
use crate::people::{page, person, post};
use crate::receiver;
use crate::webdriver::Browser;
use crate::webhooks::add_endpoint;

/// The instance administrator's own workspace (where the browser signs in).
fn admin_workspace(app: &TestApp) -> String {
    app.db()
        .query_row(
            "SELECT id FROM accounts WHERE name = 'Administrator'",
            &[],
            |r| r.get(0),
        )
        .unwrap()
}

backend_tests!(a_member_sees_the_webhooks_but_cannot_manage_them_anywhere);
async fn a_member_sees_the_webhooks_but_cannot_manage_them_anywhere() {
    let app = spawn_app().await;
    let receiver = receiver::start();
    let endpoint = add_endpoint(&app, &receiver, "generation.completed");
    let member = person(&app, "member@example.com", "member").await;

    let html = page(&member.client, &app, "/webhooks").await;
    assert!(html.contains(&receiver.url), "members see the endpoints");
    assert!(!html.contains("Add endpoint"), "but not the form");
    let detail = page(&member.client, &app, &format!("/webhooks/{endpoint}")).await;
    assert!(!detail.contains("Send test event"));
    let url = receiver.url.as_str();
    assert_eq!(post(&app, &member, "/webhooks", &[("url", url)]).await, 403);
    for action in [
        "test",
        "disable",
        "rotate-secret",
        "deliver-queued",
        "delete",
    ] {
        let path = format!("/webhooks/{endpoint}/{action}");
        assert_eq!(post(&app, &member, &path, &[]).await, 403, "{action}");
    }

    // The management API with the member's session: reads, but no changes.
    let api = |method: &str, path: &str| {
        member
            .client
            .request(
                method.parse().unwrap(),
                format!("{}/api/v1{path}", app.address),
            )
            .header("x-csrf-token", &member.csrf)
            .json(&json!({ "url": "https://example.com/hook" }))
    };
    let listed = api("GET", "/webhooks").send().await.unwrap();
    assert_eq!(listed.status(), 200);
    for (method, path) in [
        ("POST", "/webhooks".to_owned()),
        ("PATCH", format!("/webhooks/{endpoint}")),
        ("POST", format!("/webhooks/{endpoint}/test")),
        ("DELETE", format!("/webhooks/{endpoint}")),
    ] {
        let res = api(method, &path).send().await.unwrap();
        assert_eq!(res.status(), 403, "{method} {path}");
    }

    // A key needs the webhook scopes, which the Key Management preset has.
    let keys_only = app.create_key(&["--scopes", "keys:read,keys:write"]).1;
    let (status, body) = app.api("GET", "/webhooks", &keys_only, None).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["details"]["required_scope"], "webhooks:read");
    let (status, _) = app.api("GET", "/webhooks", &app.manager_key(), None).await;
    assert_eq!(status, 200);

    assert_eq!(receiver.count(), 0, "no test event was sent");
    assert_eq!(
        app.count(
            "SELECT enabled FROM webhook_endpoints WHERE id = ?1",
            &[&&endpoint]
        ),
        1
    );
}

backend_tests!(an_owner_manages_an_endpoint_in_a_real_browser);
async fn an_owner_manages_an_endpoint_in_a_real_browser() {
    if browser_missing() {
        return;
    }
    let app = spawn_app().await;
    let receiver = receiver::start();
    let mut browser = Browser::start("webhooks").await;
    sign_in_as_admin(&app, &mut browser).await;
    browser.goto(&format!("{}/webhooks", app.address)).await;
    assert!(browser.source().await.contains("No data available"));
    browser.screenshot("webhooks-empty").await;

    browser.type_into("#url", &receiver.url).await;
    browser
        .type_into("#description", "Build notifications")
        .await;
    browser
        .click("input[name=events][value='apikey.created']")
        .await;
    browser.screenshot("webhooks-add").await;
    browser.click("form.form button[type=submit]").await;
    browser
        .wait_for("You can only see this secret once. Store it safely.")
        .await;
    browser.click("[data-toggle-secret]").await;
    let secret = browser.property("#secret", "value").await;
    let secret = secret.as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 38,
        "{secret}"
    );
    receiver.expect_secret(secret);
    browser.screenshot("webhooks-secret").await;
    browser.click("a.button").await;
    browser.wait_for("Send test event").await;

    browser.click("form[action$='/test'] button").await;
    eventually("the test event", || receiver.of("webhook.test").len() == 1).await;
    let received = &receiver.received()[0];
    assert!(received.babysea_ok && received.standard_ok, "{received:?}");
    let detail = browser.current_url().await;
    browser.goto(&detail).await;
    let log = browser.source().await;
    assert!(
        log.contains("webhook.test") && log.contains("succeeded"),
        "{log}"
    );
    browser.screenshot("webhook-detail").await;

    // Disabled, its events wait; enabled again, they are delivered when asked.
    browser.click("form[action$='/disable'] button").await;
    browser.wait_for("Disabled").await;
    let workspace = admin_workspace(&app);
    app.cli_json(&[
        "keys",
        "create",
        "--account",
        &workspace,
        "--name",
        "late",
        "--preset",
        "read_only",
    ]);
    browser.goto(&detail).await;
    browser.wait_for("1 event queued").await;
    browser.click("form[action$='/enable'] button").await;
    browser.wait_for("Deliver queued events").await;
    browser.screenshot("webhook-queued").await;
    browser
        .click("form[action$='/deliver-queued'] button")
        .await;
    eventually("the queued event", || {
        receiver.of("apikey.created").len() == 1
    })
    .await;

    // Replay the test delivery; rotating the secret shows the new one once.
    browser.goto(&detail).await;
    browser
        .script("window.confirm = () => true; return true;")
        .await;
    let replay = "tr:last-child form[action$='/replay'] button";
    browser.click(replay).await;
    eventually("the replay", || receiver.of("webhook.test").len() == 2).await;
    browser
        .script("window.confirm = () => true; return true;")
        .await;
    browser.click("form[action$='/rotate-secret'] button").await;
    browser
        .wait_for("You can only see this secret once. Store it safely.")
        .await;
    let rotated = browser.property("#secret", "value").await;
    assert_ne!(rotated.as_str().unwrap(), secret);
    browser.goto(&format!("{}/webhooks", app.address)).await;
    browser.screenshot("webhooks").await;
}
