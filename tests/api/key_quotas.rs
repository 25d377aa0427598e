//! Per-key request quotas (docs/keys.md, "Request quotas"): every admitted request takes one
//! from the key's quota; past it the key is refused with 429 BSE1011 (with `Retry-After` at the
//! refill, when there is one) and spends nothing; the refill is worked out from the clock at
//! use; rotation carries the quota and its count, which the old key shares while its grace
//! lasts; every surface sets it and refuses bad input by its field, storing nothing.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error};

/// Status, `X-Key-Quota-Remaining` and body of `GET /v1/status`.
async fn status(app: &TestApp, key: &str) -> (u16, Option<i64>, Value) {
    let res = app.get("/v1/status", Some(key)).await;
    let code = res.status().as_u16();
    let left = remaining(&res);
    (code, left, res.json().await.unwrap())
}

fn remaining(res: &reqwest::Response) -> Option<i64> {
    res.headers()
        .get("x-key-quota-remaining")
        .map(|v| v.to_str().unwrap().parse().unwrap())
}

/// Moves the server's clock to `at` (RFC 3339).
fn set_clock(app: &TestApp, at: &str) {
    let target = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
        .unwrap()
        .unix_timestamp()
        * 1000;
    app.clock.advance(target - app.clock.now().millis());
}

backend_tests!(multi_thread: sixty_four_clients_at_once_get_exactly_the_quota);
async fn sixty_four_clients_at_once_get_exactly_the_quota() {
    let app = crate::helpers::spawn_app().await;
    let (_, key) = app.create_key(&["--quota-requests", "50", "--quota-refill", "none"]);
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..64 {
        let (client, url, key) = (app.client.clone(), app.address.clone(), key.clone());
        calls.spawn(async move {
            let mut answers = Vec::new();
            for _ in 0..2 {
                let res = client
                    .get(format!("{url}/v1/status"))
                    .bearer_auth(&key)
                    .send()
                    .await
                    .unwrap();
                let left = remaining(&res);
                let body: Value = res.json().await.unwrap();
                answers.push((body["status"].as_str().unwrap().to_owned(), left, body));
            }
            answers
        });
    }
    let mut served = BTreeSet::new();
    let mut refused = 0;
    while let Some(done) = calls.join_next().await {
        for (outcome, left, body) in done.unwrap() {
            if outcome == "success" {
                assert!(served.insert(left.unwrap()), "{left:?} twice");
                assert_eq!(body["data"]["apikey_quota_remaining"], left.unwrap());
            } else {
                assert_eq!(assert_error(&body, "BSE1011")["retryable"], false);
                assert_eq!(left, Some(0));
                refused += 1;
            }
        }
    }
    // Each of the 50 requests got its own place in the count, and no request went past it.
    assert_eq!(served, (0..50).collect::<BTreeSet<i64>>());
    assert_eq!(refused, 78);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM request_logs WHERE error_code = 'BSE1011'",
            &[]
        ),
        78,
        "every refusal is in the request log"
    );
}

backend_tests!(a_monthly_quota_refills_at_midnight_on_its_day_or_a_shorter_months_last_day);
async fn a_monthly_quota_refills_at_midnight_on_its_day_or_a_shorter_months_last_day() {
    let app = crate::helpers::spawn_app().await;
    app.add_credits("10");
    let (id, key) = app.create_key(&[
        "--quota-requests",
        "2",
        "--quota-refill",
        "monthly",
        "--quota-refill-day",
        "31",
    ]);
    // April has 30 days: a refill on the 31st falls on the 30th.
    set_clock(&app, "2027-04-29T23:59:58Z");
    let (code, left, body) = status(&app, &key).await;
    assert_eq!((code, left), (200, Some(1)), "{body}");
    assert_eq!(body["data"]["apikey_quota_requests"], 2);
    assert_eq!(
        body["data"]["apikey_quota_refills_at"],
        "2027-04-30T00:00:00.000Z"
    );
    assert_eq!(status(&app, &key).await.1, Some(0));

    let res = app.get("/v1/status", Some(&key)).await;
    assert_eq!(res.status(), 429);
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&wait), "Retry-After {wait}");
    let body: Value = res.json().await.unwrap();
    let error = assert_error(&body, "BSE1011");
    assert_eq!(error["retryable"], true);
    assert_eq!(
        error["details"]["quota_refills_at"],
        "2027-04-30T00:00:00.000Z"
    );
    assert_eq!(error["details"]["quota_requests"], 2);

    // A generation over the quota spends nothing.
    let (rows, balance) = (
        app.count("SELECT count(*) FROM credit_ledger", &[]),
        app.balance(),
    );
    let (code, _, body) = app
        .post_json(
            "/v1/generate/image/tidegate/pattern-1",
            &key,
            &json!({ "generation_prompt": "a lighthouse" }),
            None,
        )
        .await;
    assert_eq!(code, 429, "{body}");
    assert_error(&body, "BSE1011");
    assert_eq!(
        (
            app.count("SELECT count(*) FROM credit_ledger", &[]),
            app.balance()
        ),
        (rows, balance)
    );

    // At midnight the quota is whole again, with no job run: the next use refills it.
    set_clock(&app, "2027-04-30T00:00:01Z");
    let (code, left, body) = status(&app, &key).await;
    assert_eq!((code, left), (200, Some(1)), "{body}");
    assert_eq!(
        body["data"]["apikey_quota_refills_at"],
        "2027-05-31T00:00:00.000Z"
    );
    let manager = app.manager_key();
    let (_, shown) = app
        .api("GET", &format!("/api-keys/{id}"), &manager, None)
        .await;
    assert_eq!(shown["data"]["quota_remaining"], 1, "{shown}");
    assert_eq!(shown["data"]["quota_refill"], "monthly");
    assert_eq!(shown["data"]["quota_refill_day"], 31);
}

