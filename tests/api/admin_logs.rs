//! The logs page: filters, paging and the export of the filtered rows.

use crate::helpers::{TestApp, spawn_app};
use crate::people::{page, person};

async fn signed_in_member(app: &TestApp) -> reqwest::Client {
    person(app, "viewer@example.com", "member").await.client
}

backend_tests!(the_logs_page_shows_filters_and_exports_the_workspaces_requests);
async fn the_logs_page_shows_filters_and_exports_the_workspaces_requests() {
    let app = spawn_app().await;
    let (_, key) = app.create_key(&["--preset", "monitor_only"]);
    let (_, other) = app.create_key(&[]);
    for _ in 0..3 {
        app.get("/v1/usage?days=7", Some(&other)).await;
    }
    let denied = app.get("/v1/status", Some(&key)).await;
    let denied_id = denied.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let client = signed_in_member(&app).await;

    let html = page(&client, &app, "/logs").await;
    assert!(html.contains("/v1/usage") && html.contains("days=7"));
    assert!(html.contains(">BSE1003</code>"));
    assert!(
        html.contains("</span>test key (bye_"),
        "rows name their key"
    );

    let html = page(&client, &app, "/logs?status=4xx").await;
    assert!(html.contains(">BSE1003</code>") && !html.contains("days=7"));
    let html = page(&client, &app, &format!("/logs?q={denied_id}")).await;
    assert_eq!(html.matches("<tr>").count(), 2, "header and the one row");
    let html = page(&client, &app, "/logs?endpoint=/v1/usage").await;
    assert_eq!(html.matches("days=7").count(), 3);
    let html = page(&client, &app, "/logs?since=nonsense").await;
    assert!(html.contains("Dates must be YYYY-MM-DD."));

    let csv = client
        .get(format!("{}/logs/export/csv?status=2xx", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("request-logs.csv")
    );
    let csv = csv.text().await.unwrap();
    assert_eq!(csv.lines().count(), 4, "header and three rows: {csv}");
    assert!(!csv.contains("BSE1003"));
    let json: serde_json::Value = client
        .get(format!(
            "{}/logs/export/json?error_code=BSE1003",
            app.address
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(json.as_array().unwrap().len(), 1);
    assert_eq!(json[0]["request_id"], denied_id.as_str());
}

backend_tests!(the_logs_page_pages_by_500_rows);
async fn the_logs_page_pages_by_500_rows() {
    let app = spawn_app().await;
    let (_, key) = app.create_key(&[]);
    app.get("/v1/status", Some(&key)).await;
    // 600 more rows of the same key, as if made earlier.
    app.db()
        .execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600)
             INSERT INTO request_logs (id, request_id, key_id, account_id, key_prefix, environment, method,
                 endpoint, route, query, status_code, error_code, idempotency_replayed, ip_hash,
                 user_agent, region, latency_us, created_at)
             SELECT -i, 'req_bulk_' || i, key_id, account_id, key_prefix, environment, method, endpoint,
                 route, query, status_code, error_code, idempotency_replayed, ip_hash, user_agent,
                 region, latency_us, created_at - i
             FROM n, (SELECT * FROM request_logs LIMIT 1) one",
            &[],
        )
        .unwrap();
    let client = signed_in_member(&app).await;
    let html = page(&client, &app, "/logs").await;
    assert_eq!(html.matches("<tr>").count(), 501);
    let older = html
        .split("href=\"/logs?")
        .nth(1)
        .expect("an older-rows link")
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let html = page(&client, &app, &format!("/logs?{older}")).await;
    assert_eq!(html.matches("<tr>").count(), 102, "the remaining 101 rows");
}

backend_tests!(the_key_detail_page_shows_the_chain_the_chart_and_the_grace_telemetry);
async fn the_key_detail_page_shows_the_chain_the_chart_and_the_grace_telemetry() {
    let app = spawn_app().await;
    let (id, old) = app.create_key(&[]);
    app.get("/v1/status", Some(&old)).await;
    app.get("/v1/usage?days=0", Some(&old)).await;
    let rotated = app.cli_json(&["keys", "rotate", &id, "--grace-hours", "6"]);
    app.get("/v1/status", Some(&old)).await;
    app.get("/v1/status", Some(&old)).await;
    let client = signed_in_member(&app).await;

    let html = page(&client, &app, &format!("/keys/{id}")).await;
    assert!(
        html.contains("Requests since rotation: <strong data-number=\"2\">2</strong>"),
        "{html}"
    );
    assert!(
        !html.contains("Expire now</button>"),
        "members cannot expire"
    );
    assert!(
        html.contains("Rotation chain")
            && html.contains(&rotated["key_prefix"].as_str().unwrap().to_string())
    );
    assert_eq!(
        html.matches("<g class=\"bar\"").count(),
        30,
        "one bar a day"
    );
    assert!(html.contains(": 4 requests; p50 "), "today's bar");
    assert!(
        html.contains("<rect class=\"o-ok\"") && html.contains("<rect class=\"o-client\""),
        "the 400 is a client error"
    );
    assert!(html.contains("/v1/usage") && html.contains("BSE2001"));

    let other = app.cli_json(&["accounts", "create", "--name", "Other"]);
    let theirs = app.cli_json(&[
        "keys",
        "create",
        "--account",
        other["id"].as_str().unwrap(),
        "--name",
        "x",
        "--preset",
        "read_only",
    ]);
    let res = client
        .get(format!(
            "{}/keys/{}",
            app.address,
            theirs["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

backend_tests!(the_activity_page_lists_changes_and_reports_a_broken_chain);
async fn the_activity_page_lists_changes_and_reports_a_broken_chain() {
    let app = spawn_app().await;
    app.cli_json(&[
        "keys",
        "create",
        "--account",
        &app.account_id,
        "--name",
        "audited <b>",
        "--preset",
        "read_only",
    ]);
    let client = signed_in_member(&app).await;
    let html = page(&client, &app, "/activity").await;
    assert!(html.contains("Audit chain intact"));
    assert!(
        html.contains("Created API key")
            && !html.contains("audited <b>")
            && (html.contains("audited &#60;b&#62;") || html.contains("audited &lt;b&gt;")),
        "escaped"
    );
    let keys_only = page(&client, &app, "/activity?category=apikey").await;
    assert!(
        !keys_only.contains("Created user"),
        "the category filter applies"
    );

    app.db()
        .execute(
            "UPDATE activity SET description = 'nothing' WHERE id = 1",
            &[],
        )
        .unwrap();
    let html = page(&client, &app, "/activity").await;
    assert!(html.contains("The audit chain is broken"), "{html}");
    assert!(html.contains("row 1 was changed"));
}

backend_tests!(the_usage_page_counts_requests_by_day_endpoint_and_key);
async fn the_usage_page_counts_requests_by_day_endpoint_and_key() {
    let app = spawn_app().await;
    let (_, key) = app.create_key(&[]);
    for _ in 0..3 {
        app.get("/v1/status", Some(&key)).await;
    }
    app.get("/v1/usage?days=0", Some(&key)).await;
    app.cli_json(&[
        "credits",
        "add",
        "--account",
        &app.account_id,
        "--amount",
        "7.5",
    ]);
    let client = signed_in_member(&app).await;
    let html = page(&client, &app, "/usage").await;
    assert!(
        html.contains("<p class=\"big\"><span data-number=\"4\">4</span></p>"),
        "{html}"
    );
    assert!(html.contains("<span data-number=\"3\">3</span> succeeded · <span data-number=\"1\">1</span> client errors"), "{html}");
    assert!(html.contains("7.500"));
    assert!(html.contains("/v1/status") && html.contains("test key (bye_"));
    assert!(html.contains(": 4 requests; p50 "), "today's bar");
}

backend_tests!(a_log_row_opens_to_every_field_and_leads_to_its_key);
async fn a_log_row_opens_to_every_field_and_leads_to_its_key() {
    let app = spawn_app().await;
    let (key_id, key) = app.create_key(&["--preset", "monitor_only"]);
    let res = app
        .client
        .get(format!("{}/v1/status", app.address))
        .bearer_auth(&key)
        .header("user-agent", "deploy-script/1.2")
        .send()
        .await
        .unwrap();
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let client = signed_in_member(&app).await;
    let row: i64 = app
        .db()
        .query_row(
            "SELECT id FROM request_logs WHERE request_id = ?1",
            &[&request_id.as_str()],
            |r| r.get(0),
        )
        .unwrap();
    let list = page(&client, &app, "/logs").await;
    assert!(
        list.contains(&format!("href=\"/logs/{row}\"")),
        "the row opens"
    );
    let shown = page(&client, &app, &format!("/logs/{row}")).await;
    for field in [
        request_id.as_str(),
        "deploy-script/1.2",
        " ms</dd>",
        "BSE1003",
        "The key lacks the scope",
        &format!("href=\"/keys/{key_id}\""),
    ] {
        assert!(shown.contains(field), "{field} on the row's page");
    }
    // Another workspace's row, or none, is not found.
    let other = app.cli_json(&["accounts", "create", "--name", "Other"]);
    let other_key = app.cli_json(&[
        "keys",
        "create",
        "--account",
        other["id"].as_str().unwrap(),
        "--name",
        "theirs",
        "--preset",
        "full_access",
    ]);
    app.get("/v1/status", other_key["key"].as_str()).await;
    let theirs: i64 = app
        .db()
        .query_row(
            "SELECT id FROM request_logs WHERE account_id = ?1",
            &[&other["id"].as_str().unwrap()],
            |r| r.get(0),
        )
        .unwrap();
    for path in [format!("/logs/{theirs}"), "/logs/999999".to_owned()] {
        let res = client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
}

/// Makes 205 keys with the management API; their ids and secrets, oldest first.
async fn many_keys(app: &TestApp) -> Vec<(String, String)> {
    let manager = app.manager_key();
    let mut made = Vec::new();
    for n in 0..205 {
        let body = serde_json::json!({ "name": format!("key {n:03}"), "preset": "read_only" });
        let (status, res) = app.api("POST", "/api-keys", &manager, Some(body)).await;
        assert_eq!(status, 200, "{res}");
        made.push((
            res["data"]["id"].as_str().unwrap().to_owned(),
            res["data"]["key"].as_str().unwrap().to_owned(),
        ));
    }
    made
}

backend_tests!(the_key_filter_offers_the_most_recently_used_keys_of_a_large_workspace);
async fn the_key_filter_offers_the_most_recently_used_keys_of_a_large_workspace() {
    let app = spawn_app().await;
    let made = many_keys(&app).await;
    // The oldest key is used, so it comes first; of the others, the newest.
    assert_eq!(app.get("/v1/status", Some(&made[0].1)).await.status(), 200);
    let client = signed_in_member(&app).await;
    let html = page(&client, &app, "/logs").await;
    let select = html.split("<select id=\"key\"").nth(1).unwrap();
    let select = select.split("</select>").next().unwrap();
    assert_eq!(
        select.matches("<option value=\"").count(),
        201,
        "all keys, then 200"
    );
    let first = select.split("<option value=\"").nth(2).unwrap();
    assert!(first.starts_with(&made[0].0), "{first}");
    assert!(select.contains(">key 204 (") && !select.contains(">key 001 ("));
    assert!(html.contains("The key filter lists only the most recently used keys"));
    assert!(
        html.contains("</span>key 000 (bye_"),
        "the row names its key"
    );

    // A key beyond the choices, asked for from its own page, is there and chosen.
    let html = page(&client, &app, &format!("/logs?key={}", made[1].0)).await;
    assert!(
        html.contains(&format!(
            "<option value=\"{}\" selected>key 001 (",
            made[1].0
        )),
        "{html}"
    );
}

#[tokio::test]
async fn the_logs_page_of_a_large_workspace_in_a_real_browser() {
    if crate::browser::browser_missing() {
        return;
    }
    let app = spawn_app().await;
    // The administrator's workspace, which the browser signs in to.
    let workspace = app.administrator_workspace();
    let app = TestApp {
        account_id: workspace,
        ..app
    };
    let made = many_keys(&app).await;
    assert_eq!(app.get("/v1/status", Some(&made[0].1)).await.status(), 200);
    let mut browser = crate::webdriver::Browser::start("logs-many-keys").await;
    crate::browser::sign_in_as_admin(&app, &mut browser).await;
    browser.goto(&format!("{}/logs", app.address)).await;
    browser
        .wait_for("The key filter lists only the most recently used keys")
        .await;
    browser.screenshot_views("logs-many-keys").await;
}
