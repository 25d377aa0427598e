//! Lighthouse (the npm package, pinned and installed by `.ci/run` under
//! `~/.cache/tidegate-ci/lighthouse`, run with the machine's Chromium) on every signed-in page,
//! in the light and the dark palette: accessibility at least 98 and best practices 100.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::helpers::{TestApp, spawn_app_with};
use crate::people::{CHOSEN_PASSWORD, csrf_in};

fn lighthouse() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(home).join(".cache"));
    let bin = cache.join("tidegate-ci/lighthouse/node_modules/.bin/lighthouse");
    bin.is_file().then_some(bin)
}

/// The value of cookie `name` among a response's Set-Cookie headers.
fn cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

/// Signs the administrator in and chooses their password; returns the session cookie, which
/// Lighthouse sends as a header.
async fn session_cookie(app: &TestApp) -> String {
    let reset = app.cli_json(&["users", "set-password", "--email", "admin@localhost"]);
    let one_time = reset["password"].as_str().unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |path: &str| format!("{}{path}", app.address);
    let login = client.get(url("/login")).send().await.unwrap();
    let login_cookie = cookie(&login, "tidegate_login").expect("the sign-in cookie");
    let form = login.text().await.unwrap();
    let signed_in = client
        .post(url("/login"))
        .header("cookie", format!("tidegate_login={login_cookie}"))
        .form(&[
            ("email", "admin@localhost"),
            ("password", one_time),
            ("csrf", &csrf_in(&form)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let session = cookie(&signed_in, "tidegate_session").expect("a session");
    let header = format!("tidegate_session={session}");
    // A form of the signed-in session, posted with the token of the page it is on.
    let send = |from: &'static str, to: &'static str, fields: Vec<(&'static str, String)>| {
        let (client, header) = (client.clone(), header.clone());
        async move {
            let shown = client
                .get(url(from))
                .header("cookie", &header)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let mut form = vec![("csrf", csrf_in(&shown))];
            form.extend(fields);
            client
                .post(url(to))
                .header("cookie", &header)
                .form(&form)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let chosen = send(
        "/password",
        "/password",
        vec![
            ("current_password", one_time.to_owned()),
            ("new_password", CHOSEN_PASSWORD.to_owned()),
            ("confirm_password", CHOSEN_PASSWORD.to_owned()),
        ],
    )
    .await;
    assert_eq!(chosen, 303);
    // Into the app's account, where the test's key is.
    let switched = send(
        "/keys",
        "/workspace",
        vec![("account_id", app.account_id.clone())],
    )
    .await;
    assert_eq!(switched, 303);
    session
}

/// Lighthouse's accessibility and best-practices scores of `url`, and the audits that failed.
fn audit(bin: &PathBuf, url: &str, session: &str, dark: bool) -> (f64, f64, Vec<String>) {
    let mut flags = "--headless=new --no-sandbox --disable-gpu --disable-background-networking \
                     --disable-dev-shm-usage"
        .to_owned();
    if dark {
        // 0 is dark: what `prefers-color-scheme` then answers.
        flags.push_str(" --blink-settings=preferredColorScheme=0");
    }
    let mut command = Command::new(bin);
    command.arg(url);
    if !session.is_empty() {
        command.arg(format!(
            "--extra-headers={{\"Cookie\":\"tidegate_session={session}\"}}"
        ));
    }
    let out = command
        .arg(format!("--chrome-flags={flags}"))
        .args([
            "--only-categories=accessibility,best-practices",
            "--output=json",
            "--output-path=stdout",
            "--quiet",
        ])
        .env("CHROME_PATH", "/usr/bin/chromium")
        .output()
        .expect("run lighthouse");
    assert!(
        out.status.success(),
        "lighthouse {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert_eq!(report["finalDisplayedUrl"], url, "not sent elsewhere");
    let score = |c: &str| report["categories"][c]["score"].as_f64().unwrap_or(0.0);
    let failed = report["audits"]
        .as_object()
        .unwrap()
        .values()
        .filter(|a| a["score"].as_f64().is_some_and(|s| s < 1.0))
        .filter(|a| a["scoreDisplayMode"] == "binary" || a["scoreDisplayMode"] == "numeric")
        .map(|a| format!("{}: {}", a["id"], a["title"]))
        .collect();
    (score("accessibility"), score("best-practices"), failed)
}

#[tokio::test]
async fn every_signed_in_page_passes_lighthouse_in_light_and_dark() {
    let Some(bin) = lighthouse() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install lighthouse (see .ci/run)"
        );
        eprintln!(
            "skipped: npm install lighthouse under ~/.cache/tidegate-ci/lighthouse (see .ci/run)"
        );
        return;
    };
    // Single sign-on configured, so that the sign-in page is checked with its button (the
    // page reads no provider).
    let app = spawn_app_with(&[
        ("auth.oidc.issuer", "http://127.0.0.1:9".into()),
        ("auth.oidc.client_id", "tidegate".into()),
    ])
    .await;
    let (key, secret) = app.create_key(&[]);
    app.get("/v1/status", Some(&secret)).await;
    let log: i64 = app
        .db()
        .query_row("SELECT max(id) FROM request_logs", &[], |r| r.get(0))
        .unwrap();
    let session = session_cookie(&app).await;
    let session_bin = bin.clone();
    let pages = [
        "/".to_owned(),
        "/keys".to_owned(),
        "/keys/new".to_owned(),
        format!("/keys/{key}"),
        format!("/keys/{key}/edit"),
        "/logs".to_owned(),
        format!("/logs/{log}"),
        "/usage?range=24h".to_owned(),
        "/generations".to_owned(),
        "/webhooks".to_owned(),
        "/members".to_owned(),
        "/activity".to_owned(),
        "/settings".to_owned(),
        "/notifications".to_owned(),
        "/instance".to_owned(),
        "/password".to_owned(),
        "/security".to_owned(),
        "/security/two-factor".to_owned(),
        "/login".to_owned(),
    ];
    let address = app.address.clone();
    let findings = tokio::task::spawn_blocking(move || {
        let mut findings = Vec::new();
        for path in &pages {
            for dark in [false, true] {
                let url = format!("{address}{path}");
                // The sign-in page is seen signed out.
                let cookie = if path == "/login" {
                    ""
                } else {
                    session.as_str()
                };
                let (a11y, practices, failed) = audit(&session_bin, &url, cookie, dark);
                if a11y < 0.98 || practices < 1.0 {
                    findings.push(format!(
                        "{path} ({}): accessibility {a11y}, best practices {practices}: {failed:?}",
                        if dark { "dark" } else { "light" }
                    ));
                }
            }
        }
        findings
    })
    .await
    .unwrap();
    assert!(findings.is_empty(), "{findings:#?}");
}
