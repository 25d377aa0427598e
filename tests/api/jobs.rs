//! The scheduled jobs (docs/keys.md, "Expiry and the scheduled jobs"), run on demand against the
//! server's own SQLite file, and once through the real scheduler.

use serde_json::{Value, json};
use tidegate::testing::Timestamp;
use tidegate::testing::{JOB_NAMES, Job, JobError, JobOutcome, run_job};

use crate::helpers::{TestApp, eventually, run_binary, spawn_app_with};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// A server whose scheduler runs nothing, so only the test decides when a job runs.
async fn spawn_app_without_schedules() -> TestApp {
    spawn_app_with(&[
        ("jobs.expire_rotated_keys", json!("")),
        ("jobs.warn_expiring_keys", json!("")),
        ("jobs.purge_request_logs", json!("")),
        ("jobs.purge_idempotency_keys", json!("")),
    ])
    .await
}

async fn run(app: &TestApp, job: Job) -> JobOutcome {
    job.run(&app.jobs)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", job.name()))
}

/// `(actor, description)` of the activity rows with `action` about key `id`.
fn activity(app: &TestApp, action: &str, id: &str) -> Vec<(String, String)> {
    app.db()
        .prepare("SELECT actor, description FROM activity WHERE action = ?1 AND target = ?2")
        .unwrap()
        .query_map(&[&action, &id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

backend_tests!(
    a_rotated_key_is_refused_when_its_grace_ends_and_its_expiry_is_recorded_exactly_once
);
async fn a_rotated_key_is_refused_when_its_grace_ends_and_its_expiry_is_recorded_exactly_once() {
    let app = spawn_app_without_schedules().await;
    let manager = app.manager_key();
    let (id, old_key) = app.create_key(&[]);
    let (status, body) = app
        .api(
            "POST",
            &format!("/api-keys/{id}/rotate"),
            &manager,
            Some(json!({ "grace_hours": 1 })),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    assert_eq!(
        run(&app, Job::ExpireRotatedKeys).await,
        JobOutcome::ExpireRotatedKeys { keys_expired: 0 },
        "nothing is recorded during the grace period"
    );
    assert_eq!(app.get("/v1/status", Some(&old_key)).await.status(), 200);

    app.clock.advance(HOUR_MS);
    assert_eq!(
        app.get("/v1/status", Some(&old_key)).await.status(),
        401,
        "refused at the end of the grace period, before any job has run"
    );
    assert_eq!(
        run(&app, Job::ExpireRotatedKeys).await,
        JobOutcome::ExpireRotatedKeys { keys_expired: 1 }
    );
    assert_eq!(
        run(&app, Job::ExpireRotatedKeys).await,
        JobOutcome::ExpireRotatedKeys { keys_expired: 0 },
        "a second run records nothing"
    );

    let expired = activity(&app, "expired", &id);
    assert_eq!(expired.len(), 1, "{expired:?}");
    let prefix = &old_key[..9];
    assert_eq!(expired[0].0, "system");
    assert_eq!(
        expired[0].1,
        format!("API key \"test key\" ({prefix}) expired")
    );
    let recorded: Option<i64> = app
        .db()
        .query_row(
            "SELECT expiry_recorded_at FROM api_keys WHERE id = ?1",
            &[&&id],
            |r| r.get(0),
        )
        .unwrap();
    assert!(recorded.is_some());
    let audit = app.cli_json(&["audit", "verify"]);
    assert_eq!(
        audit["intact"], true,
        "the activity chain stays intact: {audit}"
    );
}

backend_tests!(a_key_expiring_soon_is_warned_about_once_and_again_after_its_expiry_changes);
async fn a_key_expiring_soon_is_warned_about_once_and_again_after_its_expiry_changes() {
    let app = spawn_app_without_schedules().await;
    let manager = app.manager_key();
    let (soon, _) = app.create_key(&["--expires-in-days", "3"]);
    let (later, _) = app.create_key(&["--expires-in-days", "30"]);
    let (revoked, _) = app.create_key(&["--expires-in-days", "2"]);
    app.cli_json(&["keys", "revoke", &revoked]);
    let (disabled, _) = app.create_key(&["--expires-in-days", "2"]);
    app.cli_json(&["keys", "disable", &disabled]);

    assert_eq!(
        run(&app, Job::WarnExpiringKeys).await,
        JobOutcome::WarnExpiringKeys { keys_warned: 1 }
    );
    assert_eq!(
        run(&app, Job::WarnExpiringKeys).await,
        JobOutcome::WarnExpiringKeys { keys_warned: 0 },
        "each key is warned about once"
    );
    let warned = activity(&app, "expiring", &soon);
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert_eq!(warned[0].0, "system");
    let expires_at: i64 = app
        .db()
        .query_row(
            "SELECT expires_at FROM api_keys WHERE id = ?1",
            &[&&soon],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        warned[0].1.ends_with(&format!(
            "expires at {}",
            Timestamp(expires_at).to_rfc3339()
        )),
        "{}",
        warned[0].1
    );
    for quiet in [&later, &revoked, &disabled, &manager] {
        assert!(activity(&app, "expiring", quiet).is_empty());
    }

    let (status, body) = app
        .api(
            "PATCH",
            &format!("/api-keys/{soon}"),
            &manager,
            Some(json!({ "expires_in_days": 5 })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        run(&app, Job::WarnExpiringKeys).await,
        JobOutcome::WarnExpiringKeys { keys_warned: 1 },
        "a new expiry is warned about again"
    );
    assert_eq!(activity(&app, "expiring", &soon).len(), 2);
}

async fn usage_total(app: &TestApp, key: &str) -> i64 {
    let (status, body) = app.get_json("/v1/usage?days=7", key).await;
    assert_eq!(status, 200, "{body}");
    body["data"]["usage_total_requests"].as_i64().unwrap()
}

backend_tests!(request_logs_past_retention_are_purged_in_chunks_and_usage_totals_stay);
async fn request_logs_past_retention_are_purged_in_chunks_and_usage_totals_stay() {
    let app = spawn_app_without_schedules().await;
    let (_, key) = app.create_key(&[]);
    for _ in 0..4 {
        assert_eq!(app.get("/v1/status", Some(&key)).await.status(), 200);
    }
    let now = app.clock.now();
    let old = now.plus_millis(-31 * DAY_MS).millis();
    let kept = now.plus_millis(-29 * DAY_MS).millis();
    let db = app.db();
    db.execute(
        "UPDATE request_logs SET created_at = ?1 WHERE id IN (SELECT id FROM request_logs ORDER BY id LIMIT 2)",
        &[&old],
    )
    .unwrap();
    db.execute(
        "UPDATE request_logs SET created_at = ?1 WHERE id = (SELECT max(id) FROM request_logs)",
        &[&kept],
    )
    .unwrap();
    // More old rows than one purge transaction takes, copied from a real one. Rows are appended
    // in time order, so older rows have lower ids.
    db.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12000)
         INSERT INTO request_logs (id, request_id, key_id, account_id, key_prefix, environment, method,
             endpoint, route, query, status_code, error_code, idempotency_replayed, ip_hash,
             user_agent, region, latency_us, created_at)
         SELECT -i, 'req_old_' || i, key_id, account_id, key_prefix, environment, method, endpoint,
             route, query, status_code, error_code, idempotency_replayed, ip_hash, user_agent,
             region, latency_us, ?1
         FROM n, (SELECT * FROM request_logs ORDER BY id LIMIT 1) one",
        &[&old],
    )
    .unwrap();
    db.execute(
        "INSERT INTO refusals_daily (day, ip_hash, reason, requests) VALUES (?1, 'h', 'BSE1002', 3), (?2, 'h', 'BSE1002', 1)",
        &[&Timestamp(old).day(), &now.day()],
    )
    .unwrap();
    // A webhook delivery as old as the old rows, another queued for a disabled endpoint.
    let endpoint = app.cli_json(&[
        "webhooks",
        "add",
        "--account",
        &app.account_id,
        "--url",
        "http://127.0.0.1:9/h",
        "--disabled",
    ]);
    let endpoint = endpoint["id"].as_str().unwrap();
    db.execute_batch(&format!(
        "INSERT INTO webhook_events (id, account_id, event, data, created_at)
             VALUES (1, 'a', 'webhook.test', '{{}}', {old});
         INSERT INTO webhook_deliveries (id, endpoint_id, event_id, status, created_at)
             VALUES ('d-old', '{endpoint}', 1, 'succeeded', {old}),
                    ('d-queued', '{endpoint}', 1, 'queued', {old});"
    ))
    .unwrap();
    let rows_before = app.count("SELECT count(*) FROM request_logs", &[]);
    let usage_before = usage_total(&app, &key).await;

    assert_eq!(
        run(&app, Job::PurgeRequestLogs).await,
        JobOutcome::PurgeRequestLogs {
            request_logs_deleted: 12_002,
            refusal_rows_deleted: 1,
            webhook_deliveries_deleted: 2,
            client_addresses_cleared: 1,
        }
    );
    assert_eq!(
        app.count("SELECT count(*) FROM webhook_events", &[]),
        0,
        "and the event no delivery refers to"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM request_logs", &[]),
        rows_before - 12_002 + 1,
        "newer rows stay (plus the usage request's own row)"
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM request_logs WHERE created_at = ?1",
            &[&kept]
        ),
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM refusals_daily", &[]), 1);
    assert_eq!(
        usage_total(&app, &key).await,
        usage_before + 1,
        "the roll-ups keep every request (the first usage call is the one more)"
    );
}

fn insert_idempotency_record(app: &TestApp, key: &str, created_at: Timestamp) {
    app.db()
        .execute(
            "INSERT INTO idempotency_keys (account_id, route, idempotency_key, fingerprint, state,
                 request_id, created_at)
             VALUES (?1, '/v1/generate/image/{model}', ?2, 'f', 'done', 'req_x', ?3)",
            &[&app.account_id, &key, &created_at.millis()],
        )
        .unwrap();
}

backend_tests!(idempotency_records_older_than_a_day_are_purged);
async fn idempotency_records_older_than_a_day_are_purged() {
    let app = spawn_app_without_schedules().await;
    let now = app.clock.now();
    insert_idempotency_record(&app, "old", now.plus_millis(-25 * HOUR_MS));
    insert_idempotency_record(&app, "fresh", now.plus_millis(-23 * HOUR_MS));

    let outcome = run_job("purge-idempotency-keys", &app.jobs).await.unwrap();
    assert_eq!(
        outcome,
        JobOutcome::PurgeIdempotencyKeys {
            idempotency_keys_deleted: 1
        }
    );
    assert_eq!(
        outcome.summary(),
        "purge-idempotency-keys: deleted 1 idempotency record"
    );
    let left: Vec<String> = app
        .db()
        .prepare("SELECT idempotency_key FROM idempotency_keys")
        .unwrap()
        .query_map(&[], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(left, ["fresh"]);
}

/// Makes `idempotency_keys` refuse every delete, so its purge job fails.
fn break_idempotency_purge(app: &TestApp) {
    app.db()
        .refuse(
            "idempotency_keys",
            "DELETE",
            "idempotency records are read-only",
        )
        .unwrap();
    insert_idempotency_record(app, "stuck", app.clock.now().plus_millis(-48 * HOUR_MS));
}

backend_tests!(a_failing_job_returns_its_error_while_the_other_jobs_still_run);
async fn a_failing_job_returns_its_error_while_the_other_jobs_still_run() {
    let app = spawn_app_without_schedules().await;
    break_idempotency_purge(&app);

    let err = run_job("purge-idempotency-keys", &app.jobs)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        JobError::Failed {
            job: "purge-idempotency-keys",
            ..
        }
    ));
    assert!(
        err.to_string()
            .contains("idempotency records are read-only"),
        "{err}"
    );
    for name in JOB_NAMES.iter().filter(|n| **n != "purge-idempotency-keys") {
        let outcome = run_job(name, &app.jobs).await.unwrap();
        assert_eq!(outcome.job().name(), *name);
    }
}

backend_tests!(an_unknown_job_name_is_refused_with_the_list_of_jobs);
async fn an_unknown_job_name_is_refused_with_the_list_of_jobs() {
    let app = spawn_app_without_schedules().await;
    let err = run_job("vacuum", &app.jobs).await.unwrap_err();
    assert!(matches!(err, JobError::UnknownJob(ref name) if name == "vacuum"));
    let message = err.to_string();
    for name in JOB_NAMES {
        assert!(message.contains(name), "{message}");
    }
}

backend_tests!(
    the_scheduler_runs_each_job_on_its_schedule_and_a_failing_one_does_not_stop_the_others
);
async fn the_scheduler_runs_each_job_on_its_schedule_and_a_failing_one_does_not_stop_the_others() {
    let every_second = json!("* * * * * *");
    let app = spawn_app_with(&[
        ("jobs.expire_rotated_keys", json!("")),
        ("jobs.warn_expiring_keys", json!("")),
        ("jobs.purge_request_logs", every_second.clone()),
        ("jobs.purge_idempotency_keys", every_second),
    ])
    .await;
    break_idempotency_purge(&app);
    let (_, key) = app.create_key(&[]);
    let old = app.clock.now().plus_millis(-40 * DAY_MS).millis();
    // Twice, so the purge is seen to go on running next to the job failing every second.
    for _ in 0..2 {
        assert_eq!(app.get("/v1/status", Some(&key)).await.status(), 200);
        app.db()
            .execute("UPDATE request_logs SET created_at = ?1", &[&old])
            .unwrap();
        eventually("the scheduler purges the old request-log rows", || {
            app.count("SELECT count(*) FROM request_logs", &[]) == 0
        })
        .await;
    }
    assert_eq!(
        app.count("SELECT count(*) FROM idempotency_keys", &[]),
        1,
        "the failing job changed nothing"
    );
}

#[test]
fn an_invalid_cron_string_stops_start_up_with_one_line_naming_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "TIDEGATE_JOBS__PURGE_REQUEST_LOGS",
            "15 3 * *",
            "jobs.purge_request_logs",
        ),
        (
            "TIDEGATE_JOBS__EXPIRE_ROTATED_KEYS",
            "0 0 0 30 2 *",
            "jobs.expire_rotated_keys",
        ),
        (
            "TIDEGATE_JOBS__EXPIRY_WARNING_DAYS",
            "0",
            "jobs.expiry_warning_days",
        ),
    ];
    for (var, value, key) in cases {
        let out = run_binary(dir.path(), &["serve"], &[(var, value)]);
        assert_eq!(out.status, 2, "{var}={value}: {}", out.stderr);
        let stderr = out.stderr.trim();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(key), "{var}: {stderr}");
    }
    let out = run_binary(dir.path(), &["print-config", "--json"], &[]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let config: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(config["jobs"]["purge_request_logs"], "0 15 3 * * *");
    assert_eq!(config["jobs"]["expiry_warning_days"], 7);
}
