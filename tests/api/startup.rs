//! The binary on its embedded defaults, configuration sources and graceful stops.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{SendChecked, eventually, run_binary};
use crate::upstream::{self, Mode};

pub struct Running {
    pub child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    pub printed: Vec<String>,
}

/// A server a test left running (it failed, or never stopped it) goes with the test, rather
/// than keep its port and its database connections.
impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Running {
    /// What the server printed on stdout up to its listening line.
    pub fn printed(&self) -> &[String] {
        &self.printed
    }
}

/// Starts `tidegate` with no arguments in `dir` and waits for its listening line.
pub fn start_binary(dir: &std::path::Path, env: &[(&str, &str)]) -> (Running, String) {
    start_binary_logging(dir, env, Stdio::null())
}

/// The same, with the server's log going to `log`.
pub fn start_binary_logging(
    dir: &std::path::Path,
    env: &[(&str, &str)],
    log: Stdio,
) -> (Running, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tidegate"));
    cmd.current_dir(dir)
        .env("TIDEGATE_SERVER__LISTEN", "127.0.0.1:0")
        .env("TIDEGATE_TELEMETRY__LEVEL", "warn")
        .env_remove("TIDEGATE_ADMIN_PASSWORD")
        .env_remove("TIDEGATE_STORAGE__DATA_DIR")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(log);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start tidegate");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut running = Running {
        child,
        lines: rx,
        printed: Vec::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = running
            .lines
            .recv_timeout(left)
            .expect("server printed its address in time");
        running.printed.push(line.clone());
        if let Some(addr) = line.strip_prefix("Tidegate listening on ") {
            return (running, addr.to_owned());
        }
    }
}

pub fn signal(running: &Running, signal: &str) {
    let pid = running.child.id().to_string();
    let status = Command::new("kill")
        .args([signal, &pid])
        .status()
        .expect("kill");
    assert!(status.success());
}

pub fn stop_with(running: &mut Running, name: &str) -> i32 {
    signal(running, name);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = running.child.try_wait().expect("wait") {
            return status.code().unwrap_or(-1);
        }
        assert!(
            Instant::now() < deadline,
            "server did not stop after {name}"
        );
        std::thread::yield_now();
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn a_fresh_start_creates_the_store_and_the_administrator_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut running, address) = start_binary(dir.path(), &[]);

    assert!(
        dir.path().join("data/tidegate.db").is_file(),
        "./data/tidegate.db is created"
    );
    let admin_line = running
        .printed
        .iter()
        .find(|l| l.contains("admin@localhost"))
        .expect("admin line");
    assert!(admin_line.contains("password"), "{admin_line}");
    let health = reqwest::get(format!("{address}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = reqwest::get(format!("{address}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);

    assert_eq!(stop_with(&mut running, "-TERM"), 0);

    let conn = rusqlite::Connection::open(dir.path().join("data/tidegate.db")).unwrap();
    let admins: i64 = conn
        .query_row(
            "SELECT count(*) FROM users WHERE email = 'admin@localhost' AND is_instance_admin = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(admins, 1);
    let hash: String = conn
        .query_row("SELECT password_hash FROM users", [], |r| r.get(0))
        .unwrap();
    assert!(hash.starts_with("$argon2id$"));
    let owner: String = conn
        .query_row("SELECT role FROM memberships", [], |r| r.get(0))
        .unwrap();
    assert_eq!(owner, "primary-owner");
    let secret: Vec<u8> = conn
        .query_row(
            "SELECT value FROM settings WHERE name = 'install_secret'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(secret.len(), 32);

    // A second start finds the administrator and prints no password; SIGINT is graceful too.
    let (mut again, _) = start_binary(dir.path(), &[]);
    assert!(
        !again.printed.iter().any(|l| l.contains("password")),
        "{:?}",
        again.printed
    );
    assert_eq!(stop_with(&mut again, "-INT"), 0);
}

#[tokio::test]
async fn the_administrator_password_can_come_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let (mut running, _) = start_binary(
        dir.path(),
        &[("TIDEGATE_ADMIN_PASSWORD", "s3cret-from-env")],
    );
    let all = running.printed.join("\n");
    assert!(all.contains("TIDEGATE_ADMIN_PASSWORD"), "{all}");
    assert!(
        !all.contains("s3cret-from-env"),
        "the password is not echoed"
    );
    stop_with(&mut running, "-TERM");
    let conn = rusqlite::Connection::open(dir.path().join("data/tidegate.db")).unwrap();
    let hash: String = conn
        .query_row("SELECT password_hash FROM users", [], |r| r.get(0))
        .unwrap();
    assert!(tidegate::testing::verify_password("s3cret-from-env", &hash));
}

#[test]
fn invalid_configuration_stops_start_up_with_one_line_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("TIDEGATE_SERVER__LISTEN", "not-an-address", "server.listen"),
        (
            "TIDEGATE_SERVER__DEFAULT_REGION",
            "mars",
            "server.default_region",
        ),
        (
            "TIDEGATE_ACCOUNTS__DEFAULT_PLAN",
            "gold",
            "accounts.default_plan",
        ),
        ("TIDEGATE_LOGS__RETENTION_DAYS", "0", "logs.retention_days"),
        ("TIDEGATE_SERVER__LISTN", "x", "listn"),
    ];
    for (var, value, key) in cases {
        let out = run_binary(dir.path(), &["serve"], &[(var, value)]);
        assert_eq!(out.status, 2, "{var}={value}");
        let stderr = out.stderr.trim();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(key), "{var}: {stderr}");
    }
    assert!(
        !dir.path().join("tidegate.db").exists(),
        "nothing is created on a bad config"
    );
}

