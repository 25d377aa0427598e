//! Webhook retries that outlast an outage and a restart (docs/generation.md, "Delivery and
//! retries"): after the quick retries a failed delivery waits through the slow tail, its next
//! try stored with it and shown in the delivery log, and a receiver that comes back gets every
//! event, from the next start of the server if need be.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_in, spawn_app_with};
use crate::receiver::{self, Answer};
use crate::webhooks::{add_endpoint, log, send_test};

/// Polls the delivery log until every delivery satisfies `done`; panics past 10 s.
async fn until_all(
    app: &TestApp,
    key: &str,
    endpoint: &str,
    n: usize,
    done: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = log(app, key, endpoint).await;
        if rows.len() == n && rows.iter().all(&done) {
            return rows;
        }
        assert!(Instant::now() < deadline, "not yet: {rows:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

backend_tests!(multi_thread: a_receiver_down_for_ten_minutes_gets_every_event_after_a_restart);
async fn a_receiver_down_for_ten_minutes_gets_every_event_after_a_restart() {
    let slow = [
        ("webhooks.retry_schedule_seconds", json!([0.05])),
        ("webhooks.retry_tail_seconds", json!([600, 3600])),
        ("webhooks.retry_jitter", json!(0)),
    ];
    let app = spawn_app_with(&slow).await;
    let receiver = receiver::start();
    let endpoint = add_endpoint(&app, &receiver, "generation.completed");
    let key = app.manager_key();
    receiver.answer(Answer::Fail);
    let mut sent = Vec::new();
    for _ in 0..3 {
        sent.push(send_test(&app, &key, &endpoint).await);
    }
    // Tried at once and after the quick retry, each delivery now waits ten minutes.
    let now = app.clock.now().millis();
    let waiting = until_all(&app, &key, &endpoint, 3, |d| d["attempts"] == 2).await;
    for d in &waiting {
        assert_eq!(d["status"], "pending", "{d}");
        let next = time::OffsetDateTime::parse(
            d["next_attempt_at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        let wait_ms = i64::try_from(next.unix_timestamp_nanos() / 1_000_000).unwrap() - now;
        assert!((590_000..=610_000).contains(&wait_ms), "{wait_ms} ms: {d}");
    }
    assert_eq!(receiver.count(), 6);
    let owner = crate::people::person(&app, "owner@example.com", "owner").await;
    let page = crate::people::page(&owner.client, &app, &format!("/webhooks/{endpoint}")).await;
    assert_eq!(page.matches("retrying at <time").count(), 3, "{page}");

    // The server stops; the receiver comes back; ten minutes later a new start sends it all.
    let (account_id, data_dir) = (app.account_id.clone(), app.data_dir);
    let mut again = spawn_app_in(data_dir, &slow).await;
    again.account_id = account_id;
    receiver.answer(Answer::Ok);
    again
        .clock
        .advance(now + 601_000 - again.clock.now().millis());
    let delivered = until_all(&again, &key, &endpoint, 3, |d| d["status"] == "succeeded").await;
    assert!(
        delivered.iter().all(|d| d["attempts"] == 3),
        "{delivered:#?}"
    );
    // Six failed tries came first; what came after was answered 200.
    let mut arrived: Vec<String> = receiver
        .received()
        .into_iter()
        .skip(6)
        .map(|r| r.delivery_id)
        .collect();
    arrived.sort();
    sent.sort();
    assert_eq!(arrived, sent, "every event, once");
}

backend_tests!(multi_thread: an_endpoint_that_stays_down_still_fails_its_deliveries_and_is_disabled);
async fn an_endpoint_that_stays_down_still_fails_its_deliveries_and_is_disabled() {
    let app = spawn_app_with(&[
        ("webhooks.retry_schedule_seconds", json!([0.05])),
        ("webhooks.retry_tail_seconds", json!([60])),
        ("webhooks.retry_jitter", json!(0.5)),
        ("webhooks.disable_after_failures", json!(2)),
    ])
    .await;
    let receiver = receiver::start();
    let endpoint = add_endpoint(&app, &receiver, "generation.completed");
    let key = app.manager_key();
    receiver.answer(Answer::Fail);
    send_test(&app, &key, &endpoint).await;
    send_test(&app, &key, &endpoint).await;
    until_all(&app, &key, &endpoint, 2, |d| d["attempts"] == 2).await;
    // The slow retry comes 30 to 90 s later (±50 %); past it, both deliveries have failed.
    app.clock.advance(91_000);
    let failed = until_all(&app, &key, &endpoint, 2, |d| d["status"] == "failed").await;
    assert!(failed.iter().all(|d| d["attempts"] == 3), "{failed:#?}");
    let (_, shown) = app
        .api("GET", &format!("/webhooks/{endpoint}"), &key, None)
        .await;
    assert_eq!(shown["data"]["enabled"], false, "{shown}");
}
