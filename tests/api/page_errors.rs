//! Every error of a page route is a page in the layout, saying what is wrong with a way back;
//! the APIs keep their JSON envelope. Seen over HTTP, and in a real browser with screenshots.

use serde_json::json;

use crate::browser::{browser_missing, sign_in_as_admin};
use crate::helpers::{TestApp, spawn_app_with};
use crate::people::{browser, page, person, post, sign_in};
use crate::webdriver::Browser;

/// The answer is an HTML page in the layout, with `says` and a way back.
async fn assert_error_page(res: reqwest::Response, status: u16, says: &str) {
    let status_seen = res.status().as_u16();
    if status_seen != status {
        let body = res.text().await.unwrap();
        let alert = body
            .lines()
            .find(|l| l.contains("role=\"alert\""))
            .unwrap_or(&body);
        panic!("{status_seen} for {says}: {alert}");
    }
    let html = res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html");
    let body = res.text().await.unwrap();
    assert!(html, "{body}");
    assert!(
        body.contains("<a class=\"brand\" href=\"/keys\">Tidegate</a>"),
        "{body}"
    );
    assert!(body.contains("data-back>Go back</a>"), "{body}");
    assert!(body.contains(says), "{says}: {body}");
}

fn key_in(app: &TestApp, name: &str) -> String {
    let key = app.cli_json(&[
        "keys",
        "create",
        "--account",
        &app.account_id,
        "--name",
        name,
        "--preset",
        "read_only",
    ]);
    key["id"].as_str().unwrap().to_owned()
}

/// Makes the activity table unreadable (as a damaged store would be), and back.
fn break_activity(app: &TestApp, broken: bool) {
    let (from, to) = if broken {
        ("activity", "activity_away")
    } else {
        ("activity_away", "activity")
    };
    app.db()
        .execute_batch(&format!("ALTER TABLE {from} RENAME TO {to}"))
        .unwrap();
}

