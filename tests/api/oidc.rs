//! Single sign-on through a real OpenID provider (docs/admin.md, "Sign-in"; docs/operator.md,
//! "Single sign-on"), the switch for password sign-in and the sign-in link.

use serde_json::Value;

use crate::helpers::{TestApp, spawn_app_with};
use crate::oidc_provider::{IdentityProvider, callback_url, sign_in_through};
use crate::people::{browser, page, sign_in};

async fn app_for(idp: &IdentityProvider, extra: &[(&str, Value)]) -> TestApp {
    let mut settings = idp.settings();
    settings.extend(extra.iter().cloned());
    spawn_app_with(&settings).await
}

/// Adds a user (a member of the app's account) at the command line.
fn add_user(app: &TestApp, email: &str) {
    app.cli_json(&[
        "users",
        "create",
        "--email",
        email,
        "--account",
        &app.account_id,
        "--role",
        "member",
    ]);
}

fn users(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM users", &[])
}

fn sessions(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM sessions", &[])
}

/// The dashboard answers the browser as signed in.
async fn signed_in(app: &TestApp, client: &reqwest::Client) -> bool {
    let res = client
        .get(format!("{}/", app.address))
        .send()
        .await
        .unwrap();
    res.status() == 200
}

/// A refusal: a page in the layout with this status and sentence, and no session cookie.
async fn assert_refused(res: reqwest::Response, status: u16, says: &str) {
    if res.status() != status {
        panic!(
            "{} instead of {status}: {}",
            res.status(),
            res.text().await.unwrap()
        );
    }
    assert!(
        res.headers()
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("tidegate_session="))
    );
    let body = res.text().await.unwrap();
    assert!(body.contains("<main class=\"error-page\">"), "{body}");
    assert!(body.contains(says), "{says:?} not in {body}");
    for secret in ["tidegate-test-secret", "code=", "id_token", "eyJ"] {
        assert!(!body.contains(secret), "{secret} in {body}");
    }
}

async fn a_known_user_signs_in_and_the_session_works() {
    let Some(idp) = IdentityProvider::start().await else {
        return;
    };
    let app = app_for(
        &idp,
        &[("auth.oidc.button_label", "Sign in with Acme SSO".into())],
    )
    .await;
    add_user(&app, "ada@example.com");
    let client = browser();
    let login = page(&client, &app, "/login").await;
    assert!(login.contains("href=\"/login/oidc\""), "{login}");
    assert!(login.contains("Sign in with Acme SSO"));
    assert!(
        login.contains("name=\"password\""),
        "the password form stays"
    );

    // The address is matched without case.
    idp.person("Ada@Example.COM", true).await;
    let (res, url) = sign_in_through(&app, &client).await;
    assert!(url.contains("/login/oidc/callback?"), "{url}");
    assert_eq!(res.status(), 200);
    let cookies: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("tidegate_session="))
        .expect("a session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"));
    let body = res.text().await.unwrap();
    assert!(body.contains("http-equiv=\"refresh\""), "{body}");

    // The one-time password someone else chose is not asked for: this session never used it;
    // nor is a second factor that is required of everyone: the provider owns its factors.
    app.db()
        .execute(
            "INSERT INTO settings (name, value) VALUES ('second_factor_required', ?1)",
            &[&b"everyone".to_vec()],
        )
        .unwrap();
    assert!(signed_in(&app, &client).await);
    let keys = page(&client, &app, "/keys").await;
    assert!(keys.contains("ada@example.com"));
    assert_eq!(
        app.count("SELECT count(*) FROM sessions WHERE method = 'oidc'", &[]),
        1
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM activity WHERE action = 'signed_in' AND description LIKE '%(oidc)%'",
            &[]
        ),
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM oidc_attempts", &[]), 0);

    // A provider that keeps the address out of the ID token: it is read from userinfo.
    assert_eq!(
        idp.userinfo_calls().await,
        0,
        "the ID token had the address"
    );
    idp.tamper("strip-email").await;
    let other = browser();
    let (res, _) = sign_in_through(&app, &other).await;
    assert_eq!(res.status(), 200);
    assert!(signed_in(&app, &other).await);
    assert_eq!(idp.userinfo_calls().await, 1);
}

