//! Hostile clients: password guessing from many addresses, slow bodies, connection floods. None
//! of them may keep anyone else out.

use serde_json::json;

use crate::helpers::{TestApp, spawn_app_with};
use crate::people::{browser, csrf_in};

/// A server behind a reverse proxy on loopback, so tests can speak from any address.
async fn app_behind_a_proxy() -> TestApp {
    spawn_app_with(&[("server.trusted_proxies", json!(["127.0.0.1/32"]))]).await
}

/// Posts the sign-in form from `ip` (through the trusted proxy); returns the status and the
/// Retry-After seconds, if any.
async fn sign_in_from(app: &TestApp, ip: &str, email: &str, password: &str) -> (u16, u64) {
    thread_local! {
        static CLIENT: reqwest::Client = browser();
    }
    let client = CLIENT.with(reqwest::Client::clone);
    let form = client
        .get(format!("{}/login", app.address))
        .header("x-forwarded-for", ip)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let res = client
        .post(format!("{}/login", app.address))
        .header("x-forwarded-for", ip)
        .form(&[
            ("email", email),
            ("password", password),
            ("csrf", &csrf_in(&form)),
        ])
        .send()
        .await
        .unwrap();
    let retry = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(0);
    (res.status().as_u16(), retry)
}

fn admin_password(app: &TestApp) -> String {
    let reset = app.cli_json(&["users", "set-password", "--email", "admin@localhost"]);
    reset["password"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn failures_from_many_addresses_delay_but_never_lock_out_the_right_password() {
    let app = app_behind_a_proxy().await;
    let password = admin_password(&app);
    // Twelve addresses each get one wrong password verified, waiting out the delays as a
    // patient guesser would.
    for n in 1..=12 {
        let ip = format!("198.51.100.{n}");
        loop {
            match sign_in_from(&app, &ip, "admin@localhost", "wrong password").await {
                (401, _) => break,
                (429, wait) => {
                    assert!((1..=30).contains(&wait), "{wait}");
                    app.clock.advance(i64::try_from(wait).unwrap() * 1000);
                }
                other => panic!("{other:?}"),
            }
        }
    }
    // The owner, from a thirteenth address, is in within a minute of the last failure.
    let mut waited = 0;
    loop {
        match sign_in_from(&app, "203.0.113.13", "admin@localhost", &password).await {
            (303, _) => break,
            (429, wait) => {
                waited += wait;
                app.clock.advance(i64::try_from(wait).unwrap() * 1000);
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(waited <= 60, "the right password waited {waited} s");
    // A success clears the delay.
    assert_eq!(
        sign_in_from(&app, "203.0.113.13", "admin@localhost", &password)
            .await
            .0,
        303
    );
}

#[tokio::test]
async fn a_guesser_on_any_number_of_addresses_gets_one_guess_per_30_seconds() {
    let app = app_behind_a_proxy().await;
    // Ten minutes of one guess a second, each from a new address.
    let (mut verified, mut refused) = (0, 0);
    for second in 0..600 {
        let ip = format!("10.{}.{}.1", second / 250, second % 250);
        match sign_in_from(&app, &ip, "admin@localhost", "guess").await.0 {
            401 => verified += 1,
            429 => refused += 1,
            other => panic!("{other}"),
        }
        app.clock.advance(1000);
    }
    // Three free failures, then delays of 1, 2, 4, 8 and 16 s, then one every 30 s: guesses are
    // checked at 0, 1, 2, 3, 4, 6, 10, 18 and 34 s, then every 30 s, 27 in ten minutes.
    assert!(verified <= 27, "{verified} guesses checked");
    assert!(verified >= 20, "{verified}: the delay is not a lock");
    assert_eq!(verified + refused, 600);
}

#[tokio::test]
async fn one_address_is_blocked_after_its_failures_whatever_the_e_mail() {
    let app = spawn_app_with(&[
        ("server.trusted_proxies", json!(["127.0.0.1/32"])),
        ("auth.signin_max_failures", json!(3)),
    ])
    .await;
    let password = admin_password(&app);
    for n in 0..3 {
        let email = format!("nobody{n}@example.com");
        assert_eq!(sign_in_from(&app, "192.0.2.7", &email, "x").await.0, 401);
    }
    let (status, wait) = sign_in_from(&app, "192.0.2.7", "admin@localhost", &password).await;
    assert_eq!(status, 429, "the address is blocked");
    assert!(wait > 60, "{wait}: for the rest of the window");
    // Another address is not.
    assert_eq!(
        sign_in_from(&app, "192.0.2.8", "admin@localhost", &password)
            .await
            .0,
        303
    );
}
