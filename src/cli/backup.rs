//! `tidegate backup` and `check`: a consistent copy of the store (with its
//! generated media, if asked), and the checks that a store or a copy is whole.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{CliError, Context, open_store, print_json};
use crate::config::Backend;
use crate::service::MediaStore;
use crate::service::check::run_checks;
use crate::store::copy::{postgres_to_sqlite_file, remove_unfinished, write_beside};
use crate::store::{Db, backup_to, open_read_only};
use crate::wire::admin::{BackupOut, CopiedOut, MediaOut};

/// Where a backup goes: one SQLite file, or a data directory with the media beside it.
pub enum Target {
    File(PathBuf),
    WithMedia(PathBuf),
}

/// A consistent copy of the store in the SQLite file FILE, whichever the backend: SQLite's
/// `VACUUM INTO`, or a PostgreSQL store read in one snapshot and copied into a new SQLite store
/// (`store::copy`). Either is written in a work directory beside FILE and renamed to it when
/// whole, so a backup that is killed never leaves a partial FILE. Either file is checked by
/// `tidegate check FILE` and restored by
/// `migrate-store --from FILE` (PostgreSQL) or by serving it as `tidegate.db` (SQLite).
/// `--with-media DIR` writes DIR/tidegate.db and then copies the generated media into
/// DIR/media/, so that DIR is a complete data directory; the database is copied first, so
/// every file it names was there when the copy of the media began (a file purged in between
/// is reported by `check`).
pub fn backup(ctx: &Context, target: Target) -> Result<(), CliError> {
    let (file, media_dir) = match target {
        Target::File(file) => (file, None),
        Target::WithMedia(dir) => {
            let empty = std::fs::read_dir(&dir).map_or(true, |mut d| d.next().is_none());
            if dir.exists() && !(dir.is_dir() && empty) {
                return Err(CliError::new(format!(
                    "{} already exists and is not an empty directory",
                    dir.display()
                )));
            }
            (dir.join("tidegate.db"), Some(dir))
        }
    };
    if file.exists() {
        return Err(CliError::new(format!("{} already exists", file.display())));
    }
    let store = open_store(&ctx.config)?;
    if let Some(dir) = &media_dir {
        std::fs::create_dir_all(dir.join("media"))
            .map_err(|e| CliError::new(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut db = store.db()?;
    let copied = if ctx.config.storage.backend == Backend::Sqlite {
        write_beside(&file, |work| {
            let copy = work.join("tidegate.db");
            backup_to(&db.read(), &copy)?;
            Ok(((), copy))
        })?;
        None
    } else {
        let busy_timeout = Duration::from_millis(ctx.config.storage.busy_timeout_ms);
        Some(postgres_to_sqlite_file(&mut db, &file, busy_timeout)?)
    };
    let media = match &media_dir {
        Some(dir) => {
            let (files, bytes) = MediaStore::new(&ctx.config.storage.data_dir)
                .copy_to(dir)
                .map_err(|e| {
                    CliError::new(format!("copying the media into {}: {e}", dir.display()))
                })?;
            Some(MediaOut { files, bytes })
        }
        None => None,
    };
    if ctx.json {
        print_json(&BackupOut {
            backup: file,
            copied: copied.as_ref().map(CopiedOut::of),
            media,
        });
        return Ok(());
    }
    match &copied {
        None => out!("Wrote a consistent copy of the store to {}", file.display()),
        Some(report) => out!(
            "Wrote a consistent copy of the PostgreSQL store to {} (a SQLite file): {} rows \
             in {:.2} s",
            file.display(),
            report.rows(),
            report.elapsed.as_secs_f64()
        ),
    }
    match (&media, &media_dir) {
        (Some(m), Some(dir)) => out!(
            "Copied {} generated media files ({} bytes) into {}; {} is a complete data \
             directory (`tidegate check {}` verifies it)",
            m.files,
            m.bytes,
            dir.join("media").display(),
            dir.display(),
            file.display()
        ),
        _ => out!(
            "Generated media ({}) are not in this file; `tidegate backup --with-media DIR` \
             copies them too",
            super::absolute(&ctx.config.storage.data_dir.join("media")).display()
        ),
    }
    Ok(())
}

/// The store a check reads: FILE (a SQLite file), else the configured one; how to name it; and
/// the media directory beside it, if there is one to check.
pub(super) fn store_to_check(
    ctx: &Context,
    file: Option<PathBuf>,
) -> Result<(Db, String, Option<MediaStore>), CliError> {
    let configured_media = || Some(MediaStore::new(&ctx.config.storage.data_dir));
    if file.is_none() && ctx.config.storage.backend == Backend::Postgres {
        let db = open_store(&ctx.config)?.db()?;
        return Ok((db, "the PostgreSQL store".into(), configured_media()));
    }
    let (path, media) = match file {
        Some(file) => {
            // A backup written with --with-media has its media beside it; a plain file has none.
            let beside = MediaStore::new(file.parent().unwrap_or(Path::new(".")));
            let media = beside.exists().then_some(beside);
            (file, media)
        }
        None => {
            super::require_store(&ctx.config)?;
            (ctx.config.database_path(), configured_media())
        }
    };
    let db = open_sqlite_file(&path)?;
    Ok((db, path.display().to_string(), media))
}

/// A SQLite store file given on the command line, opened for reading only; a missing one is
/// named as such rather than as a database error.
pub(super) fn open_sqlite_file(path: &std::path::Path) -> Result<Db, CliError> {
    if !path.is_file() {
        return Err(CliError::new(format!(
            "no such file: {} (give the path of a Tidegate store or backup file)",
            super::absolute(path).display()
        )));
    }
    open_read_only(path).map_err(|e| CliError::new(format!("cannot open {}: {e}", path.display())))
}

pub fn check(ctx: &Context, file: Option<PathBuf>) -> Result<(), CliError> {
    // What a killed backup to FILE left beside it goes; it is no part of the copy.
    let unfinished = file.as_deref().map(remove_unfinished).unwrap_or_default();
    if !ctx.json {
        for path in &unfinished {
            out!(
                "Removed {}, left by a backup that did not finish",
                path.display()
            );
        }
    }
    let (mut db, name, media) = store_to_check(ctx, file)?;
    let report = run_checks(&mut db, media.as_ref())?;
    if ctx.json {
        print_json(&serde_json::to_value(&report)?);
    } else {
        for line in report.lines() {
            out!("{line}");
        }
    }
    if report.ok() {
        Ok(())
    } else {
        Err(CliError::new(format!("{name} failed its checks")))
    }
}
