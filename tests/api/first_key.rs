//! The README's first-key path, as a new operator follows it: the binary on its embedded
//! defaults in an empty directory, an account and a key made with the command line run in the
//! same directory, `/v1/status` and a first generation with that key, then the instance
//! administrator signing in (in a real browser) with the printed password, choosing their own,
//! opening the account and finding the key on its API keys page.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::browser::{browser_missing, choose_own_password};
use crate::startup::{start_binary, stop_with};
use crate::webdriver::Browser;

/// `tidegate ARGS` in `dir`, as typed in a shell there: no data directory in the environment.
fn tidegate(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tidegate"))
        .current_dir(dir)
        .args(args)
        .env_remove("TIDEGATE_STORAGE__DATA_DIR")
        .env_remove("TIDEGATE_STORAGE__BACKEND")
        .env_remove("TIDEGATE_STORAGE__POSTGRES_URL")
        .env_remove("TIDEGATE_ADMIN_PASSWORD")
        .env("TIDEGATE_TELEMETRY__LEVEL", "warn")
        .output()
        .expect("run tidegate");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "tidegate {args:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The text after `prefix` on the line that starts with it.
fn after<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{text}"))
        .trim()
}

#[tokio::test]
async fn the_readme_first_key_path_works_from_an_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (mut running, address) = start_binary(dir.path(), &[]);
    let admin_line = running
        .printed()
        .iter()
        .find(|l| l.starts_with("Created the instance administrator admin@localhost"))
        .expect("the first start prints the administrator's password")
        .clone();
    let admin_password = admin_line
        .split("with password ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .expect("a password on the line")
        .to_owned();

    // The account, with a primary owner who is a new user.
    let created = tidegate(
        dir.path(),
        &[
            "accounts",
            "create",
            "--name",
            "Acme",
            "--owner",
            "you@example.com",
        ],
    );
    let account = after(&created, "Created account \"Acme\" with id ").to_owned();
    assert!(created.contains("you@example.com"), "{created}");

    // Credits for the first generation, then the key.
    tidegate(
        dir.path(),
        &["credits", "add", "--account", &account, "--amount", "25"],
    );
    let made = tidegate(
        dir.path(),
        &[
            "keys",
            "create",
            "--account",
            &account,
            "--name",
            "ci",
            "--preset",
            "full_access",
        ],
    );
    let key = after(&made, "Key (shown only this once, store it safely):").to_owned();
    assert!(key.starts_with("bye_"), "{made}");

    // curl -H "Authorization: Bearer $KEY" http://127.0.0.1:8080/v1/status
    let http = reqwest::Client::new();
    let status = http
        .get(format!("{address}/v1/status"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), 200);
    let body: Value = status.json().await.unwrap();
    assert_eq!(body["status"], "success", "{body}");

    // The first generation, on the offline provider, and its image.
    let accepted = http
        .post(format!("{address}/v1/generate/image/tidegate/pattern-1"))
        .bearer_auth(&key)
        .header("Idempotency-Key", "first-try")
        .json(&json!({"generation_prompt": "a lighthouse at dusk", "generation_ratio": "16:9"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        accepted.status(),
        200,
        "a new account with credits generates"
    );
    let accepted: Value = accepted.json().await.unwrap();
    let id = accepted["data"]["generation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    let record = loop {
        let got: Value = http
            .get(format!("{address}/v1/content/{id}"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let state = got["data"]["generation_status"].as_str().unwrap_or("");
        if state == "succeeded" || state == "failed" {
            break got["data"].clone();
        }
        assert!(Instant::now() < deadline, "generation still {state}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(record["generation_status"], "succeeded", "{record}");
    let media = record["generation_output_file"][0].as_str().unwrap();
    let image = http.get(media).send().await.unwrap();
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/png");

    // The administrator signs in, replaces the printed password, opens Acme and sees the key.
    if !browser_missing() {
        let mut browser = Browser::start("first-key").await;
        browser.goto(&format!("{address}/login")).await;
        browser.type_into("#email", "admin@localhost").await;
        browser.type_into("#password", &admin_password).await;
        browser.click("form button[type=submit]").await;
        choose_own_password(&mut browser, &admin_password).await;
        browser.goto(&format!("{address}/instance")).await;
        browser.wait_for("Acme").await;
        browser.screenshot_views("instance").await;
        browser.click("button[aria-label='Open Acme']").await;
        browser.wait_for("<h1>API keys</h1>").await;
        let keys = browser.source().await;
        assert!(keys.contains(">ci</a>"), "the key made on the command line");
        assert!(
            keys.contains("Acme"),
            "the switcher names the opened account"
        );
        browser.screenshot_views("acme-keys").await;
    }

    assert_eq!(stop_with(&mut running, "-TERM"), 0);
}
