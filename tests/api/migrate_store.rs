//! `tidegate migrate-store`: a SQLite install with real traffic copied into an empty PostgreSQL
//! database, row for row, then served from there; a target that is not empty is refused. And
//! the same copy the other way: `tidegate backup` of a PostgreSQL store with real traffic writes
//! a SQLite file that checks, restores and serves.
//!
//! Every test needs `TIDEGATE_TEST_POSTGRES_URL` (for its target, or its store); without it,
//! the tests pass without running and say so.

use std::path::Path;

use serde_json::{Value, json};

use crate::backend::{Backend, fresh_schema, off_runtime, postgres_url};
use crate::helpers::{TestApp, eventually, run_binary, spawn_app, spawn_app_in};
use crate::receiver::Receiver;

/// The tables whose SQLite `rowid` the queries use: PostgreSQL has it as a column of its own.
const ROWID_TABLES: &[&str] = &["generations", "idempotency_keys", "webhook_deliveries"];

/// Every table of a SQLite store, by name.
fn tables(conn: &rusqlite::Connection) -> Vec<String> {
    let mut stmt = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
             ORDER BY name",
        )
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// A table's columns as SQLite has them (and its `rowid` where PostgreSQL has one).
fn columns(conn: &rusqlite::Connection, table: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT name FROM pragma_table_info(?1)")
        .unwrap();
    let mut columns: Vec<String> = stmt
        .query_map([table], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    if ROWID_TABLES.contains(&table) {
        columns.push("rowid".into());
    }
    columns
}

/// Where the store of a PostgreSQL test's data directory is named (`backend::provision`).
const MARKER: &str = ".test-postgres-url";

fn without_postgres() -> bool {
    if postgres_url().is_some() {
        return false;
    }
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        use std::io::Write;
        // Straight to the file descriptor: the test harness captures `eprintln!`.
        let _ = writeln!(
            std::io::stderr(),
            "note: the migrate-store tests pass without running: {} is not set",
            crate::backend::URL_VARIABLE
        );
    });
    true
}

/// A connection to the target, on a thread of its own (the client runs its own runtime).
fn pg<T: Send>(url: &str, f: impl FnOnce(&mut postgres::Client) -> T + Send) -> T {
    off_runtime(|| {
        let mut client = postgres::Client::connect(url, postgres::NoTls).expect("connect");
        f(&mut client)
    })
}

fn pg_counts(url: &str, tables: &[String]) -> Vec<(String, i64)> {
    pg(url, |client| {
        tables
            .iter()
            .map(|t| {
                let row = client
                    .query_one(&format!("SELECT count(*) FROM {t}"), &[])
                    .expect(t);
                (t.clone(), row.get::<_, i64>(0))
            })
            .collect()
    })
}

/// Every table of a PostgreSQL store but its migration record, by name.
fn pg_tables(url: &str) -> Vec<String> {
    let mut tables: Vec<String> = pg(url, |client| {
        client
            .query(
                "SELECT CAST(table_name AS TEXT) FROM information_schema.tables
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
                   AND table_name <> 'tidegate_schema'",
                &[],
            )
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect()
    });
    tables.sort();
    tables
}

fn sqlite_counts(conn: &rusqlite::Connection, tables: &[String]) -> Vec<(String, i64)> {
    tables
        .iter()
        .map(|t| {
            let n = conn
                .query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
                .unwrap_or_else(|e| panic!("{t}: {e}"));
            (t.clone(), n)
        })
        .collect()
}

/// Every value of a query's rows on a SQLite store, as text to compare.
fn sqlite_rows(conn: &rusqlite::Connection, sql: &str) -> Vec<Vec<String>> {
    let mut stmt = conn.prepare(sql).unwrap();
    let columns = stmt.column_count();
    stmt.query_map([], |row| {
        (0..columns)
            .map(|i| {
                row.get::<_, rusqlite::types::Value>(i)
                    .map(|v| format!("{v:?}"))
            })
            .collect::<Result<Vec<_>, _>>()
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// The same of a PostgreSQL store, each value read as SQLite would have given it.
fn pg_rows(url: &str, sql: &str) -> Vec<Vec<String>> {
    pg(url, |client| {
        client
            .query(sql, &[])
            .unwrap()
            .iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| {
                        let value: rusqlite::types::Value =
                            match tidegate::testing::engine::pg_value(row, i).unwrap() {
                                tidegate::testing::engine::Value::Null => {
                                    rusqlite::types::Value::Null
                                }
                                tidegate::testing::engine::Value::Int(i) => i.into(),
                                tidegate::testing::engine::Value::Real(r) => r.into(),
                                tidegate::testing::engine::Value::Text(t) => t.into_owned().into(),
                                tidegate::testing::engine::Value::Blob(b) => b.into_owned().into(),
                            };
                        format!("{value:?}")
                    })
                    .collect()
            })
            .collect()
    })
}

