//! PostgreSQL into SQLite: into an empty SQLite store, or into a new SQLite file, the backup of
//! a PostgreSQL store that `migrate-store --from FILE` restores.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{CopyError, CopyReport, copy};
use crate::store::engine::Engine;
use crate::store::{Db, Store, StoreOptions};

/// Copies the PostgreSQL store `source` into the empty SQLite store `target` (just created
/// at this binary's schema): all of it, or nothing.
pub fn postgres_to_sqlite(source: &mut Db, target: &mut Db) -> Result<CopyReport, CopyError> {
    if source.engine() != Engine::Postgres || target.engine() != Engine::Sqlite {
        return Err(CopyError::Engines {
            from: "PostgreSQL",
            to: "SQLite",
        });
    }
    copy(source, target)
}

/// Writes `file`, which must not exist, as a SQLite store holding everything of the PostgreSQL
/// store `source`, read in one snapshot: the file `tidegate backup` writes on SQLite, which
/// `tidegate check FILE` checks and `migrate-store --from FILE` restores.
///
/// The store is created in a work directory (see [`write_beside`]), filled in one transaction,
/// switched from WAL to a rollback journal (one self-contained file, as `VACUUM INTO` writes),
/// closed, and then moved to `file`.
pub fn postgres_to_sqlite_file(
    source: &mut Db,
    file: &Path,
    busy_timeout: Duration,
) -> Result<CopyReport, CopyError> {
    // One connection: nothing else has the file open when its journal mode is switched.
    let options = StoreOptions::single(busy_timeout);
    write_beside(file, |work| {
        let store = Store::open(work, options)?;
        let mut target = store.db()?;
        let report = postgres_to_sqlite(source, &mut target)?;
        let mode: String = target
            .read()
            .query_one("PRAGMA journal_mode = DELETE", &[], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("delete") {
            return Err(CopyError::Io {
                path: work.to_owned(),
                source: std::io::Error::other(format!("the copy stayed in journal mode {mode}")),
            });
        }
        drop(target);
        let database = store.path().to_owned();
        drop(store);
        Ok((report, database))
    })
}

/// Writes `file`, which must not exist, through a work directory of its own beside it (so that
/// the move is a rename within one file system): `write` makes the database in the directory
/// it is given and returns what it reports and the database's path, which is synced and then
/// renamed to `file`. So `file` is whole or absent: a failure removes the directory and leaves
/// `file` unwritten; a process killed meanwhile leaves the directory, and the next backup to
/// `file` (or `tidegate check FILE`) removes it.
pub fn write_beside<T>(
    file: &Path,
    write: impl FnOnce(&Path) -> Result<(T, PathBuf), CopyError>,
) -> Result<T, CopyError> {
    if file.exists() {
        return Err(CopyError::Exists(file.to_owned()));
    }
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| CopyError::Io { path, source }
    };
    let name = file.file_name().ok_or_else(|| CopyError::Io {
        path: file.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
    })?;
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    remove_unfinished(file);
    let work = parent.join(format!(
        ".{}.{}.partial",
        name.to_string_lossy(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir(&work).map_err(io(parent))?;
    // Held while the copy runs: a directory whose lock nobody holds is a dead backup's.
    let lock = std::fs::File::create(work.join(LOCK)).map_err(io(&work))?;
    lock.lock().map_err(io(&work))?;
    let written = (|| {
        let (report, database) = write(&work)?;
        std::fs::File::open(&database)
            .and_then(|f| f.sync_all())
            .map_err(io(&database))?;
        // Checked again: the copy took a while, and a rename would replace the file.
        if file.exists() {
            return Err(CopyError::Exists(file.to_owned()));
        }
        std::fs::rename(&database, file).map_err(io(file))?;
        Ok(report)
    })();
    if let Err(e) = std::fs::remove_dir_all(&work) {
        tracing::warn!(path = %work.display(), error = %e, "the backup's work directory is left");
    }
    drop(lock);
    written
}

/// The lock file inside a backup's work directory.
const LOCK: &str = "lock";

/// Removes the work directories that backups to `file` left when they were killed (those whose
/// lock no process holds); a backup still running keeps its own. Returns what was removed.
pub fn remove_unfinished(file: &Path) -> Vec<std::path::PathBuf> {
    let (Some(name), parent) = (file.file_name(), file.parent()) else {
        return Vec::new();
    };
    let parent = parent
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let prefix = format!(".{}.", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let entry_name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if !entry_name.starts_with(&prefix) || !entry_name.ends_with(".partial") || !path.is_dir() {
            continue;
        }
        // No lock file: killed before it could take it. Otherwise it must be free.
        let abandoned = match std::fs::File::open(path.join(LOCK)) {
            Ok(lock) => lock.try_lock().is_ok(),
            Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        };
        if abandoned && std::fs::remove_dir_all(&path).is_ok() {
            removed.push(path);
        }
    }
    removed
}
