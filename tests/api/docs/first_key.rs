//! The README's "Your first key", run as written: the binary started with no arguments in an
//! empty directory, the commands of the section run beside it from the same directory (so
//! `./data` is the server's), their output held against the output the section shows, the
//! section's requests sent to the server, then the sign-in the section describes, in a real browser.

use std::process::Command;

use serde_json::Value;

use crate::browser::{browser_missing, choose_own_password};
use crate::startup::{start_binary, stop_with};
use crate::webdriver::Browser;

/// The fenced code blocks of the README's "Your first key" section, in order.
fn first_key_blocks() -> Vec<String> {
    let readme = super::read(&super::root().join("README.md"));
    let start = readme
        .find("\n## Your first key")
        .expect("README has a section \"Your first key\"");
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in section.lines() {
        if line.trim_start().starts_with("```") {
            match current.take() {
                Some(block) => blocks.push(block),
                None => current = Some(String::new()),
            }
        } else if let Some(block) = current.as_mut() {
            block.push_str(line);
            block.push('\n');
        }
    }
    blocks
}

/// The words of the shown output that stand for what differs from run to run.
const PLACEHOLDERS: [&str; 6] = [
    "ID",
    "KEY",
    "KEY_ID",
    "PASSWORD",
    "GENERATION_ID",
    "bye_XXXXX",
];

enum Piece {
    Text(String),
    /// One run of non-blank characters.
    Hole,
}

/// Whether `actual` is `shown` with each placeholder standing for one run of non-blank
/// characters.
fn matches_shown(shown: &str, actual: &str) -> bool {
    fn matches(pieces: &[Piece], s: &str) -> bool {
        match pieces.split_first() {
            None => s.is_empty(),
            Some((Piece::Text(t), rest)) => {
                s.strip_prefix(t.as_str()).is_some_and(|r| matches(rest, r))
            }
            Some((Piece::Hole, rest)) => s
                .char_indices()
                .take_while(|(_, c)| !c.is_whitespace())
                .any(|(i, c)| matches(rest, &s[i + c.len_utf8()..])),
        }
    }
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut word = String::new();
    let end_word = |word: &mut String, text: &mut String, pieces: &mut Vec<Piece>| {
        if PLACEHOLDERS.contains(&word.as_str()) {
            pieces.push(Piece::Text(std::mem::take(text)));
            pieces.push(Piece::Hole);
        } else {
            text.push_str(word);
        }
        word.clear();
    };
    for c in shown.trim_end().chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            end_word(&mut word, &mut text, &mut pieces);
            text.push(c);
        }
    }
    end_word(&mut word, &mut text, &mut pieces);
    pieces.push(Piece::Text(text));
    matches(&pieces, actual.trim_end())
}

/// The value after `marker` on a line of `text`, up to the next blank.
fn after<'a>(text: &'a str, marker: &str) -> &'a str {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("{marker:?} not in {text}"))
        + marker.len();
    text[at..].split_whitespace().next().unwrap_or_default()
}

#[test]
fn the_placeholders_of_the_shown_output_stand_for_one_word_each() {
    assert!(matches_shown(
        "Created account \"Acme\" with id ID\n",
        "Created account \"Acme\" with id 5f0c-11\n"
    ));
    assert!(matches_shown(
        "Created API key \"ci\" (bye_XXXXX) with id KEY_ID",
        "Created API key \"ci\" (bye_ab12C) with id 42"
    ));
    assert!(!matches_shown(
        "Created account \"Acme\" with id ID",
        "Created account \"Other\" with id 1"
    ));
    assert!(!matches_shown("Added 25.000 credits", "Added 25 credits"));
}

