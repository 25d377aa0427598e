//! The walls of the house (docs/decisions.md, "Layout"), checked on the source. Each check also
//! checks that its scan sees what it looks for where it is allowed, so that a scan that finds
//! nothing means something.
//!
//! - the layers import one way: domain ← store, providers ← service ← wire ← http, jobs, cli
//!   ← app, with config and telemetry leaves;
//! - only `src/store` knows SQL, rusqlite and postgres; only the HTTP layer and the start-up
//!   know actix; the HTTP layer reaches the store only through the services;
//! - roles are a domain type, response shapes are wire types, and what happened is recorded
//!   through one door.

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

/// A file's lines that are not tests: the lines before its `#[cfg(test)]` module (tests come
/// last in a file) and none of a `tests.rs`.
fn product_lines(name: &str, text: &str) -> Vec<(usize, String)> {
    if name.ends_with("/tests.rs") || name.contains("/testing.rs") {
        return Vec::new();
    }
    text.lines()
        .enumerate()
        .take_while(|(_, line)| line.trim() != "#[cfg(test)]")
        .map(|(n, line)| (n + 1, line.to_owned()))
        .collect()
}

/// The product lines of the files outside `allowed` that contain any of `needles`, as
/// `file:line: text`.
fn offending(allowed: &[&str], needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (name, text) in sources() {
        if allowed
            .iter()
            .any(|a| name == *a || name.starts_with(&format!("{a}/")))
        {
            continue;
        }
        for (n, line) in product_lines(&name, &text) {
            if needles.iter().any(|needle| line.contains(needle)) {
                found.push(format!("{name}:{n}: {}", line.trim()));
            }
        }
    }
    found
}

fn assert_none(what: &str, found: &[String]) {
    assert!(found.is_empty(), "{what}:\n{}", found.join("\n"));
}

/// The floor of each top-level module: a file may import its own floor's neighbours (where
/// `siblings_apart` does not forbid it) and every floor below, never one above.
const FLOORS: &[(&str, u8)] = &[
    ("config", 0),
    ("telemetry", 0),
    ("domain", 1),
    ("store", 2),
    ("providers", 2),
    ("service", 3),
    ("wire", 4),
    ("http", 5),
    ("jobs", 5),
    ("cli", 5),
    ("app", 6),
];

/// Neighbours on one floor that know nothing of each other.
const SIBLINGS_APART: &[(&str, &str)] = &[
    ("store", "providers"),
    ("providers", "store"),
    ("http", "jobs"),
    ("http", "cli"),
    ("jobs", "http"),
    ("jobs", "cli"),
    ("cli", "http"),
];

/// The top-level module a source file belongs to (`src/store/keys.rs` → `store`).
fn module_of(file: &str) -> &str {
    let rest = file.strip_prefix("src/").unwrap_or(file);
    let first = rest.split('/').next().unwrap_or(rest);
    first.strip_suffix(".rs").unwrap_or(first)
}

fn floor(module: &str) -> Option<u8> {
    FLOORS.iter().find(|(m, _)| *m == module).map(|(_, f)| *f)
}

/// The top-level modules a line names through `crate::`.
fn named_modules(line: &str) -> Vec<&str> {
    line.match_indices("crate::")
        .map(|(i, _)| {
            let after = &line[i + "crate::".len()..];
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            &after[..end]
        })
        .filter(|m| floor(m).is_some())
        .collect()
}

/// Every import that climbs a floor or crosses to a neighbour it must not know.
fn climbing_imports() -> Vec<String> {
    let mut found = Vec::new();
    for (name, text) in sources() {
        let own = module_of(&name);
        let Some(own_floor) = floor(own) else {
            continue;
        };
        for (n, line) in product_lines(&name, &text) {
            for named in named_modules(&line) {
                let climbs = floor(named).is_some_and(|f| f > own_floor);
                let apart = SIBLINGS_APART.contains(&(own, named));
                if climbs || apart {
                    found.push(format!("{name}:{n}: {own} → {named}: {}", line.trim()));
                }
            }
        }
    }
    found
}

