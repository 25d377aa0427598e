//! Storage faults: a lock held by another process, a write that fails. Nothing may wait longer
//! than the busy timeout, and nothing may stay stuck once the store recovers.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{TestApp, assert_error, spawn_app_with};

const BUSY_MS: u64 = 500;

async fn app_with_short_busy_timeout() -> TestApp {
    spawn_app_with(&[("storage.busy_timeout_ms", json!(BUSY_MS))]).await
}

/// A second connection holding the write lock, as another process would.
fn hold_write_lock(app: &TestApp) -> rusqlite::Connection {
    let conn = app.db();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    conn
}

/// Within 10% of the timeout at the low end; at the high end the request's own work on a busy
/// test machine.
fn assert_gave_up_after_the_timeout(waited: Duration) {
    let timeout = Duration::from_millis(BUSY_MS);
    assert!(
        waited >= timeout.mul_f64(0.9) && waited <= timeout + Duration::from_millis(300),
        "gave up after {waited:?}, the timeout is {timeout:?}"
    );
}

#[tokio::test]
async fn requests_behind_a_held_lock_give_up_after_the_busy_timeout_by_the_clock() {
    let app = app_with_short_busy_timeout().await;
    let (_, key) = app.create_key(&[]);
    let lock = hold_write_lock(&app);

    // Several at once: some share the first failing group of the log writer, the others queue
    // behind it and must still give up at their own deadline, not one timeout later.
    let requests = (0..8).map(|_| async {
        let began = Instant::now();
        let (status, body) = app.get_json("/v1/status", &key).await;
        (status, body, began.elapsed())
    });
    for (status, body, waited) in futures_util::future::join_all(requests).await {
        assert_eq!(status, 503, "{body}");
        assert_error(&body, "BSE5002");
        assert_gave_up_after_the_timeout(waited);
    }

    // A generation waits in several statements (idempotency claim, accept, log row) and still
    // gives up once.
    let began = Instant::now();
    let (status, _, body) = app
        .post_json(
            "/v1/generate/image/tidegate/pattern-1",
            &key,
            &json!({ "generation_prompt": "a lighthouse" }),
            Some("held-lock"),
        )
        .await;
    assert_eq!(status, 503, "{body}");
    assert_gave_up_after_the_timeout(began.elapsed());

    lock.execute_batch("ROLLBACK").unwrap();
    let (status, body) = app.get_json("/v1/status", &key).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.generations(),
        0,
        "nothing was written while the lock was held"
    );
}
