//! A backup, of a SQLite or a PostgreSQL store, is written in a work directory beside its file
//! and moved into place whole; one killed half-way leaves that directory, never a partial file,
//! and the next backup to the same file and `tidegate check FILE` remove it, while a backup still
//! running keeps its own.

use crate::helpers::spawn_app;

/// A work directory as a backup to `file` makes it, with its lock file.
fn leftover(dir: &std::path::Path, file: &str, id: &str) -> std::path::PathBuf {
    let work = dir.join(format!(".{file}.{id}.partial"));
    std::fs::create_dir(&work).unwrap();
    std::fs::write(work.join("tidegate.db"), b"half a copy").unwrap();
    std::fs::File::create(work.join("lock")).unwrap();
    work
}

backend_tests!(what_a_killed_backup_left_is_removed_by_the_next_backup_and_by_check);
async fn what_a_killed_backup_left_is_removed_by_the_next_backup_and_by_check() {
    let app = spawn_app().await;
    let out_dir = tempfile::tempdir().unwrap();
    let dead = leftover(
        out_dir.path(),
        "nightly.db",
        "0123456789abcdef0123456789abcdef",
    );
    let target = out_dir.path().join("nightly.db");
    let backup = app.cli(&["backup", target.to_str().unwrap()]);
    assert_eq!(backup.status, 0, "{}", backup.stderr);
    assert!(!dead.exists(), "the next backup removed it");
    assert!(target.is_file());
    let left: Vec<_> = std::fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["nightly.db"], "its own work directory is gone too");

    // A backup of the same name still running (its lock held) is left alone; a dead
    // one is removed by check, which says so.
    let running = leftover(
        out_dir.path(),
        "nightly.db",
        "11111111111111111111111111111111",
    );
    let held = std::fs::File::open(running.join("lock")).unwrap();
    held.lock().unwrap();
    let dead = leftover(
        out_dir.path(),
        "nightly.db",
        "22222222222222222222222222222222",
    );
    let check = app.cli(&["check", target.to_str().unwrap()]);
    assert_eq!(check.status, 0, "{}{}", check.stdout, check.stderr);
    assert!(
        check
            .stdout
            .contains("left by a backup that did not finish"),
        "{}",
        check.stdout
    );
    assert!(!dead.exists());
    assert!(running.exists(), "a running backup keeps its directory");
    drop(held);
}
