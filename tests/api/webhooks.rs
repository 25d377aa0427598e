//! Webhooks end to end: a real receiver on loopback verifies both signatures of every delivery.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, eventually, spawn_app_with};
use crate::receiver::{self, Answer, Receiver};
use crate::upstream::{Mode, app_with_fakes};

const ALL_EVENTS: &str = "generation.started,generation.completed,generation.failed,\
generation.canceled,credits.low_balance,apikey.created,apikey.rotated,apikey.revoked,\
apikey.deleted,apikey.expiring,apikey.expired";

/// Adds an endpoint for `receiver` with the command line; returns its id and tells the receiver
/// the secret to verify with.
pub fn add_endpoint(app: &TestApp, receiver: &Receiver, events: &str) -> String {
    let endpoint = app.cli_json(&[
        "webhooks",
        "add",
        "--account",
        &app.account_id,
        "--url",
        &receiver.url,
        "--events",
        events,
    ]);
    receiver.expect_secret(endpoint["secret"].as_str().unwrap());
    endpoint["id"].as_str().unwrap().to_owned()
}

/// Waits until the receiver has had `n` deliveries of `event`.
pub async fn wait_for_event(receiver: &Receiver, event: &str, n: usize) -> Vec<Value> {
    eventually(&format!("{n} {event}"), || receiver.of(event).len() >= n).await;
    receiver.of(event).into_iter().map(|r| r.body).collect()
}

fn data(body: &Value) -> &Value {
    &body["webhook_data"]
}

