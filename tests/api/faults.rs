//! Storage faults: a lock held by another process, a write that fails. Nothing may wait longer
//! than the busy timeout, and nothing may stay stuck once the store recovers.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{TestApp, assert_error, spawn_app_with};
use crate::upstream::{Fakes, Mode};

const BUSY_MS: u64 = 500;

async fn app_with_short_busy_timeout() -> TestApp {
    spawn_app_with(&[("storage.busy_timeout_ms", json!(BUSY_MS))]).await
}

/// A second connection holding the write lock, as another process would.
fn hold_write_lock(app: &TestApp) -> rusqlite::Connection {
    let conn = app.sqlite();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    conn
}

/// Within 10% of the timeout at the low end; at the high end the request's own work on a busy
/// test machine.
fn assert_gave_up_after_the_timeout(waited: Duration) {
    let timeout = Duration::from_millis(BUSY_MS);
    assert!(
        waited >= timeout.mul_f64(0.9) && waited <= timeout + Duration::from_millis(300),
        "gave up after {waited:?}, the timeout is {timeout:?}"
    );
}

#[tokio::test]
async fn requests_behind_a_held_lock_give_up_after_the_busy_timeout_by_the_clock() {
    let app = app_with_short_busy_timeout().await;
    let (_, key) = app.create_key(&[]);
    let lock = hold_write_lock(&app);

    // Several at once: some share the first failing group of the log writer, the others queue
    // behind it and must still give up at their own deadline, not one timeout later.
    let requests = (0..8).map(|_| async {
        let began = Instant::now();
        let (status, body) = app.get_json("/v1/status", &key).await;
        (status, body, began.elapsed())
    });
    for (status, body, waited) in futures_util::future::join_all(requests).await {
        assert_eq!(status, 503, "{body}");
        assert_error(&body, "BSE5002");
        assert_gave_up_after_the_timeout(waited);
    }

    // A generation waits in several statements (idempotency claim, accept, log row) and still
    // gives up once.
    let began = Instant::now();
    let (status, _, body) = app
        .post_json(
            "/v1/generate/image/tidegate/pattern-1",
            &key,
            &json!({ "generation_prompt": "a lighthouse" }),
            Some("held-lock"),
        )
        .await;
    assert_eq!(status, 503, "{body}");
    assert_gave_up_after_the_timeout(began.elapsed());

    lock.execute_batch("ROLLBACK").unwrap();
    let (status, body) = app.get_json("/v1/status", &key).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.generations(),
        0,
        "nothing was written while the lock was held"
    );
}

/// The balance `free_plan_key` gives, in thousandths of a credit.
const FIVE_CREDITS: i64 = 5_000;

/// A live key on a new free-plan account (one generation in flight at a time) with 5 credits.
fn free_plan_key(app: &TestApp) -> (String, String) {
    let account = app.cli_json(&["accounts", "create", "--name", "Free", "--plan", "free"]);
    let account = account["id"].as_str().unwrap().to_owned();
    app.cli_json(&["credits", "add", "--account", &account, "--amount", "5"]);
    let key = app.cli_json(&[
        "keys",
        "create",
        "--account",
        &account,
        "--name",
        "free",
        "--preset",
        "full_access",
    ]);
    (account, key["key"].as_str().unwrap().to_owned())
}

fn balance_of(app: &TestApp, account: &str) -> i64 {
    app.count(
        "SELECT credit_balance FROM accounts WHERE id = ?1",
        &[&account],
    )
}

