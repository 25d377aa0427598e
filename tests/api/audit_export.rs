//! The activity log read through the management API (filters, pages, its scope), exported as
//! JSON Lines from the Activity page and the command line, and the offline check of an export:
//! intact, and with a line changed, removed or moved.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, spawn_app};
use crate::people::person;

/// Writes some history: keys made from the command line and through the API, and credits.
async fn history(app: &TestApp) -> String {
    let manager = app.manager_key();
    for name in ["one", "two", "three"] {
        let (status, body) = app
            .api(
                "POST",
                "/api-keys",
                &manager,
                Some(json!({ "name": name, "preset": "read_only" })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    app.add_credits("5");
    app.create_key(&[]);
    manager
}

/// Every page of `/activity?{query}`, `limit` entries a page.
async fn all_pages(app: &TestApp, key: &str, query: &str, limit: usize) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!("/activity?limit={limit}&{query}{cursor}");
        let (status, body) = app.api("GET", &path, key, None).await;
        assert_eq!(status, 200, "{path}: {body}");
        let page = body["data"]["activity"].as_array().unwrap().clone();
        assert!(page.len() <= limit);
        entries.extend(page);
        match body["data"]["next_cursor"].as_i64() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return entries,
        }
    }
}

fn is_hash(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

backend_tests!(the_activity_api_filters_pages_and_needs_activity_read);
async fn the_activity_api_filters_pages_and_needs_activity_read() {
    let app = spawn_app().await;
    let manager = history(&app).await;
    let all = all_pages(&app, &manager, "", 2).await;
    let stored = app.count(
        "SELECT count(*) FROM activity WHERE account_id = ?1",
        &[&app.account_id.as_str()],
    );
    assert_eq!(all.len() as i64, stored);
    assert!(all.len() >= 6);
    let ids: Vec<i64> = all.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    for e in &all {
        assert!(is_hash(&e["prev_hash"]) && is_hash(&e["hash"]), "{e}");
    }
    let newest = &all[0];
    let (prev, hash): (String, String) = app
        .db()
        .query_row(
            "SELECT prev_hash, hash FROM activity WHERE id = ?1",
            &[&ids[0]],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (newest["prev_hash"].as_str(), newest["hash"].as_str()),
        (Some(prev.as_str()), Some(hash.as_str()))
    );

    let credits = all_pages(&app, &manager, "category=credits", 50).await;
    assert!(!credits.is_empty());
    assert!(credits.iter().all(|e| e["category"] == "credits"));
    let by_api: Vec<&Value> = all
        .iter()
        .filter(|e| e["actor"].as_str().is_some_and(|a| a.starts_with("key:")))
        .collect();
    assert_eq!(by_api.len(), 3, "the three keys made through the API");
    let actor = by_api[0]["actor"].as_str().unwrap();
    let mine = all_pages(&app, &manager, &format!("actor={}", urlencode(actor)), 50).await;
    assert_eq!(mine.len(), 3);
    assert!(mine.iter().all(|e| e["actor"] == actor));

    let middle = all[all.len() / 2]["created_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let since = all_pages(&app, &manager, &format!("since={}", urlencode(&middle)), 50).await;
    let until = all_pages(&app, &manager, &format!("until={}", urlencode(&middle)), 50).await;
    assert!(
        since
            .iter()
            .all(|e| e["created_at"].as_str().unwrap() >= middle.as_str())
    );
    assert!(
        until
            .iter()
            .all(|e| e["created_at"].as_str().unwrap() < middle.as_str())
    );
    assert_eq!(since.len() + until.len(), all.len());
    assert!(!since.is_empty());
    let (status, body) = app
        .api("GET", "/activity?since=yesterday", &manager, None)
        .await;
    assert_eq!(status, 400);
    assert_eq!(assert_error(&body, "BSE2001")["details"]["field"], "since");
    let (status, _) = app
        .api("GET", "/activity?category=nope", &manager, None)
        .await;
    assert_eq!(status, 400);

    let (_, reader) = app.create_key(&["--scopes", "keys:read"]);
    let (status, body) = app.api("GET", "/activity", &reader, None).await;
    assert_eq!(
        status, 403,
        "keys:read alone does not read the activity log"
    );
    assert_error(&body, "BSE1003");
    let (_, auditor) = app.create_key(&["--scopes", "activity:read"]);
    assert_eq!(app.api("GET", "/activity", &auditor, None).await.0, 200);
    assert_eq!(app.api("GET", "/api-keys", &auditor, None).await.0, 403);
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("v", s)]).unwrap()[2..].to_owned()
}

/// `audit verify --file` on `text` written to a file: exit status, stdout and stderr.
fn verify(app: &TestApp, text: &str, extra: &[&str]) -> crate::helpers::Cli {
    let file = app
        .data_dir
        .path()
        .join(format!("export-{}.jsonl", text.len()));
    std::fs::write(&file, text).unwrap();
    let mut args = vec!["audit", "verify", "--file", file.to_str().unwrap()];
    args.extend(extra);
    app.cli(&args)
}

