//! The dashboard where sign-in lands and the charts of the key and usage pages: figures read from
//! the hourly roll-ups that match the request log, every tile pointing at its page, the range
//! kept in the URL, and the first step in an empty workspace.

use crate::helpers::{TestApp, spawn_app};
use crate::people::{page, person};

/// The number shown in a tile: the `data-number` after the tile's heading.
fn tile_number(html: &str, heading: &str) -> i64 {
    let at = html.find(heading).unwrap_or_else(|| panic!("{heading}"));
    let rest = &html[at..];
    let start = rest.find("data-number=\"").unwrap() + "data-number=\"".len();
    rest[start..start + rest[start..].find('"').unwrap()]
        .parse()
        .unwrap()
}

/// How many bars a chart on the page has.
fn bars(html: &str) -> usize {
    html.matches("<g class=\"bar\"").count()
}

backend_tests!(the_dashboard_shows_the_last_day_and_what_needs_a_look);
async fn the_dashboard_shows_the_last_day_and_what_needs_a_look() {
    let app = spawn_app().await;
    let owner = person(&app, "owner@example.com", "owner").await;
    let member = person(&app, "member@example.com", "member").await;
    let (_, full) = app.create_key(&[]);
    let (_, generate_only) = app.create_key(&["--preset", "generate_only"]);
    let (_, limited) = app.create_key(&["--rate-limit", "1"]);
    let (expiring, _) = app.create_key(&["--expires-in-days", "3"]);
    let (old_id, old) = app.create_key(&[]);
    app.cli_json(&["keys", "rotate", &old_id, "--grace-hours", "2"]);
    app.cli_json(&[
        "webhooks",
        "add",
        "--account",
        &app.account_id,
        "--url",
        "https://hooks.example.com/tidegate",
        "--description",
        "billing hook",
        "--disabled",
    ]);

    // 5 successes (one on the rotated key), a scope refusal, a rate-limit refusal and a 404.
    for _ in 0..3 {
        assert_eq!(app.get("/v1/status", Some(&full)).await.status(), 200);
    }
    assert_eq!(app.get("/v1/status", Some(&old)).await.status(), 200);
    assert_eq!(
        app.get("/v1/status", Some(&generate_only)).await.status(),
        403
    );
    assert_eq!(app.get("/v1/status", Some(&limited)).await.status(), 200);
    assert_eq!(app.get("/v1/status", Some(&limited)).await.status(), 429);
    assert_eq!(
        app.get(
            "/v1/content/00000000-0000-4000-8000-000000000000",
            Some(&full)
        )
        .await
        .status(),
        404
    );
    let logged = app.count(
        "SELECT count(*) FROM request_logs WHERE account_id = ?1",
        &[&app.account_id.as_str()],
    );
    assert_eq!(logged, 8);

    let board = page(&owner.client, &app, "/").await;
    assert!(board.contains("<h1>Dashboard</h1>"));
    assert!(board.contains("aria-current=\"page\">Dashboard</a>"));
    assert_eq!(tile_number(&board, "Requests, 24 hours"), logged);
    assert!(board.contains("No requests in the 24 hours before"));
    // 3 of 8 are 4xx; the refusals are told apart.
    assert!(
        board.contains("37.5% <span class=\"unit\">4xx</span>"),
        "{board}"
    );
    assert_eq!(tile_number(&board, "5xx · "), 1, "auth refused");
    assert!(board.contains("1</span> rate limited"));
    assert!(board.contains("<span class=\"unit\">p50</span>"));
    // The tiles that need a look, each linking to its page.
    for link in [
        "href=\"/usage?range=24h\"",
        "href=\"/logs?status=4xx\"",
        "href=\"/keys?need=expiring\"",
        "href=\"/webhooks\"",
        "href=\"/activity\"",
    ] {
        assert!(board.contains(link), "{link}");
    }
    assert!(board.contains(&format!("href=\"/keys/{expiring}\"")));
    assert!(
        board.contains(&format!("href=\"/keys/{old_id}\"")),
        "the rotated key still called"
    );
    assert!(board.contains("billing hook") && board.contains("disabled: "));
    assert!(board.contains("Created API key"), "latest activity");
    // The chart of the last 24 hours: an hour a bar, this hour's readout with every outcome.
    assert_eq!(bars(&board), 24);
    assert!(
        board.contains(
            ": 8 requests; p50 " // then the latencies, then the outcomes:
        ) && board.contains("5 succeeded, 1 client error, 1 auth refused, 1 rate limited"),
        "{board}"
    );

    // A member sees the same figures.
    let seen = page(&member.client, &app, "/").await;
    assert_eq!(tile_number(&seen, "Requests, 24 hours"), logged);
    assert!(!seen.contains("Start here"));

    // The range is kept in the URL: a bar an hour, or a day.
    for (range, n) in [("24h", 24), ("7d", 7), ("30d", 30), ("90d", 90)] {
        let shown = page(&owner.client, &app, &format!("/?range={range}")).await;
        assert_eq!(bars(&shown), n, "{range}");
        assert!(shown.contains(&format!("href=\"?range={range}\" aria-current=\"true\"")));
    }
    let usage = page(&owner.client, &app, "/usage?range=7d").await;
    assert_eq!(bars(&usage), 7);
    assert!(usage.contains("<h1>Usage, last 7 days</h1>"));
    assert!(usage.contains("class=\"chart latency\""), "p50/p95 lines");
    assert_eq!(tile_number(&usage, "<h2>Requests</h2>"), logged);
    let key_page = page(&owner.client, &app, &format!("/keys/{old_id}?range=24h")).await;
    assert_eq!(bars(&key_page), 24);
    assert!(key_page.contains(": 1 request; p50 "), "the key's own hour");
    // An unknown range is the page's default.
    assert_eq!(
        bars(&page(&owner.client, &app, "/usage?range=1y").await),
        30
    );
}

