//! `accounts show|rename|delete` and `credits balance|list`, checked through the server.

use std::time::{Duration, Instant};

use crate::helpers::{TestApp, spawn_app};

/// The status `GET /v1/user/account` answers `key` with, once it is `wanted` (the server sees a
/// change made by a command within its key reader's refresh).
async fn account_status_becomes(app: &TestApp, key: &str, wanted: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = app
            .get("/v1/user/account", Some(key))
            .await
            .status()
            .as_u16();
        if status == wanted {
            return;
        }
        assert!(Instant::now() < deadline, "still {status}, not {wanted}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

backend_tests!(accounts_show_and_rename_agree_with_the_api_and_refuse_bad_input);
async fn accounts_show_and_rename_agree_with_the_api_and_refuse_bad_input() {
    let app = spawn_app().await;
    let (_, key) = app.create_key(&[]);
    app.create_key(&[]);
    let (revoked, _) = app.create_key(&[]);
    app.cli_json(&["keys", "revoke", &revoked]);
    app.cli_json(&[
        "users",
        "create",
        "--email",
        "bob@example.com",
        "--account",
        &app.account_id,
        "--role",
        "member",
    ]);

    let shown = app.cli_json(&["accounts", "show", "--account", &app.account_id]);
    assert_eq!(shown["id"], app.account_id.as_str());
    assert_eq!(shown["name"], "Acme");
    assert_eq!(shown["kind"], "personal");
    assert_eq!(shown["primary_owner"], "admin@localhost");
    assert_eq!(shown["keys"]["active"], 2);
    assert_eq!(shown["keys"]["total"], 3);
    let members: Vec<(String, String)> = shown["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["email"].as_str().unwrap().into(),
                m["role"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        members,
        [
            ("admin@localhost".into(), "primary-owner".into()),
            ("bob@example.com".into(), "member".into())
        ]
    );
    let text = app.cli(&["accounts", "show", "--account", &app.account_id]);
    assert!(
        text.stdout.contains("primary owner  admin@localhost"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("keys           2 active of 3"),
        "{}",
        text.stdout
    );

    let renamed = app.cli_json(&[
        "accounts",
        "rename",
        "--account",
        &app.account_id,
        "--name",
        "Acme Labs",
    ]);
    assert_eq!(renamed["name"], "Acme Labs");
    let (_, account) = app.get_json("/v1/user/account", &key).await;
    assert_eq!(account["data"]["account_name"], "Acme Labs");

    let activity = app.count("SELECT count(*) FROM activity", &[]);
    for (args, message) in [
        (
            vec!["accounts", "show", "--account", "nope"],
            "no account with the id \"nope\"",
        ),
        (
            vec!["accounts", "rename", "--account", "nope", "--name", "X"],
            "no account with the id \"nope\"",
        ),
        (
            vec![
                "accounts",
                "rename",
                "--account",
                &app.account_id,
                "--name",
                " ",
            ],
            "--name: ",
        ),
    ] {
        let out = app.cli(&args);
        assert_eq!(out.status, 1, "{args:?}");
        assert!(
            out.stderr.starts_with("error: ") && out.stderr.contains(message),
            "{args:?}: {}",
            out.stderr
        );
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    }
    assert_eq!(
        app.count("SELECT count(*) FROM activity", &[]),
        activity,
        "nothing recorded"
    );
    let (_, account) = app.get_json("/v1/user/account", &key).await;
    assert_eq!(account["data"]["account_name"], "Acme Labs");
}

backend_tests!(deleting_an_account_needs_its_name_and_ends_its_keys_and_memberships);
async fn deleting_an_account_needs_its_name_and_ends_its_keys_and_memberships() {
    let app = spawn_app().await;
    let (_, key) = app.create_key(&[]);
    app.cli_json(&[
        "users",
        "create",
        "--email",
        "bob@example.com",
        "--account",
        &app.account_id,
        "--role",
        "owner",
    ]);

    let out = app.cli(&[
        "accounts",
        "delete",
        "--account",
        &app.account_id,
        "--confirm",
        "Acne",
    ]);
    assert_eq!(out.status, 1);
    assert!(
        out.stderr
            .contains("--confirm: \"Acne\" is not the account's name"),
        "{}",
        out.stderr
    );
    assert_eq!(
        app.get("/v1/user/account", Some(&key)).await.status(),
        200,
        "nothing changed"
    );
    let out = app.cli(&["accounts", "delete", "--account", &app.account_id]);
    assert_eq!(out.status, 2, "--confirm is required: {}", out.stderr);

    let deleted = app.cli_json(&[
        "accounts",
        "delete",
        "--account",
        &app.account_id,
        "--confirm",
        "Acme",
    ]);
    assert_eq!(deleted["deleted"], true);
    assert_eq!(deleted["keys_revoked"], 1);
    assert_eq!(deleted["members_removed"], 2);
    account_status_becomes(&app, &key, 401).await;
    let listed = app.cli_json(&["accounts", "list"]);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["id"] != app.account_id.as_str())
    );
    let users = app.cli_json(&["users", "list"]);
    let in_account = users
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|u| u["memberships"].as_array().unwrap())
        .filter(|m| m[0] == app.account_id.as_str())
        .count();
    assert_eq!(in_account, 0, "{users}");
    assert_eq!(
        app.count(
            "SELECT count(*) FROM activity WHERE account_id = ?1 AND category = 'account' AND action = 'deleted'",
            &[&app.account_id]
        ),
        1
    );
    assert_eq!(
        app.cli(&["check"]).status,
        0,
        "ledger and activity chain stay whole"
    );
    let again = app.cli(&[
        "accounts",
        "delete",
        "--account",
        &app.account_id,
        "--confirm",
        "Acme",
    ]);
    assert!(
        again.stderr.contains("no account with the id"),
        "{}",
        again.stderr
    );
    let out = app.cli(&["credits", "balance", "--account", &app.account_id]);
    assert_ne!(out.status, 0, "a deleted account has no balance to show");
}

backend_tests!(credits_balance_and_ledger_match_the_billing_api);
async fn credits_balance_and_ledger_match_the_billing_api() {
    let app = spawn_app().await;
    let (_, key) = app.create_key(&[]);
    let add = |amount: &str, reference: Option<&str>| {
        let mut args = vec![
            "credits",
            "add",
            "--account",
            &app.account_id,
            "--amount",
            amount,
        ];
        if let Some(r) = reference {
            args.extend(["--reference", r]);
        }
        app.cli_json(&args);
    };
    add("12.5", Some("inv-1"));
    add("0.125", None);
    let balance = app.cli_json(&["credits", "balance", "--account", &app.account_id]);
    assert_eq!(balance["credit_balance"], 12.625);
    let (_, billing) = app.get_json("/v1/user/billing", &key).await;
    assert_eq!(
        billing["data"]["billing_credit_balance"],
        balance["credit_balance"]
    );
    assert!(
        app.cli(&["credits", "balance", "--account", &app.account_id])
            .stdout
            .contains("12.625 credits")
    );

    let ledger = app.cli_json(&["credits", "list", "--account", &app.account_id]);
    let rows = ledger.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{ledger}");
    assert_eq!(rows[0]["amount"], 0.125);
    assert_eq!(rows[0]["balance_after"], 12.625);
    assert_eq!(rows[0]["actor"], "cli");
    assert_eq!(rows[1]["amount"], 12.5);
    assert_eq!(rows[1]["balance_after"], 12.5);
    assert_eq!(rows[1]["reference"], "inv-1");
    assert_eq!(rows[1]["kind"], "add");
    let one = app.cli_json(&[
        "credits",
        "list",
        "--account",
        &app.account_id,
        "--limit",
        "1",
    ]);
    assert_eq!(one.as_array().unwrap().len(), 1);
    let text = app.cli(&["credits", "list", "--account", &app.account_id]);
    assert!(
        text.stdout.starts_with("TIME") && text.stdout.contains("inv-1"),
        "{}",
        text.stdout
    );

    for (args, message) in [
        (
            vec!["credits", "balance", "--account", "nope"],
            "no account with the id \"nope\"",
        ),
        (
            vec!["credits", "list", "--account", "nope"],
            "no account with the id \"nope\"",
        ),
        (
            vec![
                "credits",
                "list",
                "--account",
                &app.account_id,
                "--limit",
                "0",
            ],
            "--limit",
        ),
        (
            vec!["credits", "add", "--account", "nope", "--amount", "1"],
            "no account with the id \"nope\"",
        ),
    ] {
        let out = app.cli(&args);
        assert_eq!(out.status, 1, "{args:?}");
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
    }
    let (_, billing) = app.get_json("/v1/user/billing", &key).await;
    assert_eq!(
        billing["data"]["billing_credit_balance"], 12.625,
        "nothing changed"
    );
}
