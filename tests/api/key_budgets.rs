//! Per-key credit budgets (docs/keys.md, "Per-key budgets"): a generation that would pass the
//! key's budget for the period is refused with 402 BSE1010 before anything is reserved; refunds
//! give budget back; the period renews at UTC midnight; `apikey.budget_reached` fires at 80 %
//! and 100 % once per period; the command line sets, shows and removes a budget, refusing bad
//! input by its flag; rotation carries it.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error};
use crate::notifications::assert_documented;
use crate::receiver;
use crate::upstream::{Mode, app_with_fakes};
use crate::webhooks::{add_endpoint, wait_for_event};

const DAY_MS: i64 = 86_400_000;

fn ledger_rows(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM credit_ledger", &[])
}

async fn generate(app: &TestApp, key: &str, model: &str) -> (u16, Value) {
    let (status, _, body) = app
        .post_json(
            &format!("/v1/generate/image/{model}"),
            key,
            &json!({ "generation_prompt": "a lighthouse" }),
            None,
        )
        .await;
    (status, body)
}

backend_tests!(multi_thread: a_generation_past_the_key_budget_is_refused_and_refunds_give_budget_back);
async fn a_generation_past_the_key_budget_is_refused_and_refunds_give_budget_back() {
    let (app, fakes) = app_with_fakes(&[]).await;
    let receiver = receiver::start();
    add_endpoint(&app, &receiver, "apikey.budget_reached");
    app.add_credits("10");
    // tidegate/pattern-1 costs 0.010, remote/painter 0.050.
    let (key_id, key) = app.create_key(&["--budget-credits", "0.05", "--budget-period", "day"]);
    for _ in 0..4 {
        assert_eq!(generate(&app, &key, "tidegate/pattern-1").await.0, 200);
    }
    let eighty = wait_for_event(&receiver, "apikey.budget_reached", 1).await;
    assert_documented(&eighty[0]);
    assert_eq!(eighty[0]["webhook_data"]["budget_percent"], 80);
    assert_eq!(eighty[0]["webhook_data"]["budget_period"], "day");

    assert_eq!(generate(&app, &key, "tidegate/pattern-1").await.0, 200);
    let hundred = wait_for_event(&receiver, "apikey.budget_reached", 2).await;
    assert_eq!(hundred[1]["webhook_data"]["budget_percent"], 100);

    // Spent in full: refused before anything is reserved.
    let (rows, balance) = (ledger_rows(&app), app.balance());
    let (status, body) = generate(&app, &key, "tidegate/pattern-1").await;
    assert_eq!(status, 402, "{body}");
    let error = assert_error(&body, "BSE1010");
    assert_eq!(error["details"]["budget_period"], "day");
    assert_eq!(error["details"]["budget_credits"], 0.05);
    assert_eq!(error["details"]["budget_spent"], 0.05);
    assert!(error["details"]["budget_resets_at"].is_string());
    assert_eq!((ledger_rows(&app), app.balance()), (rows, balance));

    // Another key of the account is not held by this one's budget.
    let (_, other) = app.create_key(&[]);
    assert_eq!(generate(&app, &other, "tidegate/pattern-1").await.0, 200);

    // A refunded generation gives its budget back.
    app.cli_json(&[
        "keys",
        "budget",
        &key_id,
        "--budget-credits",
        "0.1",
        "--budget-period",
        "day",
    ]);
    fakes.alpha.set(Mode::Fail);
    fakes.beta.set(Mode::Fail);
    let (status, body) = generate(&app, &key, "remote/painter").await;
    assert_eq!(status, 200, "{body}");
    let failed = body["data"]["generation_id"].as_str().unwrap().to_owned();
    app.wait_for(&key, &failed, &["failed"]).await;
    fakes.alpha.set(Mode::Ok);
    fakes.beta.set(Mode::Ok);
    assert_eq!(
        generate(&app, &key, "remote/painter").await.0,
        200,
        "refunded"
    );
    assert_eq!(generate(&app, &key, "tidegate/pattern-1").await.0, 402);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM webhook_events WHERE event = 'apikey.budget_reached'",
            &[]
        ),
        2,
        "once per threshold and period"
    );

    // The next day the budget is whole again, and its alerts may fire again.
    app.clock.advance(DAY_MS);
    for _ in 0..8 {
        assert_eq!(generate(&app, &key, "tidegate/pattern-1").await.0, 200);
    }
    wait_for_event(&receiver, "apikey.budget_reached", 3).await;
}