backend_tests!(an_empty_workspace_shows_the_first_step);
async fn an_empty_workspace_shows_the_first_step() {
    let app = spawn_app().await;
    let owner = person(&app, "owner@example.com", "owner").await;
    let member = person(&app, "member@example.com", "member").await;
    let board = page(&owner.client, &app, "/").await;
    assert!(board.contains("Start here: make the first API key"));
    assert!(board.contains("href=\"/keys/new\""));
    assert!(
        board.contains(&format!("curl {}/v1/status", app.address)),
        "ready to paste for this server"
    );
    assert!(board.contains("No requests in the last 24 hours."));
    let seen = page(&member.client, &app, "/").await;
    assert!(seen.contains("An owner of the workspace creates them"));
    assert!(!seen.contains("href=\"/keys/new\""));
}

backend_tests!(hourly_rollups_match_the_log_and_go_after_ninety_days);
async fn hourly_rollups_match_the_log_and_go_after_ninety_days() {
    let app = spawn_app().await;
    let (key, secret) = app.create_key(&[]);
    for _ in 0..5 {
        app.get("/v1/status", Some(&secret)).await;
    }
    app.get("/v1/status", Some("bye_not_a_key")).await;
    let sum = |app: &TestApp, key: &str| {
        app.count(
            "SELECT COALESCE(SUM(success + client_error + auth_refused + rate_limited + server_error), 0)
             FROM usage_hourly WHERE account_id = ?1 AND key_id = ?2",
            &[&app.account_id.as_str(), &key],
        )
    };
    assert_eq!(sum(&app, &key), 5, "the key's hours");
    assert_eq!(sum(&app, ""), 5, "the account's hours");
    let buckets: String = (0..18)
        .map(|i| format!("l{i:02}"))
        .collect::<Vec<_>>()
        .join(" + ");
    assert_eq!(
        app.count(
            &format!("SELECT SUM({buckets}) FROM usage_hourly WHERE key_id = ?1"),
            &[&key.as_str()]
        ),
        5,
        "every request in one latency bucket"
    );
    // A row older than 90 days goes with the request-log purge; this hour's stays.
    app.db()
        .execute(
            "INSERT INTO usage_hourly (account_id, key_id, hour, success) VALUES (?1, '', 1000, 7)",
            &[&app.account_id.as_str()],
        )
        .unwrap();
    app.cli_json(&["run-job", "purge-request-logs"]);
    assert_eq!(
        app.count("SELECT count(*) FROM usage_hourly WHERE hour = 1000", &[]),
        0
    );
    assert_eq!(sum(&app, ""), 5);
    let owner = person(&app, "owner@example.com", "owner").await;
    let usage = page(&owner.client, &app, "/usage").await;
    assert!(usage.contains(&format!("<a href=\"/keys/{key}\">test key (bye_")));
    assert!(!usage.contains("Other and deleted keys"));
    // Deleting the key takes its hours; the account's keep its requests.
    app.cli_json(&["keys", "delete", &key]);
    assert_eq!(sum(&app, &key), 0);
    assert_eq!(sum(&app, ""), 5);
    let usage = page(&owner.client, &app, "/usage").await;
    assert!(usage.contains("Other and deleted keys</td><td data-number=\"5\">5</td>"));
}

