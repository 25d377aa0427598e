//! Notification e-mail through a real SMTP server on loopback (`tests/support/smtp_sink.py`, on
//! aiosmtpd from the CI virtualenv): the message reaches the owners with no secret in it, waits
//! in the outbox while the server is away, and a wrong password is a clear, retried error.
//! Without python and aiosmtpd the tests say so and pass, except under CI.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};
use tidegate::testing::Job;

use crate::helpers::{TestApp, eventually, run_binary};
use crate::notifications::quiet_app;
use crate::people::{page, person};

const PASSWORD: &str = "right-horse-battery";

/// The virtualenv's python when aiosmtpd is installed there; otherwise `None` (a panic under
/// CI, where `.ci/run` installs it).
fn python() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    let python = cache.join("tidegate-ci/python/bin/python");
    let found = Command::new(&python)
        .args(["-c", "import aiosmtpd"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return Some(python);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "aiosmtpd is missing from {}",
        python.display()
    );
    eprintln!("skipped: no aiosmtpd in {} (see .ci/run)", python.display());
    None
}

/// The SMTP server, stopped when dropped.
struct Sink {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    python: PathBuf,
}

impl Sink {
    fn start(python: &std::path::Path, port: u16, dir: tempfile::TempDir) -> Sink {
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py");
        let mut child = Command::new(python)
            .arg(script)
            .arg(port.to_string())
            .arg(dir.path())
            .args(["notifier", PASSWORD])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP server did not start");
        Sink {
            child,
            port,
            dir,
            python: python.to_owned(),
        }
    }

    fn on_free_port(python: &std::path::Path) -> Sink {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Sink::start(python, port, tempfile::tempdir().unwrap())
    }

    /// Stops the server; its port and mailbox stay for `restart`.
    fn stop(mut self) -> (PathBuf, u16, tempfile::TempDir) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let python = self.python.clone();
        let port = self.port;
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        (python, port, dir)
    }

    /// The messages received: envelope recipients and the raw message.
    fn messages(&self) -> Vec<(Vec<String>, String)> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let v: Value =
                    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
                let to = v["rcpt_tos"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap().to_owned())
                    .collect();
                out.push((to, v["data"].as_str().unwrap().to_owned()));
            }
        }
        out
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn app_for(port: u16, password: &str) -> TestApp {
    let app = quiet_app(&[
        ("smtp.host", json!("127.0.0.1")),
        ("smtp.port", json!(port)),
        ("smtp.security", json!("none")),
        ("smtp.user", json!("notifier")),
        ("smtp.password", json!(password)),
        ("smtp.from", json!("Tidegate <tidegate@example.com>")),
    ])
    .await;
    for (email, role) in [
        ("carol@example.com", "owner"),
        ("dave@example.com", "member"),
    ] {
        app.cli_json(&["users", "create", "--email", email]);
        app.cli_json(&[
            "users",
            "add-membership",
            "--email",
            email,
            "--account",
            &app.account_id,
            "--role",
            role,
        ]);
    }
    app
}

/// A key expiring in 3 days, warned about now: one notice, one e-mail. Returns the key.
async fn warn_about_a_key(app: &TestApp) -> String {
    let (_, key) = app.create_key(&["--expires-in-days", "3"]);
    Job::WarnExpiringKeys.run(&app.jobs).await.unwrap();
    key
}