/// `tidegate migrate-store --to URL --json` on the app's store; the counts it reports, by
/// table name.
fn migrate(app: &TestApp, url: &str) -> Vec<(String, i64)> {
    let out = app.cli(&["migrate-store", "--to", url, "--json"]);
    assert_eq!(out.status, 0, "migrate-store failed: {}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(report["triggers"], "off", "{report}");
    let mut counts: Vec<(String, i64)> = report["tables"]
        .as_object()
        .unwrap_or_else(|| panic!("no tables: {report}"))
        .iter()
        .map(|(t, n)| (t.clone(), n.as_i64().unwrap()))
        .collect();
    counts.sort();
    counts
}

/// Copies `<from>/media/<generation>/<file>` into `<to>/media/`, as an operator moving a data
/// directory does.
fn copy_media(from: &Path, to: &Path) {
    let Ok(generations) = std::fs::read_dir(from.join("media")) else {
        return;
    };
    for generation in generations.map(Result::unwrap) {
        let into = to.join("media").join(generation.file_name());
        std::fs::create_dir_all(&into).unwrap();
        for file in std::fs::read_dir(generation.path())
            .unwrap()
            .map(Result::unwrap)
        {
            std::fs::copy(file.path(), into.join(file.file_name())).unwrap();
        }
    }
}

/// `tidegate check --json` on the PostgreSQL store at `url`.
fn check_postgres(data_dir: &Path, url: &str) -> Value {
    let out = run_binary(
        data_dir,
        &["check", "--json"],
        &[
            ("TIDEGATE_STORAGE__BACKEND", "postgres"),
            ("TIDEGATE_STORAGE__POSTGRES_URL", url),
        ],
    );
    assert_eq!(
        out.status, 0,
        "check failed: {}\n{}",
        out.stdout, out.stderr
    );
    serde_json::from_str(&out.stdout).expect("JSON")
}

/// The base URL with a password in it (the test server does not ask for one), when its user
/// has none yet.
fn with_password(url: &str, password: &str) -> Option<String> {
    let rest = url.strip_prefix("postgres://")?;
    let (user, host) = rest.split_once('@')?;
    (!user.contains(':')).then(|| format!("postgres://{user}:{password}@{host}"))
}

/// What real traffic left behind: keys created, rotated and revoked, and a generation.
struct Traffic {
    old_key: String,
    new_key: String,
    revoked_key: String,
    generation: String,
    /// Kept up while the store is served: the endpoint delivers to it.
    _receiver: Receiver,
}

/// The tables real traffic writes rows to.
const WRITTEN: &[&str] = &[
    "settings",
    "accounts",
    "users",
    "memberships",
    "api_keys",
    "request_logs",
    "usage_daily",
    "usage_daily_errors",
    "refusals_daily",
    "activity",
    "idempotency_keys",
    "credit_ledger",
    "sessions",
    "low_balance_thresholds",
    "generations",
    "generation_attempts",
    "usage_generations_daily",
    "usage_providers_daily",
    "webhook_endpoints",
    "webhook_events",
    "webhook_deliveries",
];

/// Real traffic on the app's store: keys created, rotated and revoked, requests, credits, a
/// generation with its webhook deliveries (all delivered before it returns), a signed-in owner.
async fn real_traffic(app: &TestApp) -> Traffic {
    let receiver = crate::receiver::start();
    crate::webhooks::add_endpoint(
        app,
        &receiver,
        "generation.started,generation.completed,apikey.revoked",
    );
    app.add_credits("10");
    let (old_id, old_key) = app.create_key(&[]);
    let rotated = app.cli_json(&["keys", "rotate", &old_id, "--grace-hours", "2"]);
    let new_key = rotated["key"].as_str().unwrap().to_owned();
    let (revoked_id, revoked_key) = app.create_key(&[]);
    assert_eq!(
        app.get("/v1/status", Some(&revoked_key)).await.status(),
        200
    );
    app.cli_json(&["keys", "revoke", &revoked_id]);
    for key in [&old_key, &new_key, &old_key] {
        assert_eq!(app.get("/v1/status", Some(key)).await.status(), 200);
    }
    assert_eq!(
        app.get("/v1/status", Some(&revoked_key)).await.status(),
        401
    );
    assert_eq!(app.get("/v1/status", Some("not-a-key")).await.status(), 401);
    let (status, _, body) = app
        .post_json(
            "/v1/generate/image/tidegate/pattern-1",
            &new_key,
            &json!({"generation_prompt": "a lighthouse"}),
            Some("move-1"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let generation = body["data"]["generation_id"].as_str().unwrap().to_owned();
    app.wait_for(&new_key, &generation, &["succeeded"]).await;
    crate::webhooks::wait_for_event(&receiver, "generation.completed", 1).await;
    crate::webhooks::wait_for_event(&receiver, "apikey.revoked", 1).await;
    eventually("every webhook delivery to finish", || {
        app.count(
            "SELECT count(*) FROM webhook_deliveries WHERE status <> 'succeeded'",
            &[],
        ) == 0
    })
    .await;
    crate::people::person(app, "owner@example.com", "owner").await;
    Traffic {
        old_key,
        new_key,
        revoked_key,
        generation,
        _receiver: receiver,
    }
}

/// Every table real traffic writes to has rows.
fn assert_written(counts: &[(String, i64)]) {
    for table in WRITTEN {
        let n = counts.iter().find(|(t, _)| t == table).unwrap().1;
        assert!(n > 0, "the store should have {table} rows");
    }
}

#[tokio::test]
async fn a_sqlite_install_moves_to_postgres_row_for_row_and_serves_from_there() {
    if without_postgres() {
        return;
    }
    let app = spawn_app().await;
    let Traffic {
        old_key,
        new_key,
        revoked_key,
        generation,
        _receiver,
    } = real_traffic(&app).await;
    let source = app.sqlite();
    let tables = tables(&source);
    let before = sqlite_counts(&source, &tables);
    assert_written(&before);

    // The copy, while the server still runs on the source.
    let url = fresh_schema("migrate");
    let started = std::time::Instant::now();
    let reported = migrate(&app, &url);
    let took = started.elapsed();
    eprintln!("migrate-store copied {reported:?} in {took:?}");
    assert_eq!(reported, before, "reported counts are the source's");
    assert_eq!(pg_counts(&url, &tables), before, "the target has every row");
    assert_eq!(
        sqlite_counts(&source, &tables),
        before,
        "the source is as it was"
    );

    // Byte for byte, ids and rowids included, every table. (A running node renews its lease
    // in `nodes` as it likes; its row was copied, and counted above.)
    for table in tables.iter().filter(|t| *t != "nodes") {
        let select = format!("SELECT {} FROM {table}", columns(&source, table).join(", "));
        let mut from = sqlite_rows(&source, &select);
        let mut to = pg_rows(&url, &select);
        from.sort();
        to.sort();
        assert_eq!(from, to, "{table}");
    }

    let report = check_postgres(app.data_dir.path(), &url);
    assert!(report["activity_break"].is_null(), "{report}");
    assert_eq!(report["ledger_mismatches"], json!([]), "{report}");
    let activity = before.iter().find(|(t, _)| t == "activity").unwrap().1;
    assert_eq!(report["activity_rows"], activity, "{report}");

    // A server on the copy: the keys authenticate as before, and new rows get new ids.
    let url_for_server = url.clone();
    Backend::Postgres
        .run(async move {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join(MARKER), &url_for_server).unwrap();
            // The generated media move with the store (`check` looks for them).
            copy_media(app.data_dir.path(), dir.path());
            let mut moved = spawn_app_in(dir, &[]).await;
            moved.account_id = app.account_id.clone();
            assert_eq!(moved.get("/v1/status", Some(&old_key)).await.status(), 200);
            assert_eq!(moved.get("/v1/status", Some(&new_key)).await.status(), 200);
            assert_eq!(
                moved.get("/v1/status", Some(&revoked_key)).await.status(),
                401
            );
            let (status, body) = moved
                .get_json(&format!("/v1/content/{generation}"), &new_key)
                .await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["data"]["generation_status"], "succeeded", "{body}");
            moved.add_credits("1");
            let (id, key) = moved.create_key(&[]);
            assert_eq!(moved.get("/v1/status", Some(&key)).await.status(), 200);
            moved.cli_json(&["keys", "revoke", &id]);
            assert_eq!(moved.get("/v1/status", Some(&key)).await.status(), 401);
            let logs = before.iter().find(|(t, _)| t == "request_logs").unwrap().1;
            assert!(moved.count("SELECT count(*) FROM request_logs", &[]) > logs);
            let report = check_postgres(moved.data_dir.path(), &url_for_server);
            assert!(report["activity_break"].is_null(), "{report}");
            assert_eq!(report["ledger_mismatches"], json!([]), "{report}");
        })
        .await;
}

#[tokio::test]
async fn a_target_that_is_not_empty_is_refused_and_left_as_it_was() {
    if without_postgres() {
        return;
    }
    let app = spawn_app().await;
    let (_, key) = app.create_key(&[]);
    assert_eq!(app.get("/v1/status", Some(&key)).await.status(), 200);
    let url = fresh_schema("migrate");
    let first = migrate(&app, &url);
    let tables = tables(&app.sqlite());
    let copied = pg_counts(&url, &tables);
    assert_eq!(copied, first);

    // More rows on the source, then a second copy into the same target.
    app.create_key(&[]);
    assert_eq!(app.get("/v1/status", Some(&key)).await.status(), 200);
    let again = app.cli(&["migrate-store", "--to", &url]);
    assert_eq!(again.status, 1, "{}", again.stdout);
    assert_eq!(again.stdout, "");
    assert_eq!(again.stderr.lines().count(), 1, "{}", again.stderr);
    assert!(
        again.stderr.contains("not empty") && again.stderr.contains("nothing was written"),
        "{}",
        again.stderr
    );
    assert_eq!(pg_counts(&url, &tables), copied, "the target is as it was");
    // The target from the configuration instead (the password out of the process list): the
    // same database, refused the same way.
    let configured = crate::helpers::run_binary(
        app.data_dir.path(),
        &["migrate-store"],
        &[("TIDEGATE_STORAGE__POSTGRES_URL", &url)],
    );
    assert_eq!(configured.status, 1);
    assert!(
        configured.stderr.contains("not empty"),
        "{}",
        configured.stderr
    );
    let unnamed = app.cli(&["migrate-store"]);
    assert_eq!(unnamed.status, 1);
    assert!(unnamed.stderr.contains("--to"), "{}", unnamed.stderr);

    // A password never appears, neither when the target is refused nor when it is unreachable.
    if let Some(secret_url) = with_password(&url, "s3cret-pw") {
        let out = app.cli(&["migrate-store", "--to", &secret_url]);
        assert_eq!(out.status, 1);
        assert!(
            !format!("{}{}", out.stdout, out.stderr).contains("s3cret"),
            "{}",
            out.stderr
        );
    }
    let unreachable = "postgres://postgres:s3cret-pw@127.0.0.1:1/nowhere?connect_timeout=2";
    let out = app.cli(&["migrate-store", "--to", unreachable]);
    assert_eq!(out.status, 1);
    assert!(out.stderr.contains("cannot connect"), "{}", out.stderr);
    assert!(
        !format!("{}{}", out.stdout, out.stderr).contains("s3cret"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn a_postgres_store_is_backed_up_into_a_sqlite_file_that_checks_restores_and_serves() {
    Backend::Postgres
        .run(async {
            let app = spawn_app().await;
            let traffic = real_traffic(&app).await;
            let url = std::fs::read_to_string(app.data_dir.path().join(MARKER)).unwrap();

            // The backup, while the server runs on the store.
            let file = app.data_dir.path().join("backup.db");
            let started = std::time::Instant::now();
            let out = app.cli(&["backup", file.to_str().unwrap(), "--json"]);
            let took = started.elapsed();
            assert_eq!(out.status, 0, "backup failed: {}", out.stderr);
            let report: Value = serde_json::from_str(&out.stdout).expect("JSON");
            eprintln!(
                "backup of the PostgreSQL store: {} rows copied in {} s, {took:?} in all",
                report["rows"], report["seconds"]
            );
            let leftovers: Vec<_> = std::fs::read_dir(app.data_dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|name| name.contains("backup.db") && name != "backup.db")
                .collect();
            assert_eq!(leftovers, Vec::<String>::new(), "only the file is left");

            // Every row of the store, byte for byte, in a file of its own.
            let copy = rusqlite::Connection::open_with_flags(
                &file,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .unwrap();
            let mode: String = copy
                .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                .unwrap();
            assert_eq!(mode, "delete", "the file needs no WAL beside it");
            let tables = tables(&copy);
            assert_eq!(pg_tables(&url), tables, "both schemas have the same tables");
            let counts = sqlite_counts(&copy, &tables);
            assert_written(&counts);
            assert_eq!(pg_counts(&url, &tables), counts, "the file has every row");
            let mut reported: Vec<(String, i64)> = report["tables"]
                .as_object()
                .unwrap_or_else(|| panic!("no tables: {report}"))
                .iter()
                .map(|(t, n)| (t.clone(), n.as_i64().unwrap()))
                .collect();
            reported.sort();
            assert_eq!(reported, counts, "reported counts are the file's");
            // (A running node renews its lease in `nodes` as it likes; its row was counted.)
            let selects: Vec<(&String, String)> = tables
                .iter()
                .filter(|t| *t != "nodes")
                .map(|t| {
                    (
                        t,
                        format!("SELECT {} FROM {t}", columns(&copy, t).join(", ")),
                    )
                })
                .collect();
            for (table, select) in &selects {
                let mut from = pg_rows(&url, select);
                let mut to = sqlite_rows(&copy, select);
                from.sort();
                to.sort();
                // key_generation among them: the store's value, not one the copy bumped.
                assert_eq!(from, to, "{table}");
            }
            drop(copy);

            // `tidegate check FILE` passes, the activity chain included.
            let out = app.cli(&["check", file.to_str().unwrap(), "--json"]);
            assert_eq!(
                out.status, 0,
                "check failed: {}\n{}",
                out.stdout, out.stderr
            );
            let checked: Value = serde_json::from_str(&out.stdout).expect("JSON");
            assert!(checked["activity_break"].is_null(), "{checked}");
            assert_eq!(checked["ledger_mismatches"], json!([]), "{checked}");
            let activity = counts.iter().find(|(t, _)| t == "activity").unwrap().1;
            assert_eq!(checked["activity_rows"], activity, "{checked}");

            // An existing file is never overwritten.
            let again = app.cli(&["backup", file.to_str().unwrap()]);
            assert_ne!(again.status, 0, "{}", again.stdout);
            assert!(again.stderr.contains("already exists"), "{}", again.stderr);

            // It restores: `migrate-store --from FILE` gives back the store, row for row.
            let restored = fresh_schema("restore");
            let out = app.cli(&[
                "migrate-store",
                "--from",
                file.to_str().unwrap(),
                "--to",
                &restored,
                "--json",
            ]);
            assert_eq!(out.status, 0, "restore failed: {}", out.stderr);
            assert_eq!(
                pg_counts(&restored, &tables),
                counts,
                "every row is restored"
            );
            for (table, select) in &selects {
                let mut from = pg_rows(&url, select);
                let mut to = pg_rows(&restored, select);
                from.sort();
                to.sort();
                assert_eq!(from, to, "{table} restored");
            }

            // A SQLite server on the file: the keys authenticate as before, and new rows get
            // new ids.
            let dir = tempfile::tempdir().unwrap();
            std::fs::copy(&file, dir.path().join("tidegate.db")).unwrap();
            copy_media(app.data_dir.path(), dir.path());
            let account_id = app.account_id.clone();
            Backend::Sqlite
                .run(async move {
                    let mut served = spawn_app_in(dir, &[]).await;
                    served.account_id = account_id;
                    for key in [&traffic.old_key, &traffic.new_key] {
                        assert_eq!(served.get("/v1/status", Some(key)).await.status(), 200);
                    }
                    assert_eq!(
                        served
                            .get("/v1/status", Some(&traffic.revoked_key))
                            .await
                            .status(),
                        401
                    );
                    let (status, body) = served
                        .get_json(
                            &format!("/v1/content/{}", traffic.generation),
                            &traffic.new_key,
                        )
                        .await;
                    assert_eq!(status, 200, "{body}");
                    assert_eq!(body["data"]["generation_status"], "succeeded", "{body}");
                    let (id, key) = served.create_key(&[]);
                    assert_eq!(served.get("/v1/status", Some(&key)).await.status(), 200);
                    served.cli_json(&["keys", "revoke", &id]);
                    assert_eq!(served.get("/v1/status", Some(&key)).await.status(), 401);
                    let logs = counts.iter().find(|(t, _)| t == "request_logs").unwrap().1;
                    assert!(served.count("SELECT count(*) FROM request_logs", &[]) > logs);
                    let out = served.cli(&["check"]);
                    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
                })
                .await;
        })
        .await;
}
