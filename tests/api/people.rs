//! People using the admin pages: a cookie-keeping client, sign-in, and reading values out of pages.

use crate::helpers::TestApp;

/// A client that keeps cookies and does not follow redirects, like a browser seen from the server.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The body of a page fetched by `client` (with its cookies); the page must answer 200, so a
/// check that something is absent never passes on an error page.
pub async fn page(client: &reqwest::Client, app: &TestApp, path: &str) -> String {
    let res = client
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "GET {path}");
    res.text().await.unwrap()
}

/// The quoted value that follows `marker` in a page.
pub fn value_after(html: &str, marker: &str) -> String {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not in page"))
        + marker.len();
    html[at..].split('"').next().unwrap().to_owned()
}

pub fn csrf_in(html: &str) -> String {
    value_after(html, "name=\"csrf\" value=\"")
}

/// Posts the sign-in form the way a browser does (fetching the form and its token first).
pub async fn sign_in(
    app: &TestApp,
    client: &reqwest::Client,
    email: &str,
    password: &str,
) -> reqwest::Response {
    let shown = page(client, app, "/login").await;
    let csrf = csrf_in(&shown);
    client
        .post(format!("{}/login", app.address))
        .form(&[("email", email), ("password", password), ("csrf", &csrf)])
        .send()
        .await
        .unwrap()
}

/// The password test users choose in place of their one-time password.
pub const CHOSEN_PASSWORD: &str = "a password of my own";

/// Replaces the one-time password of the person signed in on `client` (who is sent to
/// /password first) with `CHOSEN_PASSWORD`.
pub async fn choose_password(app: &TestApp, client: &reqwest::Client, one_time: &str) {
    let res = client
        .get(format!("{}/keys", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "sent to choose a password");
    assert_eq!(res.headers()["location"], "/password");
    let shown = page(client, app, "/password").await;
    let res = client
        .post(format!("{}/password", app.address))
        .form(&[
            ("csrf", csrf_in(&shown).as_str()),
            ("current_password", one_time),
            ("new_password", CHOSEN_PASSWORD),
            ("confirm_password", CHOSEN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "password chosen");
    assert_eq!(res.headers()["location"], "/");
}

/// A signed-in person with their session's CSRF token.
pub struct Person {
    pub client: reqwest::Client,
    pub csrf: String,
    pub user_id: String,
}

/// Creates a user of the app's account with `role` (including `primary-owner`) and signs them in.
pub async fn person(app: &TestApp, email: &str, role: &str) -> Person {
    let as_role = if role == "primary-owner" {
        "owner"
    } else {
        role
    };
    let user = app.cli_json(&[
        "users",
        "create",
        "--email",
        email,
        "--account",
        &app.account_id,
        "--role",
        as_role,
    ]);
    let user_id = user["id"].as_str().unwrap().to_owned();
    if role == "primary-owner" {
        // Takes the primary ownership from whoever holds it (the instance administrator, who
        // leaves the account).
        let db = app.db();
        db.execute(
            "DELETE FROM memberships WHERE account_id = ?1 AND role = 'primary-owner'",
            &[&app.account_id.as_str()],
        )
        .unwrap();
        db.execute(
            "UPDATE memberships SET role = 'primary-owner' WHERE user_id = ?1",
            &[&&user_id],
        )
        .unwrap();
    }
    let client = browser();
    let one_time = user["password"].as_str().unwrap();
    let res = sign_in(app, &client, email, one_time).await;
    assert_eq!(res.status(), 303, "{email} signs in");
    choose_password(app, &client, one_time).await;
    let shown = page(&client, app, "/keys").await;
    Person {
        client,
        csrf: csrf_in(&shown),
        user_id,
    }
}

/// Posts a form with the person's CSRF token; returns the status.
pub async fn post(app: &TestApp, who: &Person, path: &str, extra: &[(&str, &str)]) -> u16 {
    let mut form = vec![("csrf", who.csrf.as_str())];
    form.extend_from_slice(extra);
    who.client
        .post(format!("{}{path}", app.address))
        .form(&form)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}
