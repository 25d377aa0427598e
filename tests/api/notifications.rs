//! Notifications (docs/notifications.md): each notice is sent once per key and period, whatever
//! the number of job runs or nodes, and its payload matches the documented schema.

use serde_json::{Value, json};
use tidegate::testing::{Job, JobOutcome};

use crate::cluster::cluster;
use crate::helpers::{TestApp, eventually, run_binary, spawn_app_with};
use crate::receiver;
use crate::webhooks::add_endpoint;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// A server whose scheduler runs nothing, so only the test decides when a job runs.
pub async fn quiet_app(extra: &[(&str, Value)]) -> TestApp {
    let mut overrides = vec![
        ("jobs.expire_rotated_keys", json!("")),
        ("jobs.warn_expiring_keys", json!("")),
        ("jobs.purge_request_logs", json!("")),
        ("jobs.purge_idempotency_keys", json!("")),
    ];
    overrides.extend(extra.iter().cloned());
    spawn_app_with(&overrides).await
}

/// The schema of `event`'s `webhook_data`, from the JSON block of docs/notifications.md.
pub fn documented_schema(event: &str) -> Value {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/notifications.md"),
    )
    .unwrap();
    let start = text.find("```json\n").expect("a JSON block") + "```json\n".len();
    let end = start + text[start..].find("```").unwrap();
    let all: Value = serde_json::from_str(&text[start..end]).unwrap();
    let branch = all["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["title"] == event)
        .unwrap_or_else(|| panic!("{event} is not documented"));
    let mut schema = branch.clone();
    schema["$defs"] = all["$defs"].clone();
    schema
}

/// Checks the `webhook_data` of a delivery against the documented schema of its event.
pub fn assert_documented(body: &Value) {
    let event = body["webhook_event"].as_str().unwrap();
    let schema = documented_schema(event);
    let validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let data = &body["webhook_data"];
    let errors: Vec<String> = validator.iter_errors(data).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{event} {data}: {errors:?}");
}

fn events(app: &TestApp, event: &str) -> i64 {
    app.count(
        "SELECT COUNT(*) FROM webhook_events WHERE event = ?1",
        &[&event],
    )
}

async fn run(app: &TestApp, job: Job) -> JobOutcome {
    job.run(&app.jobs)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", job.name()))
}

fn warned(outcome: JobOutcome) -> u64 {
    match outcome {
        JobOutcome::WarnExpiringKeys { keys_warned } => keys_warned,
        other => panic!("{other:?}"),
    }
}

/// Two runs of the warning job at once, as two nodes whose ticks both fired: how many keys
/// they warned about together.
async fn two_runs_at_once(app: &TestApp) -> u64 {
    let (a, b) = tokio::join!(
        Job::WarnExpiringKeys.run(&app.jobs),
        Job::WarnExpiringKeys.run(&app.jobs)
    );
    warned(a.unwrap()) + warned(b.unwrap())
}

backend_tests!(multi_thread: a_key_is_warned_seven_days_and_one_day_before_it_expires_once_each);
async fn a_key_is_warned_seven_days_and_one_day_before_it_expires_once_each() {
    let app = quiet_app(&[]).await;
    let receiver = receiver::start();
    add_endpoint(&app, &receiver, "apikey.expiring,apikey.expired");
    let (id, key) = app.create_key(&["--expires-in-days", "10"]);

    assert_eq!(warned(run(&app, Job::WarnExpiringKeys).await), 0);
    app.clock.advance(4 * DAY_MS);
    assert_eq!(warned(run(&app, Job::WarnExpiringKeys).await), 1);
    assert_eq!(warned(run(&app, Job::WarnExpiringKeys).await), 0);
    app.clock.advance(4 * DAY_MS + 12 * HOUR_MS);
    assert_eq!(two_runs_at_once(&app).await, 0, "no new period yet");
    assert_eq!(events(&app, "apikey.expiring"), 1);

    app.clock.advance(DAY_MS);
    assert_eq!(
        two_runs_at_once(&app).await,
        1,
        "the last day's notice, once"
    );
    assert_eq!(warned(run(&app, Job::WarnExpiringKeys).await), 0);
    assert_eq!(events(&app, "apikey.expiring"), 2);

    app.clock.advance(DAY_MS);
    assert_eq!(
        run(&app, Job::ExpireRotatedKeys).await,
        JobOutcome::ExpireRotatedKeys { keys_expired: 1 }
    );
    assert_eq!(
        run(&app, Job::ExpireRotatedKeys).await,
        JobOutcome::ExpireRotatedKeys { keys_expired: 0 }
    );
    assert_eq!(events(&app, "apikey.expired"), 1);

    let expiring = distinct_events(&receiver, "apikey.expiring", 2).await;
    let mut days: Vec<i64> = expiring
        .iter()
        .map(|b| b["webhook_data"]["warning_days"].as_i64().unwrap())
        .collect();
    days.sort_unstable();
    assert_eq!(days, [1, 7], "deliveries may arrive in any order");
    let expired = distinct_events(&receiver, "apikey.expired", 1).await;
    for body in expiring.iter().chain(&expired) {
        assert_documented(body);
        assert_eq!(body["webhook_data"]["apikey_id"], id.as_str());
        assert!(
            !body.to_string().contains(&key),
            "no notice carries the key: {body}"
        );
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM notices_sent", &[]),
        3,
        "one row per notice sent"
    );
}

