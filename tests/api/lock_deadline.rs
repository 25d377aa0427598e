//! One deadline per request (docs/decisions.md, "The store wall"): whatever a request writes, a
//! lock held by another process makes it give up at `storage.busy_timeout_ms` after it arrived,
//! not once per statement, and its refusal is still in the request log.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{assert_error, spawn_app_with};

const BUSY_MS: u64 = 3_000;

#[tokio::test]
async fn reads_generations_and_management_writes_each_give_up_once_behind_a_held_lock() {
    let app = spawn_app_with(&[("storage.busy_timeout_ms", json!(BUSY_MS))]).await;
    app.add_credits("10");
    let (_, key) = app.create_key(&[]);
    let manager = app.manager_key();
    // Warm: what each API builds on its first request is built before the lock is taken.
    app.get_json("/v1/status", &key).await;
    app.api("GET", "/api-keys", &manager, None).await;
    let lock = app.sqlite();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    let limit = Duration::from_millis(BUSY_MS).mul_f64(1.1);
    let mut waits = Vec::new();
    // Each kind alone, then all at once, as clients behind a load balancer send them.
    for round in 0..2u8 {
        let calls = (0..if round == 0 { 1 } else { 6 }).flat_map(|_| {
            let (app, key, manager) = (&app, &key, &manager);
            let status = Box::pin(async move {
                let began = Instant::now();
                let (status, body) = app.get_json("/v1/status", key).await;
                ("status", status, body, began.elapsed())
            }) as std::pin::Pin<Box<dyn std::future::Future<Output = _>>>;
            let generate = Box::pin(async move {
                let began = Instant::now();
                let (status, _, body) = app
                    .post_json(
                        "/v1/generate/image/tidegate/pattern-1",
                        key,
                        &json!({ "generation_prompt": "a lighthouse" }),
                        None,
                    )
                    .await;
                ("generate", status, body, began.elapsed())
            })
                as std::pin::Pin<Box<dyn std::future::Future<Output = _>>>;
            let create = Box::pin(async move {
                let began = Instant::now();
                let (status, body) = app
                    .api(
                        "POST",
                        "/api-keys",
                        manager,
                        Some(json!({ "name": "held", "preset": "read_only" })),
                    )
                    .await;
                ("create", status, body, began.elapsed())
            }) as std::pin::Pin<Box<dyn std::future::Future<Output = _>>>;
            [status, generate, create]
        });
        for (what, status, body, waited) in futures_util::future::join_all(calls).await {
            assert_error(&body, "BSE5002");
            waits.push((what, round, status, waited));
        }
    }
    for (what, round, status, waited) in &waits {
        assert_eq!(*status, 503u16, "{what} {round}");
        assert!(*waited <= limit, "{what} {round} waited {waited:?}");
    }
    let slowest = waits.iter().map(|w| w.3).max().unwrap();
    eprintln!(
        "{} requests behind a lock held past {BUSY_MS} ms: the slowest refused after {slowest:?}",
        waits.len()
    );
    lock.execute_batch("ROLLBACK").unwrap();
    // Each refusal is in the request log once the lock is gone, as the answer it got.
    crate::helpers::eventually("the refusals to be logged", || {
        app.count(
            "SELECT count(*) FROM request_logs WHERE status_code = 503 AND error_code = 'BSE5002'",
            &[],
        ) == 21
    })
    .await;
    let (status, body) = app.get_json("/v1/status", &key).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.generations(),
        0,
        "nothing was written while the lock was held"
    );
}