backend_tests!(every_page_error_is_a_page_in_the_layout);
async fn every_page_error_is_a_page_in_the_layout() {
    let app = spawn_app_with(&[("auth.signin_max_failures", json!(2))]).await;
    let owner = person(&app, "owner@example.com", "owner").await;
    let member = person(&app, "member@example.com", "member").await;
    let key = key_in(&app, "target");
    let url = |path: &str| format!("{}{path}", app.address);

    // 404: no such page, no such key.
    let res = owner.client.get(url("/no/such/page")).send().await.unwrap();
    assert_error_page(res, 404, "There is no page at this address.").await;
    let res = owner.client.get(url("/keys/nope")).send().await.unwrap();
    assert_error_page(
        res,
        404,
        "There is no API key with this id in this workspace.",
    )
    .await;
    // 403: a member's owner action; a form without its token.
    let res = member
        .client
        .post(url(&format!("/keys/{key}/revoke")))
        .form(&[("csrf", member.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_error_page(res, 403, "Only owners of this workspace can do this.").await;
    let res = owner
        .client
        .post(url(&format!("/keys/{key}/revoke")))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_error_page(
        res,
        403,
        "This form has expired or did not come from this dashboard.",
    )
    .await;
    // 409: what cannot be done to a key in its state.
    assert_eq!(app.cli(&["keys", "revoke", &key]).status, 0);
    let res = owner
        .client
        .post(url(&format!("/keys/{key}/revoke")))
        .form(&[("csrf", owner.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_error_page(res, 409, "The key is revoked.").await;
    // 413: a form larger than the server takes.
    let res = owner
        .client
        .post(url("/members/new/invite"))
        .form(&[
            ("csrf", owner.csrf.as_str()),
            ("email", &"9".repeat(300_000)),
        ])
        .send()
        .await
        .unwrap();
    assert_error_page(res, 413, "larger than this server accepts").await;
    // 500: the store cannot answer; the page says so and the log has the cause.
    break_activity(&app, true);
    let res = owner.client.get(url("/activity")).send().await.unwrap();
    assert_error_page(res, 500, "The page could not be shown.").await;
    break_activity(&app, false);
    page(&owner.client, &app, "/activity").await;
    // 429: too many failed sign-ins.
    let stranger = browser();
    for _ in 0..2 {
        sign_in(&app, &stranger, "owner@example.com", "wrong").await;
    }
    let res = sign_in(&app, &stranger, "owner@example.com", "wrong").await;
    assert_eq!(res.status(), 429);
    let body = res.text().await.unwrap();
    assert!(body.contains("Too many failed attempts") && body.contains("class=\"login\""));

    // The APIs keep the envelope for the same kinds of error.
    let res = app.client.get(url("/v1/status")).send().await.unwrap();
    let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("application/json"), "{kind}");
    // A form sent back changed nothing.
    let users = app.count("SELECT count(*) FROM users", &[]);
    assert_eq!(
        post(
            &app,
            &owner,
            "/members/new/invite",
            &[("email", "not an address"), ("role", "member")]
        )
        .await,
        400
    );
    assert_eq!(app.count("SELECT count(*) FROM users", &[]), users);
}

backend_tests!(page_errors_and_the_new_pages_in_a_real_browser);
async fn page_errors_and_the_new_pages_in_a_real_browser() {
    if browser_missing() {
        return;
    }
    // Three failed sign-ins from one address block it for a while.
    let app = spawn_app_with(&[("auth.signin_max_failures", json!(3))]).await;
    let key = key_in(&app, "target");
    let mut browser = Browser::start("first-hour").await;
    sign_in_as_admin(&app, &mut browser).await;
    let url = |path: &str| format!("{}{path}", app.address);
    // Into Acme, whose primary owner the administrator is, with the switcher.
    browser
        .script(&format!(
            "const s = document.getElementById('workspace'); s.value = '{}'; s.form.submit(); return 1;",
            app.account_id
        ))
        .await;
    browser
        .wait_for(&format!("value=\"{}\" selected", app.account_id))
        .await;

    browser.goto(&url("/instance")).await;
    browser.screenshot_views("instance").await;
    // A form sent back: the message beside its field, the input kept.
    browser.type_into("#account-name", "Gamma").await;
    browser.type_into("#account-owner", "not an address").await;
    browser
        .script("document.getElementById('account-owner').type = 'text'; return 1;")
        .await;
    browser
        .click("form[action='/instance/accounts'] button[type=submit]")
        .await;
    browser.wait_for("Must be an e-mail address.").await;
    assert_eq!(browser.property("#account-name", "value").await, "Gamma");
    browser.screenshot_views("instance-form-error").await;

    browser.goto(&url("/password")).await;
    browser.screenshot_views("password").await;
    browser.goto(&url("/settings")).await;
    browser.type_into("#amount", "lots").await;
    browser
        .click("form[action='/settings/credits'] button[type=submit]")
        .await;
    browser
        .wait_for("Must be a number with at most 3 decimals")
        .await;
    browser.screenshot_views("settings-form-error").await;

    browser.goto(&url("/no/such/page")).await;
    browser.wait_for("There is no page at this address.").await;
    browser.screenshot_views("error-404").await;
    browser.goto(&url(&format!("/keys/{key}/revoke"))).await;
    browser
        .script("document.querySelector('main form input[name=csrf]').value = 'forged'; return 1;")
        .await;
    browser.click("main form button[type=submit]").await;
    browser.wait_for("This form has expired").await;
    browser.screenshot_views("error-403").await;
    browser.goto(&url(&format!("/keys/{key}/revoke"))).await;
    assert_eq!(app.cli(&["keys", "revoke", &key]).status, 0);
    browser.click("main form button[type=submit]").await;
    browser.wait_for("The key is revoked.").await;
    browser.screenshot_views("error-409").await;
    // "Go back" returns to where the person came from.
    browser.click("a[data-back]").await;
    browser.wait_for("Revoke API key").await;
    browser.goto(&url("/settings")).await;
    browser
        .script(
            "const i = document.getElementById('amount'); i.value = '9'.repeat(300000); \
             i.form.submit(); return 1;",
        )
        .await;
    browser.wait_for("larger than this server accepts").await;
    browser.screenshot_views("error-413").await;
    break_activity(&app, true);
    browser.goto(&url("/activity")).await;
    browser.wait_for("The page could not be shown.").await;
    browser.screenshot_views("error-500").await;
    break_activity(&app, false);
    // Signed out, too many failed sign-ins.
    browser.goto(&url("/keys")).await;
    browser.click("form[action='/logout'] button").await;
    browser.wait_for("Sign in to Tidegate").await;
    for attempt in 1..=4 {
        browser.goto(&url("/login")).await;
        browser.type_into("#email", "admin@localhost").await;
        browser.type_into("#password", "wrong").await;
        browser.click("form button[type=submit]").await;
        if attempt < 4 {
            browser
                .wait_for("The e-mail address or password is incorrect.")
                .await;
        }
    }
    browser.wait_for("Too many failed attempts").await;
    browser.screenshot_views("error-429").await;
}
