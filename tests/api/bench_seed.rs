//! `bench-seed --logs` writes its rows through the request-log writer's own commit: the daily
//! roll-ups count every row by status class and error code, and the keys' `last_used_at` moves,
//! as for served requests (tests/bench/README.md).

use crate::helpers::spawn_app;

backend_tests!(seeded_log_rows_are_counted_by_the_daily_roll_ups);
async fn seeded_log_rows_are_counted_by_the_daily_roll_ups() {
    let app = spawn_app().await;
    let (busiest, _) = app.create_key(&[]);
    app.create_key(&[]);
    let account = app.account_id.as_str();
    let seeded = app.cli_json(&[
        "bench-seed",
        "--account",
        account,
        "--count",
        "3",
        "--logs",
        "500",
        "--days",
        "30",
    ]);
    assert_eq!(seeded["keys"], 3, "{seeded}");
    assert_eq!(seeded["logs"], 500, "{seeded}");
    assert_eq!(seeded["busiest_key"], busiest.as_str(), "{seeded}");

    let count = |sql: &str| app.count(sql, &[&account]);
    assert_eq!(
        count("SELECT count(*) FROM api_keys WHERE account_id = ?1"),
        5
    );
    assert_eq!(
        count("SELECT count(*) FROM request_logs WHERE account_id = ?1"),
        500
    );
    assert_eq!(
        count("SELECT COALESCE(SUM(requests), 0) FROM usage_daily WHERE account_id = ?1"),
        500
    );
    assert_eq!(
        count(
            "SELECT COALESCE(SUM(requests), 0) FROM usage_daily
             WHERE account_id = ?1 AND status_class = 2"
        ),
        count("SELECT count(*) FROM request_logs WHERE account_id = ?1 AND status_code = 200")
    );
    let errors =
        count("SELECT count(*) FROM request_logs WHERE account_id = ?1 AND error_code IS NOT NULL");
    assert!(errors > 0, "some rows are errors");
    assert_eq!(
        count("SELECT COALESCE(SUM(requests), 0) FROM usage_daily_errors WHERE account_id = ?1"),
        errors
    );
    // Spread over the days asked for, every row in the past.
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    let oldest = count("SELECT MIN(created_at) FROM request_logs WHERE account_id = ?1");
    let newest = count("SELECT MAX(created_at) FROM request_logs WHERE account_id = ?1");
    assert!(now - oldest <= 30 * 86_400_000 + 60_000 && now - oldest > 25 * 86_400_000);
    assert!(newest <= now + 1_000);
    assert!(count("SELECT count(DISTINCT day) FROM usage_daily WHERE account_id = ?1") >= 25);
    // The busiest key was used, as the writer records it.
    assert_eq!(
        app.count(
            "SELECT count(*) FROM api_keys WHERE id = ?1 AND last_used_at IS NOT NULL",
            &[&busiest.as_str()]
        ),
        1
    );

    let out = app.cli(&["bench-seed", "--account", "nobody", "--logs", "10"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(out.stderr.contains("has no keys"), "{}", out.stderr);
}
