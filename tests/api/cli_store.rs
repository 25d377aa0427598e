//! The command line works on the store the server made, never on a new one of its own; `serve`
//! says where its data is; a backup can carry the generated media, and `check` finds any that
//! is missing.

use std::process::Command;

use serde_json::{Value, json};

use crate::helpers::{run_binary, spawn_app};
use crate::startup::{start_binary, stop_with};

/// Runs the binary in `dir` with no storage settings from the environment.
fn run_in(dir: &std::path::Path, args: &[&str]) -> crate::helpers::Cli {
    let out = Command::new(env!("CARGO_BIN_EXE_tidegate"))
        .args(args)
        .current_dir(dir)
        .env_remove("TIDEGATE_STORAGE__DATA_DIR")
        .env_remove("TIDEGATE_STORAGE__BACKEND")
        .env_remove("TIDEGATE_STORAGE__POSTGRES_URL")
        .env("TIDEGATE_TELEMETRY__LEVEL", "warn")
        .output()
        .expect("run tidegate");
    crate::helpers::Cli {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn a_command_in_a_directory_without_a_store_refuses_with_its_absolute_path_and_makes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().canonicalize().unwrap();
    for args in [
        &["accounts", "list"][..],
        &["keys", "list"],
        &["users", "list"],
        &["credits", "balance", "--account", "x"],
        &["backup", "copy.db"],
        &["check"],
        &["audit", "verify"],
        &["run-job", "purge-request-logs"],
    ] {
        let out = run_in(&cwd, args);
        assert_eq!(out.status, 2, "{args:?}: {}", out.stderr);
        let expected = format!(
            "error: no Tidegate store at {}/data/tidegate.db (storage.data_dir = ./data, relative \
             to {}); run it where the server runs, or pass --config or TIDEGATE_STORAGE__DATA_DIR\n",
            cwd.display(),
            cwd.display()
        );
        assert_eq!(out.stderr, expected, "{args:?}");
    }
    let left: Vec<_> = std::fs::read_dir(&cwd).unwrap().collect();
    assert!(left.is_empty(), "nothing is created: {left:?}");

    // An absolute data directory is named without the working directory.
    let elsewhere = cwd.join("nowhere");
    let out = run_binary(&elsewhere, &["accounts", "list"], &[]);
    assert_eq!(out.status, 2);
    assert!(
        out.stderr.contains(&format!(
            "no Tidegate store at {}/tidegate.db (storage.data_dir = {});",
            elsewhere.display(),
            elsewhere.display()
        )),
        "{}",
        out.stderr
    );
    assert!(!elsewhere.exists());
    // print-config needs no store.
    assert_eq!(run_in(&cwd, &["print-config"]).status, 0);
}

#[test]
fn check_and_migrate_store_name_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().canonicalize().unwrap();
    let out = run_in(&cwd, &["check", "missing.db"]);
    assert_eq!(out.status, 1);
    assert!(
        out.stderr.starts_with(&format!(
            "error: no such file: {}/missing.db",
            cwd.display()
        )),
        "{}",
        out.stderr
    );
    let out = run_in(
        &cwd,
        &[
            "migrate-store",
            "--from",
            "missing.db",
            "--to",
            "postgres://nobody@127.0.0.1:9/none",
        ],
    );
    assert_ne!(out.status, 0);
    assert!(out.stderr.contains("no such file: "), "{}", out.stderr);
    assert!(std::fs::read_dir(&cwd).unwrap().next().is_none());
}

#[tokio::test]
async fn serve_prints_its_absolute_data_directory_and_then_the_commands_beside_it_work() {
    let dir = tempfile::tempdir().unwrap();
    let (mut running, _) = start_binary(dir.path(), &[]);
    let data = dir.path().canonicalize().unwrap().join("data");
    let printed = running.printed().join("\n");
    assert!(
        printed.contains(&format!("Data directory: {}", data.display())),
        "{printed}"
    );
    let out = run_binary(&data, &["accounts", "list", "--json"], &[]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(stop_with(&mut running, "-TERM"), 0);
}

backend_tests!(a_backup_with_media_is_a_complete_data_directory_and_check_finds_a_missing_file);
async fn a_backup_with_media_is_a_complete_data_directory_and_check_finds_a_missing_file() {
    let app = spawn_app().await;
    app.add_credits("1");
    let (_, key) = app.create_key(&[]);
    let id = app
        .generate(
            "image",
            "tidegate/gradient-1",
            &key,
            json!({"generation_prompt": "a backup", "generation_output_format": "webp", "generation_ratio": "9:16"}),
        )
        .await;
    app.wait_for(&key, &id, &["succeeded"]).await;
    assert_eq!(app.cli(&["check"]).status, 0, "the live store is whole");

    let plain = app.data_dir.path().join("plain.db");
    let out = app.cli(&["backup", plain.to_str().unwrap()]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("are not in this file")
            && out.stdout.contains("backup --with-media DIR"),
        "{}",
        out.stdout
    );

    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("copy");
    let out = app.cli(&["backup", "--with-media", target.to_str().unwrap(), "--json"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(report["media"]["files"].as_u64().unwrap() >= 1, "{report}");
    let copy = target.join("tidegate.db");
    let checked = app.cli(&["check", copy.to_str().unwrap()]);
    assert_eq!(checked.status, 0, "{}{}", checked.stdout, checked.stderr);
    assert!(
        checked.stdout.contains("every generated file is there"),
        "{}",
        checked.stdout
    );

    let file = std::fs::read_dir(target.join("media").join(&id))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name()
        .to_string_lossy()
        .into_owned();
    std::fs::remove_file(target.join("media").join(&id).join(&file)).unwrap();
    let checked = app.cli(&["check", copy.to_str().unwrap()]);
    assert_eq!(checked.status, 1);
    assert!(
        checked
            .stdout
            .contains(&format!("missing media/{id}/{file}")),
        "{}",
        checked.stdout
    );
    assert!(
        checked.stderr.contains("failed its checks"),
        "{}",
        checked.stderr
    );

    // Never over an existing directory's contents.
    let again = app.cli(&["backup", "--with-media", target.to_str().unwrap()]);
    assert_ne!(again.status, 0);
    assert!(
        again.stderr.contains("not an empty directory"),
        "{}",
        again.stderr
    );
}