fn outbox(app: &TestApp) -> (i64, String, Option<String>) {
    app.db()
        .query_row(
            "SELECT attempts, status, last_error FROM email_outbox",
            &[],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
}

backend_tests!(multi_thread: a_notice_is_mailed_to_the_owners_with_the_key_named_by_prefix_only);
async fn a_notice_is_mailed_to_the_owners_with_the_key_named_by_prefix_only() {
    let Some(python) = python() else { return };
    let sink = Sink::on_free_port(&python);
    let app = app_for(sink.port, PASSWORD).await;
    let key = warn_about_a_key(&app).await;
    eventually("the e-mail", || sink.messages().len() == 1).await;
    let (to, data) = sink.messages().remove(0);
    assert!(to.contains(&"carol@example.com".to_owned()), "{to:?}");
    assert!(
        !to.contains(&"dave@example.com".to_owned()),
        "members get none: {to:?}"
    );
    assert!(
        data.contains(&format!(
            "Subject: API key \"test key\" ({}) expires within 7 days",
            &key[..9]
        )),
        "{data}"
    );
    assert!(
        data.contains("text/plain") && data.contains("text/html"),
        "{data}"
    );
    assert!(!data.contains(&key), "never the key itself");
    assert!(!data.contains(PASSWORD));
    eventually("sent", || outbox(&app).1 == "sent").await;
}

backend_tests!(multi_thread: an_e_mail_waits_while_the_server_is_away_and_arrives_when_it_returns);
async fn an_e_mail_waits_while_the_server_is_away_and_arrives_when_it_returns() {
    let Some(python) = python() else { return };
    let (python, port, dir) = Sink::on_free_port(&python).stop();
    let app = app_for(port, PASSWORD).await;
    warn_about_a_key(&app).await;
    eventually("a failed attempt", || outbox(&app).0 >= 1).await;
    let (_, status, error) = outbox(&app);
    assert_eq!(status, "pending", "tried again later");
    assert!(error.is_some());

    let sink = Sink::start(&python, port, dir);
    // The next attempt is due after its delay, by the server's clock.
    app.clock.advance(10 * 60_000);
    eventually("the e-mail after the server returned", || {
        sink.messages().len() == 1
    })
    .await;
    eventually("sent", || outbox(&app).1 == "sent").await;
}

backend_tests!(multi_thread: a_wrong_password_is_a_clear_error_and_the_e_mail_is_tried_again);
async fn a_wrong_password_is_a_clear_error_and_the_e_mail_is_tried_again() {
    let Some(python) = python() else { return };
    let sink = Sink::on_free_port(&python);
    let app = app_for(sink.port, "wrong-password").await;
    warn_about_a_key(&app).await;
    eventually("a failed attempt", || outbox(&app).0 >= 1).await;
    let (_, status, error) = outbox(&app);
    let error = error.unwrap();
    assert_eq!(status, "pending");
    assert!(
        error.contains("535") || error.to_lowercase().contains("auth"),
        "{error}"
    );
    assert!(!error.contains("wrong-password"), "{error}");
    app.clock.advance(10 * 60_000);
    eventually("a second attempt", || outbox(&app).0 >= 2).await;
    assert!(sink.messages().is_empty());
}

#[test]
fn an_smtp_port_out_of_range_stops_start_up_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_binary(dir.path(), &["serve"], &[("TIDEGATE_SMTP__PORT", "70000")]);
    assert_eq!(out.status, 2);
    let stderr = out.stderr.trim();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("smtp.port"), "{stderr}");
}

/// "E-mail a test message" as `who`: the status and the settings page it answers with.
async fn test_message(app: &TestApp, who: &crate::people::Person) -> (u16, String) {
    let res = who
        .client
        .post(format!("{}/settings/test-email", app.address))
        .form(&[("csrf", who.csrf.as_str())])
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

backend_tests!(multi_thread: the_test_button_sends_at_once_and_failures_show_on_the_settings_page);
async fn the_test_button_sends_at_once_and_failures_show_on_the_settings_page() {
    let Some(python) = python() else { return };
    let sink = Sink::on_free_port(&python);
    let app = app_for(sink.port, PASSWORD).await;
    let erin = person(&app, "erin@example.com", "owner").await;
    let (status, body) = test_message(&app, &erin).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("A test message was sent to erin@example.com."),
        "{body}"
    );
    let messages = sink.messages();
    assert_eq!(messages.len(), 1, "sent before the page answered");
    assert_eq!(messages[0].0, vec!["erin@example.com".to_owned()]);
    assert!(messages[0].1.contains("Subject: Tidegate test message"));
    let member = person(&app, "fay@example.com", "member").await;
    assert_eq!(test_message(&app, &member).await.0, 403);

    // With a wrong password: the server's refusal on the page, never the password; a notice's
    // failed attempts show there too, with the next try.
    let wrong = app_for(sink.port, "wrong-password").await;
    let erin = person(&wrong, "erin@example.com", "owner").await;
    let (status, body) = test_message(&wrong, &erin).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("The test message could not be sent"),
        "{body}"
    );
    assert!(body.contains("535") || body.contains("auth"), "{body}");
    assert!(!body.contains("wrong-password"));
    warn_about_a_key(&wrong).await;
    eventually("a failed attempt", || outbox(&wrong).0 >= 1).await;
    let settings = page(&erin.client, &wrong, "/settings").await;
    assert!(settings.contains("The last attempt failed"), "{settings}");
    assert!(settings.contains("It is tried again at"), "{settings}");
    assert!(!settings.contains("wrong-password"));
    assert_eq!(sink.messages().len(), 1, "nothing more arrived");
}

backend_tests!(without_a_mail_server_the_pages_say_so_and_offer_no_test);
async fn without_a_mail_server_the_pages_say_so_and_offer_no_test() {
    let app = quiet_app(&[]).await;
    let owner = person(&app, "gus@example.com", "owner").await;
    let settings = page(&owner.client, &app, "/settings").await;
    assert!(settings.contains("no SMTP server set up"));
    assert!(!settings.contains("E-mail a test message"));
    let notifications = page(&owner.client, &app, "/notifications").await;
    assert!(notifications.contains("no SMTP server set up"));
    let (status, body) = test_message(&app, &owner).await;
    assert_eq!(status, 200);
    assert!(body.contains("no SMTP server is set up"), "{body}");
    assert_eq!(app.count("SELECT count(*) FROM email_outbox", &[]), 0);
}
