//! Users, credits, rotation, backup, check and the audit chain from the command line, on the
//! data directory of a running server.

use crate::helpers::{SendChecked, assert_error, spawn_app};

backend_tests!(users_are_created_with_a_one_time_password_and_a_role);
async fn users_are_created_with_a_one_time_password_and_a_role() {
    let app = spawn_app().await;
    let user = app.cli_json(&[
        "users",
        "create",
        "--email",
        "Ada@Example.com",
        "--account",
        &app.account_id,
        "--role",
        "owner",
    ]);
    assert_eq!(user["email"], "ada@example.com");
    let password = user["password"].as_str().unwrap();
    assert!(password.len() >= 16);
    let hash: String = app
        .db()
        .query_row(
            "SELECT password_hash FROM users WHERE email = 'ada@example.com'",
            &[],
            |r| r.get(0),
        )
        .unwrap();
    assert!(tidegate::testing::verify_password(password, &hash));
    assert!(!hash.contains(password));
    let role: String = app.db().query_row("SELECT role FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'ada@example.com'", &[], |r| r.get(0)).unwrap();
    assert_eq!(role, "owner");

    let listed = app.cli_json(&["users", "list"]);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["email"] == "ada@example.com")
    );

    for bad in [
        vec!["users", "create", "--email", "ada@example.com"],
        vec!["users", "create", "--email", "not-an-email"],
        vec![
            "users",
            "create",
            "--email",
            "bob@example.com",
            "--account",
            &app.account_id,
            "--role",
            "primary-owner",
        ],
    ] {
        let out = app.cli(&bad);
        assert_ne!(out.status, 0, "{bad:?}");
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    }

    let reset = app.cli_json(&["users", "set-password", "--email", "ada@example.com"]);
    let new_password = reset["password"].as_str().unwrap();
    let hash: String = app
        .db()
        .query_row(
            "SELECT password_hash FROM users WHERE email = 'ada@example.com'",
            &[],
            |r| r.get(0),
        )
        .unwrap();
    assert!(tidegate::testing::verify_password(new_password, &hash));
    assert!(!tidegate::testing::verify_password(password, &hash));
}

backend_tests!(credits_are_added_once_per_reference_and_the_ledger_balances);
async fn credits_are_added_once_per_reference_and_the_ledger_balances() {
    let app = spawn_app().await;
    let (_, key) = app.create_key(&[]);
    let added = app.cli_json(&[
        "credits",
        "add",
        "--account",
        &app.account_id,
        "--amount",
        "12.5",
        "--reference",
        "inv-1",
    ]);
    assert_eq!(added["added"], true);
    let again = app.cli_json(&[
        "credits",
        "add",
        "--account",
        &app.account_id,
        "--amount",
        "12.5",
        "--reference",
        "inv-1",
    ]);
    assert_eq!(again["added"], false);
    app.cli_json(&[
        "credits",
        "add",
        "--account",
        &app.account_id,
        "--amount",
        "0.125",
    ]);
    let (_, billing) = app.get_json("/v1/user/billing", &key).await;
    assert_eq!(billing["data"]["billing_credit_balance"], 12.625);

    for amount in ["0", "-5", "1.2345", "lots"] {
        let out = app.cli(&[
            "credits",
            "add",
            "--account",
            &app.account_id,
            "--amount",
            amount,
        ]);
        assert_ne!(out.status, 0, "{amount}");
    }
    assert_eq!(app.cli(&["check"]).status, 0);
    app.db()
        .execute(
            "UPDATE accounts SET credit_balance = credit_balance + 1",
            &[],
        )
        .unwrap();
    let out = app.cli(&["check"]);
    assert_ne!(out.status, 0);
    assert!(out.stdout.contains("ledger"), "{}", out.stdout);
}

backend_tests!(keys_rotate_and_delete_from_the_command_line_while_the_server_runs);
async fn keys_rotate_and_delete_from_the_command_line_while_the_server_runs() {
    let app = spawn_app().await;
    let (id, old) = app.create_key(&[]);
    let rotated = app.cli_json(&["keys", "rotate", &id, "--grace-hours", "2"]);
    let new = rotated["key"].as_str().unwrap().to_owned();
    assert_eq!(rotated["previous_key"]["status"], "rotated");
    assert_eq!(app.get("/v1/status", Some(&old)).await.status(), 200);
    assert_eq!(app.get("/v1/status", Some(&new)).await.status(), 200);
    app.cli_json(&["keys", "expire-now", &id]);
    assert_eq!(app.get("/v1/status", Some(&old)).await.status(), 401);
    let bad = app.cli(&["keys", "rotate", &id, "--grace-hours", "169"]);
    assert_ne!(bad.status, 0);

    let new_id = rotated["id"].as_str().unwrap();
    let deleted = app.cli_json(&["keys", "delete", new_id]);
    assert_eq!(deleted["deleted"], true);
    let (status, body) = app.get_json("/v1/status", &new).await;
    assert_eq!(status, 401);
    assert_error(&body, "BSE1002");
}

