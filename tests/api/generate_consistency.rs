//! A generation accepted whose request-log row could not be committed is answered 503, though
//! the generation exists: the client's retry with the same `Idempotency-Key` gets that very
//! generation, not a second one, and the refusal is logged once the log can be written.

use serde_json::json;

use crate::backend::Backend;
use crate::helpers::assert_error;

backend_tests!(a_retry_with_the_same_idempotency_key_gets_the_generation_whose_answer_was_lost);
async fn a_retry_with_the_same_idempotency_key_gets_the_generation_whose_answer_was_lost() {
    let app = crate::helpers::spawn_app().await;
    app.add_credits("10");
    let (_, key) = app.create_key(&[]);
    // Every request-log insert fails from now on; everything else is written as usual.
    let db = app.db();
    let refuse = match db.backend() {
        Backend::Sqlite => {
            "CREATE TRIGGER no_logs BEFORE INSERT ON request_logs
             BEGIN SELECT RAISE(ABORT, 'the log is full'); END;"
        }
        Backend::Postgres => {
            "CREATE FUNCTION no_logs() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN RAISE EXCEPTION 'the log is full'; END $$;
             CREATE TRIGGER no_logs BEFORE INSERT ON request_logs
             FOR EACH ROW EXECUTE FUNCTION no_logs();"
        }
    };
    db.execute_batch(refuse).unwrap();
    let body = json!({ "generation_prompt": "a lighthouse" });
    let (status, _, answer) = app
        .post_json(
            "/v1/generate/image/tidegate/pattern-1",
            &key,
            &body,
            Some("lost-1"),
        )
        .await;
    assert_eq!(status, 503, "{answer}");
    assert_error(&answer, "BSE5002");
    assert_eq!(app.generations(), 1, "accepted before the log failed");

    db.execute_batch("DROP TRIGGER no_logs ON request_logs")
        .or_else(|_| db.execute_batch("DROP TRIGGER no_logs"))
        .unwrap();
    let (status, headers, again) = app
        .post_json(
            "/v1/generate/image/tidegate/pattern-1",
            &key,
            &body,
            Some("lost-1"),
        )
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(headers["idempotency-replayed"], "true");
    let id = again["data"]["generation_id"].as_str().unwrap();
    assert_eq!(app.generations(), 1, "the same generation, not a second");
    app.wait_for(&key, id, &["succeeded"]).await;
    crate::helpers::eventually("the lost answer to be logged", || {
        app.count(
            "SELECT count(*) FROM request_logs WHERE status_code = 503 AND error_code = 'BSE5002'",
            &[],
        ) == 1
    })
    .await;
}