backend_tests!(the_command_line_sets_shows_and_removes_a_budget_and_rotation_carries_it);
async fn the_command_line_sets_shows_and_removes_a_budget_and_rotation_carries_it() {
    let app = crate::helpers::spawn_app().await;
    let (id, _) = app.create_key(&[]);
    let bad = [
        (
            vec!["--budget-credits", "-1", "--budget-period", "day"],
            "--budget-credits",
        ),
        (
            vec!["--budget-credits", "0", "--budget-period", "day"],
            "--budget-credits",
        ),
        (
            vec!["--budget-credits", "20", "--budget-period", "fortnight"],
            "--budget-period",
        ),
        (vec!["--budget-credits", "20"], "--budget-period"),
    ];
    for (args, flag) in bad {
        let mut all = vec!["keys", "budget", id.as_str()];
        all.extend(args.iter().copied());
        let out = app.cli(&all);
        assert_eq!(out.status, 1, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(flag), "{args:?}: {}", out.stderr);
    }
    let out = app.cli(&[
        "keys",
        "create",
        "--account",
        &app.account_id,
        "--name",
        "bad",
        "--preset",
        "read_only",
        "--budget-credits",
        "abc",
        "--budget-period",
        "week",
    ]);
    assert_eq!(out.status, 1);
    assert!(out.stderr.contains("--budget-credits"), "{}", out.stderr);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM api_keys WHERE budget_credits IS NOT NULL",
            &[]
        ),
        0,
        "nothing stored"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM api_keys WHERE name = 'bad'", &[]),
        0
    );

    let set = app.cli_json(&[
        "keys",
        "budget",
        &id,
        "--budget-credits",
        "20",
        "--budget-period",
        "week",
    ]);
    assert_eq!(
        set,
        json!({ "key_id": id, "budget_credits": 20.0, "budget_period": "week" })
    );
    let shown = app.cli(&["keys", "show", &id]);
    assert!(
        shown.stdout.contains("budget       20.000 credits a week"),
        "{}",
        shown.stdout
    );
    let rotated = app.cli_json(&["keys", "rotate", &id]);
    let new_id = rotated["id"].as_str().unwrap();
    let shown = app.cli(&["keys", "show", new_id]);
    assert!(
        shown.stdout.contains("20.000 credits a week"),
        "carried: {}",
        shown.stdout
    );
    let removed = app.cli_json(&["keys", "budget", new_id, "--none"]);
    assert_eq!(removed["budget_credits"], Value::Null);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM activity WHERE action = 'edited' AND description LIKE '%budget%'",
            &[]
        ),
        2
    );
}

backend_tests!(the_management_api_sets_shows_and_removes_a_budget);
async fn the_management_api_sets_shows_and_removes_a_budget() {
    let app = crate::helpers::spawn_app().await;
    let manager = app.manager_key();
    let (status, body) = app
        .api(
            "POST",
            "/api-keys",
            &manager,
            Some(json!({ "name": "ci", "preset": "generate_only",
                         "budget_credits": 12.5, "budget_period": "month" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["budget_credits"], 12.5);
    assert_eq!(body["data"]["budget_period"], "month");
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    for (bad, field) in [
        (json!({ "budget_credits": 5 }), "budget_period"),
        (
            json!({ "budget_credits": -5, "budget_period": "day" }),
            "budget_credits",
        ),
        (
            json!({ "budget_credits": 5, "budget_period": "year" }),
            "budget_period",
        ),
    ] {
        let (status, body) = app
            .api(
                "PATCH",
                &format!("/api-keys/{id}"),
                &manager,
                Some(bad.clone()),
            )
            .await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(
            assert_error(&body, "BSE2001")["details"]["field"],
            field,
            "{bad}"
        );
    }
    let (_, shown) = app
        .api("GET", &format!("/api-keys/{id}"), &manager, None)
        .await;
    assert_eq!(shown["data"]["budget_credits"], 12.5, "unchanged: {shown}");
    let (status, body) = app
        .api(
            "PATCH",
            &format!("/api-keys/{id}"),
            &manager,
            Some(json!({ "budget_credits": null })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["budget_credits"], Value::Null);
    assert_eq!(body["data"]["budget_period"], Value::Null);
}

backend_tests!(an_owner_sets_and_removes_a_budget_on_the_key_forms);
async fn an_owner_sets_and_removes_a_budget_on_the_key_forms() {
    let app = crate::helpers::spawn_app().await;
    let owner = crate::people::person(&app, "owner@example.com", "owner").await;
    let res = owner
        .client
        .post(format!("{}/keys/new", app.address))
        .form(&[
            ("csrf", owner.csrf.as_str()),
            ("name", "budgeted"),
            ("mode", "generate_only"),
            ("budget_credits", "20"),
            ("budget_period", "week"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let id: String = app
        .db()
        .query_row(
            "SELECT id FROM api_keys WHERE name = 'budgeted'",
            &[],
            |r| r.get(0),
        )
        .unwrap();
    let detail = crate::people::page(&owner.client, &app, &format!("/keys/{id}")).await;
    assert!(detail.contains("20.000 credits a week"), "{detail}");
    let edit = crate::people::page(&owner.client, &app, &format!("/keys/{id}/edit")).await;
    assert!(edit.contains("value=\"20.000\""));
    assert!(edit.contains("<option value=\"week\" selected"));
    let res = owner
        .client
        .post(format!("{}/keys/{id}/edit", app.address))
        .form(&[
            ("csrf", owner.csrf.as_str()),
            ("name", "budgeted"),
            ("budget_credits", ""),
            ("budget_period", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let detail = crate::people::page(&owner.client, &app, &format!("/keys/{id}")).await;
    assert!(
        detail.contains("<dt>Credit budget</dt><dd>None</dd>"),
        "{detail}"
    );
}