#[test]
fn an_unreachable_or_missing_postgres_database_stops_start_up_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let postgres = |url: &str| {
        run_binary(
            dir.path(),
            &["serve"],
            &[
                ("TIDEGATE_SERVER__LISTEN", "127.0.0.1:0"),
                ("TIDEGATE_STORAGE__BACKEND", "postgres"),
                ("TIDEGATE_STORAGE__POSTGRES_URL", url),
            ],
        )
    };
    // Nothing listens on port 1.
    let out = postgres("postgres://tidegate:hunter2@127.0.0.1:1/tidegate");
    assert_eq!(out.status, 1);
    let stderr = out.stderr.trim();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cannot connect to PostgreSQL"), "{stderr}");
    assert!(stderr.contains("refused"), "{stderr}");
    assert!(
        !stderr.contains("hunter2"),
        "the password stays out: {stderr}"
    );

    let out = postgres("");
    assert_eq!(out.status, 2);
    assert!(
        out.stderr.contains("storage.postgres_url"),
        "{}",
        out.stderr
    );

    // A server that answers, without the database asked for.
    if let Some(url) = crate::backend::postgres_url() {
        let base = url.rsplit_once('/').map_or(url.as_str(), |(base, _)| base);
        let out = postgres(&format!("{base}/tidegate_no_such_database"));
        assert_eq!(out.status, 1);
        let stderr = out.stderr.trim();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("does not exist"), "{stderr}");
    }
    assert!(
        !dir.path().join("tidegate.db").exists(),
        "no SQLite file either"
    );

    let shown = run_binary(
        dir.path(),
        &["print-config"],
        &[
            ("TIDEGATE_STORAGE__BACKEND", "postgres"),
            (
                "TIDEGATE_STORAGE__POSTGRES_URL",
                "postgres://u:hunter2@db/x",
            ),
        ],
    );
    assert_eq!(shown.status, 0, "{}", shown.stderr);
    assert!(
        shown.stdout.contains("postgres_url = \"[redacted]\""),
        "{}",
        shown.stdout
    );
    assert!(!shown.stdout.contains("hunter2"));
}

