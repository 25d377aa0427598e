//! `spawn_app()` starts the real server on port 0 with a temporary data directory, on the
//! backend of the running test (`backend.rs`); the helpers speak HTTP to it and run the real
//! binary against the same store.

use std::path::{Path, PathBuf};
use std::process::Command;

use figment::providers::Serialized;
use serde_json::Value;
use tidegate::Application;
use tidegate::Clock;
use tidegate::Config;

pub use crate::backend::{Backend, TestDb};
pub use crate::contract::SendChecked;

pub struct TestApp {
    pub address: String,
    pub data_dir: tempfile::TempDir,
    pub client: reqwest::Client,
    pub clock: Clock,
    pub account_id: String,
    /// The server's own job context, to run a scheduled job now.
    pub jobs: tidegate::JobContext,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts the server with extra configuration values, e.g. `("auth.preauth_max_failures", 3)`.
pub async fn spawn_app_with(overrides: &[(&str, Value)]) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut test_app = spawn_app_in(data_dir, overrides).await;
    let account = test_app.cli_json(&["accounts", "create", "--name", "Acme"]);
    test_app.account_id = account["id"].as_str().expect("account id").to_owned();
    test_app
}

/// Starts a server on an existing data directory (a restart); `account_id` is left empty.
pub async fn spawn_app_in(data_dir: tempfile::TempDir, overrides: &[(&str, Value)]) -> TestApp {
    // The server's warnings and errors, in the output of the test that failed.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("warn,actix_http=off")
        .try_init();
    let mut figment = Config::defaults();
    if Backend::current() == Backend::Postgres {
        let url = crate::backend::provision(data_dir.path());
        figment = figment
            .merge(Serialized::default("storage.backend", "postgres"))
            .merge(Serialized::default("storage.postgres_url", url));
    }
    let mut figment = figment
        .merge(Serialized::default("server.listen", "127.0.0.1:0"))
        .merge(Serialized::default("server.workers", 2))
        .merge(Serialized::default("storage.data_dir", data_dir.path()))
        .merge(Serialized::default("telemetry.level", "warn"))
        // A failed delivery fails after the quick retries, unless a test gives it a slow tail.
        .merge(Serialized::default(
            "webhooks.retry_tail_seconds",
            Vec::<f64>::new(),
        ))
        // Tests run jobs directly, so no scheduled run can add rows a test is counting.
        .merge(Serialized::default("jobs.expire_rotated_keys", ""))
        .merge(Serialized::default("jobs.warn_expiring_keys", ""))
        .merge(Serialized::default("jobs.purge_request_logs", ""))
        .merge(Serialized::default("jobs.purge_idempotency_keys", ""))
        .merge(Serialized::default("jobs.fail_stuck_generations", ""))
        .merge(Serialized::default("jobs.notify_keys", ""));
    for (key, value) in overrides {
        figment = figment.merge(Serialized::default(key, value.clone()));
    }
    let config = Config::from_figment(figment).expect("valid test config");
    let app = Application::build(config)
        .await
        .expect("application starts");
    let port = app.port();
    let clock = app.clock();
    let jobs = app.job_context();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        data_dir,
        // A connection idle for a while is not reused: the server closes idle connections after
        // its keep-alive (5 s), and a request sent on one as it closes fails half-way.
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(std::time::Duration::from_secs(2))
            .build()
            .expect("client"),
        clock,
        account_id: String::new(),
        jobs,
    }
}

pub struct Cli {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl TestApp {
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.path().join("tidegate.db")
    }

    /// A connection to the server's own store, whichever the backend.
    pub fn db(&self) -> TestDb {
        TestDb::open(self.data_dir.path())
    }

