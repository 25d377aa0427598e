//! Keys from the command line: format, storage at rest, lifecycle switches.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use crate::helpers::{SendChecked, eventually, spawn_app};

backend_tests!(a_created_key_has_the_documented_format_and_only_its_digest_is_stored);
async fn a_created_key_has_the_documented_format_and_only_its_digest_is_stored() {
    let app = spawn_app().await;
    let created = app.cli_json(&[
        "keys",
        "create",
        "--account",
        &app.account_id,
        "--name",
        "ci",
        "--preset",
        "read_only",
    ]);
    let key = created["key"].as_str().unwrap();

    assert_eq!(key.len(), 42);
    assert!(key.starts_with("bye_"));
    let prefix = created["key_prefix"].as_str().unwrap();
    assert_eq!(prefix.len(), 9);
    assert_eq!(prefix, &key[..9]);
    assert_eq!(
        created["scopes"],
        serde_json::json!([
            "generation:read",
            "account:read",
            "health:read",
            "library:read"
        ])
    );
    assert_eq!(created["status"], "active");

    let stored: String = app
        .db()
        .query_row(
            "SELECT key_hash FROM api_keys WHERE id = ?1",
            &[&created["id"].as_str().unwrap()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, tidegate::testing::KeyDigest::of(key).to_hex());
    // The raw key is nowhere in the database files.
    if crate::helpers::Backend::current() == crate::helpers::Backend::Sqlite {
        app.sqlite()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .unwrap();
    }
    for file in ["tidegate.db", "tidegate.db-wal"] {
        if let Ok(bytes) = std::fs::read(app.data_dir.path().join(file)) {
            assert!(
                !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
                "{file} holds the raw key"
            );
        }
    }
    // Listing and showing never reveal it either.
    let listed = app.cli(&["keys", "list", "--json"]).stdout;
    let shown = app
        .cli(&["keys", "show", created["id"].as_str().unwrap()])
        .stdout;
    assert!(!listed.contains(key) && !shown.contains(key));
    assert!(!listed.contains(&stored), "the digest is not shown either");
}

backend_tests!(test_keys_carry_the_test_marker);
async fn test_keys_carry_the_test_marker() {
    let app = spawn_app().await;
    let (_, key) = app.create_key(&["--test"]);
    assert!(key.starts_with("bye_test_"));
    assert_eq!(key.len(), 47);
    let (status, body) = app.get_json("/v1/status", &key).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["apikey_prefix"], &key[..14]);
}

