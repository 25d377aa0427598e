//! The walls between the layers (docs/decisions.md, "The store wall"), checked on the source:
//! only `src/store` knows SQL, rusqlite and postgres, only the HTTP layer and the start-up know actix, and
//! the HTTP layer reaches the store only through the services.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `src/`, with its path relative to the crate root and its text.
fn sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    walk(&root.join("src"), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let name = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (name, text)
        })
        .collect()
}

/// The lines of the files outside `allowed` that contain any of `needles`, as `file:line: text`.
fn offending(allowed: &[&str], needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (name, text) in sources() {
        if allowed
            .iter()
            .any(|a| name == *a || name.starts_with(&format!("{a}/")))
        {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            if needles.iter().any(|needle| line.contains(needle)) {
                found.push(format!("{name}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn only_the_store_knows_sql_and_rusqlite() {
    let sql = [
        "rusqlite",
        "postgres::",
        "params!",
        "\"SELECT ",
        "\"INSERT ",
        "\"UPDATE ",
        "\"DELETE ",
        "\"CREATE ",
        "\"PRAGMA ",
        " FROM ",
        "WHERE ",
    ];
    let found = offending(&["src/store"], &sql);
    assert!(
        found.is_empty(),
        "SQL outside src/store:\n{}",
        found.join("\n")
    ); // The scan does see the store's own statements, so an empty finding above means something.
    let everywhere = offending(&[], &sql);
    for needle in ["rusqlite", "postgres::", "\"SELECT "] {
        assert!(
            everywhere
                .iter()
                .any(|l| l.starts_with("src/store/") && l.contains(needle)),
            "the scan did not see {needle} in src/store"
        );
    }
}

#[test]
fn only_the_http_layer_and_the_start_up_know_actix() {
    // The telemetry names actix-http's log target, to quiet it; it does not use the crate.
    let found = offending(
        &["src/http", "src/app", "src/telemetry.rs"],
        &["actix_web", "actix_rt", "actix_http", "actix::"],
    );
    assert!(
        found.is_empty(),
        "actix outside src/http:\n{}",
        found.join("\n")
    );
    let everywhere = offending(&[], &["actix_web"]);
    assert!(everywhere.iter().any(|l| l.starts_with("src/http/")));
}

#[test]
fn the_http_layer_reaches_the_store_only_through_the_services() {
    let uses = offending(&[], &["crate::store", "super::store", "tidegate::store"]);
    assert!(uses.iter().any(|l| l.starts_with("src/service/")));
    let found: Vec<String> = uses
        .into_iter()
        .filter(|line| line.starts_with("src/http/"))
        .collect();
    assert!(
        found.is_empty(),
        "the store used from src/http:\n{}",
        found.join("\n")
    );
}