/// Polls `/metrics` until the workers have had to retry a write of generation state.
async fn wait_for_a_store_retry(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let retries = "tidegate_generation_store_retries_total";
    while app.metric(&app.client, retries).await == 0 {
        assert!(Instant::now() < deadline, "no retry seen");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A free-plan key and its generation of `remote/slow` (0.020 credits reserved), running on the
/// upstream, which holds it until told otherwise: (account, key, generation id).
async fn slow_generation_running(app: &TestApp) -> (String, String, String) {
    let (account, key) = free_plan_key(app);
    let (status, body) = submit_slow(app, &key).await;
    assert_eq!(status, 200, "{body}");
    let id = body["data"]["generation_id"].as_str().unwrap().to_owned();
    crate::helpers::eventually("the generation to start", || {
        app.status_of(&id) == "processing"
    })
    .await;
    (account, key, id)
}

async fn submit_slow(app: &TestApp, key: &str) -> (u16, serde_json::Value) {
    let (status, _, body) = app
        .post_json(
            "/v1/generate/image/remote/slow",
            key,
            &json!({ "generation_prompt": "a lighthouse" }),
            None,
        )
        .await;
    (status, body)
}

/// Runs a generation to the point where the upstream reports `mode`, while another process
/// holds the store's write lock; releases the lock once the workers have had to retry a write.
/// Returns the app, the upstreams, the account, the key and the record once it is `ended`, which
/// must be within seconds of the release.
async fn finish_behind_a_held_lock(
    mode: Mode,
    ended: &str,
) -> (TestApp, Fakes, String, String, serde_json::Value) {
    let (app, fakes) = crate::upstream::app_with_fakes(&[
        ("storage.busy_timeout_ms", json!(300)),
        ("server.metrics", json!(true)),
    ])
    .await;
    let (account, key, id) = slow_generation_running(&app).await;
    let lock = hold_write_lock(&app);
    fakes.queue.set(mode);
    wait_for_a_store_retry(&app).await;
    lock.execute_batch("ROLLBACK").unwrap();
    let released = Instant::now();
    let record = app.wait_for(&key, &id, &[ended]).await;
    assert!(
        released.elapsed() < Duration::from_secs(5),
        "{ended} {:?} after the store recovered",
        released.elapsed()
    );
    let check = app.cli(&["check"]);
    assert_eq!(check.status, 0, "{}{}", check.stdout, check.stderr);
    (app, fakes, account, key, record)
}

#[tokio::test]
async fn a_generation_whose_failure_cannot_be_recorded_is_refunded_once_the_lock_is_released() {
    // Recording the failed attempt and the failure both fail, and are retried.
    let (app, fakes, account, key, record) =
        finish_behind_a_held_lock(Mode::FailLater, "failed").await;
    assert_eq!(record["generation_error_code"], "BSE4001", "{record}");
    assert_eq!(
        balance_of(&app, &account),
        FIVE_CREDITS,
        "the reservation was refunded"
    );
    // The in-flight slot is free again.
    fakes.queue.set(Mode::Ok);
    let (status, body) = submit_slow(&app, &key).await;
    assert_eq!(status, 200, "{body}");
    let next = body["data"]["generation_id"].as_str().unwrap().to_owned();
    app.wait_for(&key, &next, &["succeeded"]).await;
}

#[tokio::test]
async fn a_generation_whose_success_cannot_be_recorded_succeeds_once_the_lock_is_released() {
    let (app, _fakes, account, key, record) =
        finish_behind_a_held_lock(Mode::Ok, "succeeded").await;
    assert_eq!(
        record["generation_output_file"].as_array().unwrap().len(),
        1
    );
    // remote/slow costs 0.020 credits, charged once.
    assert_eq!(balance_of(&app, &account), FIVE_CREDITS - 20);
    let (status, body) = submit_slow(&app, &key).await;
    assert_eq!(status, 200, "{body}");
}

backend_tests!(the_sweeper_fails_and_refunds_a_generation_running_past_its_providers_timeouts);
async fn the_sweeper_fails_and_refunds_a_generation_running_past_its_providers_timeouts() {
    let (app, _fakes) = crate::upstream::app_with_fakes(&[]).await;
    let (account, key) = free_plan_key(&app);
    // The upstream holds the prediction (its provider's timeout is 60 s).
    let (_, body) = submit_slow(&app, &key).await;
    let id = body["data"]["generation_id"].as_str().unwrap().to_owned();
    crate::helpers::eventually("the generation to start", || {
        app.status_of(&id) == "processing"
    })
    .await;
    let (status, body) = submit_slow(&app, &key).await;
    assert_eq!(status, 429, "{body}");
    assert_error(&body, "BSE1009");

    let sweep = || tidegate::testing::run_job("fail-stuck-generations", &app.jobs);
    let outcome = sweep().await.unwrap();
    assert!(
        !outcome.changed_anything(),
        "within its time limit: {outcome:?}"
    );
    // Past the provider's 60 s and the minute of grace.
    app.clock.advance(121_000);
    let outcome = sweep().await.unwrap();
    assert_eq!(
        outcome.summary(),
        "fail-stuck-generations: failed and refunded 1 stuck generation"
    );

    let (_, body) = app.get_json(&format!("/v1/content/{id}"), &key).await;
    assert_eq!(body["data"]["generation_status"], "failed", "{body}");
    assert_eq!(body["data"]["generation_error_code"], "BSE4002", "{body}");
    assert_eq!(balance_of(&app, &account), FIVE_CREDITS);
    let (status, body) = submit_slow(&app, &key).await;
    assert_eq!(status, 200, "the in-flight slot is free: {body}");
}

/// A tmpfs of a few megabytes, mounted for one test (it needs the privilege to mount).
struct SmallDisk {
    mountpoint: tempfile::TempDir,
}

impl SmallDisk {
    fn mount() -> Option<SmallDisk> {
        SmallDisk::mount_with("size=8m")
    }

    fn mount_with(options: &str) -> Option<SmallDisk> {
        let mountpoint = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tidegate-test"])
            .arg(mountpoint.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if mounted {
            return Some(SmallDisk { mountpoint });
        }
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root and must be able to mount a tmpfs"
        );
        eprintln!("skipped: mounting a small filesystem needs root");
        None
    }

    /// Writes zeros until the filesystem is full.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.mountpoint.path().join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0_u8; 64 * 1024];
        while file
            .write_all(&chunk)
            .and_then(|()| file.sync_all())
            .is_ok()
        {}
        let mut byte = 1;
        while byte > 0 && file.write_all(&vec![0; byte]).is_ok() {
            byte /= 2;
        }
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily: the server of the test may still have the database open.
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.mountpoint.path())
            .status();
    }
}