#[test]
fn print_config_shows_the_effective_values_from_file_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tidegate.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"0.0.0.0:9999\"\n\n[logs]\nretention_days = 7\n",
    )
    .unwrap();
    let out = run_binary(
        dir.path(),
        &["print-config", "--config", file.to_str().unwrap(), "--json"],
        &[("TIDEGATE_LOGS__RETENTION_DAYS", "14")],
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    let config: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        config["server"]["listen"], "0.0.0.0:9999",
        "file over defaults"
    );
    assert_eq!(
        config["logs"]["retention_days"], 14,
        "environment over file"
    );
    assert_eq!(config["keys"]["prefix"], "bye_", "embedded default");

    let text = run_binary(dir.path(), &["print-config"], &[]);
    assert!(
        text.stdout.contains("listen = \"127.0.0.1:8080\""),
        "{}",
        text.stdout
    );

    let missing = run_binary(
        dir.path(),
        &["print-config", "--config", "/nonexistent.toml"],
        &[],
    );
    assert_eq!(missing.status, 2);
}

#[test]
fn the_schema_is_migrated_once_with_wal_and_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let (mut running, _) = start_binary(dir.path(), &[]);
    assert_eq!(stop_with(&mut running, "-TERM"), 0);
    let data = dir.path().join("data");
    for _ in 0..2 {
        let out = run_binary(&data, &["accounts", "list"], &[]);
        assert_eq!(out.status, 0, "{}", out.stderr);
    }
    let conn = rusqlite::Connection::open(data.join("tidegate.db")).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version as usize, tidegate::testing::MIGRATIONS.len());
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    for table in [
        "accounts",
        "users",
        "memberships",
        "api_keys",
        "request_logs",
        "usage_daily",
        "activity",
    ] {
        let n: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1, "{table}");
    }
}