    /// A connection to the server's own SQLite file (tests of what only SQLite does).
    pub fn sqlite(&self) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(self.db_path()).expect("open db");
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .expect("busy timeout");
        conn
    }

    /// The single integer a query such as `SELECT count(*) …` answers, from the server's store.
    pub fn count(&self, sql: &str, params: crate::backend::Params<'_>) -> i64 {
        self.db()
            .query_row(sql, params, |r| r.get(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// How many request-log rows the key has.
    pub fn log_rows(&self, key_id: &str) -> i64 {
        self.count(
            "SELECT count(*) FROM request_logs WHERE key_id = ?1",
            &[&key_id],
        )
    }

    /// Status and error code of every log row of a request.
    pub fn log_outcomes(&self, request_id: &str) -> Vec<(i64, Option<String>)> {
        self.db()
            .query_map(
                "SELECT status_code, error_code FROM request_logs WHERE request_id = ?1",
                &[&request_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("log rows")
            .collect::<Result<_, _>>()
            .expect("log row")
    }

    /// Runs the real binary on this app's data directory.
    pub fn cli(&self, args: &[&str]) -> Cli {
        run_binary(self.data_dir.path(), args, &[])
    }

    /// Runs a `--json` command that must succeed and returns its parsed output.
    pub fn cli_json(&self, args: &[&str]) -> Value {
        let mut all: Vec<&str> = args.to_vec();
        all.push("--json");
        let out = self.cli(&all);
        assert_eq!(out.status, 0, "tidegate {args:?} failed: {}", out.stderr);
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("tidegate {args:?}: not JSON ({e}): {}", out.stdout))
    }

    /// Creates a key on this app's account; returns (id, secret).
    pub fn create_key(&self, extra: &[&str]) -> (String, String) {
        let mut args = vec![
            "keys",
            "create",
            "--account",
            &self.account_id,
            "--name",
            "test key",
        ];
        if !extra.iter().any(|a| *a == "--preset" || *a == "--scopes") {
            args.extend(["--preset", "full_access"]);
        }
        args.extend(extra);
        let key = self.cli_json(&args);
        (
            key["id"].as_str().expect("id").to_owned(),
            key["key"].as_str().expect("key").to_owned(),
        )
    }

    /// A GET; a /v1 answer is checked against the OpenAPI document, as in every helper here.
    pub async fn get(&self, path: &str, key: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(format!("{}{path}", self.address));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        req.send_checked().await
    }

    pub async fn get_json(&self, path: &str, key: &str) -> (u16, Value) {
        let res = self.get(path, Some(key)).await;
        let status = res.status().as_u16();
        (status, res.json().await.expect("JSON body"))
    }
}

pub fn run_binary(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Cli {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tidegate"));
    cmd.args(args)
        .env("TIDEGATE_STORAGE__DATA_DIR", data_dir)
        .env("TIDEGATE_TELEMETRY__LEVEL", "warn")
        .env_remove("TIDEGATE_ADMIN_PASSWORD")
        .envs(crate::backend::store_env(data_dir));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run tidegate");
    Cli {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Asserts the JSON error envelope (docs/api.md, "Envelopes") and returns its `error` object.
pub fn assert_error(body: &Value, code: &str) -> Value {
    assert_eq!(body["status"], "error", "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    let rid = body["request_id"].as_str().expect("request_id");
    assert!(rid.starts_with("req_") && rid.len() == 36, "{rid}");
    assert!(body["error"]["type"].is_string() && body["error"]["message"].is_string());
    assert!(body["error"]["retryable"].is_boolean());
    body["error"].clone()
}

/// A management-API call to the server at `base`, its answer checked against the management
/// document: the status and the JSON body (Null when the body is empty).
pub async fn api_call(
    client: &reqwest::Client,
    base: &str,
    method: &str,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = client
        .request(
            method.parse().expect("method"),
            format!("{base}/api/v1{path}"),
        )
        .bearer_auth(key);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send_checked().await;
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Polls `check` until it returns true or the deadline passes.
pub async fn eventually<F: FnMut() -> bool>(what: &str, mut check: F) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if check() {
            return;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

impl TestApp {
    /// A management-API call; returns the status and the JSON body (Null when the body is empty).
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        api_call(&self.client, &self.address, method, path, key, body).await
    }

    /// A counter of `GET /metrics` (the server needs `server.metrics = true`), asked by `client`.
    pub async fn metric(&self, client: &reqwest::Client, name: &str) -> u64 {
        let text = client
            .get(format!("{}/metrics", self.address))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text");
        let prefix = format!("{name} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
    }

    /// The id of the instance administrator's own workspace, made at the first start.
    pub fn administrator_workspace(&self) -> String {
        self.db()
            .query_row(
                "SELECT a.id FROM accounts a WHERE a.name = 'Administrator'",
                &[],
                |r| r.get(0),
            )
            .unwrap()
    }

    /// A key with `keys:read` and `keys:write` on this app's account.
    pub fn manager_key(&self) -> String {
        self.create_key(&["--preset", "key_management"]).1
    }
}

/// Generations as a client makes and follows them.
impl TestApp {
    pub async fn post_json(
        &self,
        path: &str,
        key: &str,
        body: &Value,
        idempotency: Option<&str>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut req = self
            .client
            .post(format!("{}{path}", self.address))
            .bearer_auth(key)
            .json(body);
        if let Some(k) = idempotency {
            req = req.header("Idempotency-Key", k);
        }
        let res = req.send_checked().await;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        (status, headers, res.json().await.unwrap())
    }

    pub async fn send_json(&self, method: &str, path: &str, key: &str) -> (u16, Value) {
        let res = self
            .client
            .request(method.parse().unwrap(), format!("{}{path}", self.address))
            .bearer_auth(key)
            .send_checked()
            .await;
        (res.status().as_u16(), res.json().await.unwrap())
    }

    pub fn add_credits(&self, amount: &str) {
        self.cli_json(&[
            "credits",
            "add",
            "--account",
            &self.account_id,
            "--amount",
            amount,
        ]);
    }

    pub fn balance(&self) -> i64 {
        self.db()
            .query_row(
                "SELECT credit_balance FROM accounts WHERE id = ?1",
                &[&self.account_id],
                |r| r.get(0),
            )
            .unwrap()
    }

    pub fn generations(&self) -> i64 {
        self.count("SELECT count(*) FROM generations", &[])
    }

    pub fn status_of(&self, id: &str) -> String {
        self.db()
            .query_row(
                "SELECT status FROM generations WHERE id = ?1",
                &[&id],
                |r| r.get(0),
            )
            .unwrap_or_default()
    }

    /// Polls the record until its status is one of `wanted`, as a client would.
    pub async fn wait_for(&self, key: &str, id: &str, wanted: &[&str]) -> Value {
        let mut last = String::new();
        eventually(&format!("generation {id} to reach {wanted:?}"), || {
            last = self.status_of(id);
            wanted.contains(&last.as_str())
        })
        .await;
        let (status, body) = self.get_json(&format!("/v1/content/{id}"), key).await;
        assert_eq!(status, 200, "{body}");
        body["data"].clone()
    }

    pub async fn generate(&self, kind: &str, model: &str, key: &str, body: Value) -> String {
        let (status, _, res) = self
            .post_json(&format!("/v1/generate/{kind}/{model}"), key, &body, None)
            .await;
        assert_eq!(status, 200, "{res}");
        res["data"]["generation_id"].as_str().unwrap().to_owned()
    }

    pub async fn fetch(&self, url: &str) -> (u16, String, Vec<u8>) {
        let res = self.client.get(url).send().await.unwrap();
        let status = res.status().as_u16();
        let ct = res
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, ct, res.bytes().await.unwrap().to_vec())
    }
}