backend_tests!(every_event_arrives_signed_both_ways_with_the_declared_payload);
async fn every_event_arrives_signed_both_ways_with_the_declared_payload() {
    let (app, fakes) = app_with_fakes(&[]).await;
    let receiver = receiver::start();
    add_endpoint(&app, &receiver, ALL_EVENTS);
    app.add_credits("0.52");
    let (key_id, key) = app.create_key(&[]);

    // generation.started and .completed, from the local provider.
    let id = app
        .generate(
            "image",
            "tidegate/pattern-1",
            &key,
            json!({"generation_prompt": "a lighthouse"}),
        )
        .await;
    let started = wait_for_event(&receiver, "generation.started", 1).await;
    let completed = wait_for_event(&receiver, "generation.completed", 1).await;
    let s = data(&started[0]);
    assert_eq!(
        (s["generation_id"].as_str(), s["generation_status"].as_str()),
        (Some(id.as_str()), Some("processing"))
    );
    assert_eq!(s["generation_provider_initialize"], "local");
    assert_eq!(s["account_id"], app.account_id.as_str());
    assert_eq!(s["model_identifier"], "tidegate/pattern-1");
    let c = data(&completed[0]);
    assert_eq!(c["generation_status"], "succeeded");
    assert_eq!(c["generation_provider_used"], "local");
    let files = c["generation_output_file"].as_array().unwrap();
    let url = files[0].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/media/{id}/", app.address)),
        "{url}"
    );
    assert_eq!(app.fetch(url).await.0, 200, "the URL serves the file");
    assert!(
        c.get("generation_error").is_none(),
        "absent fields are left out"
    );

    // generation.canceled, with its refund; the reservation crossed the 0.500 threshold.
    let slow = app
        .generate(
            "image",
            "remote/slow",
            &key,
            json!({"generation_prompt": "x"}),
        )
        .await;
    eventually("the slow one to run", || {
        app.status_of(&slow) == "processing"
    })
    .await;
    let (status, _) = app
        .send_json(
            "POST",
            &format!("/v1/content/generation/cancel/{slow}"),
            &key,
        )
        .await;
    assert_eq!(status, 200);
    let canceled = wait_for_event(&receiver, "generation.canceled", 1).await;
    assert_eq!(data(&canceled[0])["credits_refunded"], true);
    assert_eq!(data(&canceled[0])["generation_status"], "canceled");
    let low = wait_for_event(&receiver, "credits.low_balance", 1).await;
    let l = data(&low[0]);
    assert!(l["current_balance"].as_f64().unwrap() < 0.5, "{l}");
    assert_eq!(l["thresholds_crossed"][0]["threshold"], 0.5);
    assert!(l["thresholds_crossed"][0]["balance_at"].is_number());

    // generation.failed, with its error and refund.
    fakes.alpha.set(Mode::Fail);
    fakes.beta.set(Mode::Fail);
    let failing = app
        .generate(
            "image",
            "remote/painter",
            &key,
            json!({"generation_prompt": "x"}),
        )
        .await;
    let failed = wait_for_event(&receiver, "generation.failed", 1).await;
    let f = data(&failed[0]);
    assert_eq!(f["generation_id"], failing.as_str());
    assert_eq!(f["generation_status"], "failed");
    assert_eq!(f["generation_error_code"], "BSE4003");
    assert!(f["generation_error"].as_str().unwrap().contains("GPU"));
    assert_eq!(f["credits_refunded"], true);

    // The key events.
    let rotated = app.cli_json(&["keys", "rotate", &key_id, "--grace-hours", "2"]);
    let new_id = rotated["id"].as_str().unwrap().to_owned();
    app.cli_json(&["keys", "expire-now", &key_id]);
    app.cli_json(&["keys", "revoke", &new_id]);
    app.cli_json(&["keys", "delete", &new_id]);
    let (expiring, _) = app.create_key(&["--expires-in-days", "1"]);
    tidegate::testing::run_job("warn-expiring-keys", &app.jobs)
        .await
        .unwrap();
    for event in [
        "apikey.created",
        "apikey.rotated",
        "apikey.expired",
        "apikey.revoked",
        "apikey.deleted",
        "apikey.expiring",
    ] {
        let body = &wait_for_event(&receiver, event, 1).await[0];
        let k = data(body);
        for field in ["account_id", "apikey_id", "apikey_name", "apikey_prefix"] {
            assert!(k[field].is_string(), "{event}: {field} in {k}");
        }
    }
    let r = data(&receiver.of("apikey.rotated")[0].body).clone();
    assert_eq!(
        (r["apikey_id"].as_str(), r["replaced_by"].as_str()),
        (Some(key_id.as_str()), Some(new_id.as_str()))
    );
    assert!(r["grace_ends_at"].as_str().unwrap().ends_with('Z'));
    let e = data(&receiver.of("apikey.expiring")[0].body).clone();
    assert_eq!(e["apikey_id"], expiring.as_str());
    assert!(e["expires_at"].is_string());

    // Every delivery: the declared envelope, both signatures, its own id.
    let all = receiver.received();
    assert!(all.len() >= 11, "{all:?}");
    for r in &all {
        assert!(r.babysea_ok && r.standard_ok, "{r:?}");
        let b = &r.body;
        assert_eq!(b["webhook_event"], r.event.as_str());
        assert_eq!(b["webhook_delivery_id"], r.delivery_id.as_str());
        assert!(b["webhook_timestamp"].as_str().unwrap().ends_with('Z'));
        assert!(b["webhook_data"].is_object());
    }
    let mut ids: Vec<&str> = all.iter().map(|r| r.delivery_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "one delivery id each");
}

backend_tests!(a_test_event_is_sent_to_the_one_endpoint_asked);
async fn a_test_event_is_sent_to_the_one_endpoint_asked() {
    let app = spawn_app_with(&[]).await;
    let receiver = receiver::start();
    let other = receiver::start();
    let id = add_endpoint(&app, &receiver, "generation.completed");
    add_endpoint(&app, &other, "generation.completed");
    let sent = app.cli_json(&["webhooks", "test", &id]);
    let delivery = sent["delivery_id"].as_str().unwrap();
    let test = wait_for_event(&receiver, "webhook.test", 1).await;
    assert_eq!(test[0]["webhook_delivery_id"], delivery);
    let d = data(&test[0]);
    assert_eq!(d["generation_id"], "00000000-0000-0000-0000-000000000000");
    assert_eq!(d["account_id"], app.account_id.as_str());
    assert!(receiver.received()[0].babysea_ok && receiver.received()[0].standard_ok);
    assert_eq!(other.count(), 0);
}