async fn an_unknown_or_unverified_person_is_refused_and_nothing_changes() {
    let Some(idp) = IdentityProvider::start().await else {
        return;
    };
    let app = app_for(&idp, &[]).await;
    add_user(&app, "ada@example.com");
    let (users_before, activity_before) =
        (users(&app), app.count("SELECT count(*) FROM activity", &[]));

    idp.person("stranger@example.com", true).await;
    let client = browser();
    let (res, _) = sign_in_through(&app, &client).await;
    assert_refused(
        res,
        403,
        "No user of this dashboard has the address stranger@example.com",
    )
    .await;

    // A known address the provider has not verified matches nobody.
    idp.person("ada@example.com", false).await;
    let client = browser();
    let (res, _) = sign_in_through(&app, &client).await;
    assert_refused(res, 403, "did not confirm an e-mail address").await;

    assert!(!signed_in(&app, &client).await);
    assert_eq!(users(&app), users_before);
    assert_eq!(sessions(&app), 0);
    assert_eq!(
        app.count("SELECT count(*) FROM activity", &[]),
        activity_before
    );
}

async fn auto_provisioning_creates_the_user_and_the_membership() {
    let Some(idp) = IdentityProvider::start().await else {
        return;
    };
    let app = app_for(
        &idp,
        &[
            ("auth.oidc.auto_provision_account", "Acme".into()),
            ("auth.oidc.auto_provision_role", "owner".into()),
        ],
    )
    .await;
    idp.person("grace@example.com", true).await;
    let client = browser();
    let (res, _) = sign_in_through(&app, &client).await;
    assert_eq!(res.status(), 200);
    assert!(signed_in(&app, &client).await);
    let role: String = app
        .db()
        .query_row(
            "SELECT m.role FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE u.email = 'grace@example.com' AND m.account_id = ?1",
            &[&app.account_id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(role, "owner");
    // Made without a password, so the security page offers none to change.
    let security = page(&client, &app, "/security").await;
    assert!(security.contains("through single sign-on, and have no password here"));
    assert!(!security.contains("Change your password"));
    // Nor does the password page, and a change sent anyway changes nothing.
    let password = page(&client, &app, "/password").await;
    assert!(
        password.contains("have no password here to change"),
        "{password}"
    );
    assert!(
        !password.contains("name=\"current_password\""),
        "{password}"
    );
    let res = client
        .post(format!("{}/password", app.address))
        .form(&[
            ("csrf", crate::people::csrf_in(&security).as_str()),
            ("current_password", "!single-sign-on"),
            ("new_password", "a password of my own"),
            ("confirm_password", "a password of my own"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("have no password here to change")
    );
    for action in ["created", "added", "signed_in"] {
        let rows = app.count(
            "SELECT count(*) FROM activity WHERE action = ?1 AND description LIKE '%grace@example.com%'",
            &[&action],
        );
        assert_eq!(rows, 1, "{action}");
    }

    // No password signs the provisioned user in, not even the hash's own text.
    for password in ["", "!single-sign-on", "a password of my own"] {
        let res = sign_in(&app, &browser(), "grace@example.com", password).await;
        assert_ne!(res.status(), 303, "{password:?}");
    }
    // A second sign-in finds the user made the first time.
    let (res, _) = sign_in_through(&app, &browser()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM users WHERE email = 'grace@example.com'",
            &[]
        ),
        1
    );
}

async fn tampered_id_tokens_and_bad_token_answers_are_refused() {
    let Some(idp) = IdentityProvider::start().await else {
        return;
    };
    let app = app_for(&idp, &[("auth.oidc.auto_provision_account", "Acme".into())]).await;
    let users_before = users(&app);
    idp.person("mallory@example.com", true).await;
    for mode in ["signature", "audience", "expired", "nonce", "garbage"] {
        idp.tamper(mode).await;
        let client = browser();
        let (res, _) = sign_in_through(&app, &client).await;
        assert_refused(res, 502, "could not complete the sign-in").await;
        assert!(!signed_in(&app, &client).await, "{mode}");
        assert_eq!(users(&app), users_before, "{mode}: nobody was created");
        assert_eq!(sessions(&app), 0, "{mode}");
    }
    // Untampered, the same person gets in: the refusals were the tokens'.
    let (res, _) = sign_in_through(&app, &browser()).await;
    assert_eq!(res.status(), 200);
}

async fn a_missing_forged_replayed_or_expired_state_is_refused() {
    let Some(idp) = IdentityProvider::start().await else {
        return;
    };
    let app = app_for(&idp, &[]).await;
    add_user(&app, "ada@example.com");
    idp.person("ada@example.com", true).await;
    let client = browser();
    let callback = callback_url(&app, &client).await;
    let base = format!("{}/login/oidc/callback", app.address);
    let code = callback
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("code="))
        .unwrap()
        .to_owned();

    for url in [
        base.clone(),
        format!("{base}?code={code}"),
        format!("{base}?code={code}&state=forged"),
    ] {
        let res = client.get(&url).send().await.unwrap();
        assert_refused(res, 400, "This sign-in is unknown").await;
    }
    // Another browser with the real callback: the binding cookie is missing.
    let res = browser().get(&callback).send().await.unwrap();
    assert_refused(res, 400, "This sign-in is unknown").await;
    // The provider's own refusal.
    let res = client
        .get(format!("{base}?error=access_denied&state=x"))
        .send()
        .await
        .unwrap();
    assert_refused(res, 403, "did not sign you in (access_denied)").await;
    assert_eq!(sessions(&app), 0);

    // None of that spent the attempt: the browser that began it gets in, once.
    let res = client.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = client.get(&callback).send().await.unwrap();
    assert_refused(res, 400, "This sign-in is unknown").await;
    assert_eq!(sessions(&app), 1);

    // An attempt older than 10 minutes.
    let late = browser();
    let callback = callback_url(&app, &late).await;
    app.clock.advance(10 * 60 * 1000 + 1);
    let res = late.get(&callback).send().await.unwrap();
    assert_refused(res, 400, "has expired").await;
    assert_eq!(sessions(&app), 1);
}

/// These need no provider: one that cannot be reached, or that the guard forbids.
async fn a_provider_that_is_down_or_forbidden_gives_a_page() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    for issuer in [
        format!("http://127.0.0.1:{port}"),
        "http://169.254.169.254/latest".to_owned(),
    ] {
        let app = spawn_app_with(&[
            ("auth.oidc.issuer", issuer.clone().into()),
            ("auth.oidc.client_id", "tidegate".into()),
        ])
        .await;
        let client = browser();
        let login = page(&client, &app, "/login").await;
        assert!(
            login.contains("Sign in with single sign-on"),
            "the default label"
        );
        let res = client
            .get(format!("{}/login/oidc", app.address))
            .send()
            .await
            .unwrap();
        assert_refused(res, 502, "could not complete the sign-in").await;
        assert_eq!(
            app.count("SELECT count(*) FROM oidc_attempts", &[]),
            0,
            "{issuer}"
        );
        // Without an attempt, the callback refuses too.
        let res = client
            .get(format!(
                "{}/login/oidc/callback?code=x&state=y",
                app.address
            ))
            .send()
            .await
            .unwrap();
        assert_refused(res, 400, "This sign-in is unknown").await;
    }
    // Callbacks nobody began count as failed sign-ins of their address.
    let app = spawn_app_with(&[
        ("auth.oidc.issuer", "http://127.0.0.1:9".into()),
        ("auth.oidc.client_id", "tidegate".into()),
        ("auth.signin_max_failures", 2.into()),
    ])
    .await;
    let forged = format!("{}/login/oidc/callback?code=x&state=y", app.address);
    for _ in 0..2 {
        let res = browser().get(&forged).send().await.unwrap();
        assert_refused(res, 400, "This sign-in is unknown").await;
    }
    for path in ["/login/oidc/callback?code=x&state=y", "/login/oidc"] {
        let res = browser()
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert!(res.headers().contains_key("retry-after"));
        assert_refused(res, 429, "Too many failed sign-ins").await;
    }

    // Single sign-on off: no button, no routes.
    let app = spawn_app_with(&[]).await;
    let client = browser();
    assert!(!page(&client, &app, "/login").await.contains("/login/oidc"));
    let res = client
        .get(format!("{}/login/oidc", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

async fn password_sign_in_off_leaves_the_sign_in_link() {
    let app = spawn_app_with(&[
        ("auth.oidc.issuer", "http://127.0.0.1:9".into()),
        ("auth.oidc.client_id", "tidegate".into()),
        ("auth.oidc.password_login", false.into()),
    ])
    .await;
    let client = browser();
    let login = page(&client, &app, "/login").await;
    assert!(!login.contains("name=\"password\""), "{login}");
    assert!(login.contains("href=\"/login/oidc\""));
    let res = client
        .post(format!("{}/login", app.address))
        .form(&[
            ("email", "admin@localhost"),
            ("password", "whatever-it-is"),
            ("csrf", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_refused(res, 403, "Signing in with a password is turned off").await;

    // The instance administrator's link, once.
    let link = app.cli_json(&["users", "sign-in-link", "--email", "ADMIN@localhost"]);
    let url = link["url"].as_str().unwrap();
    let path = &url[url.find("/login/link/").unwrap()..];
    assert_eq!(app.count("SELECT count(*) FROM sign_in_links", &[]), 1);
    let token = path.trim_start_matches("/login/link/");
    assert_eq!(
        app.count(
            "SELECT count(*) FROM sign_in_links WHERE token_hash = ?1",
            &[&token]
        ),
        0,
        "only a digest is stored"
    );
    let res = client
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(signed_in(&app, &client).await);
    assert_eq!(
        app.count("SELECT count(*) FROM sessions WHERE method = 'link'", &[]),
        1
    );
    let again = browser();
    let res = again
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 410);
    assert!(!signed_in(&app, &again).await);

    // Expired after 10 minutes.
    let link = app.cli_json(&["users", "sign-in-link", "--email", "admin@localhost"]);
    let url = link["url"].as_str().unwrap();
    let path = &url[url.find("/login/link/").unwrap()..];
    app.clock.advance(10 * 60 * 1000 + 1);
    let res = browser()
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 410);

    // Only for the instance administrator.
    add_user(&app, "ada@example.com");
    let out = app.cli(&["users", "sign-in-link", "--email", "ada@example.com"]);
    assert_ne!(out.status, 0);
    assert!(
        out.stderr.contains("instance administrator"),
        "{}",
        out.stderr
    );
    assert_eq!(app.count("SELECT count(*) FROM sessions", &[]), 1);
}

/// In a real browser, with the provider on another site (`localhost`, the dashboard on
/// 127.0.0.1): the binding cookie comes back with the provider's redirect, and the session
/// cookie (`SameSite=Strict`) is sent once the page after the callback goes on.
async fn a_person_signs_in_with_the_button_in_a_real_browser() {
    if crate::browser::browser_missing() {
        return;
    }
    let Some(idp) = IdentityProvider::start_on("localhost").await else {
        return;
    };
    let app = app_for(&idp, &[]).await;
    add_user(&app, "ada@example.com");
    idp.person("ada@example.com", true).await;
    let mut browser = crate::webdriver::Browser::start("single-sign-on").await;
    browser.goto(&format!("{}/login", app.address)).await;
    browser.screenshot("sign-in-with-button").await;
    browser.click("a.sso").await;
    browser.wait_for("<h1>Dashboard</h1>").await;
    assert_eq!(browser.current_url().await, format!("{}/", app.address));
    assert_eq!(
        app.count("SELECT count(*) FROM sessions WHERE method = 'oidc'", &[]),
        1
    );
}

backend_tests!(
    a_person_signs_in_with_the_button_in_a_real_browser,
    a_known_user_signs_in_and_the_session_works,
    an_unknown_or_unverified_person_is_refused_and_nothing_changes,
    auto_provisioning_creates_the_user_and_the_membership,
    tampered_id_tokens_and_bad_token_answers_are_refused,
    a_missing_forged_replayed_or_expired_state_is_refused,
    a_provider_that_is_down_or_forbidden_gives_a_page,
    password_sign_in_off_leaves_the_sign_in_link,
);

#[test]
fn print_config_redacts_the_client_secret() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::helpers::run_binary(
        dir.path(),
        &["print-config"],
        &[
            ("TIDEGATE_AUTH__OIDC__ISSUER", "https://sso.example.com"),
            ("TIDEGATE_AUTH__OIDC__CLIENT_ID", "tidegate"),
            ("TIDEGATE_AUTH__OIDC__CLIENT_SECRET", "very-secret-value"),
        ],
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("client_secret = \"[redacted]\""),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("very-secret-value"));
    assert!(out.stdout.contains("issuer = \"https://sso.example.com\""));
}

#[test]
fn a_primary_owner_is_never_provisioned() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::helpers::run_binary(
        dir.path(),
        &["print-config"],
        &[("TIDEGATE_AUTH__OIDC__AUTO_PROVISION_ROLE", "primary-owner")],
    );
    assert_eq!(out.status, 2, "{}", out.stdout);
    assert!(
        out.stderr.contains("auth.oidc.auto_provision_role"),
        "{}",
        out.stderr
    );
}