backend_tests!(a_quota_that_never_refills_is_refused_with_nothing_to_wait_for);
async fn a_quota_that_never_refills_is_refused_with_nothing_to_wait_for() {
    let app = crate::helpers::spawn_app().await;
    let (_, plain) = app.create_key(&[]);
    let (_, body) = app.get_json("/v1/status", &plain).await;
    assert!(
        body["data"].get("apikey_quota_remaining").is_none(),
        "a key without a quota answers as before: {body}"
    );
    let (_, key) = app.create_key(&["--quota-requests", "1", "--quota-refill", "none"]);
    assert_eq!(status(&app, &key).await.1, Some(0));
    let res = app.get("/v1/status", Some(&key)).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().get("retry-after").is_none());
    let body: Value = res.json().await.unwrap();
    let error = assert_error(&body, "BSE1011");
    assert_eq!(error["retryable"], false);
    assert!(error["details"].get("quota_refills_at").is_none(), "{body}");
}

backend_tests!(rotation_carries_the_quota_and_the_old_key_shares_it_during_its_grace);
async fn rotation_carries_the_quota_and_the_old_key_shares_it_during_its_grace() {
    let app = crate::helpers::spawn_app().await;
    let (old_id, old) = app.create_key(&["--quota-requests", "5", "--quota-refill", "none"]);
    assert_eq!(status(&app, &old).await.1, Some(4));
    assert_eq!(status(&app, &old).await.1, Some(3));
    let rotated = app.cli_json(&["keys", "rotate", &old_id]);
    assert_eq!(rotated["quota_requests"], 5);
    assert_eq!(rotated["quota_remaining"], 3, "carried: {rotated}");
    let (new_id, new) = (
        rotated["id"].as_str().unwrap().to_owned(),
        rotated["key"].as_str().unwrap().to_owned(),
    );
    assert_eq!(status(&app, &new).await.1, Some(2));
    assert_eq!(status(&app, &old).await.1, Some(1), "one count for both");
    let shown = app.cli_json(&["keys", "show", &old_id]);
    assert_eq!(shown["quota_remaining"], 1);

    // Raised on the new key, the quota is raised for the old key too.
    let raised = app.cli_json(&["keys", "quota", &new_id, "--quota-requests", "10"]);
    assert_eq!(
        (&raised["quota_refill"], &raised["quota_remaining"]),
        (&json!("none"), &json!(6)),
        "the refill kept: {raised}"
    );
    assert_eq!(status(&app, &old).await.1, Some(5));
    assert_eq!(status(&app, &new).await.1, Some(4));
    let text = app.cli(&["keys", "show", &new_id]).stdout;
    assert!(
        text.contains("quota        10 requests, never refilled: 4 left"),
        "{text}"
    );
    let removed = app.cli_json(&["keys", "quota", &new_id, "--none"]);
    assert_eq!(removed["quota_requests"], Value::Null);
    let res = app.get("/v1/status", Some(&old)).await;
    assert_eq!(res.status(), 200);
    assert!(remaining(&res).is_none(), "no quota left on either key");
}