#[tokio::test]
async fn the_readmes_first_key_path_works_as_written() {
    let blocks = first_key_blocks();
    let dir = tempfile::tempdir().unwrap();
    let (mut running, address) = start_binary(dir.path(), &[]);

    // What the server prints, as the section shows it (the address aside: the test's port is 0).
    let started = &blocks[0];
    let admin_line = started.lines().next().unwrap();
    let printed = running.printed.join("\n");
    let admin_printed = running
        .printed
        .iter()
        .find(|l| l.contains("instance administrator"))
        .expect("the administrator's line");
    assert!(
        matches_shown(admin_line, admin_printed),
        "{admin_line}\n{printed}"
    );
    // Then where the store is, as an absolute path.
    assert!(
        started
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("Data directory: /")),
        "{started}"
    );
    let data = dir.path().join("data").canonicalize().unwrap();
    assert!(
        running
            .printed
            .contains(&format!("Data directory: {}", data.display())),
        "{printed}"
    );
    let admin_password = after(admin_printed, "with password ");

    // The commands, in order, each followed by the output it prints.
    let mut account_id = String::new();
    let mut key = String::new();
    let mut commands = 0;
    let mut i = 1;
    while i < blocks.len() {
        let Some(command) = blocks[i].lines().find(|l| l.starts_with("tidegate ")) else {
            i += 1;
            continue;
        };
        let args: Vec<String> = command
            .split_whitespace()
            .skip(1)
            .map(|a| {
                if a == "ID" {
                    account_id.clone()
                } else {
                    a.to_owned()
                }
            })
            .collect();
        let out = Command::new(env!("CARGO_BIN_EXE_tidegate"))
            .args(&args)
            .current_dir(dir.path())
            .env_remove("TIDEGATE_STORAGE__DATA_DIR")
            .env("TIDEGATE_TELEMETRY__LEVEL", "warn")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{command}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let shown = &blocks[i + 1];
        assert_eq!(shown.lines().count(), stdout.lines().count(), "{command}");
        for (want, got) in shown.lines().zip(stdout.lines()) {
            assert!(
                matches_shown(want, got),
                "{command}\nshown:  {want}\nprinted: {got}"
            );
        }
        if stdout.starts_with("Created account") {
            account_id = after(&stdout, "with id ").to_owned();
        }
        if stdout.contains("Key (shown only this once") {
            key = after(&stdout, "store it safely): ").to_owned();
        }
        commands += 1;
        i += 2;
    }
    assert_eq!(commands, 3, "accounts create, credits add, keys create");
    assert!(!account_id.is_empty() && key.starts_with("bye_"));

    // The requests the section sends, to this server's address.
    let section = blocks.join("\n");
    let paths: Vec<&str> = section
        .split("http://127.0.0.1:8080")
        .skip(1)
        .map(|rest| {
            rest.split(|c: char| c.is_whitespace() || c == '"')
                .next()
                .unwrap()
        })
        .filter(|p| p.starts_with("/v1/"))
        .collect();
    assert_eq!(paths.len(), 3, "{paths:?}");
    let body = section
        .split("-d '")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("the generation's body");
    let client = reqwest::Client::new();
    let status = client
        .get(format!("{address}{}", paths[0]))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), 200);
    let created: Value = client
        .post(format!("{address}{}", paths[1]))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["data"]["generation_initialized"], true, "{created}");
    let generation_id = created["data"]["generation_id"].as_str().unwrap();
    let record_path = paths[2].replace("GENERATION_ID", generation_id);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let record = loop {
        let record: Value = client
            .get(format!("{address}{record_path}"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if record["data"]["generation_status"] == "succeeded" {
            break record;
        }
        assert!(std::time::Instant::now() < deadline, "{record}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let file = record["data"]["generation_output_file"][0]
        .as_str()
        .unwrap();
    assert!(
        file.starts_with(&format!("{address}/media/{generation_id}/")),
        "{file}"
    );
    assert_eq!(reqwest::get(file).await.unwrap().status(), 200);

    // Signing in as the administrator, in a real browser: a new password first, then Acme
    // from the Instance page (its dashboard), its key on its API keys page.
    if !browser_missing() {
        let mut browser = Browser::start("first-key").await;
        browser.goto(&format!("{address}/login")).await;
        browser.type_into("#email", "admin@localhost").await;
        browser.type_into("#password", admin_password).await;
        browser.click("form button[type=submit]").await;
        choose_own_password(&mut browser, admin_password).await;
        let keys = browser.source().await;
        assert!(
            keys.contains(&format!("value=\"{account_id}\"")),
            "Acme in the switcher"
        );
        browser.goto(&format!("{address}/instance")).await;
        browser.wait_for("Open Acme").await;
        browser.screenshot_views("instance").await;
        browser.click("button[aria-label='Open Acme']").await;
        browser.wait_for("as the instance administrator").await;
        assert!(
            browser.source().await.contains("<h1>Dashboard</h1>"),
            "Acme's dashboard"
        );
        browser.goto(&format!("{address}/keys")).await;
        let keys = browser.source().await;
        assert!(keys.contains(">ci</a>"), "the key on Acme's API keys page");
        browser.screenshot_views("acme-keys").await;
    }

    assert_eq!(stop_with(&mut running, "-TERM"), 0);
}
