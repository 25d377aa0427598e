//! Who the management API answers, and what it reads: account scoping, scopes, logs, usage and
//! the activity feed (docs/keys.md, "Management API").

use serde_json::json;

use crate::helpers::{assert_error, spawn_app};

backend_tests!(a_key_manages_only_its_own_account_and_needs_the_right_scope);
async fn a_key_manages_only_its_own_account_and_needs_the_right_scope() {
    let app = spawn_app().await;
    let manager = app.manager_key();
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
    let their_id = other_key["id"].as_str().unwrap();
    for (method, path) in [
        ("GET", format!("/api-keys/{their_id}")),
        ("POST", format!("/api-keys/{their_id}/revoke")),
        ("DELETE", format!("/api-keys/{their_id}")),
        ("GET", format!("/api-keys/{their_id}/usage")),
    ] {
        let (status, body) = app.api(method, &path, &manager, None).await;
        assert_eq!(status, 404, "{method} {path}");
        assert_error(&body, "BSE2017");
    }
    let (_, listed) = app.api("GET", "/api-keys", &manager, None).await;
    assert!(!listed.to_string().contains(their_id));
    let status: Option<String> = app
        .db()
        .query_row(
            "SELECT revoked_at FROM api_keys WHERE id = ?1",
            &[&their_id],
            |r| r.get::<Option<i64>>(0).map(|v| v.map(|x| x.to_string())),
        )
        .unwrap();
    assert!(status.is_none(), "nothing changed on the other account");

    let (_, reader) = app.create_key(&["--scopes", "keys:read"]);
    assert_eq!(app.api("GET", "/api-keys", &reader, None).await.0, 200);
    let (status, body) = app
        .api(
            "POST",
            "/api-keys",
            &reader,
            Some(json!({ "name": "x", "preset": "read_only" })),
        )
        .await;
    assert_eq!(status, 403);
    assert_error(&body, "BSE1003");
    let (_, full) = app.create_key(&[]);
    let (status, body) = app.api("GET", "/api-keys", &full, None).await;
    assert_eq!(status, 403, "full_access has no management scope");
    assert_error(&body, "BSE1003");
    let (status, body) = app.api("GET", "/api-keys", "bye_nope", None).await;
    assert_eq!(status, 401);
    assert_error(&body, "BSE1002");
}