backend_tests!(every_surface_refuses_bad_quota_input_naming_its_field_and_stores_nothing);
async fn every_surface_refuses_bad_quota_input_naming_its_field_and_stores_nothing() {
    let app = crate::helpers::spawn_app().await;
    let (id, _) = app.create_key(&[]);
    let bad: [(&[&str], &str); 6] = [
        (
            &["--quota-requests", "-1", "--quota-refill", "daily"],
            "--quota-requests",
        ),
        (
            &["--quota-requests", "0", "--quota-refill", "daily"],
            "--quota-requests",
        ),
        (
            &["--quota-requests", "9", "--quota-refill", "hourly"],
            "--quota-refill",
        ),
        (&["--quota-requests", "9"], "--quota-refill"),
        (
            &["--quota-requests", "9", "--quota-refill", "monthly"],
            "--quota-refill-day",
        ),
        (
            &[
                "--quota-requests",
                "9",
                "--quota-refill",
                "monthly",
                "--quota-refill-day",
                "32",
            ],
            "--quota-refill-day",
        ),
    ];
    for (args, flag) in bad {
        let mut edit = vec!["keys", "quota", id.as_str()];
        edit.extend_from_slice(args);
        let mut create = vec![
            "keys",
            "create",
            "--account",
            &app.account_id,
            "--name",
            "bad",
            "--preset",
            "read_only",
        ];
        create.extend_from_slice(args);
        for command in [edit, create] {
            let out = app.cli(&command);
            assert_eq!(out.status, 1, "{command:?}: {}", out.stderr);
            assert!(out.stderr.contains(flag), "{command:?}: {}", out.stderr);
        }
    }

    let manager = app.manager_key();
    let bodies = [
        (
            json!({ "quota_requests": -5, "quota_refill": "daily" }),
            "quota_requests",
        ),
        (
            json!({ "quota_requests": 5, "quota_refill": "yearly" }),
            "quota_refill",
        ),
        (json!({ "quota_requests": 5 }), "quota_refill"),
        (
            json!({ "quota_requests": 5, "quota_refill": "monthly" }),
            "quota_refill_day",
        ),
        (
            json!({ "quota_requests": 5, "quota_refill": "weekly", "quota_refill_day": 3 }),
            "quota_refill_day",
        ),
    ];
    for (body, field) in &bodies {
        let mut create = body.clone();
        create["name"] = json!("bad");
        create["preset"] = json!("read_only");
        let (status, answer) = app.api("POST", "/api-keys", &manager, Some(create)).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(
            assert_error(&answer, "BSE2001")["details"]["field"],
            *field,
            "{body}"
        );
        let (status, answer) = app
            .api(
                "PATCH",
                &format!("/api-keys/{id}"),
                &manager,
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(
            assert_error(&answer, "BSE2001")["details"]["field"],
            *field,
            "{body}"
        );
    }

    let owner = crate::people::person(&app, "owner@example.com", "owner").await;
    let res = owner
        .client
        .post(format!("{}/keys/{id}/edit", app.address))
        .form(&[
            ("csrf", owner.csrf.as_str()),
            ("name", "plain"),
            ("quota_requests", "40"),
            ("quota_refill", "monthly"),
            ("quota_refill_day", "0"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    assert!(page.contains("id=\"quota-error\""), "{page}");
    assert!(page.contains("value=\"40\""), "the input is kept");

    assert_eq!(
        app.count(
            "SELECT count(*) FROM api_keys WHERE quota_requests IS NOT NULL",
            &[]
        ),
        0,
        "nothing stored"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM api_keys WHERE name = 'bad'", &[]),
        0
    );

    // Set through the management API; a field left out of an edit keeps its value.
    let (status, answer) = app
        .api(
            "PATCH",
            &format!("/api-keys/{id}"),
            &manager,
            Some(json!({ "quota_requests": 1000, "quota_refill": "monthly", "quota_refill_day": 31 })),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["quota_remaining"], 1000);
    assert!(answer["data"]["quota_refills_at"].is_string());
    let (_, answer) = app
        .api(
            "PATCH",
            &format!("/api-keys/{id}"),
            &manager,
            Some(json!({ "quota_requests": 500 })),
        )
        .await;
    assert_eq!(
        (
            &answer["data"]["quota_refill"],
            &answer["data"]["quota_refill_day"]
        ),
        (&json!("monthly"), &json!(31))
    );
    let (_, answer) = app
        .api(
            "PATCH",
            &format!("/api-keys/{id}"),
            &manager,
            Some(json!({ "quota_refill": "weekly" })),
        )
        .await;
    assert_eq!(answer["data"]["quota_refill_day"], Value::Null, "{answer}");
    // The management API's own answers carry the header for a key with a quota.
    let (status, answer) = app
        .api(
            "POST",
            "/api-keys",
            &manager,
            Some(json!({ "name": "automation", "preset": "key_management",
                         "quota_requests": 3, "quota_refill": "daily" })),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let limited = answer["data"]["key"].as_str().unwrap();
    let res = app
        .client
        .get(format!("{}/api/v1/api-keys", app.address))
        .bearer_auth(limited)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(remaining(&res), Some(2));
    let (status, answer) = app
        .api(
            "PATCH",
            &format!("/api-keys/{id}"),
            &manager,
            Some(json!({ "quota_requests": null })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(answer["data"]["quota_requests"], Value::Null);
}

backend_tests!(an_owner_sets_a_quota_on_the_forms_and_sees_what_is_left);
async fn an_owner_sets_a_quota_on_the_forms_and_sees_what_is_left() {
    let app = crate::helpers::spawn_app().await;
    let owner = crate::people::person(&app, "owner@example.com", "owner").await;
    let res = owner
        .client
        .post(format!("{}/keys/new", app.address))
        .form(&[
            ("csrf", owner.csrf.as_str()),
            ("name", "metered"),
            ("mode", "full_access"),
            ("quota_requests", "10"),
            ("quota_refill", "monthly"),
            ("quota_refill_day", "15"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let created = crate::people::page(
        &owner.client,
        &app,
        res.headers()["location"].to_str().unwrap(),
    )
    .await;
    let key = created
        .split('"')
        .find(|s| s.starts_with("bye_") && s.len() == 42)
        .expect("the new key is shown once")
        .to_owned();
    let id: String = app
        .db()
        .query_row("SELECT id FROM api_keys WHERE name = 'metered'", &[], |r| {
            r.get(0)
        })
        .unwrap();
    // A quota of 10 is taken one request at a time on either engine (a block is a twentieth,
    // at least 1), so the pages read the exact count.
    assert_eq!(status(&app, &key).await.1, Some(9));
    let detail = crate::people::page(&owner.client, &app, &format!("/keys/{id}")).await;
    assert!(
        detail
            .contains("<strong data-number=\"9\">9</strong> of <span data-number=\"10\">10</span> requests left, \
         refilled on day 15 of every month"),
        "{detail}"
    );
    let list = crate::people::page(&owner.client, &app, "/keys").await;
    assert!(
        list.contains("quota: <span data-number=\"9\">9</span> of"),
        "{list}"
    );
    let edit = crate::people::page(&owner.client, &app, &format!("/keys/{id}/edit")).await;
    assert!(edit.contains("value=\"10\""), "{edit}");
    assert!(edit.contains("<option value=\"monthly\" selected"));
    assert!(edit.contains("value=\"15\""));
    let res = owner
        .client
        .post(format!("{}/keys/{id}/edit", app.address))
        .form(&[
            ("csrf", owner.csrf.as_str()),
            ("name", "metered"),
            ("quota_requests", ""),
            ("quota_refill", ""),
            ("quota_refill_day", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let detail = crate::people::page(&owner.client, &app, &format!("/keys/{id}")).await;
    assert!(
        detail.contains("<dt>Request quota</dt><dd>None</dd>"),
        "{detail}"
    );
}

/// Beside other nodes each node takes requests in blocks of a twentieth of the quota: the two
/// nodes together never serve more than the quota, and fall short of it by less than a block
/// per node (docs/cluster.md).
#[tokio::test]
async fn two_nodes_together_serve_no_more_than_the_quota() {
    let Some(cluster) = crate::cluster::cluster(2, &[]).await else {
        return;
    };
    let made = cluster.cli_json(&[
        "keys",
        "create",
        "--account",
        &cluster.account_id,
        "--name",
        "metered",
        "--preset",
        "full_access",
        "--quota-requests",
        "200",
        "--quota-refill",
        "none",
    ]);
    let (id, key) = (
        made["id"].as_str().unwrap().to_owned(),
        made["key"].as_str().unwrap().to_owned(),
    );
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..300 {
        let (client, url, key) = (
            cluster.client.clone(),
            cluster.url(i % 2).to_owned(),
            key.clone(),
        );
        calls.spawn(async move {
            client
                .get(format!("{url}/v1/status"))
                .bearer_auth(&key)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    let (mut served, mut refused) = (0, 0);
    while let Some(done) = calls.join_next().await {
        match done.unwrap() {
            200 => served += 1,
            429 => refused += 1,
            other => panic!("unexpected answer {other}"),
        }
    }
    // A block is 10 requests: at most 9 left unused on each node.
    assert!(served <= 200, "{served} served");
    assert!(served >= 200 - 2 * 9, "only {served} served");
    assert_eq!(served + refused, 300);
    let shown = cluster.cli_json(&["keys", "show", &id]);
    assert_eq!(
        shown["quota_remaining"], 0,
        "the store gave out the whole quota"
    );
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "300 requests at once on 2 nodes with a quota of 200: {served} served, {refused} refused"
    );
}