/// The endpoint's delivery log through the management API.
pub async fn log(app: &TestApp, key: &str, endpoint: &str) -> Vec<Value> {
    let (status, body) = app
        .api(
            "GET",
            &format!("/webhooks/{endpoint}/deliveries"),
            key,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["deliveries"].as_array().unwrap().clone()
}

/// Waits until the newest delivery of the endpoint has `status`; returns it.
async fn wait_for_delivery(app: &TestApp, key: &str, endpoint: &str, status: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let rows = log(app, key, endpoint).await;
        if let Some(d) = rows.first().filter(|d| d["status"] == status) {
            return d.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {status} delivery: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn send_test(app: &TestApp, key: &str, endpoint: &str) -> String {
    let (status, body) = app
        .api("POST", &format!("/webhooks/{endpoint}/test"), key, None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["delivery_id"].as_str().unwrap().to_owned()
}

backend_tests!(failed_deliveries_are_retried_on_the_schedule_and_redirects_are_not_followed);
async fn failed_deliveries_are_retried_on_the_schedule_and_redirects_are_not_followed() {
    let app = spawn_app_with(&[
        ("webhooks.retry_schedule_seconds", json!([0.05, 0.05])),
        ("webhooks.timeout_seconds", json!(0.5)),
    ])
    .await;
    let receiver = receiver::start();
    let endpoint = add_endpoint(&app, &receiver, "generation.completed");
    let key = app.manager_key();

    receiver.answer(Answer::Fail);
    let id = send_test(&app, &key, &endpoint).await;
    let failed = wait_for_delivery(&app, &key, &endpoint, "failed").await;
    assert_eq!(failed["id"], id.as_str());
    assert_eq!(
        (failed["attempts"].as_i64(), failed["status_code"].as_i64()),
        (Some(3), Some(500))
    );
    assert_eq!(failed["error"], "HTTP 500: the receiver fell over");
    assert_eq!(
        receiver.of("webhook.test").len(),
        3,
        "the same delivery, three times"
    );
    assert!(receiver.received().iter().all(|r| r.delivery_id == id));

    receiver.answer(Answer::Hang);
    send_test(&app, &key, &endpoint).await;
    let timed_out = wait_for_delivery(&app, &key, &endpoint, "failed").await;
    assert_eq!(timed_out["attempts"], 3);
    assert_eq!(timed_out["error"], "no answer within 0.5 s");

    receiver.answer(Answer::Redirect);
    let before = receiver.count();
    send_test(&app, &key, &endpoint).await;
    let redirected = wait_for_delivery(&app, &key, &endpoint, "failed").await;
    assert_eq!(redirected["status_code"], 302);
    assert!(
        redirected["error"]
            .as_str()
            .unwrap()
            .contains("redirects are not followed"),
        "{redirected}"
    );
    let after: Vec<_> = receiver.received().into_iter().skip(before).collect();
    assert_eq!(after.len(), 3);
    assert!(after.iter().all(|r| r.path == "/hooks"), "never followed");

    receiver.answer(Answer::Ok);
    send_test(&app, &key, &endpoint).await;
    let delivered = wait_for_delivery(&app, &key, &endpoint, "succeeded").await;
    assert_eq!(
        (
            delivered["attempts"].as_i64(),
            delivered["status_code"].as_i64()
        ),
        (Some(1), Some(200))
    );
}

backend_tests!(an_endpoint_that_fails_15_times_or_is_gone_is_disabled_and_its_events_wait);
async fn an_endpoint_that_fails_15_times_or_is_gone_is_disabled_and_its_events_wait() {
    let app = spawn_app_with(&[("webhooks.retry_schedule_seconds", json!([]))]).await;
    let receiver = receiver::start();
    let endpoint = add_endpoint(&app, &receiver, "generation.started,generation.completed");
    let key = app.manager_key();
    let state = |app: &TestApp| {
        app.db()
            .query_row(
                "SELECT enabled, disabled_reason FROM webhook_endpoints WHERE id = ?1",
                &[&&endpoint],
                |r| Ok((r.get::<i64>(0)?, r.get::<Option<String>>(1)?)),
            )
            .unwrap()
    };

    receiver.answer(Answer::Fail);
    for _ in 0..14 {
        send_test(&app, &key, &endpoint).await;
    }
    eventually("14 failed deliveries", || receiver.count() == 14).await;
    assert_eq!(state(&app).0, 1, "still enabled after 14");
    send_test(&app, &key, &endpoint).await;
    eventually("the endpoint to be disabled", || state(&app).0 == 0).await;
    assert_eq!(state(&app).1.as_deref(), Some("failures"));
    let (status, body) = app
        .api("POST", &format!("/webhooks/{endpoint}/test"), &key, None)
        .await;
    assert_eq!(status, 409, "{body}");

    // Events for the disabled endpoint wait, and are sent when asked.
    app.add_credits("1");
    let (_, live) = app.create_key(&[]);
    let generation = app
        .generate(
            "image",
            "tidegate/pattern-1",
            &live,
            json!({"generation_prompt": "x"}),
        )
        .await;
    app.wait_for(&live, &generation, &["succeeded"]).await;
    let queued = app.count(
        "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = ?1 AND status = 'queued'",
        &[&&endpoint],
    );
    assert_eq!(queued, 2);
    receiver.answer(Answer::Ok);
    let (status, _) = app
        .api(
            "PATCH",
            &format!("/webhooks/{endpoint}"),
            &key,
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = app
        .api(
            "POST",
            &format!("/webhooks/{endpoint}/deliver-queued"),
            &key,
            None,
        )
        .await;
    assert_eq!(
        (status, body["data"]["delivering"].as_i64()),
        (200, Some(2)),
        "{body}"
    );
    let completed = wait_for_event(&receiver, "generation.completed", 1).await;
    assert_eq!(data(&completed[0])["generation_id"], generation.as_str());
    wait_for_event(&receiver, "generation.started", 1).await;

    // Any past delivery is sent again as a new one.
    let original = receiver.of("generation.completed")[0].clone();
    let (status, body) = app
        .api(
            "POST",
            &format!(
                "/webhooks/{endpoint}/deliveries/{}/replay",
                original.delivery_id
            ),
            &key,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let replays = wait_for_event(&receiver, "generation.completed", 2).await;
    assert_ne!(
        replays[1]["webhook_delivery_id"],
        replays[0]["webhook_delivery_id"]
    );
    assert_eq!(replays[1]["webhook_data"], replays[0]["webhook_data"]);
    assert!(
        receiver
            .received()
            .iter()
            .all(|r| r.babysea_ok && r.standard_ok)
    );

    // 410 Gone disables at once.
    receiver.answer(Answer::Gone);
    send_test(&app, &key, &endpoint).await;
    eventually("the endpoint to be disabled", || state(&app).0 == 0).await;
    assert_eq!(state(&app).1.as_deref(), Some("gone"));
}

backend_tests!(deliveries_never_reach_refused_addresses_whatever_the_url_says);
async fn deliveries_never_reach_refused_addresses_whatever_the_url_says() {
    let app = spawn_app_with(&[
        ("webhooks.allow_private_networks", json!(false)),
        ("webhooks.retry_schedule_seconds", json!([])),
    ])
    .await;
    let key = app.manager_key();
    let create = |url: &str| {
        let url = url.to_owned();
        let (app, key) = (&app, &key);
        async move {
            app.api("POST", "/webhooks", key, Some(json!({ "url": url })))
                .await
        }
    };
    for url in [
        "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1]/hook",
        "http://[fd00:ec2::254]/",
        "http://0.0.0.0:8080/hook",
        "http://127.0.0.1:9/hook",
    ] {
        let (status, body) = create(url).await;
        assert_eq!(status, 400, "{url}: {body}");
        let error = assert_error(&body, "BSE2001");
        assert_eq!(error["details"]["field"], "url", "{url}");
    }
    // A name is checked when a delivery connects: localhost is loopback here.
    let receiver = receiver::start();
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    let (status, body) = create(&by_name).await;
    assert_eq!(status, 200, "{body}");
    let endpoint = body["data"]["id"].as_str().unwrap().to_owned();
    send_test(&app, &key, &endpoint).await;
    let refused = wait_for_delivery(&app, &key, &endpoint, "failed").await;
    let error = refused["error"].as_str().unwrap();
    assert!(
        error.contains("refused") && error.contains("loopback"),
        "{error}"
    );
    assert_eq!(receiver.count(), 0);
}

backend_tests!(bad_endpoint_input_is_refused_naming_the_field_and_stores_nothing);
async fn bad_endpoint_input_is_refused_naming_the_field_and_stores_nothing() {
    let app = spawn_app_with(&[]).await;
    let key = app.manager_key();
    let long = format!("https://example.com/{}", "a".repeat(2030));
    assert_eq!(long.len(), 2050);
    for (body, field) in [
        (json!({ "url": "example.com/hook" }), "url"),
        (json!({ "url": "ftp://example.com/hook" }), "url"),
        (json!({ "url": long }), "url"),
        (
            json!({ "url": "https://example.com/h", "events": ["generation.exploded"] }),
            "events",
        ),
        (
            json!({ "url": "https://example.com/h", "events": [] }),
            "events",
        ),
        (
            json!({ "url": "https://example.com/h", "colour": "red" }),
            "colour",
        ),
    ] {
        let (status, res) = app.api("POST", "/webhooks", &key, Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {res}");
        let error = assert_error(&res, "BSE2001");
        assert_eq!(error["details"]["field"], field, "{body}: {res}");
    }
    assert_eq!(app.count("SELECT count(*) FROM webhook_endpoints", &[]), 0);
    let out = app.cli(&[
        "webhooks",
        "add",
        "--account",
        &app.account_id,
        "--url",
        "ftp://x",
    ]);
    assert_ne!(out.status, 0);
    assert!(out.stderr.contains("url"), "{}", out.stderr);
    assert_eq!(app.count("SELECT count(*) FROM webhook_endpoints", &[]), 0);
}

backend_tests!(deliveries_in_flight_or_pending_when_the_server_is_killed_are_made_after_restart);
async fn deliveries_in_flight_or_pending_when_the_server_is_killed_are_made_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cli = |args: &[&str]| {
        let out = crate::helpers::run_binary(&data, &[args, &["--json"]].concat(), &[]);
        assert_eq!(out.status, 0, "{args:?}: {}", out.stderr);
        serde_json::from_str::<Value>(&out.stdout).unwrap()
    };
    let (mut running, _) = crate::startup::start_binary(dir.path(), &[]);
    let receiver = receiver::start();
    receiver.answer(Answer::Hang);
    let account = cli(&["accounts", "create", "--name", "Acme"]);
    let account = account["id"].as_str().unwrap();
    let endpoint = cli(&[
        "webhooks",
        "add",
        "--account",
        account,
        "--url",
        &receiver.url,
    ]);
    receiver.expect_secret(endpoint["secret"].as_str().unwrap());
    let endpoint = endpoint["id"].as_str().unwrap();
    let mut sent: Vec<String> = (0..3)
        .map(|_| {
            cli(&["webhooks", "test", endpoint])["delivery_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    // All three are being sent (the receiver holds them) when the server dies.
    eventually("three deliveries in flight", || receiver.count() == 3).await;
    running.child.kill().unwrap();
    running.child.wait().unwrap();
    // One more is written while no server runs.
    sent.push(
        cli(&["webhooks", "test", endpoint])["delivery_id"]
            .as_str()
            .unwrap()
            .to_owned(),
    );

    receiver.answer(Answer::Ok);
    let (mut restarted, _) = crate::startup::start_binary(dir.path(), &[]);
    eventually("every delivery made again", || {
        let mut ids: Vec<String> = receiver
            .received()
            .into_iter()
            .skip(3)
            .map(|r| r.delivery_id)
            .collect();
        ids.sort();
        ids.dedup();
        ids.len() == 4
    })
    .await;
    let delivered: Vec<String> = receiver
        .received()
        .into_iter()
        .skip(3)
        .map(|r| r.delivery_id)
        .collect();
    for id in &sent {
        assert!(delivered.contains(id), "{id} was made after the restart");
    }
    assert!(
        receiver
            .received()
            .iter()
            .all(|r| r.babysea_ok && r.standard_ok)
    );
    eventually("the log to say so", || {
        let out =
            crate::helpers::run_binary(&data, &["webhooks", "deliveries", endpoint, "--json"], &[]);
        let rows: Value = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
        rows.as_array()
            .is_some_and(|rows| rows.len() == 4 && rows.iter().all(|d| d["status"] == "succeeded"))
    })
    .await;
    restarted.child.kill().unwrap();
    let _ = restarted.child.wait();
}

backend_tests!(a_hanging_endpoint_does_not_hold_up_the_others);
async fn a_hanging_endpoint_does_not_hold_up_the_others() {
    let app = spawn_app_with(&[("webhooks.timeout_seconds", json!(30))]).await;
    let (slow, fast) = (receiver::start(), receiver::start());
    slow.answer(Answer::Hang);
    let slow_id = add_endpoint(&app, &slow, "generation.completed");
    let fast_id = add_endpoint(&app, &fast, "generation.completed");
    let key = app.manager_key();
    // More than the endpoint may have in flight at once.
    for _ in 0..12 {
        send_test(&app, &key, &slow_id).await;
    }
    eventually("the slow endpoint to be busy", || slow.count() == 8).await;
    let began = std::time::Instant::now();
    send_test(&app, &key, &fast_id).await;
    wait_for_event(&fast, "webhook.test", 1).await;
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(
        slow.count(),
        8,
        "the rest wait for the slow endpoint's own slots"
    );
}

backend_tests!(the_command_line_manages_endpoints_and_their_deliveries);
async fn the_command_line_manages_endpoints_and_their_deliveries() {
    let app = spawn_app_with(&[]).await;
    let receiver = receiver::start();
    let id = add_endpoint(&app, &receiver, "apikey.created");
    let listed = app.cli_json(&["webhooks", "list"]);
    assert_eq!(listed[0]["id"], id.as_str());
    assert!(listed[0].get("secret").is_none(), "never shown again");
    let shown = app.cli_json(&["webhooks", "show", &id]);
    assert_eq!(shown["events"], json!(["apikey.created"]));

    app.cli_json(&["webhooks", "disable", &id]);
    app.create_key(&[]);
    let queued = app.cli_json(&["webhooks", "deliveries", &id, "--status", "queued"]);
    assert_eq!(queued.as_array().unwrap().len(), 1);
    let out = app.cli(&["webhooks", "test", &id]);
    assert_ne!(out.status, 0, "a disabled endpoint gets no test");
    app.cli_json(&["webhooks", "enable", &id]);
    let released = app.cli_json(&["webhooks", "deliver-queued", &id]);
    assert_eq!(released["delivering"], 1);
    wait_for_event(&receiver, "apikey.created", 1).await;

    let rotated = app.cli_json(&["webhooks", "rotate-secret", &id]);
    let secret = rotated["secret"].as_str().unwrap();
    receiver.expect_secret(secret);
    let first = receiver.of("apikey.created")[0].delivery_id.clone();
    let replayed = app.cli_json(&["webhooks", "replay", &id, &first]);
    assert_eq!(replayed["replay_of"], first.as_str());
    wait_for_event(&receiver, "apikey.created", 2).await;
    let again = &receiver.of("apikey.created")[1];
    assert!(
        again.babysea_ok && again.standard_ok,
        "signed with the new secret"
    );

    app.cli_json(&["webhooks", "delete", &id]);
    assert_eq!(app.count("SELECT count(*) FROM webhook_endpoints", &[]), 0);
    assert_eq!(app.count("SELECT count(*) FROM webhook_deliveries", &[]), 0);
    let out = app.cli(&["webhooks", "show", &id]);
    assert_ne!(out.status, 0);
}