backend_tests!(an_upgraded_store_rolls_up_the_request_log_it_still_keeps);
async fn an_upgraded_store_rolls_up_the_request_log_it_still_keeps() {
    let app = spawn_app().await;
    let (key, secret) = app.create_key(&[]);
    let (_, scoped) = app.create_key(&["--preset", "generate_only"]);
    for _ in 0..4 {
        app.get("/v1/status", Some(&secret)).await;
    }
    app.get("/v1/status", Some(&scoped)).await;
    // The roll-up step of an upgrade, on the log this store keeps.
    let db = app.db();
    let step = match db.backend() {
        crate::backend::Backend::Sqlite => {
            include_str!("../../src/store/sql/0011_chart_rollups.sql")
        }
        crate::backend::Backend::Postgres => {
            include_str!("../../src/store/sql/postgres/0004_chart_rollups.sql")
        }
    };
    db.execute_batch(&format!(
        "DROP TABLE usage_hourly; DROP TABLE usage_daily_routes; DROP TABLE usage_weekly_keys; {step}"
    ))
    .unwrap();
    let sum = |key: &str, column: &str| {
        app.count(
            &format!("SELECT COALESCE(SUM({column}), 0) FROM usage_hourly WHERE key_id = ?1"),
            &[&key],
        )
    };
    assert_eq!(sum(&key, "success"), 4);
    assert_eq!(sum("", "success"), 4);
    assert_eq!(sum("", "auth_refused"), 1);
    let buckets: String = (0..18)
        .map(|i| format!("l{i:02}"))
        .collect::<Vec<_>>()
        .join(" + ");
    assert_eq!(sum("", &buckets), 5, "every request timed once");
    // The account's weekly totals per key and daily per route come from the daily roll-ups.
    assert_eq!(
        app.count(
            "SELECT SUM(requests) FROM usage_weekly_keys WHERE key_id = ?1",
            &[&key.as_str()]
        ),
        4
    );
    assert_eq!(
        app.count(
            "SELECT SUM(requests) FROM usage_daily_routes WHERE account_id = ?1",
            &[&app.account_id.as_str()]
        ),
        5
    );
}

backend_tests!(the_busiest_keys_of_a_range_add_its_whole_weeks_to_its_first_days);
async fn the_busiest_keys_of_a_range_add_its_whole_weeks_to_its_first_days() {
    let app = spawn_app().await;
    let owner = person(&app, "owner@example.com", "owner").await;
    app.create_key(&[]);
    // Rows spread over 100 days, through the log writer's commit.
    app.cli_json(&[
        "bench-seed",
        "--account",
        &app.account_id,
        "--count",
        "6",
        "--logs",
        "3000",
        "--days",
        "100",
    ]);
    for (range, days) in [("7d", 7), ("30d", 30), ("90d", 90)] {
        // The truth: the daily totals of each key since the range's first day.
        let since = time::OffsetDateTime::now_utc().date() - time::Duration::days(days - 1);
        let since = format!(
            "{:04}-{:02}-{:02}",
            since.year(),
            u8::from(since.month()),
            since.day()
        );
        let db = app.db();
        let totals: Vec<(String, i64)> = db
            .query_map(
                "SELECT k.name || ' (' || k.key_prefix || ')', SUM(d.requests) FROM usage_daily d
                 JOIN api_keys k ON k.id = d.key_id
                 WHERE d.account_id = ?1 AND d.day >= ?2 GROUP BY k.id, k.name, k.key_prefix",
                &[&app.account_id.as_str(), &since.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let usage = page(&owner.client, &app, &format!("/usage?range={range}")).await;
        for (name, n) in totals {
            assert!(
                usage.contains(&format!(">{name}</a></td><td data-number=\"{n}\">")),
                "{range}: {name} with {n}"
            );
        }
    }
}
