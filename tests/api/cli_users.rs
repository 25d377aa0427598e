//! `users add-membership|remove-membership|delete`: the primary owner and the instance
//! administrator stay; every refusal changes nothing.

use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};

/// (e-mail, role) of each member of the app's account, as `accounts show` lists them.
fn members(app: &TestApp) -> Vec<(String, String)> {
    let shown = app.cli_json(&["accounts", "show", "--account", &app.account_id]);
    shown["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["email"].as_str().unwrap().into(),
                m["role"].as_str().unwrap().into(),
            )
        })
        .collect()
}

fn emails(users: &Value) -> Vec<String> {
    users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_owned())
        .collect()
}

fn refused(app: &TestApp, args: &[&str], message: &str) {
    let out = app.cli(args);
    assert_eq!(out.status, 1, "{args:?}: {}", out.stderr);
    assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
    assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}

backend_tests!(memberships_are_added_and_removed_but_never_the_primary_owners);
async fn memberships_are_added_and_removed_but_never_the_primary_owners() {
    let app = spawn_app().await;
    app.cli_json(&["users", "create", "--email", "bob@example.com"]);
    let account = app.account_id.as_str();

    let added = app.cli_json(&[
        "users",
        "add-membership",
        "--email",
        "Bob@Example.com",
        "--account",
        account,
        "--role",
        "member",
    ]);
    assert_eq!(added["role"], "member");
    assert_eq!(
        members(&app),
        [
            ("admin@localhost".into(), "primary-owner".into()),
            ("bob@example.com".into(), "member".into())
        ]
    );
    let before = app.count("SELECT count(*) FROM activity", &[]);
    let before_members = members(&app);
    for (args, message) in [
        (
            vec![
                "users",
                "add-membership",
                "--email",
                "bob@example.com",
                "--account",
                account,
                "--role",
                "admin",
            ],
            "--role: unknown role \"admin\"; valid roles: owner, member",
        ),
        (
            vec![
                "users",
                "add-membership",
                "--email",
                "bob@example.com",
                "--account",
                account,
                "--role",
                "owner",
            ],
            "bob@example.com is already a member",
        ),
        (
            vec![
                "users",
                "add-membership",
                "--email",
                "nobody@example.com",
                "--account",
                account,
                "--role",
                "owner",
            ],
            "no user with the e-mail address nobody@example.com",
        ),
        (
            vec![
                "users",
                "add-membership",
                "--email",
                "bob@example.com",
                "--account",
                "nope",
                "--role",
                "owner",
            ],
            "no account with the id \"nope\"",
        ),
        (
            vec![
                "users",
                "remove-membership",
                "--email",
                "admin@localhost",
                "--account",
                account,
            ],
            "is the primary owner of \"Acme\"; transfer the ownership",
        ),
        (
            vec![
                "users",
                "remove-membership",
                "--email",
                "carol@example.com",
                "--account",
                account,
            ],
            "no user with the e-mail address carol@example.com",
        ),
    ] {
        refused(&app, &args, message);
    }
    assert_eq!(members(&app), before_members, "nothing changed");
    assert_eq!(app.count("SELECT count(*) FROM activity", &[]), before);

    let removed = app.cli_json(&[
        "users",
        "remove-membership",
        "--email",
        "bob@example.com",
        "--account",
        account,
    ]);
    assert_eq!(removed["member"], false);
    assert_eq!(
        members(&app),
        [("admin@localhost".into(), "primary-owner".into())]
    );
    refused(
        &app,
        &[
            "users",
            "remove-membership",
            "--email",
            "bob@example.com",
            "--account",
            account,
        ],
        "bob@example.com is not a member of \"Acme\"",
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM activity WHERE account_id = ?1 AND actor = 'cli' AND action IN ('invited', 'removed')",
            &[&app.account_id]
        ),
        2
    );
}

backend_tests!(a_user_is_deleted_unless_they_administer_the_instance_or_own_an_account);
async fn a_user_is_deleted_unless_they_administer_the_instance_or_own_an_account() {
    let app = spawn_app().await;
    let account = app.account_id.as_str();
    app.cli_json(&[
        "users",
        "create",
        "--email",
        "bob@example.com",
        "--account",
        account,
        "--role",
        "owner",
    ]);
    let owned = app.cli_json(&[
        "accounts",
        "create",
        "--name",
        "Carol's",
        "--owner",
        "carol@example.com",
    ]);
    let before = emails(&app.cli_json(&["users", "list"]));

    refused(
        &app,
        &["users", "delete", "--email", "admin@localhost"],
        "admin@localhost is the instance administrator and cannot be deleted",
    );
    refused(
        &app,
        &["users", "delete", "--email", "carol@example.com"],
        &format!(
            "carol@example.com is the primary owner of \"Carol's\" ({})",
            owned["id"].as_str().unwrap()
        ),
    );
    refused(
        &app,
        &["users", "delete", "--email", "nobody@example.com"],
        "no user with the e-mail address",
    );
    refused(
        &app,
        &["users", "delete", "--email", "not an address"],
        "--email: must be an e-mail address",
    );
    assert_eq!(
        emails(&app.cli_json(&["users", "list"])),
        before,
        "nothing changed"
    );

    let deleted = app.cli_json(&["users", "delete", "--email", "bob@example.com"]);
    assert_eq!(deleted["deleted"], true);
    let after = emails(&app.cli_json(&["users", "list"]));
    assert!(!after.contains(&"bob@example.com".to_owned()), "{after:?}");
    assert_eq!(
        members(&app),
        [("admin@localhost".into(), "primary-owner".into())]
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM activity WHERE action = 'deleted' AND category = 'member'",
            &[]
        ),
        1
    );
    assert_eq!(app.cli(&["audit", "verify"]).status, 0);
}