backend_tests!(exports_from_the_page_and_the_command_line_verify);
async fn exports_from_the_page_and_the_command_line_verify() {
    let app = spawn_app().await;
    history(&app).await;
    let owner = person(&app, "owner@example.com", "owner").await;
    let html = crate::people::page(&owner.client, &app, "/activity?category=apikey").await;
    assert!(
        html.contains("href=\"/activity/export?category=apikey\""),
        "{html}"
    );
    let res = owner
        .client
        .get(format!("{}/activity/export?category=apikey", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/jsonl")
    );
    let page_export = res.text().await.unwrap();
    let lines: Vec<Value> = page_export
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 5);
    for l in &lines {
        assert_eq!(l["category"], "apikey");
        assert_eq!(l["account_id"], app.account_id.as_str());
        assert!(is_hash(&l["prev_hash"]) && is_hash(&l["hash"]) && l["id"].is_i64());
    }
    let out = verify(&app, &page_export, &["--filtered"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains(&format!("Export intact: {} entries", lines.len()))
    );
    let signed_out = app
        .client
        .get(format!("{}/activity/export", app.address))
        .send()
        .await
        .unwrap();
    assert_ne!(signed_out.status(), 200, "the export needs a session");

    let out = app.cli(&["audit", "export"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let stored = app.count("SELECT count(*) FROM activity", &[]);
    assert_eq!(out.stdout.lines().count() as i64, stored);
    let checked = verify(&app, &out.stdout, &["--json"]);
    assert_eq!(checked.status, 0, "{}", checked.stderr);
    let report: Value = serde_json::from_str(&checked.stdout).unwrap();
    assert_eq!(report["intact"], true);
    assert_eq!(report["rows"], stored);

    let third: Value = serde_json::from_str(out.stdout.lines().nth(2).unwrap()).unwrap();
    let since = third["created_at"].as_str().unwrap();
    let tail = app.cli(&["audit", "export", "--since", since]);
    assert_eq!(tail.status, 0, "{}", tail.stderr);
    let first: Value = serde_json::from_str(tail.stdout.lines().next().unwrap()).unwrap();
    assert!(
        first["id"].as_i64().unwrap() > 1,
        "the export starts mid-chain"
    );
    let out = verify(&app, &tail.stdout, &[]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let bad = app.cli(&["audit", "export", "--until", "soon"]);
    assert_eq!(bad.status, 1);
    assert!(bad.stderr.contains("--until"), "{}", bad.stderr);
}

backend_tests!(a_changed_removed_or_moved_line_is_reported_at_its_place);
async fn a_changed_removed_or_moved_line_is_reported_at_its_place() {
    let app = spawn_app().await;
    history(&app).await;
    let out = app.cli(&["audit", "export"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines.len() >= 6);
    let id = |n: usize| {
        serde_json::from_str::<Value>(lines[n - 1]).unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let join = |ls: Vec<String>| ls.join("\n") + "\n";
    let owned: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();

    let mut changed = owned.clone();
    let mut entry: Value = serde_json::from_str(&changed[3]).unwrap();
    entry["description"] = json!("nothing happened here");
    changed[3] = entry.to_string();
    let report = verify(&app, &join(changed), &[]);
    assert_eq!(report.status, 1);
    assert!(
        report
            .stderr
            .contains(&format!("line 4 (entry {}) was changed", id(4))),
        "{}",
        report.stderr
    );

    let mut removed = owned.clone();
    removed.remove(2);
    let report = verify(&app, &join(removed), &[]);
    assert_eq!(report.status, 1);
    assert!(
        report.stderr.contains(&format!(
            "line 3 (entry {}): entry {} before it was removed",
            id(4),
            id(3)
        )),
        "{}",
        report.stderr
    );

    let mut swapped = owned.clone();
    swapped.swap(3, 4);
    let report = verify(&app, &join(swapped), &["--json"]);
    assert_eq!(report.status, 1);
    let json: Value = serde_json::from_str(&report.stdout).unwrap();
    assert_eq!(json["intact"], false);
    let problem = json["break"].as_str().unwrap();
    assert!(
        problem.starts_with(&format!(
            "line 4 (entry {}) is out of order: entry {} comes after it, at line 5",
            id(5),
            id(4)
        )),
        "{problem}"
    );

    let mut garbled = owned.clone();
    garbled[1] = "{\"id\": 2".into();
    let report = verify(&app, &join(garbled), &[]);
    assert!(
        report.stderr.contains("line 2 is not an activity entry"),
        "{}",
        report.stderr
    );
    let report = app.cli(&["audit", "verify"]);
    assert_eq!(
        report.status, 0,
        "the store itself is intact: {}",
        report.stderr
    );
}

backend_tests!(keys_that_read_the_activity_with_keys_read_keep_reading_it);
async fn keys_that_read_the_activity_with_keys_read_keep_reading_it() {
    let app = spawn_app().await;
    let (reader, secret) = app.create_key(&["--scopes", "keys:read"]);
    let (both, _) = app.create_key(&["--scopes", "keys:read,activity:read"]);
    let (other, _) = app.create_key(&["--scopes", "account:read"]);
    let step = match app.db().backend() {
        crate::backend::Backend::Sqlite => {
            include_str!("../../src/store/sql/0017_audit_stream.sql")
        }
        crate::backend::Backend::Postgres => {
            include_str!("../../src/store/sql/postgres/0010_audit_stream.sql")
        }
    };
    // The step's first statement; the table it makes next is there already.
    let update = step.split(';').next().unwrap();
    app.db().execute_batch(update).unwrap();
    let scopes = |id: &str| -> String {
        app.db()
            .query_row("SELECT scopes FROM api_keys WHERE id = ?1", &[&id], |r| {
                r.get(0)
            })
            .unwrap()
    };
    assert_eq!(scopes(&reader), "keys:read,activity:read");
    assert_eq!(scopes(&both), "keys:read,activity:read");
    assert_eq!(scopes(&other), "account:read");
    // Scopes are read when a key is looked up, so the key reads the activity log from now on.
    let (status, _) = app.api("GET", "/activity", &secret, None).await;
    assert_eq!(status, 200);
}