#[test]
fn no_file_imports_a_layer_above_its_own() {
    assert_none(
        "imports that climb the floors or cross to a neighbour",
        &climbing_imports(),
    );
    // The scan reads imports: it sees the application naming the layers below it.
    let mut seen = Vec::new();
    for (name, text) in sources().iter().filter(|(n, _)| n.starts_with("src/app/")) {
        for (_, line) in product_lines(name, text) {
            seen.extend(named_modules(&line).into_iter().map(str::to_owned));
        }
    }
    for below in [
        "config", "domain", "store", "service", "http", "jobs", "cli",
    ] {
        assert!(
            seen.iter().any(|m| m == below),
            "the scan missed app → {below}"
        );
    }
}

#[test]
fn the_configuration_imports_nothing_of_the_product() {
    let config: Vec<(String, String)> = sources()
        .into_iter()
        .filter(|(n, _)| module_of(n) == "config")
        .collect();
    assert!(config.len() >= 2, "the scan found the configuration");
    let found: Vec<String> = config
        .iter()
        .flat_map(|(name, text)| {
            product_lines(name, text)
                .into_iter()
                .filter(|(_, line)| line.contains("crate::") || line.contains("super::super"))
                .map(move |(n, line)| format!("{name}:{n}: {}", line.trim()))
        })
        .collect();
    assert_none("the configuration importing the product", &found);
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
    assert_none("SQL outside src/store", &offending(&["src/store"], &sql));
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
    assert_none("actix outside src/http", &found);
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
    assert_none("the store used from src/http", &found);
}

#[test]
fn roles_are_named_only_by_the_domain() {
    // `owner` is also the first path segment of a model identifier in the /v1 document.
    let found: Vec<String> = offending(
        &["src/domain"],
        &["\"primary-owner\"", "\"owner\"", "\"member\""],
    )
    .into_iter()
    .filter(|l| !(l.starts_with("src/http/v1/openapi/") && l.contains("\"owner\" =>")))
    .collect();
    assert_none("role names outside src/domain", &found);
    let domain = offending(&[], &["\"primary-owner\""]);
    assert!(domain.iter().any(|l| l.starts_with("src/domain/")));
}

#[test]
fn response_shapes_are_built_only_by_the_wire() {
    // The OpenAPI documents build schemas, which are JSON by nature; tests build what they send.
    let allowed = [
        "src/wire",
        "src/http/openapi.rs",
        "src/http/v1/openapi",
        "src/http/api/openapi.rs",
        "src/http/api/openapi",
    ];
    assert_none(
        "json! outside src/wire and the documents",
        &offending(&allowed, &["json!("]),
    );
    assert!(
        offending(&[], &["json!("])
            .iter()
            .any(|l| l.starts_with("src/wire/"))
    );
}

#[test]
fn what_happened_is_recorded_through_one_door() {
    let doors = [
        ("activity::append(", "an activity row"),
        ("insert_event(", "a webhook event"),
    ];
    for (needle, what) in doors {
        let found: Vec<String> = offending(&["src/service/changes", "src/store"], &[needle]);
        assert_none(&format!("{what} written outside service::changes"), &found);
        let door = offending(&[], &[needle]);
        assert!(
            door.iter().any(|l| l.starts_with("src/service/changes/")),
            "the scan did not see {needle} in service::changes"
        );
    }
}

#[test]
fn every_document_a_comment_cites_is_in_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cited = Vec::new();
    for (name, text) in sources() {
        for (n, line) in text.lines().enumerate() {
            let words = line.split(|c: char| !(c.is_ascii_alphanumeric() || "_./-".contains(c)));
            for word in words.filter(|w| w.ends_with(".md")) {
                cited.push((format!("{name}:{}", n + 1), word.to_owned()));
            }
        }
    }
    assert!(
        cited.iter().any(|(_, doc)| doc == "docs/decisions.md"),
        "the scan found the citations"
    );
    let missing: Vec<String> = cited
        .into_iter()
        .filter(|(_, doc)| !root.join(doc).is_file())
        .map(|(at, doc)| format!("{at}: {doc}"))
        .collect();
    assert_none("documents cited but not in the repository", &missing);
}