backend_tests!(revoke_disable_and_enable_take_effect_on_the_very_next_request);
async fn revoke_disable_and_enable_take_effect_on_the_very_next_request() {
    let app = spawn_app().await;
    let (id, key) = app.create_key(&[]);
    assert_eq!(app.get("/v1/status", Some(&key)).await.status(), 200);

    let disabled = app.cli_json(&["keys", "disable", &id]);
    assert_eq!(disabled["status"], "disabled");
    let (status, body) = app.get_json("/v1/status", &key).await;
    assert_eq!(status, 401);
    assert!(
        crate::helpers::assert_error(&body, "BSE1002")["message"]
            .as_str()
            .unwrap()
            .contains("disabled")
    );

    assert_eq!(app.cli_json(&["keys", "enable", &id])["status"], "active");
    assert_eq!(app.get("/v1/status", Some(&key)).await.status(), 200);

    assert_eq!(app.cli_json(&["keys", "revoke", &id])["status"], "revoked");
    let (status, body) = app.get_json("/v1/status", &key).await;
    assert_eq!(status, 401);
    assert!(
        crate::helpers::assert_error(&body, "BSE1002")["message"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );
    // The refused request is logged once, as refused.
    assert_eq!(
        app.log_outcomes(body["request_id"].as_str().unwrap()),
        vec![(401, Some("BSE1002".to_owned()))]
    );

    // Revoked is final.
    for cmd in ["enable", "disable", "revoke"] {
        let out = app.cli(&["keys", cmd, &id]);
        assert_ne!(out.status, 0, "{cmd} on a revoked key");
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    }
    let activity = app.count(
        "SELECT count(*) FROM activity WHERE category = 'apikey' AND target = ?1",
        &[&&id],
    );
    assert_eq!(activity, 4, "created, disabled, enabled, revoked");
}

backend_tests!(bad_key_input_from_the_command_line_is_refused_and_creates_nothing);
async fn bad_key_input_from_the_command_line_is_refused_and_creates_nothing() {
    let app = spawn_app().await;
    let account = app.account_id.clone();
    let long_name = "x".repeat(101);
    let cases: Vec<Vec<&str>> = vec![
        vec!["--name", "", "--preset", "full_access"],
        vec!["--name", &long_name, "--preset", "full_access"],
        vec!["--name", "k", "--preset", "everything"],
        vec!["--name", "k", "--scopes", "*:*"],
        vec!["--name", "k", "--scopes", "account:read,nope"],
        vec![
            "--name",
            "k",
            "--preset",
            "full_access",
            "--ips",
            "10.0.0.0/33",
        ],
        vec![
            "--name",
            "k",
            "--preset",
            "full_access",
            "--expires-at",
            "2001-01-01",
        ],
        vec![
            "--name",
            "k",
            "--preset",
            "full_access",
            "--expires-in-days",
            "0",
        ],
        vec![
            "--name",
            "k",
            "--preset",
            "full_access",
            "--rate-limit",
            "-5",
        ],
        vec![
            "--name",
            "k",
            "--preset",
            "full_access",
            "--allowed-models",
            "Not A Model",
        ],
    ];
    for extra in cases {
        let mut args = vec!["keys", "create", "--account", &account];
        args.extend(&extra);
        let out = app.cli(&args);
        assert_ne!(out.status, 0, "{extra:?} was accepted");
        assert!(
            out.stderr.starts_with("error: "),
            "{extra:?}: {}",
            out.stderr
        );
    }
    let unknown = app.cli(&[
        "keys",
        "create",
        "--account",
        "no-such-account",
        "--name",
        "k",
        "--preset",
        "full_access",
    ]);
    assert_ne!(unknown.status, 0);
    let keys = app.count("SELECT count(*) FROM api_keys", &[]);
    assert_eq!(keys, 0);
}

backend_tests!(keys_list_and_show_describe_the_keys);
async fn keys_list_and_show_describe_the_keys() {
    let app = spawn_app().await;
    let (id, _) = app.create_key(&[
        "--ips",
        "10.0.0.1,2001:DB8::1/64",
        "--expires-in-days",
        "30",
        "--rate-limit",
        "5",
    ]);
    let listed = app.cli_json(&["keys", "list", "--account", &app.account_id]);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let shown = app.cli_json(&["keys", "show", &id]);
    assert_eq!(
        shown["ip_allowlist"],
        serde_json::json!(["10.0.0.1", "2001:db8::/64"])
    );
    assert_eq!(shown["rate_limit_per_minute"], 5);
    assert!(shown["expires_at"].as_str().unwrap().ends_with('Z'));
    assert!(shown.get("key").is_none() && shown.get("key_hash").is_none());
    let human = app.cli(&["keys", "list"]);
    assert!(human.stdout.contains("test key") && human.stdout.contains("active"));
}

backend_tests!(multi_thread: a_revoke_under_load_refuses_every_request_sent_after_it_and_logs_each_once);
async fn a_revoke_under_load_refuses_every_request_sent_after_it_and_logs_each_once() {
    let app = spawn_app().await;
    let (id, key) = app.create_key(&[]);
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..8 {
        let (client, url, key, stop, answered) = (
            app.client.clone(),
            format!("{}/v1/status", app.address),
            key.clone(),
            stop.clone(),
            answered.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                let res = client.get(&url).bearer_auth(&key).send_checked().await;
                seen.push((sent, res.status().as_u16()));
                answered.fetch_add(1, Ordering::Relaxed);
            }
            seen
        }));
    }
    // Let the clients warm the key cache, then revoke from another process.
    let answers = || answered.load(Ordering::Relaxed);
    eventually("the clients to call", || answers() >= 200).await;
    // The clients go on meanwhile, on the runtime's other worker.
    let out = tokio::task::block_in_place(|| app.cli(&["keys", "revoke", &id]));
    assert_eq!(out.status, 0, "{}", out.stderr);
    let revoked = Instant::now();
    let target = answers() + 200;
    eventually("the clients to call after the revoke", || {
        answers() >= target
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let mut seen = Vec::new();
    for client in clients {
        seen.extend(client.await.unwrap());
    }

    assert!(seen.iter().any(|&(_, status)| status == 200));
    let late: Vec<u16> = seen
        .iter()
        .filter(|&&(sent, _)| sent > revoked)
        .map(|&(_, status)| status)
        .collect();
    assert!(
        late.len() >= 100,
        "{} requests after the revoke",
        late.len()
    );
    // Refused as revoked, or, after many refusals, by the address limiter (BSE1006).
    assert!(late.contains(&401), "{late:?}");
    assert!(
        late.iter().all(|&s| s == 401 || s == 429),
        "served after the revoke: {late:?}"
    );
    // A request decided from the cache and decided again is still one row; so is one the address
    // limiter refused once the key was found revoked.
    let rows = app.log_rows(&id);
    assert_eq!(rows, i64::try_from(seen.len()).unwrap());
}

backend_tests!(a_reader_that_goes_away_ends_the_output_quietly);
async fn a_reader_that_goes_away_ends_the_output_quietly() {
    let app = spawn_app().await;
    let (id, _) = app.create_key(&[]);
    // Standard output is a pipe whose reader is gone, as with `| head` once head has read enough.
    for args in [
        vec!["keys", "list"],
        vec!["keys", "show", id.as_str()],
        vec!["keys", "list", "--json"],
        vec!["print-config"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tidegate"))
            .args(&args)
            .env("TIDEGATE_STORAGE__DATA_DIR", app.data_dir.path())
            .env("TIDEGATE_TELEMETRY__LEVEL", "warn")
            .envs(crate::backend::store_env(app.data_dir.path()))
            .stdout(writer)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
}