#[tokio::test]
async fn a_stop_lets_the_running_generation_finish_and_leaves_queued_ones_pending() {
    let queue = upstream::start(Mode::Hold).await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("models.toml");
    let nowhere = "http://127.0.0.1:9";
    std::fs::write(&catalog, upstream::catalog(nowhere, nowhere, &queue.url)).unwrap();
    let catalog = catalog.to_str().unwrap().to_owned();
    let env = [
        ("TIDEGATE_GENERATION__CATALOG", catalog.as_str()),
        ("TIDEGATE_GENERATION__WORKERS", "1"),
    ];
    let (mut running, address) = start_binary(dir.path(), &env);
    let data = dir.path().join("data");
    let cli = |args: &[&str]| -> Value {
        let out = run_binary(&data, args, &env);
        assert_eq!(out.status, 0, "{args:?}: {}", out.stderr);
        serde_json::from_str(&out.stdout).unwrap()
    };
    let account = cli(&["accounts", "create", "--name", "Acme", "--json"]);
    let account = account["id"].as_str().unwrap();
    cli(&[
        "credits",
        "add",
        "--account",
        account,
        "--amount",
        "1",
        "--json",
    ]);
    let key = cli(&[
        "keys",
        "create",
        "--account",
        account,
        "--name",
        "k",
        "--preset",
        "full_access",
        "--json",
    ]);
    let key = key["key"].as_str().unwrap();

    // One worker: the first generation runs (upstream, held), the second waits in the queue.
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for prompt in ["running", "queued"] {
        let res = client
            .post(format!("{address}/v1/generate/image/remote/slow"))
            .bearer_auth(key)
            .json(&json!({ "generation_prompt": prompt }))
            .send_checked()
            .await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        ids.push(body["data"]["generation_id"].as_str().unwrap().to_owned());
    }
    let db = rusqlite::Connection::open(data.join("tidegate.db")).unwrap();
    let status = |id: &str| -> String {
        db.query_row("SELECT status FROM generations WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap()
    };
    eventually("the first generation to run upstream", || {
        queue.requests() == 1 && status(&ids[0]) == "processing"
    })
    .await;

    // SIGTERM: the listener closes, but the server waits for the generation it is running.
    signal(&running, "-TERM");
    let listener = address.trim_start_matches("http://").to_owned();
    eventually("the listener to close", || {
        std::net::TcpStream::connect(&listener).is_err()
    })
    .await;
    assert!(running.child.try_wait().unwrap().is_none());
    queue.set(Mode::Ok);
    let mut code = None;
    eventually("the server to stop", || {
        code = running.child.try_wait().unwrap().map(|s| s.code());
        code.is_some()
    })
    .await;
    assert_eq!(code, Some(Some(0)));
    assert_eq!(status(&ids[0]), "succeeded");
    assert_eq!(
        status(&ids[1]),
        "pending",
        "the queued one waits for the next start"
    );
    assert_eq!(queue.requests(), 1, "the queued one was never submitted");
}

#[tokio::test]
async fn every_connection_made_before_a_sigterm_is_answered() {
    let dir = tempfile::tempdir().unwrap();
    let (mut running, address) = start_binary(dir.path(), &[]);
    let listener = address.trim_start_matches("http://").to_owned();
    // Connected, some still in the listen backlog, none with its request sent yet.
    let mut connections: Vec<std::net::TcpStream> = (0..64)
        .map(|_| std::net::TcpStream::connect(&listener).unwrap())
        .collect();
    signal(&running, "-TERM");
    for conn in &mut connections {
        use std::io::{Read, Write};
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: tidegate\r\n\r\n")
            .unwrap();
        // The stopping server closes each connection after its answer.
        let mut answer = String::new();
        conn.read_to_string(&mut answer)
            .expect("an answer, then the connection closed");
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer:?}");
        assert!(answer.ends_with(r#"{"status":"ok"}"#), "{answer:?}");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        if let Some(status) = running.child.try_wait().unwrap() {
            break status.code();
        }
        assert!(Instant::now() < deadline, "the server did not stop");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(code, Some(0));
}

#[tokio::test]
async fn a_malformed_request_is_refused_and_logged_at_debug_level_only() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let (mut running, address) = start_binary_logging(
        dir.path(),
        &[("TIDEGATE_TELEMETRY__LEVEL", "debug")],
        Stdio::from(log),
    );
    // A page's malformed request gets the HTTP layer's bare 400, an API's the envelope.
    let mut answers = Vec::new();
    for path in ["/login", "/healthz"] {
        let mut conn = std::net::TcpStream::connect(address.trim_start_matches("http://")).unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: tidegate\r\nX-Bad: a\x00b\r\n\r\n");
        conn.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        conn.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        answers.push(answer);
    }
    assert!(answers[1].contains("BSE2001"), "{}", answers[1]);
    assert_eq!(stop_with(&mut running, "-TERM"), 0);
    let log = std::fs::read_to_string(&log_path).unwrap();
    for event in ["protocol error", "malformed request refused"] {
        let line = log
            .lines()
            .find(|l| l.contains(event))
            .unwrap_or_else(|| panic!("{event} not logged:\n{log}"));
        assert!(line.contains("DEBUG"), "{line}");
    }
    let refused = log
        .lines()
        .find(|l| l.contains("malformed request refused"))
        .unwrap();
    assert!(
        refused.contains("/healthz") && refused.contains("req_"),
        "{refused}"
    );
    assert!(!log.contains("ERROR"), "{log}");
    assert!(!log.contains('\x1b'), "no colours in a file: {log}");

    // Asked for, colours are there whatever standard error is.
    let coloured_path = dir.path().join("coloured.log");
    let coloured = std::fs::File::create(&coloured_path).unwrap();
    let (mut running, _) = start_binary_logging(
        dir.path(),
        &[
            ("TIDEGATE_TELEMETRY__LEVEL", "debug"),
            ("TIDEGATE_TELEMETRY__COLOR", "always"),
        ],
        Stdio::from(coloured),
    );
    assert_eq!(stop_with(&mut running, "-TERM"), 0);
    let log = std::fs::read_to_string(&coloured_path).unwrap();
    assert!(log.contains("\x1b["), "{log}");
}
