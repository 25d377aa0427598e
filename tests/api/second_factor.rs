//! Two-step sign-in through the real server: the set-up confirmed by one code, the code step
//! after the password, a code accepted once, recovery codes used once, new codes, turning the
//! factor off, the administrator's requirement and reset, the command line's reset, and the
//! sessions page. Codes are computed from the secret the set-up page shows, as an app does.

use serde_json::json;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::operators::administrator;
use crate::people::{
    CHOSEN_PASSWORD, Person, browser, csrf_in, page, person, sign_in, value_after,
};

/// The code an authenticator app shows now, by the server's clock.
pub fn code_now(app: &TestApp, secret: &str) -> String {
    let seconds = u64::try_from(app.clock.now().0 / 1000).unwrap();
    tidegate::testing::totp_code(secret, seconds).unwrap()
}

/// The next 30-second step: a code of a step already used is refused.
fn next_step(app: &TestApp) {
    app.clock.advance(30_000);
}

async fn post_form(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, Option<String>, String) {
    let res = client
        .post(format!("{}{path}", app.address))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (status, location, res.text().await.unwrap())
}

/// The status of a page fetched by `client`.
async fn get_status(client: &reqwest::Client, app: &TestApp, path: &str) -> u16 {
    client
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Sets up the factor for a signed-in person; returns the secret and the recovery codes.
pub async fn set_up(app: &TestApp, who: &Person) -> (String, Vec<String>) {
    let shown = page(&who.client, app, "/security/two-factor").await;
    assert!(shown.contains("<svg"), "a QR code is drawn");
    let secret = value_after(&shown, "id=\"totp-secret\">")
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    let code = code_now(app, &secret);
    let (status, _, body) = post_form(
        app,
        &who.client,
        "/security/two-factor",
        &[("csrf", &who.csrf), ("code", &code)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("shown only this once"));
    let codes: Vec<String> = body
        .split("<li><code>")
        .skip(1)
        .map(|c| c.split('<').next().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10, "{codes:?}");
    (secret, codes)
}

/// Signs in with the password on a new client; the answer sends to the code step.
async fn password_step(app: &TestApp, email: &str) -> reqwest::Client {
    let client = browser();
    let res = sign_in(app, &client, email, CHOSEN_PASSWORD).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/login/code");
    client
}

/// Types `code` on the code step; the status and where it leads.
async fn code_step(
    app: &TestApp,
    client: &reqwest::Client,
    code: &str,
) -> (u16, Option<String>, String) {
    let shown = page(client, app, "/login/code").await;
    let csrf = csrf_in(&shown);
    post_form(
        app,
        client,
        "/login/code",
        &[("csrf", &csrf), ("code", code)],
    )
    .await
}

fn factor_on(app: &TestApp, email: &str) -> bool {
    app.db()
        .query_row(
            "SELECT COUNT(*) FROM users WHERE email = ?1 AND totp_secret IS NOT NULL",
            &[&email],
            |r| r.get::<i64>(0),
        )
        .unwrap()
        == 1
}

crate::backend_tests!(a_factor_is_set_up_and_then_asked_for_after_the_password);
async fn a_factor_is_set_up_and_then_asked_for_after_the_password() {
    let app = spawn_app().await;
    let ada = person(&app, "ada@example.com", "owner").await;
    let other = password_free_session(&app).await;
    assert!(
        page(&ada.client, &app, "/security")
            .await
            .contains("Set up two-step sign-in")
    );

    // Bad input changes nothing.
    let shown = page(&ada.client, &app, "/security/two-factor").await;
    let secret = value_after(&shown, "id=\"totp-secret\">")
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    for (typed, says) in [("12345", "is not a code"), ("abcdef", "is not a code")] {
        let (status, _, body) = post_form(
            &app,
            &ada.client,
            "/security/two-factor",
            &[("csrf", &ada.csrf), ("code", typed)],
        )
        .await;
        assert_eq!(status, 400, "{typed}");
        assert!(body.contains(says), "{typed}: {body}");
        assert!(body.contains(&secret), "the same secret is shown again");
    }
    let later = tidegate::testing::totp_code(
        &secret,
        u64::try_from(app.clock.now().0 / 1000 + 600).unwrap(),
    )
    .unwrap();
    let (status, _, body) = post_form(
        &app,
        &ada.client,
        "/security/two-factor",
        &[("csrf", &ada.csrf), ("code", &later)],
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("is not right"), "{body}");
    assert!(!factor_on(&app, "ada@example.com"));

    let (secret, codes) = set_up(&app, &ada).await;
    assert!(factor_on(&app, "ada@example.com"));
    // The secret is sealed: neither its text nor its bytes are in the store.
    let sealed: Vec<u8> = app
        .db()
        .query_row(
            "SELECT totp_secret FROM users WHERE email = 'ada@example.com'",
            &[],
            |r| r.get(0),
        )
        .unwrap();
    let plain: String = secret.split_whitespace().collect();
    assert!(!String::from_utf8_lossy(&sealed).contains(&plain));
    let stored: Vec<String> = app
        .db()
        .query_map("SELECT code_hash FROM recovery_codes", &[], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(stored.len(), 10);
    assert!(
        codes
            .iter()
            .all(|c| !stored.iter().any(|s| s.contains(c.as_str())))
    );
    // Turning it on ended the person's other session; the set-up's own goes on.
    assert_eq!(get_status(&other, &app, "/keys").await, 303);
    assert!(
        page(&ada.client, &app, "/security")
            .await
            .contains("10 recovery codes are left")
    );
    assert!(
        !page(&ada.client, &app, "/security").await.contains(&plain),
        "the secret is never shown again"
    );

    // After the password, nothing opens but the code step.
    let client = password_step(&app, "ada@example.com").await;
    let res = client
        .get(format!("{}/keys", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/login");
    // The set-up's code was spent: the same code is refused, and counts as a failure.
    let (status, _, body) = code_step(&app, &client, &code_now(&app, &secret)).await;
    assert_eq!(status, 401, "a code is accepted once");
    assert!(body.contains("That code is not right"));
    let (status, _, body) = code_step(&app, &client, "12 34").await;
    assert_eq!(status, 400);
    assert!(body.contains("That is not a code"));
    next_step(&app);
    let fresh = code_now(&app, &secret);
    let (status, location, _) = code_step(&app, &client, &fresh).await;
    assert_eq!((status, location.as_deref()), (303, Some("/")));
    assert!(page(&client, &app, "/keys").await.contains("API keys"));

    // The same code again, on another sign-in within its window: refused.
    let replay = password_step(&app, "ada@example.com").await;
    assert_eq!(code_step(&app, &replay, &fresh).await.0, 401);

    // A recovery code opens once, and the page says how many are left.
    let (status, location, _) = code_step(&app, &replay, &codes[0].to_uppercase()).await;
    assert_eq!(status, 303);
    assert_eq!(location.as_deref(), Some("/security?recovery_code_used=1"));
    let security = page(&replay, &app, "/security").await;
    assert!(security.contains("9 recovery codes are left"), "{security}");
    let again = password_step(&app, "ada@example.com").await;
    assert_eq!(code_step(&app, &again, &codes[0]).await.0, 401);

    let actions: Vec<String> = app
        .db()
        .query_map(
            "SELECT action FROM activity WHERE category = 'auth' ORDER BY id",
            &[],
            |r| r.get(0),
        )
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        actions.contains(&"second_factor_enabled".to_owned()),
        "{actions:?}"
    );
    assert!(
        actions.iter().filter(|a| *a == "sign_in_failed").count() >= 3,
        "{actions:?}"
    );
}

crate::backend_tests!(new_recovery_codes_replace_the_old_and_turning_off_needs_a_code);
async fn new_recovery_codes_replace_the_old_and_turning_off_needs_a_code() {
    let app = spawn_app().await;
    let ada = person(&app, "ada@example.com", "member").await;
    let (secret, old) = set_up(&app, &ada).await;
    let (status, _, body) = post_form(
        &app,
        &ada.client,
        "/security/two-factor/recovery-codes",
        &[("csrf", &ada.csrf), ("code", "000000")],
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body.contains("id=\"recovery-code-error\""),
        "the error stands by its field"
    );
    let (status, _, body) = post_form(
        &app,
        &ada.client,
        "/security/two-factor/recovery-codes",
        &[("csrf", &ada.csrf), ("code", &old[1])],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Your earlier codes no longer work"));
    let new_first = value_after(&body, "<li><code>")
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    assert_ne!(new_first, old[1]);
    let client = password_step(&app, "ada@example.com").await;
    assert_eq!(
        code_step(&app, &client, &old[2]).await.0,
        401,
        "old codes are gone"
    );

    // Off with a wrong code: nothing changes; with a right one the factor is off.
    let (status, _, body) = post_form(
        &app,
        &ada.client,
        "/security/two-factor/turn-off",
        &[("csrf", &ada.csrf), ("code", "nonsense")],
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("id=\"off-code-error\""));
    assert!(factor_on(&app, "ada@example.com"));
    next_step(&app);
    let (status, location, _) = post_form(
        &app,
        &ada.client,
        "/security/two-factor/turn-off",
        &[("csrf", &ada.csrf), ("code", &code_now(&app, &secret))],
    )
    .await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/security?turned_off=1"))
    );
    assert!(!factor_on(&app, "ada@example.com"));
    assert_eq!(app.count("SELECT COUNT(*) FROM recovery_codes", &[]), 0);
    let res = sign_in(&app, &browser(), "ada@example.com", CHOSEN_PASSWORD).await;
    assert_eq!(
        res.headers()["location"],
        "/",
        "the password alone signs in again"
    );
}

crate::backend_tests!(wrong_codes_count_in_the_sign_in_delays);
async fn wrong_codes_count_in_the_sign_in_delays() {
    let app = spawn_app().await;
    let ada = person(&app, "ada@example.com", "member").await;
    set_up(&app, &ada).await;
    let client = password_step(&app, "ada@example.com").await;
    let mut refused = None;
    for _ in 0..8 {
        let (status, _, body) = code_step(&app, &client, "000000").await;
        if status == 429 {
            refused = Some(body);
            break;
        }
        assert_eq!(status, 401);
    }
    let body = refused.expect("wrong codes are limited like wrong passwords");
    assert!(body.contains("Too many failed attempts"), "{body}");
    // The password step is held back by the same delay.
    let res = sign_in(&app, &browser(), "ada@example.com", CHOSEN_PASSWORD).await;
    assert_eq!(res.status(), 429);
}

crate::backend_tests!(the_administrator_requires_a_factor_and_resets_one);
async fn the_administrator_requires_a_factor_and_resets_one() {
    let app = spawn_app().await;
    let admin = administrator(&app).await;
    let owner = person(&app, "olga@example.com", "owner").await;
    let member = person(&app, "max@example.com", "member").await;
    let (status, _, _) = post_form(
        &app,
        &admin.client,
        "/instance/two-factor",
        &[("csrf", &admin.csrf), ("requirement", "owners")],
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, _) = post_form(
        &app,
        &owner.client,
        "/instance/two-factor",
        &[("csrf", &owner.csrf), ("requirement", "nobody")],
    )
    .await;
    assert_eq!(
        status, 303,
        "only the administrator may change it (an owner is sent to set up first)"
    );

    // Owners (and the administrator) are sent to the set-up; members are not.
    for who in [&owner, &admin] {
        let res = who
            .client
            .get(format!("{}/keys", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        assert_eq!(res.headers()["location"], "/security/two-factor");
        let res = who
            .client
            .get(format!("{}/api/v1/api-keys", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "the management API is closed too");
        let body = res.text().await.unwrap();
        assert!(body.contains("Set up two-step sign-in"), "{body}");
    }
    let shown = page(&owner.client, &app, "/security/two-factor").await;
    assert!(shown.contains("Set up two-step sign-in to continue"));
    assert!(!shown.contains("href=\"/keys\""), "no way around it");
    page(&member.client, &app, "/keys").await;
    set_up(&app, &owner).await;
    page(&owner.client, &app, "/keys").await;

    let (status, _, _) = post_form(
        &app,
        &admin.client,
        "/instance/two-factor",
        &[("csrf", &admin.csrf), ("requirement", "nobody")],
    )
    .await;
    assert_eq!(status, 303, "the administrator, too, sets one up first");
    let (_, admin_codes) = set_up(&app, &admin).await;
    assert_eq!(admin_codes.len(), 10);
    let (status, _, body) = post_form(
        &app,
        &admin.client,
        "/instance/two-factor",
        &[("csrf", &admin.csrf), ("requirement", "everyone")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let res = member
        .client
        .get(format!("{}/keys", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/security/two-factor");
    let (status, _, _) = post_form(
        &app,
        &admin.client,
        "/instance/two-factor",
        &[("csrf", &admin.csrf), ("requirement", "sometimes")],
    )
    .await;
    assert_eq!(status, 400);

    // The administrator resets the owner's factor: it is off and the owner's sessions end.
    let instance = page(&admin.client, &app, "/instance").await;
    assert!(instance.contains("Reset two-step sign-in of olga@example.com"));
    let (status, _, body) = post_form(
        &app,
        &admin.client,
        "/instance/reset-two-factor",
        &[("csrf", &admin.csrf), ("email", "olga@example.com")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body.contains("Two-step sign-in of olga@example.com is off"),
        "{body}"
    );
    assert!(!factor_on(&app, "olga@example.com"));
    let res = owner
        .client
        .get(format!("{}/keys", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["location"],
        "/login",
        "the owner's sessions ended"
    );
    let rows: Vec<(String, String)> = app
        .db()
        .query_map(
            "SELECT actor, description FROM activity WHERE action = 'second_factor_reset'",
            &[],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "user:admin@localhost");
    assert!(rows[0].1.contains("olga@example.com"), "{rows:?}");

    // The command line, for an administrator locked out.
    let out = app.cli(&["users", "reset-2fa", "--email", "admin@localhost"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("Two-step sign-in of admin@localhost is off"),
        "{}",
        out.stdout
    );
    assert!(!factor_on(&app, "admin@localhost"));
    let json = app.cli_json(&["users", "reset-2fa", "--email", "admin@localhost"]);
    assert_eq!(json, json!({"email": "admin@localhost", "reset": false}));
    let out = app.cli(&["users", "reset-2fa", "--email", "nobody@example.com"]);
    assert_ne!(out.status, 0);
    assert!(
        out.stderr
            .contains("no user with the e-mail address nobody@example.com"),
        "{}",
        out.stderr
    );
}

crate::backend_tests!(each_person_sees_their_sessions_and_ends_others);
async fn each_person_sees_their_sessions_and_ends_others() {
    let app = spawn_app_with(&[]).await;
    let ada = person(&app, "ada@example.com", "member").await;
    let phone = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1")
        .build()
        .unwrap();
    let res = sign_in(&app, &phone, "ada@example.com", CHOSEN_PASSWORD).await;
    assert_eq!(res.headers()["location"], "/");
    let laptop = password_free_session(&app).await;

    let list = page(&ada.client, &app, "/security").await;
    assert!(list.contains("Safari on iPhone"), "{list}");
    assert!(list.contains("<code>127.0.0.1</code>"));
    assert!(list.contains("This session"));
    assert_eq!(
        list.matches("name=\"session\"").count(),
        2,
        "two others, each with End"
    );
    // End the phone's session alone.
    let phone_id = value_after(
        &list[list.find("Safari on iPhone").unwrap()..],
        "name=\"session\" value=\"",
    );
    let (status, location, _) = post_form(
        &app,
        &ada.client,
        "/security/sessions/end",
        &[("csrf", &ada.csrf), ("session", &phone_id)],
    )
    .await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/security?ended=1"))
    );
    assert_eq!(get_status(&phone, &app, "/keys").await, 303);
    assert_eq!(get_status(&laptop, &app, "/keys").await, 200);
    // An id that is not theirs (or is gone) ends nothing.
    let (status, _, _) = post_form(
        &app,
        &ada.client,
        "/security/sessions/end",
        &[("csrf", &ada.csrf), ("session", &phone_id)],
    )
    .await;
    assert_eq!(status, 404);
    // All others.
    let (status, location, _) = post_form(
        &app,
        &ada.client,
        "/security/sessions/end",
        &[("csrf", &ada.csrf)],
    )
    .await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/security?ended=1"))
    );
    assert_eq!(get_status(&laptop, &app, "/keys").await, 303);
    assert!(
        !page(&ada.client, &app, "/security")
            .await
            .contains("name=\"session\""),
        "no other session is left"
    );
    // Without the session's CSRF token nothing ends.
    let (status, _, _) = post_form(
        &app,
        &ada.client,
        "/security/sessions/end",
        &[("csrf", "forged")],
    )
    .await;
    assert_eq!(status, 403);
}

/// A second sign-in of ada's, from another browser.
async fn password_free_session(app: &TestApp) -> reqwest::Client {
    let client = browser();
    let res = sign_in(app, &client, "ada@example.com", CHOSEN_PASSWORD).await;
    assert_eq!(res.headers()["location"], "/");
    client
}

crate::backend_tests!(a_sign_in_waits_ten_minutes_for_its_code);
async fn a_sign_in_waits_ten_minutes_for_its_code() {
    let app = spawn_app().await;
    let ada = person(&app, "ada@example.com", "member").await;
    let (secret, _) = set_up(&app, &ada).await;
    // Without a waiting sign-in the code step leads back to the sign-in form.
    let stranger = browser();
    let res = stranger
        .get(format!("{}/login/code", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/login");
    let client = password_step(&app, "ada@example.com").await;
    let (status, _, _) = post_form(
        &app,
        &client,
        "/login/code",
        &[("csrf", "forged"), ("code", "123456")],
    )
    .await;
    assert_eq!(status, 403, "a forged form token is refused");
    let shown = page(&client, &app, "/login/code").await;
    app.clock.advance(11 * 60_000);
    let (status, location, _) = post_form(
        &app,
        &client,
        "/login/code",
        &[
            ("csrf", &csrf_in(&shown)),
            ("code", &code_now(&app, &secret)),
        ],
    )
    .await;
    assert_eq!((status, location.as_deref()), (303, Some("/login")));
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM sessions WHERE stage = 'active' AND expires_at > ?1",
            &[&app.clock.now().0]
        ),
        1,
        "only the set-up's session is open"
    );
}
