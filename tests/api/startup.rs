//! The binary on its embedded defaults, configuration sources and graceful stops.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::run_binary;

struct Running {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    printed: Vec<String>,
}

/// Starts `tidegate` with no arguments in `dir` and waits for its listening line.
fn start_binary(dir: &std::path::Path, env: &[(&str, &str)]) -> (Running, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tidegate"));
    cmd.current_dir(dir)
        .env("TIDEGATE_SERVER__LISTEN", "127.0.0.1:0")
        .env("TIDEGATE_TELEMETRY__LEVEL", "warn")
        .env_remove("TIDEGATE_ADMIN_PASSWORD")
        .env_remove("TIDEGATE_STORAGE__DATA_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
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

fn stop_with(running: &mut Running, signal: &str) -> i32 {
    let pid = running.child.id().to_string();
    let status = Command::new("kill")
        .args([signal, &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = running.child.try_wait().expect("wait") {
            return status.code().unwrap_or(-1);
        }
        assert!(
            Instant::now() < deadline,
            "server did not stop after {signal}"
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
    assert!(tidegate::service::password::verify_password(
        "s3cret-from-env",
        &hash
    ));
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
    for _ in 0..2 {
        let out = run_binary(dir.path(), &["accounts", "list"], &[]);
        assert_eq!(out.status, 0, "{}", out.stderr);
    }
    let conn = rusqlite::Connection::open(dir.path().join("tidegate.db")).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(
        version as usize,
        tidegate::store::migrations::MIGRATIONS.len()
    );
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