#[tokio::test]
async fn after_a_full_disk_every_generation_ends_and_the_ledger_balances() {
    let Some(disk) = SmallDisk::mount() else {
        return;
    };
    let data_dir = tempfile::tempdir_in(disk.mountpoint.path()).unwrap();
    let (app, fakes) =
        crate::upstream::app_with_fakes_in(data_dir, &[("server.metrics", json!(true))]).await;
    let (account, key, id) = slow_generation_running(&app).await;

    // A reader of an old snapshot keeps the WAL from starting over, and a write as large as the
    // WAL file moves its end past the room it had: from here every commit must grow the file.
    let reader = app.sqlite();
    reader
        .execute_batch("BEGIN; SELECT count(*) FROM accounts;")
        .unwrap();
    let wal = std::fs::metadata(app.db_path().with_extension("db-wal")).unwrap();
    let padding = i64::try_from(wal.len()).unwrap() + (256 << 10);
    app.sqlite()
        .execute_batch(&format!(
            "CREATE TABLE padding (b BLOB); INSERT INTO padding VALUES (zeroblob({padding}));"
        ))
        .unwrap();
    let filler = disk.fill();
    fakes.queue.set(Mode::Ok);
    wait_for_a_store_retry(&app).await;
    std::fs::remove_file(filler).unwrap();
    reader.execute_batch("COMMIT").unwrap();
    let recovered = Instant::now();

    crate::helpers::eventually("the generation to end", || {
        ["succeeded", "failed"].contains(&app.status_of(&id).as_str())
    })
    .await;
    assert!(recovered.elapsed() < Duration::from_secs(5));
    let (_, body) = app.get_json(&format!("/v1/content/{id}"), &key).await;
    let record = &body["data"];
    // Its files could not be written: failed and refunded.
    assert_eq!(record["generation_status"], "failed", "{body}");
    assert_eq!(record["generation_error_code"], "BSE5002", "{body}");
    assert_eq!(balance_of(&app, &account), FIVE_CREDITS);
    let check = app.cli(&["check"]);
    assert_eq!(check.status, 0, "{}{}", check.stdout, check.stderr);
    let (status, body) = submit_slow(&app, &key).await;
    assert_eq!(status, 200, "{body}");
}

/// What `tidegate serve` prints on stderr when it stops at start-up, run through `wrapper` (a
/// command that runs the rest, e.g. to drop privileges) on `data_dir`.
fn start_up_error(data_dir: &std::path::Path, wrapper: &[&str]) -> String {
    let binary = env!("CARGO_BIN_EXE_tidegate");
    let (program, args): (&str, Vec<&str>) = match wrapper {
        [] => (binary, vec!["serve"]),
        [first, rest @ ..] => (first, [rest, &[binary, "serve"]].concat()),
    };
    let mut child = std::process::Command::new(program)
        .args(args)
        .env("TIDEGATE_STORAGE__DATA_DIR", data_dir)
        .env("TIDEGATE_SERVER__LISTEN", "127.0.0.1:0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the server started on {}", data_dir.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    lines[0].to_owned()
}

#[test]
fn start_up_on_an_unusable_data_directory_names_the_path_and_the_reason() {
    let Some(read_only) = SmallDisk::mount_with("ro,size=1m") else {
        return;
    };
    let line = start_up_error(read_only.mountpoint.path(), &[]);
    assert!(
        line.contains(&read_only.mountpoint.path().display().to_string()),
        "{line}"
    );
    assert!(line.contains("Read-only file system"), "{line}");

    let full = SmallDisk::mount_with("size=1m").unwrap();
    full.fill();
    let line = start_up_error(full.mountpoint.path(), &[]);
    assert!(
        line.contains(&full.mountpoint.path().display().to_string()),
        "{line}"
    );
    assert!(line.contains("No space left on device"), "{line}");

    // A directory the service user may not write (tempdir makes it 0700, owned by root).
    let dir = tempfile::tempdir().unwrap();
    let nobody = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    let line = start_up_error(dir.path(), &nobody);
    assert!(line.contains(&dir.path().display().to_string()), "{line}");
    assert!(line.contains("Permission denied"), "{line}");
}
