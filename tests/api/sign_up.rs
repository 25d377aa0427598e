//! Public sign-up (`auth.allow_signup`, docs/admin.md, "Create an account"): off by default;
//! on, a person chooses a workspace name, an e-mail and a password, and is signed in as the
//! primary owner of that new workspace. Bad input is shown beside its field with what was typed
//! and stores nothing; an e-mail someone has is refused; every attempt counts against the
//! address's sign-in limit.

use serde_json::json;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::people::{browser, csrf_in, page, sign_in};

const PASSWORD: &str = "correct horse battery";

async fn send(
    app: &TestApp,
    client: &reqwest::Client,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let shown = page(client, app, "/signup").await;
    let csrf = csrf_in(&shown);
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    client
        .post(format!("{}/signup", app.address))
        .form(&form)
        .send()
        .await
        .unwrap()
}

fn people(app: &TestApp) -> (i64, i64) {
    (
        app.count("SELECT count(*) FROM users", &[]),
        app.count("SELECT count(*) FROM accounts", &[]),
    )
}

backend_tests!(sign_up_is_off_unless_the_operator_turns_it_on);
async fn sign_up_is_off_unless_the_operator_turns_it_on() {
    let app = spawn_app().await;
    let client = browser();
    let login = page(&client, &app, "/login").await;
    assert!(!login.contains("/signup"), "{login}");
    let res = client
        .get(format!("{}/signup", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let before = people(&app);
    let res = client
        .post(format!("{}/signup", app.address))
        .form(&[
            ("workspace", "Sneaky"),
            ("email", "sneaky@example.com"),
            ("password", PASSWORD),
            ("confirm_password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(people(&app), before);
}

backend_tests!(a_person_signs_up_and_owns_a_new_workspace);
async fn a_person_signs_up_and_owns_a_new_workspace() {
    let app = spawn_app_with(&[("auth.allow_signup", json!(true))]).await;
    let client = browser();
    let login = page(&client, &app, "/login").await;
    assert!(login.contains("href=\"/signup\""), "{login}");
    let before = people(&app);

    // Each mistake is shown beside its field, what was typed is kept, and nothing is stored.
    let good = [
        ("workspace", "Ada's <Lab>"),
        ("email", "Ada@Example.com"),
        ("password", PASSWORD),
        ("confirm_password", PASSWORD),
    ];
    let cases = [
        ("workspace", "", "The name must not be empty."),
        ("email", "ada-at-example", "This must be an e-mail address."),
        (
            "password",
            "short",
            "The password must be at least 12 characters.",
        ),
        (
            "confirm_password",
            "something else",
            "This does not match the password.",
        ),
    ];
    for (field, value, message) in cases {
        let mut fields = good.to_vec();
        for f in &mut fields {
            if f.0 == field {
                f.1 = value;
            }
        }
        if field == "password" {
            fields[3].1 = value;
        }
        let res = send(&app, &client, &fields).await;
        assert_eq!(res.status(), 400, "{field}");
        let html = res.text().await.unwrap();
        assert!(
            html.contains(&format!("id=\"{field}-error\">{message}")),
            "{field}: {html}"
        );
        assert!(html.contains(&format!("id=\"{field}\"")), "{html}");
        if field != "workspace" {
            assert!(
                html.contains("value=\"Ada&#39;s &#60;Lab&#62;\""),
                "kept and escaped: {html}"
            );
        }
        if field != "email" {
            assert!(html.contains("value=\"Ada@Example.com\""), "{html}");
        }
        assert!(!html.contains(PASSWORD), "a password is never sent back");
        assert_eq!(people(&app), before, "{field}");
    }
    // A form without its token is refused.
    let res = client
        .post(format!("{}/signup", app.address))
        .form(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(people(&app), before);

    // Signed up: signed in, in the new workspace, as its primary owner, with no password to
    // change.
    let res = send(&app, &client, &good).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(res.headers()["location"], "/");
    let keys = page(&client, &app, "/keys").await;
    assert!(keys.contains("Ada&#39;s &#60;Lab&#62;"), "{keys}");
    let (role, personal): (String, i64) = app
        .db()
        .query_row(
            "SELECT m.role, a.is_personal FROM memberships m
             JOIN users u ON u.id = m.user_id JOIN accounts a ON a.id = m.account_id
             WHERE u.email = 'ada@example.com'",
            &[],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((role.as_str(), personal), ("primary-owner", 1));
    assert_eq!(people(&app), (before.0 + 1, before.1 + 1));
    let activity = page(&client, &app, "/activity").await;
    assert!(activity.contains("ada@example.com signed up"), "{activity}");

    // The password signs in again; the address cannot be signed up twice.
    let res = sign_in(&app, &browser(), "ada@example.com", PASSWORD).await;
    assert_eq!(res.status(), 303);
    let other = browser();
    let res = send(&app, &other, &good).await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("This already belongs to someone here: sign in instead."),
        "{html}"
    );
    assert_eq!(people(&app), (before.0 + 1, before.1 + 1));
}

backend_tests!(one_address_cannot_sign_up_without_end);
async fn one_address_cannot_sign_up_without_end() {
    let app = spawn_app_with(&[
        ("auth.allow_signup", json!(true)),
        ("auth.signin_max_failures", json!(3)),
    ])
    .await;
    let client = browser();
    for n in 0..3 {
        let email = format!("person{n}@example.com");
        let res = send(
            &app,
            &client,
            &[
                ("workspace", "Mine"),
                ("email", &email),
                ("password", PASSWORD),
                ("confirm_password", PASSWORD),
            ],
        )
        .await;
        assert_eq!(res.status(), 303, "{n}");
    }
    let before = people(&app);
    let res = send(
        &app,
        &client,
        &[
            ("workspace", "Mine"),
            ("email", "person3@example.com"),
            ("password", PASSWORD),
            ("confirm_password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(people(&app), before);
}

#[tokio::test]
async fn a_person_signs_up_in_a_real_browser() {
    if crate::browser::browser_missing() {
        return;
    }
    let app = spawn_app_with(&[("auth.allow_signup", json!(true))]).await;
    let mut browser = crate::webdriver::Browser::start("sign-up").await;
    browser.goto(&format!("{}/login", app.address)).await;
    browser.screenshot_views("sign-in-with-sign-up").await;
    browser.click("a[href='/signup']").await;
    browser.wait_for("Create an account").await;
    browser.type_into("#workspace", "Ada's Lab").await;
    browser.type_into("#email", "ada@example.com").await;
    browser.type_into("#password", PASSWORD).await;
    browser
        .type_into("#confirm_password", "correct horse battery staple")
        .await;
    browser.click("form button[type=submit]").await;
    browser.wait_for("This does not match the password.").await;
    browser.screenshot_views("sign-up-with-a-mistake").await;
    let kept = browser.property("#workspace", "value").await;
    assert_eq!(kept, json!("Ada's Lab"));
    browser.type_into("#password", PASSWORD).await;
    browser.type_into("#confirm_password", PASSWORD).await;
    browser.click("form button[type=submit]").await;
    browser.wait_for("Start here: make the first API key").await;
    browser.screenshot_views("signed-up").await;
}
