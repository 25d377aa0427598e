//! Keys named by their display prefix, `keys update`, and refusals that speak of the flags and
//! list the valid values.

use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};

fn refused(app: &TestApp, args: &[&str], message: &str) {
    let out = app.cli(args);
    assert_ne!(out.status, 0, "{args:?}");
    assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
    assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}

/// The key as the management API shows it.
async fn api_key(app: &TestApp, manager: &str, id: &str) -> Value {
    let (status, body) = app
        .api("GET", &format!("/api-keys/{id}"), manager, None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

backend_tests!(
    a_key_is_found_by_a_unique_start_of_its_prefix_and_an_ambiguous_one_lists_the_matches
);
async fn a_key_is_found_by_a_unique_start_of_its_prefix_and_an_ambiguous_one_lists_the_matches() {
    let app = spawn_app().await;
    let manager = app.manager_key();
    let (id, _) = app.create_key(&[]);
    let (other, _) = app.create_key(&[]);
    let prefix = app.cli_json(&["keys", "show", &id])["key_prefix"]
        .as_str()
        .unwrap()
        .to_owned();

    let shown = app.cli_json(&["keys", "show", &prefix]);
    assert_eq!(shown["id"], id.as_str());
    let disabled = app.cli_json(&["keys", "disable", &prefix]);
    assert_eq!(disabled["id"], id.as_str());
    assert_eq!(api_key(&app, &manager, &id).await["status"], "disabled");
    assert_eq!(api_key(&app, &manager, &other).await["status"], "active");

    let out = app.cli(&["keys", "revoke", "bye_"]);
    assert_eq!(out.status, 1);
    assert!(
        out.stderr.contains("\"bye_\" matches several API keys"),
        "{}",
        out.stderr
    );
    let other_prefix = app.cli_json(&["keys", "show", &other])["key_prefix"]
        .as_str()
        .unwrap()
        .to_owned();
    for (p, i) in [(&prefix, &id), (&other_prefix, &other)] {
        assert!(
            out.stderr.contains(&format!(
                "{p} \"test key\" (id {i}, account {})",
                app.account_id
            )),
            "{}",
            out.stderr
        );
    }
    assert_eq!(out.stderr.lines().count(), 1);
    assert_eq!(
        api_key(&app, &manager, &other).await["status"],
        "active",
        "nothing revoked"
    );

    refused(
        &app,
        &["keys", "enable", "bye_zzzzzzzz"],
        "no API key with the id or prefix \"bye_zzzzzzzz\"",
    );
    refused(
        &app,
        &["keys", "delete", "nope"],
        "no API key with the id or prefix \"nope\"",
    );
    let enabled = app.cli_json(&["keys", "enable", &id]);
    assert_eq!(enabled["status"], "active");
}

backend_tests!(keys_update_edits_what_the_api_can_and_names_the_flag_it_refuses);
async fn keys_update_edits_what_the_api_can_and_names_the_flag_it_refuses() {
    let app = spawn_app().await;
    let manager = app.manager_key();
    let (id, _) = app.create_key(&[]);
    let prefix = app.cli_json(&["keys", "show", &id])["key_prefix"]
        .as_str()
        .unwrap()
        .to_owned();

    let updated = app.cli_json(&[
        "keys",
        "update",
        "--key",
        &prefix,
        "--name",
        "renamed",
        "--expires-in-days",
        "30",
        "--allowed-ips",
        "10.0.0.0/8,192.0.2.1",
        "--rate-limit",
        "5",
        "--allowed-models",
        "tidegate/gradient-1",
    ]);
    assert_eq!(updated["name"], "renamed");
    let shown = api_key(&app, &manager, &id).await;
    assert_eq!(shown["name"], "renamed");
    assert_eq!(shown["rate_limit_per_minute"], 5);
    assert_eq!(
        shown["ip_allowlist"],
        serde_json::json!(["10.0.0.0/8", "192.0.2.1"])
    );
    assert_eq!(
        shown["allowed_models"],
        serde_json::json!(["tidegate/gradient-1"])
    );
    assert!(shown["expires_at"].is_string(), "{shown}");

    app.cli_json(&[
        "keys",
        "update",
        "--key",
        &id,
        "--no-expiry",
        "--allowed-ips",
        "",
        "--no-rate-limit",
    ]);
    let shown = api_key(&app, &manager, &id).await;
    assert!(shown["expires_at"].is_null(), "{shown}");
    assert!(shown["ip_allowlist"].is_null(), "{shown}");
    assert!(shown["rate_limit_per_minute"].is_null(), "{shown}");

    let before = app.count("SELECT count(*) FROM activity", &[]);
    for (args, message) in [
        (
            vec!["--expires-in-days", "0"],
            "--expires-in-days: must be between 1 and 3650",
        ),
        (
            vec!["--expires-at", "2001-01-01"],
            "--expires-at: must be in the future",
        ),
        (
            vec!["--expires-at", "soon"],
            "--expires-at: must be an RFC 3339 time",
        ),
        (
            vec!["--rate-limit", "-1"],
            "--rate-limit: must be a positive whole number",
        ),
        (vec!["--allowed-ips", "10.0.0.300"], "--allowed-ips: "),
        (
            vec!["--allowed-models", "no-owner"],
            "--allowed-models: entry 0 is not a model identifier",
        ),
        (vec!["--name", ""], "--name: "),
        (vec![], "nothing to change"),
    ] {
        let mut all = vec!["keys", "update", "--key", &prefix];
        all.extend(args);
        refused(&app, &all, message);
    }
    assert_eq!(
        app.count("SELECT count(*) FROM activity", &[]),
        before,
        "nothing recorded"
    );
    assert_eq!(api_key(&app, &manager, &id).await["name"], "renamed");
    let clash = app.cli(&[
        "keys",
        "update",
        "--key",
        &id,
        "--expires-at",
        "2030-01-01",
        "--no-expiry",
    ]);
    assert_eq!(
        clash.status, 2,
        "clap refuses two expiries: {}",
        clash.stderr
    );
    refused(
        &app,
        &["keys", "update", "--key", "bye_zzzzzzzz", "--name", "x"],
        "no API key with the id or prefix",
    );
}

backend_tests!(an_unknown_preset_plan_role_region_or_job_lists_the_valid_ones);
async fn an_unknown_preset_plan_role_region_or_job_lists_the_valid_ones() {
    let app = spawn_app().await;
    let account = app.account_id.as_str();
    let keys = app.count("SELECT count(*) FROM api_keys", &[]);
    refused(
        &app,
        &[
            "keys",
            "create",
            "--account",
            account,
            "--name",
            "k",
            "--preset",
            "admin",
        ],
        "unknown preset \"admin\" for --preset; valid presets: full_access, generate_only, read_only, monitor_only, key_management",
    );
    refused(
        &app,
        &[
            "keys",
            "create",
            "--account",
            account,
            "--name",
            "k",
            "--scopes",
            "account:read,everything",
        ],
        "unknown scope \"everything\" for --scopes; valid scopes: generation:write, ",
    );
    refused(
        &app,
        &[
            "keys",
            "create",
            "--account",
            account,
            "--name",
            "k",
            "--preset",
            "full_access",
            "--expires-in-days",
            "9999",
        ],
        "--expires-in-days: must be between 1 and 3650",
    );
    refused(
        &app,
        &[
            "keys",
            "create",
            "--account",
            "nope",
            "--name",
            "k",
            "--preset",
            "full_access",
        ],
        "no account with the id \"nope\"",
    );
    assert_eq!(app.count("SELECT count(*) FROM api_keys", &[]), keys);
    let accounts = app.count("SELECT count(*) FROM accounts", &[]);
    refused(
        &app,
        &["accounts", "create", "--name", "X", "--plan", "gold"],
        "--plan: no plan named \"gold\" (plans: ",
    );
    refused(
        &app,
        &["accounts", "create", "--name", "X", "--region", "mars"],
        "--region: \"mars\" is not a region this instance serves (",
    );
    assert_eq!(app.count("SELECT count(*) FROM accounts", &[]), accounts);
    refused(
        &app,
        &[
            "users",
            "create",
            "--email",
            "x@example.com",
            "--account",
            account,
            "--role",
            "boss",
        ],
        "--role: role must be owner or member",
    );
    refused(
        &app,
        &["run-job", "purge-everything"],
        "unknown job \"purge-everything\"; the jobs are expire-rotated-keys, warn-expiring-keys",
    );
}