/// Two processes run the warning job against one PostgreSQL store at the same moment, while
/// both nodes' schedulers run it too: the key is warned about once.
#[tokio::test]
async fn two_nodes_warn_about_an_expiring_key_once() {
    let Some(cluster) = cluster(2, &[("TIDEGATE_JOBS__WARN_EXPIRING_KEYS", "* * * * * *")]).await
    else {
        return;
    };
    let receiver = receiver::start();
    let endpoint = cluster.cli_json(&[
        "webhooks",
        "add",
        "--account",
        &cluster.account_id,
        "--url",
        &receiver.url,
        "--events",
        "apikey.expiring",
    ]);
    receiver.expect_secret(endpoint["secret"].as_str().unwrap());
    let key = cluster.cli_json(&[
        "keys",
        "create",
        "--account",
        &cluster.account_id,
        "--name",
        "soon",
        "--preset",
        "full_access",
        "--expires-in-days",
        "3",
    ]);
    let id = key["id"].as_str().unwrap().to_owned();
    let (dir, env) = (cluster.data_dir(), cluster.cli_env());
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..2)
            .map(|_| s.spawn(|| run_binary(&dir, &["run-job", "warn-expiring-keys"], &env)))
            .collect();
        for run in runs {
            let out = run.join().unwrap();
            assert_eq!(out.status, 0, "{}", out.stderr);
        }
    });
    let sent = distinct_events(&receiver, "apikey.expiring", 1).await;
    assert_documented(&sent[0]);
    assert_eq!(sent[0]["webhook_data"]["apikey_id"], id.as_str());
    // The schedulers keep running the job every second; a few more ticks change nothing.
    let ticks = |c: &crate::cluster::Cluster| {
        c.count(
            "SELECT COUNT(*) FROM job_runs WHERE job = 'warn-expiring-keys'",
            &[],
        )
    };
    let before = ticks(&cluster);
    cluster
        .until(
            "three more ticks",
            std::time::Duration::from_secs(20),
            || ticks(&cluster) >= before + 3,
        )
        .await;
    assert_eq!(
        cluster.count(
            "SELECT COUNT(*) FROM webhook_events WHERE event = 'apikey.expiring'",
            &[]
        ),
        1
    );
    assert_eq!(receiver.of("apikey.expiring").len(), 1);
}

fn notified(outcome: JobOutcome) -> (u64, u64) {
    match outcome {
        JobOutcome::NotifyKeys {
            rate_limited_notices,
            unused_notices,
            ..
        } => (rate_limited_notices, unused_notices),
        other => panic!("{other:?}"),
    }
}

/// `n` requests with `key`; returns how many were refused with 429.
async fn hammer(app: &TestApp, key: &str, n: usize) -> usize {
    let mut refused = 0;
    for _ in 0..n {
        if app.get("/v1/status", Some(key)).await.status() == 429 {
            refused += 1;
        }
    }
    refused
}

