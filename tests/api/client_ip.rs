//! Client addresses in the request log (docs/keys.md, "Request log"): kept in clear beside
//! their hash for `logs.client_ip_days`, shown to owners on every surface and to members on
//! none, and cleared by the purge job.

use serde_json::{Value, json};
use tidegate::testing::{Job, JobOutcome};

use crate::helpers::{SendChecked, TestApp, eventually, spawn_app_with};
use crate::people::{page, person};

/// The client's address, as the trusted proxy on loopback reports it.
const ADDRESS: &str = "198.51.100.23";
const DAY_MS: i64 = 24 * 3_600_000;

async fn app_behind_a_proxy(extra: &[(&str, Value)]) -> TestApp {
    let mut overrides = vec![("server.trusted_proxies", json!(["127.0.0.1/32"]))];
    overrides.extend(extra.iter().cloned());
    spawn_app_with(&overrides).await
}

/// `GET /v1/status` from `ADDRESS`, with `key` if one is given; returns the status.
async fn status_from_address(app: &TestApp, key: Option<&str>) -> u16 {
    let mut req = app
        .client
        .get(format!("{}/v1/status", app.address))
        .header("x-forwarded-for", ADDRESS);
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    req.send_checked().await.status().as_u16()
}

/// `(id, ip_hash, client_ip)` of every request-log row of `key_id`, oldest first.
fn log_rows(app: &TestApp, key_id: &str) -> Vec<(i64, String, Option<String>)> {
    app.db()
        .query_map(
            "SELECT id, ip_hash, client_ip FROM request_logs WHERE key_id = ?1 ORDER BY id",
            &[&key_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// `(day, ip_hash, client_ip, requests)` of every refusal counted before a key was known.
fn refusal_rows(app: &TestApp) -> Vec<(String, String, Option<String>, i64)> {
    app.db()
        .query_map(
            "SELECT day, ip_hash, client_ip, requests FROM refusals_daily ORDER BY day",
            &[],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Waits until the refusals counted before a key was known add up to `requests`.
async fn wait_for_refusals(app: &TestApp, requests: i64) {
    eventually("the refusals to be counted", || {
        refusal_rows(app).iter().map(|r| r.3).sum::<i64>() == requests
    })
    .await;
}

/// The body of `GET path` by `client` (a signed-in person's), which must answer 200.
async fn body_of(client: &reqwest::Client, app: &TestApp, path: &str) -> String {
    let res = client
        .get(format!("{}{path}", app.address))
        .send_checked()
        .await;
    assert_eq!(res.status(), 200, "GET {path}");
    res.text().await.unwrap()
}

/// The management API's log row of `key_id`, asked by `client` with `key` (or its session).
async fn api_row(
    client: &reqwest::Client,
    app: &TestApp,
    key_id: &str,
    key: Option<&str>,
) -> Value {
    let mut req = client.get(format!("{}/api/v1/logs?key_id={key_id}", app.address));
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    let res = req.send_checked().await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let logs = body["data"]["logs"].as_array().expect("logs").clone();
    assert_eq!(logs.len(), 1, "{body}");
    logs[0].clone()
}

backend_tests!(an_owner_sees_the_address_of_an_allowlist_refusal_everywhere_and_a_member_nowhere);
async fn an_owner_sees_the_address_of_an_allowlist_refusal_everywhere_and_a_member_nowhere() {
    let app = app_behind_a_proxy(&[]).await;
    let (key_id, key) = app.create_key(&["--allowed-ips", "203.0.113.0/24"]);
    assert_eq!(status_from_address(&app, Some(&key)).await, 403);
    let rows = log_rows(&app, &key_id);
    let (row_id, hash) = (rows[0].0, rows[0].1.clone());
    assert_eq!(rows[0].2.as_deref(), Some(ADDRESS), "kept in clear");
    let owner = person(&app, "owner@example.com", "owner").await.client;
    let member = person(&app, "member@example.com", "member").await.client;
    let manager = app.manager_key();

    let surfaces = [
        "/logs".to_owned(),
        format!("/logs/{row_id}"),
        "/logs/export/csv".to_owned(),
        "/logs/export/json".to_owned(),
        format!("/api/v1/logs?key_id={key_id}"),
        format!("/api/v1/logs?key_id={key_id}&format=csv"),
    ];
    for path in &surfaces {
        let seen = body_of(&owner, &app, path).await;
        assert!(
            seen.contains(ADDRESS),
            "an owner reads the address on {path}"
        );
        assert!(seen.contains(&hash[..12]), "and its hash on {path}");
        let seen = body_of(&member, &app, path).await;
        assert!(
            !seen.contains(ADDRESS),
            "a member never reads it on {path}: {seen}"
        );
        assert!(
            seen.contains(&hash[..12]),
            "a member reads the hash on {path}"
        );
    }

    let json: Value =
        serde_json::from_str(&body_of(&member, &app, "/logs/export/json").await).unwrap();
    assert_eq!(json[0]["client_ip"], Value::Null);
    assert_eq!(json[0]["ip_hash"], hash.as_str());
    let csv = body_of(&owner, &app, "/logs/export/csv").await;
    let header = csv.lines().next().unwrap();
    assert!(header.ends_with(",client_ip"), "{header}");

    let by_key = api_row(&app.client, &app, &key_id, Some(&manager)).await;
    assert_eq!(
        by_key["client_ip"], ADDRESS,
        "a key reads it as its owners do"
    );
    assert_eq!(by_key["error_code"], "BSE1007");
    let by_owner = api_row(&owner, &app, &key_id, None).await;
    assert_eq!(by_owner["client_ip"], ADDRESS);
    let by_member = api_row(&member, &app, &key_id, None).await;
    assert_eq!(by_member["client_ip"], Value::Null);
    assert_eq!(by_member["ip_hash"], hash.as_str());
}

backend_tests!(with_client_ip_days_0_no_address_is_stored);
async fn with_client_ip_days_0_no_address_is_stored() {
    let app = app_behind_a_proxy(&[("logs.client_ip_days", json!(0))]).await;
    let (key_id, key) = app.create_key(&[]);
    assert_eq!(status_from_address(&app, Some(&key)).await, 200);
    assert_eq!(status_from_address(&app, None).await, 401);
    wait_for_refusals(&app, 1).await;

    let rows = log_rows(&app, &key_id);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1.len(), 64, "the hash is kept");
    assert_eq!(rows[0].2, None);
    let refusals = refusal_rows(&app);
    assert_eq!(refusals[0].1, rows[0].1, "one hash for one address");
    assert_eq!(refusals[0].2, None);
    let owner = person(&app, "owner@example.com", "owner").await.client;
    for path in ["/logs", "/usage"] {
        assert!(!page(&owner, &app, path).await.contains(ADDRESS), "{path}");
    }
}

backend_tests!(the_purge_clears_addresses_older_than_client_ip_days_and_keeps_hashes_and_rows);
async fn the_purge_clears_addresses_older_than_client_ip_days_and_keeps_hashes_and_rows() {
    let app = app_behind_a_proxy(&[]).await;
    let (key_id, key) = app.create_key(&[]);
    for _ in 0..2 {
        assert_eq!(status_from_address(&app, Some(&key)).await, 200);
    }
    assert_eq!(status_from_address(&app, None).await, 401);
    wait_for_refusals(&app, 1).await;
    let now = app.clock.now();
    let db = app.db();
    // The first request and the refusal as if made 8 days ago; the second 6 days ago.
    let rows = log_rows(&app, &key_id);
    for (id, days) in [(rows[0].0, 8), (rows[1].0, 6)] {
        let at = now.plus_millis(-days * DAY_MS).millis();
        db.execute(
            "UPDATE request_logs SET created_at = ?1 WHERE id = ?2",
            &[&at, &id],
        )
        .unwrap();
    }
    let old_day = now.plus_millis(-8 * DAY_MS).day();
    db.execute("UPDATE refusals_daily SET day = ?1", &[&old_day])
        .unwrap();
    assert_eq!(status_from_address(&app, None).await, 401);
    wait_for_refusals(&app, 2).await;

    let outcome = Job::PurgeRequestLogs.run(&app.jobs).await.unwrap();
    assert_eq!(
        outcome,
        JobOutcome::PurgeRequestLogs {
            request_logs_deleted: 0,
            refusal_rows_deleted: 0,
            webhook_deliveries_deleted: 0,
            client_addresses_cleared: 2,
        }
    );

    let after = log_rows(&app, &key_id);
    assert_eq!(after.len(), 2, "the rows stay");
    assert_eq!(after[0].1, rows[0].1, "with their hash");
    assert_eq!(after[0].2, None, "the address older than 7 days is gone");
    assert_eq!(after[1].2.as_deref(), Some(ADDRESS), "a newer one stays");
    let refusals = refusal_rows(&app);
    assert_eq!(refusals.len(), 2);
    assert_eq!(
        (refusals[0].0.as_str(), refusals[0].2.as_deref()),
        (old_day.as_str(), None)
    );
    assert_eq!(refusals[0].1, rows[0].1);
    assert_eq!(
        refusals[1].2.as_deref(),
        Some(ADDRESS),
        "today's count keeps it"
    );

    let owner = person(&app, "owner@example.com", "owner").await.client;
    let html = page(&owner, &app, &format!("/logs/{}", after[0].0)).await;
    assert!(!html.contains(ADDRESS) && html.contains(&rows[0].1));
}

backend_tests!(
    refusals_before_a_key_was_known_show_their_address_only_to_the_instance_administrator
);
async fn refusals_before_a_key_was_known_show_their_address_only_to_the_instance_administrator() {
    let app = app_behind_a_proxy(&[]).await;
    for _ in 0..3 {
        assert_eq!(status_from_address(&app, None).await, 401);
    }
    let unknown = app
        .client
        .get(format!("{}/v1/status", app.address))
        .header("x-forwarded-for", ADDRESS)
        .bearer_auth("bye_not_a_key_at_all")
        .send_checked()
        .await;
    assert_eq!(unknown.status(), 401);
    wait_for_refusals(&app, 4).await;
    let hash = refusal_rows(&app)[0].1.clone();
    let admin = crate::operators::administrator(&app).await.client;
    let owner = person(&app, "owner@example.com", "owner").await.client;
    let member = person(&app, "member@example.com", "member").await.client;

    let html = page(&admin, &app, "/usage").await;
    let section = html
        .split("Refused before a key was known")
        .nth(1)
        .expect("the section");
    assert!(section.contains(ADDRESS), "{section}");
    assert!(section.contains(&hash[..12]));
    assert!(section.contains(">BSE1001</code>") && section.contains("data-number=\"3\""));
    assert!(section.contains(">BSE1002</code>") && section.contains("data-number=\"1\""));

    // They belong to no workspace: a workspace's owner and member read the hashes only.
    for reader in [&owner, &member] {
        let html = page(reader, &app, "/usage").await;
        assert!(!html.contains(ADDRESS), "{html}");
        let section = html
            .split("Refused before a key was known")
            .nth(1)
            .expect("the section");
        assert!(section.contains(&hash[..12]) && section.contains(">BSE1001</code>"));
    }
}
