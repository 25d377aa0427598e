//! What a generation costs and what admits it: credits reserved with the record and settled
//! once, test keys, the in-flight cap and a key's allowed models.

use serde_json::json;

use crate::helpers::{assert_error, eventually};
use crate::upstream::{Mode, app_with_fakes};

backend_tests!(credits_are_reserved_with_the_record_and_settled_once);
async fn credits_are_reserved_with_the_record_and_settled_once() {
    let (app, fakes) = app_with_fakes(&[]).await;
    app.add_credits("0.065");
    let (_, key) = app.create_key(&[]);
    let (_, test_key) = app.create_key(&["--test"]);

    let id = app
        .generate(
            "image",
            "tidegate/pattern-1",
            &key,
            json!({"generation_prompt": "one"}),
        )
        .await;
    assert_eq!(app.balance(), 55, "reserved at once");
    app.wait_for(&key, &id, &["succeeded"]).await;
    let kinds: Vec<(String, i64)> = app
        .db()
        .prepare("SELECT kind, amount FROM credit_ledger WHERE reservation_id = ?1 ORDER BY id")
        .unwrap()
        .query_map(&[&&id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        kinds,
        [("reserve".to_owned(), -10), ("charge".to_owned(), 0)]
    );

    // Both painter providers fail: the generation fails and the reservation is refunded.
    fakes.alpha.set(Mode::Fail);
    fakes.beta.set(Mode::Fail);
    let failed = app
        .generate(
            "image",
            "remote/painter",
            &key,
            json!({"generation_prompt": "two"}),
        )
        .await;
    let record = app.wait_for(&key, &failed, &["failed"]).await;
    assert_eq!(record["generation_error_code"], "BSE4003");
    assert!(
        record["generation_error"]
            .as_str()
            .unwrap()
            .contains("alpha")
    );
    assert!(
        !record["generation_error"]
            .as_str()
            .unwrap()
            .contains("sk-alpha-secret")
    );
    assert_eq!(app.balance(), 55, "refunded");
    let second_refund = app.db().execute(
        "INSERT INTO credit_ledger (account_id, kind, amount, reservation_id, actor, created_at)
         VALUES (?1, 'refund', 50, ?2, 'test', 0)",
        &[&&app.account_id, &&failed],
    );
    assert!(
        second_refund.is_err(),
        "the schema allows one settlement per reservation"
    );

    // Short of credits: 402 and nothing created.
    let before = app.generations();
    let (status, _, body) = app
        .post_json(
            "/v1/generate/image/remote/painter",
            &key,
            &json!({"generation_prompt": "three", "generation_output_number": 2}),
            Some("too-dear"),
        )
        .await;
    assert_eq!(status, 402, "{body}");
    assert_error(&body, "BSE1004");
    assert_eq!((app.generations(), app.balance()), (before, 55));

    // A test key spends nothing, and runs on the local provider whatever the model's.
    let free = app
        .generate(
            "image",
            "remote/painter",
            &test_key,
            json!({"generation_prompt": "four", "generation_output_number": 2}),
        )
        .await;
    assert_eq!(app.balance(), 55);
    let record = app.wait_for(&test_key, &free, &["succeeded"]).await;
    assert_eq!(record["generation_provider_used"], "local", "{record}");
    assert_eq!(app.balance(), 55);
    assert_eq!(app.cli(&["check"]).status, 0);

    // A settlement lost outside Tidegate is reported by `tidegate check`.
    app.db()
        .execute(
            "DELETE FROM credit_ledger WHERE reservation_id = ?1 AND kind = 'charge'",
            &[&&id],
        )
        .unwrap();
    let check = app.cli(&["check"]);
    assert_ne!(check.status, 0);
    assert!(
        check.stdout.contains(&format!(
            "reservation {id} is neither settled nor in flight"
        )),
        "{}",
        check.stdout
    );
}

backend_tests!(the_in_flight_cap_and_allowed_models_are_enforced);
async fn the_in_flight_cap_and_allowed_models_are_enforced() {
    let (app, fakes) = app_with_fakes(&[]).await;
    app.db()
        .execute(
            "UPDATE accounts SET plan = 'free' WHERE id = ?1",
            &[&&app.account_id],
        )
        .unwrap();
    app.add_credits("1");
    let (_, key) = app.create_key(&[]);
    let (_, limited) = app.create_key(&["--allowed-models", "tidegate/gradient-1"]);
    let first = app
        .generate(
            "image",
            "remote/slow",
            &key,
            json!({"generation_prompt": "hold"}),
        )
        .await;
    app.wait_for(&key, &first, &["processing"]).await;
    eventually("the upstream to be polled for the first", || {
        fakes.queue.polls() >= 1
    })
    .await;
    let (status, headers, body) = app
        .post_json(
            "/v1/generate/image/tidegate/pattern-1",
            &key,
            &json!({"generation_prompt": "x"}),
            None,
        )
        .await;
    assert_eq!(status, 429, "{body}");
    assert_error(&body, "BSE1009");
    assert!(headers.contains_key("retry-after"));
    assert_eq!(app.generations(), 1);
    let (status, _) = app
        .send_json(
            "POST",
            &format!("/v1/content/generation/cancel/{first}"),
            &key,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(fakes.queue.cancels(), 1);

    let (status, _, body) = app
        .post_json(
            "/v1/generate/image/tidegate/pattern-1",
            &limited,
            &json!({"generation_prompt": "x"}),
            None,
        )
        .await;
    assert_eq!(status, 403);
    assert_error(&body, "BSE1003");
    let (status, _, _) = app
        .post_json(
            "/v1/generate/image/tidegate/gradient-1",
            &limited,
            &json!({"generation_prompt": "x"}),
            None,
        )
        .await;
    assert_eq!(status, 200);
}