backend_tests!(a_key_refused_for_its_rate_limit_is_reported_at_most_once_an_hour);
async fn a_key_refused_for_its_rate_limit_is_reported_at_most_once_an_hour() {
    let app = quiet_app(&[("jobs.ratelimit_refusals_per_hour", json!(3))]).await;
    let receiver = receiver::start();
    add_endpoint(&app, &receiver, "ratelimit.exceeded");
    let (id, key) = app.create_key(&["--rate-limit", "1"]);

    assert_eq!(hammer(&app, &key, 3).await, 2);
    assert_eq!(
        notified(run(&app, Job::NotifyKeys).await),
        (0, 0),
        "not more than 3 refusals yet"
    );
    assert_eq!(hammer(&app, &key, 3).await, 3);
    assert_eq!(notified(run(&app, Job::NotifyKeys).await), (1, 0));
    assert_eq!(hammer(&app, &key, 3).await, 3);
    assert_eq!(
        notified(run(&app, Job::NotifyKeys).await),
        (0, 0),
        "at most once an hour"
    );

    app.clock.advance(HOUR_MS);
    assert_eq!(notified(run(&app, Job::NotifyKeys).await), (0, 0));
    assert!(hammer(&app, &key, 6).await >= 4);
    assert_eq!(
        notified(run(&app, Job::NotifyKeys).await),
        (1, 0),
        "the next hour"
    );

    let sent = distinct_events(&receiver, "ratelimit.exceeded", 2).await;
    for body in &sent {
        assert_documented(body);
        let data = &body["webhook_data"];
        assert_eq!(data["apikey_id"], id.as_str());
        assert_eq!(data["refusals_threshold"], 3);
        assert!(data["refusals"].as_i64().unwrap() > 3, "{data}");
        assert!(!body.to_string().contains(&key));
    }
    assert_eq!(events(&app, "ratelimit.exceeded"), 2);
}

backend_tests!(a_key_unused_for_thirty_days_is_reported_once_until_it_is_used_again);
async fn a_key_unused_for_thirty_days_is_reported_once_until_it_is_used_again() {
    let app = quiet_app(&[]).await;
    let receiver = receiver::start();
    add_endpoint(&app, &receiver, "apikey.unused");
    let (idle, idle_key) = app.create_key(&[]);
    let (busy, busy_key) = app.create_key(&[]);
    let (revoked, _) = app.create_key(&[]);
    app.cli_json(&["keys", "revoke", &revoked]);
    let unused_of = |id: &str| {
        app.count(
            "SELECT COUNT(*) FROM notices_sent WHERE kind = 'apikey.unused' AND subject = ?1",
            &[&id],
        )
    };

    app.clock.advance(29 * DAY_MS);
    assert_eq!(app.get("/v1/status", Some(&busy_key)).await.status(), 200);
    assert_eq!(notified(run(&app, Job::NotifyKeys).await).1, 0);
    app.clock.advance(2 * DAY_MS);
    run(&app, Job::NotifyKeys).await;
    assert_eq!(notified(run(&app, Job::NotifyKeys).await).1, 0, "once");
    assert_eq!(
        (unused_of(&idle), unused_of(&busy), unused_of(&revoked)),
        (1, 0, 0)
    );

    assert_eq!(app.get("/v1/status", Some(&idle_key)).await.status(), 200);
    app.clock.advance(31 * DAY_MS);
    run(&app, Job::NotifyKeys).await;
    assert_eq!(
        (unused_of(&idle), unused_of(&busy)),
        (2, 1),
        "used again, then left alone: due again"
    );

    let sent = distinct_events(&receiver, "apikey.unused", 3).await;
    for body in &sent {
        assert_documented(body);
        assert_eq!(body["webhook_data"]["unused_days"], 30);
    }
    let never = sent
        .iter()
        .find(|b| b["webhook_data"]["apikey_id"] == idle.as_str())
        .unwrap();
    assert!(
        never["webhook_data"]["last_used_at"].is_null()
            || never["webhook_data"]["last_used_at"].is_string()
    );
}

/// The distinct deliveries of `event`, once `n` have arrived. Webhooks are delivered at least
/// once: a delivery sent again (its answer came too late, say) repeats its id.
async fn distinct_events(receiver: &receiver::Receiver, event: &str, n: usize) -> Vec<Value> {
    let unique = || {
        let mut seen = std::collections::HashSet::new();
        receiver
            .of(event)
            .into_iter()
            .filter(|r| seen.insert(r.delivery_id.clone()))
            .map(|r| r.body)
            .collect::<Vec<Value>>()
    };
    eventually(&format!("{n} {event}"), || unique().len() >= n).await;
    unique()
}
