//! Leaked keys (docs/keys.md, "Leaked keys"): `tidegate keys scan` finds this install's keys in
//! files, directories and git history, and nothing that only looks like one; `--revoke` revokes
//! those that work, each with its activity entry and `apikey.leaked`; the exit status says
//! whether a working key was found; a full key is never printed.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};

/// The key with its last character changed: its checksum fails.
fn look_alike(key: &str) -> String {
    let mut changed = key.to_owned();
    let last = changed.pop().unwrap();
    changed.push(if last == 'x' { 'y' } else { 'x' });
    changed
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the git command");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn status(app: &TestApp, id: &str) -> Value {
    app.cli_json(&["keys", "show", id])["status"].clone()
}

fn scan(app: &TestApp, args: &[&str]) -> (i32, Vec<Value>, String) {
    let mut all = vec!["keys", "scan"];
    all.extend(args);
    all.push("--json");
    let out = app.cli(&all);
    let found: Vec<Value> = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", out.stdout, out.stderr));
    (out.status, found, out.stderr)
}

backend_tests!(keys_scan_finds_keys_in_files_and_history_and_revokes_those_that_work);
async fn keys_scan_finds_keys_in_files_and_history_and_revokes_those_that_work() {
    let app = spawn_app().await;
    let (active_id, active) = app.create_key(&[]);
    let (revoked_id, revoked) = app.create_key(&[]);
    app.cli_json(&["keys", "revoke", &revoked_id]);
    let (old_id, old) = app.create_key(&[]);
    let (gone_id, gone) = app.create_key(&[]);
    app.cli_json(&["keys", "delete", &gone_id]);

    let tree = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tree.path().join("config")).unwrap();
    std::fs::create_dir_all(tree.path().join("src")).unwrap();
    std::fs::write(
        tree.path().join("config/.env"),
        format!("# keys\nAPI_KEY={active}\n"),
    )
    .unwrap();
    std::fs::write(
        tree.path().join("src/app.js"),
        format!(
            "const a = \"{}\";\nconst b = \"{revoked}\";\nconst c = \"{gone}\";\n",
            look_alike(&active)
        ),
    )
    .unwrap();

    // Without --revoke: reported, nothing changed, exit 1 for the key that works.
    let dir = tree.path().to_str().unwrap();
    let (code, found, stderr) = scan(&app, &[dir]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("1 place(s) hold a key that works"),
        "{stderr}"
    );
    let by_status =
        |status: &str| -> Vec<&Value> { found.iter().filter(|f| f["status"] == status).collect() };
    assert_eq!(found.len(), 3, "the look-alike is no key: {found:?}");
    let env = by_status("active")[0];
    assert_eq!(env["key_id"], active_id.as_str());
    assert_eq!(env["account_id"], app.account_id.as_str());
    assert_eq!(env["line"], 2);
    assert!(env["location"].as_str().unwrap().ends_with("config/.env:2"));
    assert_eq!(env["prefix"], &active[..9]);
    assert_eq!(by_status("revoked")[0]["key_id"], revoked_id.as_str());
    assert_eq!(by_status("unknown")[0]["key_id"], Value::Null);
    assert_eq!(status(&app, &active_id), "active");
    let text = app.cli(&["keys", "scan", dir]);
    assert_eq!(text.status, 1);
    for key in [&active, &revoked, &gone] {
        assert!(!text.stdout.contains(key.as_str()) && !text.stderr.contains(key.as_str()));
        assert!(!stderr.contains(key.as_str()));
    }
    assert!(text.stdout.contains("config/.env:2"), "{}", text.stdout);

    // A key committed and removed again is found in the history only.
    let repo = tempfile::tempdir().unwrap();
    git(repo.path(), &["init", "-q"]);
    std::fs::write(repo.path().join("settings.py"), format!("KEY = '{old}'\n")).unwrap();
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "-q", "-m", "settings"]);
    std::fs::write(repo.path().join("settings.py"), "KEY = os.environ['KEY']\n").unwrap();
    git(repo.path(), &["commit", "-q", "-am", "no key in the code"]);
    let repo_dir = repo.path().to_str().unwrap();
    let (code, found, _) = scan(&app, &[repo_dir]);
    assert_eq!((code, found.len()), (0, 0), "not in the files");
    let (code, found, _) = scan(&app, &["--git", repo_dir]);
    assert_eq!(code, 1);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["key_id"], old_id.as_str());
    assert_eq!(found[0]["file"], "settings.py");
    assert_eq!(found[0]["line"], 1);
    assert_eq!(found[0]["commit"].as_str().unwrap().len(), 40);

    // --revoke: the working keys are revoked, each once, with its activity entry and notice.
    let (code, found, _) = scan(&app, &["--revoke", dir, "--git", repo_dir]);
    assert_eq!(code, 1, "a working key was found");
    let revoked_now: Vec<&Value> = found.iter().filter(|f| f["action"] == "revoked").collect();
    assert_eq!(revoked_now.len(), 2, "{found:?}");
    assert_eq!(status(&app, &active_id), "revoked");
    assert_eq!(status(&app, &old_id), "revoked");
    assert_eq!(
        app.count(
            "SELECT count(*) FROM activity WHERE action = 'leaked' AND description LIKE '%config/.env:2%'",
            &[]
        ),
        1
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM notices_sent WHERE kind = 'apikey.leaked'",
            &[]
        ),
        2
    );
    let (code, _, _) = scan(&app, &[dir, "--git", repo_dir]);
    assert_eq!(code, 0, "nothing that works is left");
}

#[test]
fn keys_scan_of_a_missing_path_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::helpers::run_binary(dir.path(), &["keys", "scan", "/no/such/place"], &[]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(out.stderr.contains("/no/such/place"), "{}", out.stderr);
}