backend_tests!(a_backup_taken_while_serving_is_consistent_and_passes_check);
async fn a_backup_taken_while_serving_is_consistent_and_passes_check() {
    let app = spawn_app().await;
    let (id, key) = app.create_key(&[]);
    let mut load = Vec::new();
    for _ in 0..20 {
        let client = app.client.clone();
        let url = format!("{}/v1/status", app.address);
        let key = key.clone();
        load.push(tokio::spawn(async move {
            client
                .get(url)
                .bearer_auth(key)
                .send_checked()
                .await
                .status()
                .as_u16()
        }));
    }
    let target = app.data_dir.path().join("backup.db");
    let out = app.cli(&["backup", target.to_str().unwrap()]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    for task in load {
        assert_eq!(task.await.unwrap(), 200);
    }
    let check = app.cli(&["check", target.to_str().unwrap()]);
    assert_eq!(check.status, 0, "{}{}", check.stdout, check.stderr);
    assert!(check.stdout.contains("activity chain intact"));
    let copy = rusqlite::Connection::open(&target).unwrap();
    let found: i64 = copy
        .query_row("SELECT count(*) FROM api_keys WHERE id = ?1", [&&id], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(found, 1);
    let again = app.cli(&["backup", target.to_str().unwrap()]);
    assert_ne!(again.status, 0, "an existing file is never overwritten");
}

backend_tests!(editing_or_deleting_an_activity_row_breaks_the_chain_and_is_reported);
async fn editing_or_deleting_an_activity_row_breaks_the_chain_and_is_reported() {
    let app = spawn_app().await;
    for _ in 0..3 {
        app.create_key(&[]);
    }
    let intact = app.cli_json(&["audit", "verify"]);
    assert_eq!(intact["intact"], true);
    let rows = intact["rows"].as_i64().unwrap();
    assert!(rows >= 5);

    let target: i64 = app
        .db()
        .query_row(
            "SELECT id FROM activity ORDER BY id LIMIT 1 OFFSET 2",
            &[],
            |r| r.get(0),
        )
        .unwrap();
    app.db()
        .execute(
            "UPDATE activity SET description = 'nothing happened' WHERE id = ?1",
            &[&target],
        )
        .unwrap();
    let out = app.cli(&["audit", "verify"]);
    assert_ne!(out.status, 0);
    assert!(
        out.stderr.contains(&format!("row {target}")),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("changed"), "{}", out.stderr);
    assert_ne!(app.cli(&["check"]).status, 0);

    // A deleted row is found too.
    let app = spawn_app().await;
    for _ in 0..3 {
        app.create_key(&[]);
    }
    let victim: i64 = app
        .db()
        .query_row(
            "SELECT id FROM activity ORDER BY id LIMIT 1 OFFSET 1",
            &[],
            |r| r.get(0),
        )
        .unwrap();
    app.db()
        .execute("DELETE FROM activity WHERE id = ?1", &[&victim])
        .unwrap();
    let out = app.cli(&["audit", "verify", "--json"]);
    assert_ne!(out.status, 0);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["intact"], false);
    assert!(
        report["break"]
            .as_str()
            .unwrap()
            .contains(&format!("row {}", victim + 1)),
        "{report}"
    );
}

backend_tests!(run_job_runs_one_maintenance_job_now);
async fn run_job_runs_one_maintenance_job_now() {
    let app = spawn_app().await;
    let (id, _) = app.create_key(&["--expires-in-days", "1"]);
    app.db()
        .execute(
            "UPDATE api_keys SET expires_at = 1000 WHERE id = ?1",
            &[&&id],
        )
        .unwrap();
    let outcome = app.cli_json(&["run-job", "expire-rotated-keys"]);
    assert_eq!(outcome["job"], "expire-rotated-keys");
    assert_eq!(outcome["keys_expired"], 1);
    let human = app.cli(&["run-job", "expire-rotated-keys"]);
    assert_eq!(human.status, 0);
    assert!(human.stdout.contains("0 keys"), "{}", human.stdout);
    let unknown = app.cli(&["run-job", "tidy-up"]);
    assert_ne!(unknown.status, 0);
    assert!(
        unknown.stderr.contains("purge-request-logs"),
        "{}",
        unknown.stderr
    );
}
