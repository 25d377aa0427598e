//! Sign-in, sessions, CSRF, security headers and the API keys page (docs/admin.md), over HTTP.

use crate::helpers::{TestApp, spawn_app};
use crate::people::{CHOSEN_PASSWORD, browser, choose_password, csrf_in, page, sign_in};

/// A user of the app's account with the given role who has signed in once and chosen their own
/// password; returns (email, password).
async fn user(app: &TestApp, email: &str, role: &str) -> (String, String) {
    let created = app.cli_json(&[
        "users",
        "create",
        "--email",
        email,
        "--account",
        &app.account_id,
        "--role",
        role,
    ]);
    let one_time = created["password"].as_str().unwrap();
    let client = browser();
    assert_eq!(sign_in(app, &client, email, one_time).await.status(), 303);
    choose_password(app, &client, one_time).await;
    let shown = page(&client, app, "/keys").await;
    let res = client
        .post(format!("{}/logout", app.address))
        .form(&[("csrf", csrf_in(&shown))])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "signed out again");
    (email.to_owned(), CHOSEN_PASSWORD.to_owned())
}

backend_tests!(pages_need_a_session_and_sign_in_opens_one);
async fn pages_need_a_session_and_sign_in_opens_one() {
    let app = spawn_app().await;
    let client = browser();
    for path in ["/", "/keys"] {
        let res = client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{path}");
        assert_eq!(res.headers()["location"], "/login");
    }
    let (email, password) = user(&app, "owner@example.com", "owner").await;
    let auth_rows = || app.count("SELECT count(*) FROM activity WHERE category = 'auth'", &[]);
    let before = auth_rows();

    let res = sign_in(&app, &client, &email, "wrong password").await;
    assert_eq!(res.status(), 401);
    let body = res.text().await.unwrap();
    assert!(body.contains("The e-mail address or password is incorrect."));
    let res = sign_in(&app, &client, "nobody@example.com", "whatever").await;
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("The e-mail address or password is incorrect."),
        "same message for unknown users"
    );

    let res = sign_in(&app, &client, &email, &password).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("tidegate_session="));
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let token = cookie
        .trim_start_matches("tidegate_session=")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let stored: String = app
        .db()
        .query_row("SELECT id_hash FROM sessions", &[], |r| r.get(0))
        .unwrap();
    assert_eq!(
        stored,
        tidegate::testing::token_hash(&token),
        "only the digest is stored"
    );

    let keys = client
        .get(format!("{}/keys", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(keys.status(), 200);
    assert_eq!(
        auth_rows() - before,
        3,
        "two failed sign-ins and one sign-in"
    );
}

backend_tests!(sign_out_needs_the_csrf_token_and_ends_the_session_for_good);
async fn sign_out_needs_the_csrf_token_and_ends_the_session_for_good() {
    let app = spawn_app().await;
    let (email, password) = user(&app, "owner@example.com", "owner").await;
    let client = browser();
    let res = sign_in(&app, &client, &email, &password).await;
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let shown = page(&client, &app, "/keys").await;
    let csrf = csrf_in(&shown);

    let forged = client
        .post(format!("{}/logout", app.address))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(
        client
            .get(format!("{}/keys", app.address))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let out = client
        .post(format!("{}/logout", app.address))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    // The old cookie, replayed by hand, opens nothing.
    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = replay
        .get(format!("{}/keys", app.address))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let sessions = app.count("SELECT count(*) FROM sessions", &[]);
    assert_eq!(sessions, 0);
}

backend_tests!(a_sign_in_form_from_elsewhere_is_refused);
async fn a_sign_in_form_from_elsewhere_is_refused() {
    let app = spawn_app().await;
    let (email, password) = user(&app, "owner@example.com", "owner").await;
    let client = browser();
    let res = client
        .post(format!("{}/login", app.address))
        .form(&[
            ("email", email.as_str()),
            ("password", password.as_str()),
            ("csrf", "guess"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(
        res.headers()
            .get_all("set-cookie")
            .iter()
            .all(|v| !v.to_str().unwrap().starts_with("tidegate_session=")),
        "no session cookie"
    );
    let sessions = app.count("SELECT count(*) FROM sessions", &[]);
    assert_eq!(sessions, 0, "no session was created");
}

backend_tests!(repeated_failed_sign_ins_are_refused_for_a_while);
async fn repeated_failed_sign_ins_are_refused_for_a_while() {
    let app = spawn_app_limited().await;
    let (email, password) = user(&app, "owner@example.com", "owner").await;
    let client = browser();
    for _ in 0..3 {
        assert_eq!(sign_in(&app, &client, &email, "nope").await.status(), 401);
    }
    let res = sign_in(&app, &client, &email, &password).await;
    assert_eq!(res.status(), 429, "even the right password waits");
    app.clock.advance(16 * 60_000);
    assert_eq!(
        sign_in(&app, &client, &email, &password).await.status(),
        303
    );
}

async fn spawn_app_limited() -> TestApp {
    crate::helpers::spawn_app_with(&[("auth.signin_max_failures", serde_json::json!(3))]).await
}

backend_tests!(the_keys_page_lists_the_workspace_keys_with_user_text_escaped);
async fn the_keys_page_lists_the_workspace_keys_with_user_text_escaped() {
    let app = spawn_app().await;
    let (email, password) = user(&app, "member@example.com", "member").await;
    app.cli_json(&[
        "keys",
        "create",
        "--account",
        &app.account_id,
        "--name",
        "<script>alert(1)</script>",
        "--preset",
        "read_only",
        "--ips",
        "10.0.0.0/8,192.0.2.1",
    ]);
    let (_, other) = app.create_key(&[]);
    assert_eq!(app.get("/v1/status", Some(&other)).await.status(), 200);
    let client = browser();
    sign_in(&app, &client, &email, &password).await;
    let res = client
        .get(format!("{}/keys", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let headers = res.headers().clone();
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers.contains_key("referrer-policy"));
    let html = res.text().await.unwrap();
    assert!(
        !html.contains("<script>alert(1)</script>"),
        "user text is escaped"
    );
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || html.contains("&lt;script&gt;"),
        "{html}"
    );
    assert!(html.contains("10.0.0.0/8") && html.contains("+1"));
    assert!(html.contains("2 keys"));
    assert!(html.contains("owners manage them"), "a member only views");
    assert!(html.contains(&other[..9]));

    let filtered = page(&client, &app, "/keys?status=revoked").await;
    assert!(filtered.contains("No data available"));
    let searched = client
        .get(format!("{}/keys?search={}", app.address, &other[..9]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        searched.contains("1 key<") || searched.contains("1 key\n") || searched.contains(">1 key"),
        "{searched}"
    );
}

backend_tests!(assets_are_served_under_their_content_hash);
async fn assets_are_served_under_their_content_hash() {
    let app = spawn_app().await;
    let page = reqwest::get(format!("{}/login", app.address))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let asset = |marker: &str| {
        page.split(marker)
            .nth(1)
            .unwrap_or_else(|| panic!("{marker} in {page}"))
            .split('"')
            .next()
            .unwrap()
            .to_owned()
    };
    let css = asset("rel=\"stylesheet\" href=\"");
    assert!(css.starts_with("/static/app.") && css.ends_with(".css"));
    let mark = asset("rel=\"icon\" href=\"");
    assert!(mark.starts_with("/static/mark.") && mark.ends_with(".svg"));
    let theme = asset("<script src=\"");
    assert!(theme.starts_with("/static/theme.") && theme.ends_with(".js"));
    for (path, kind) in [
        (&css, "text/css"),
        (&mark, "image/svg+xml"),
        (&theme, "text/javascript"),
    ] {
        let res = reqwest::get(format!("{}{path}", app.address))
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(
            res.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
    }
    // Tools that ask for /favicon.ico get the mark too.
    let icon = reqwest::get(format!("{}/favicon.ico", app.address))
        .await
        .unwrap();
    assert_eq!(icon.status(), 200);
    assert_eq!(icon.headers()["content-type"], "image/svg+xml");
    assert_eq!(
        reqwest::get(format!("{}/static/app.0000.css", app.address))
            .await
            .unwrap()
            .status(),
        404
    );
}

backend_tests!(the_workspace_switcher_moves_between_the_users_workspaces_only);
async fn the_workspace_switcher_moves_between_the_users_workspaces_only() {
    let app = spawn_app().await;
    let (email, password) = user(&app, "owner@example.com", "owner").await;
    let team = app.cli_json(&["accounts", "create", "--name", "Team B", "--team"]);
    let team_id = team["id"].as_str().unwrap();
    let db = app.db();
    let user_id: String = db
        .query_row("SELECT id FROM users WHERE email = ?1", &[&&email], |r| {
            r.get(0)
        })
        .unwrap();
    db.execute("INSERT INTO memberships (account_id, user_id, role, created_at) VALUES (?1, ?2, 'member', 4102444800000)", &[&team_id, &&user_id]).unwrap();
    app.cli_json(&[
        "keys",
        "create",
        "--account",
        team_id,
        "--name",
        "team-b-key",
        "--preset",
        "read_only",
    ]);
    let stranger = app.cli_json(&["accounts", "create", "--name", "Stranger"]);

    let client = browser();
    sign_in(&app, &client, &email, &password).await;
    let shown = page(&client, &app, "/keys").await;
    assert!(shown.contains("Team B · member") && shown.contains("Acme · owner"));
    assert!(!shown.contains("team-b-key"));
    let csrf = csrf_in(&shown);
    let res = client
        .post(format!("{}/workspace", app.address))
        .form(&[("csrf", csrf.as_str()), ("account_id", team_id)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let shown = page(&client, &app, "/keys").await;
    assert!(shown.contains("team-b-key"));
    assert!(
        shown.contains("owners manage them"),
        "the role follows the workspace"
    );

    let res = client
        .post(format!("{}/workspace", app.address))
        .form(&[
            ("csrf", csrf.as_str()),
            ("account_id", stranger["id"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "not a member there");
}