backend_tests!(management_requests_are_logged_and_logs_export_as_json_and_csv);
async fn management_requests_are_logged_and_logs_export_as_json_and_csv() {
    let app = spawn_app().await;
    let manager = app.manager_key();
    let (id, key) = app.create_key(&[]);
    for _ in 0..3 {
        app.get("/v1/status", Some(&key)).await;
    }
    app.get("/v1/usage?days=0", Some(&key)).await;

    let (status, body) = app
        .api("GET", &format!("/logs?key_id={id}"), &manager, None)
        .await;
    assert_eq!(status, 200);
    let logs = body["data"]["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 4);
    assert_eq!(logs[0]["endpoint"], "/v1/usage", "newest first");
    assert_eq!(logs[0]["error_code"], "BSE2001");

    let (_, failed) = app
        .api(
            "GET",
            &format!("/logs?key_id={id}&status=4xx"),
            &manager,
            None,
        )
        .await;
    assert_eq!(failed["data"]["logs"].as_array().unwrap().len(), 1);
    let (_, page) = app
        .api("GET", &format!("/logs?key_id={id}&limit=2"), &manager, None)
        .await;
    let cursor = page["data"]["next_cursor"].as_i64().unwrap();
    let (_, rest) = app
        .api(
            "GET",
            &format!("/logs?key_id={id}&limit=2&cursor={cursor}"),
            &manager,
            None,
        )
        .await;
    assert_eq!(rest["data"]["logs"].as_array().unwrap().len(), 2);

    let res = app
        .client
        .get(format!(
            "{}/api/v1/logs?key_id={id}&format=csv",
            app.address
        ))
        .bearer_auth(&manager)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(lines[0].starts_with("created_at,request_id,key_id"));
    assert!(lines[1].contains("/v1/usage") && lines[1].contains("BSE2001"));

    let mgmt_rows = app.count(
        "SELECT count(*) FROM request_logs WHERE route LIKE '/api/v1/%'",
        &[],
    );
    assert!(mgmt_rows >= 4, "management requests are logged too");
    let route: String = app
        .db()
        .query_row(
            "SELECT route FROM request_logs WHERE endpoint LIKE '/api/v1/logs%' LIMIT 1",
            &[],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(route, "/api/v1/logs");
}

backend_tests!(key_usage_and_the_activity_feed_are_served);
async fn key_usage_and_the_activity_feed_are_served() {
    let app = spawn_app().await;
    let manager = app.manager_key();
    let (id, key) = app.create_key(&[]);
    app.get("/v1/status", Some(&key)).await;
    app.get("/v1/status", Some(&key)).await;
    app.get("/v1/usage?days=0", Some(&key)).await;
    let (status, body) = app
        .api(
            "GET",
            &format!("/api-keys/{id}/usage?days=7"),
            &manager,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert_eq!(data["total_requests"], 3);
    assert_eq!(data["successful"], 2);
    assert_eq!(data["failed"], 1);
    assert_eq!(data["by_day"].as_array().unwrap().len(), 7);
    assert_eq!(data["by_day"][6]["total_requests"], 3);
    assert_eq!(data["by_endpoint"][0]["endpoint"], "/v1/status");

    let (status, feed) = app.api("GET", "/activity?limit=10", &manager, None).await;
    assert_eq!(status, 200);
    let items = feed["data"]["activity"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|a| a["action"] == "created" && a["target"] == id.as_str())
    );
}

backend_tests!(changes_made_with_a_management_key_name_the_key_and_the_callers_address);
async fn changes_made_with_a_management_key_name_the_key_and_the_callers_address() {
    let app = spawn_app().await;
    let manager = app.manager_key();
    let (status, created) = app
        .api(
            "POST",
            "/api-keys",
            &manager,
            Some(json!({ "name": "from api", "preset": "read_only" })),
        )
        .await;
    assert_eq!(status, 200);
    let id = created["data"]["id"].as_str().unwrap();
    let (actor, ip_hash): (String, Option<String>) = app
        .db()
        .query_row(
            "SELECT actor, ip_hash FROM activity WHERE target = ?1 AND action = 'created'",
            &[&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(actor, format!("key:{}", &manager[..9]));
    assert_eq!(ip_hash.map(|h| h.len()), Some(64));
    let cli_hash: Option<String> = app
        .db()
        .query_row(
            "SELECT ip_hash FROM activity WHERE actor = 'cli' LIMIT 1",
            &[],
            |r| r.get(0),
        )
        .unwrap();
    assert!(cli_hash.is_none(), "command-line changes have no address");
}

backend_tests!(the_key_is_judged_before_the_body);
async fn the_key_is_judged_before_the_body() {
    let app = spawn_app().await;
    let (manager_id, manager) = app.create_key(&["--preset", "key_management"]);
    let (_, reader) = app.create_key(&["--preset", "read_only"]);
    let send = |key: String| {
        app.client
            .post(format!("{}/api/v1/api-keys", app.address))
            .bearer_auth(key)
            .header("Content-Type", "application/json")
            .body("{ not json")
            .send()
    };
    let res = send("bye_not_a_real_key".into()).await.unwrap();
    assert_eq!(
        res.status(),
        401,
        "a bad key is refused before the bad body is read"
    );
    assert_error(&res.json().await.unwrap(), "BSE1002");
    let res = send(reader).await.unwrap();
    assert_eq!(
        res.status(),
        403,
        "a key without keys:write is refused before the body"
    );
    assert_error(&res.json().await.unwrap(), "BSE1003");
    let res = send(manager).await.unwrap();
    assert_eq!(res.status(), 400);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_error(&res.json().await.unwrap(), "BSE2001");
    // The refused body is an audited request of the key, its only one.
    assert_eq!(
        app.log_outcomes(&request_id),
        vec![(400, Some("BSE2001".to_owned()))]
    );
    assert_eq!(app.log_rows(&manager_id), 1);
}

backend_tests!(a_csv_export_quotes_its_cells_and_defuses_formulas);
async fn a_csv_export_quotes_its_cells_and_defuses_formulas() {
    let app = spawn_app().await;
    let manager = app.manager_key();
    let (id, secret) = app.create_key(&["--preset", "full_access"]);
    let agent = "=HYPERLINK(\"http://evil.example\",\"x\")";
    let res = app
        .client
        .get(format!("{}/v1/status", app.address))
        .bearer_auth(&secret)
        .header("user-agent", agent)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let csv = app
        .client
        .get(format!(
            "{}/api/v1/logs?key_id={id}&format=csv",
            app.address
        ))
        .bearer_auth(&manager)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let row = csv
        .lines()
        .nth(1)
        .unwrap_or_else(|| panic!("no row: {csv}"));
    assert!(
        row.contains(",\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\","),
        "the user agent is one quoted, defused cell: {row}"
    );
    assert!(csv.ends_with("\r\n"), "rows end in CRLF");
}
