//! Every table of a store copied, row for row and byte for byte, into an empty store of the
//! other engine: SQLite into PostgreSQL (`tidegate migrate-store`, moving an install) and
//! PostgreSQL into a new SQLite file (`tidegate backup` of a PostgreSQL store, which
//! `migrate-store --from FILE` restores).
//!
//! The source is read inside one snapshot, so a server may keep running on it; the target is
//! written inside one write transaction, so a failure leaves it as it was. Ids are copied as
//! they are (the activity chain covers them), the three tables whose SQLite `rowid` the queries
//! use have it copied into (or from) PostgreSQL's `rowid` column, and on PostgreSQL every
//! identity is then advanced past the largest id copied (SQLite picks the next rowid itself).
//!
//! The target schema's triggers would add to a verbatim copy (a default low-balance threshold
//! for every account inserted). On PostgreSQL the copy runs with `session_replication_role =
//! replica`, which turns them off (foreign-key checks included) and needs a superuser. Without
//! that right, and always on SQLite (which has no such switch), the triggers stay on and the
//! thresholds they add are removed before the source's are copied. Either way the key
//! generation is copied like any row after the keys, tables go parents first (SQLite checks
//! foreign keys on every statement), and the keys' replacement links are set once every key is
//! in.

mod plan;
mod rows;
mod tables;
mod tables_ops;
mod to_postgres;
mod to_sqlite;

use std::path::PathBuf;
use std::time::Instant;

use super::engine::Engine;
use super::migrations;
use super::{Db, StoreError, Tx};

use plan::plan;
use rows::copy_table;

pub use to_postgres::{describe_postgres, sqlite_to_postgres};
pub use to_sqlite::{postgres_to_sqlite_file, remove_unfinished, write_beside};

/// How the schema's triggers were kept out of the copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Triggers {
    /// `session_replication_role = replica` for the copy's transaction.
    Off,
    /// The role could not be set (the reason; on SQLite, that it has none): the thresholds the
    /// account trigger added were removed before the source's were copied.
    On(String),
}

/// What a copy did.
#[derive(Debug)]
pub struct CopyReport {
    /// Rows copied, per table, in the order they were copied.
    pub tables: Vec<(&'static str, u64)>,
    pub triggers: Triggers,
    pub elapsed: std::time::Duration,
}

impl CopyReport {
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the source must be a {from} store and the target a {to} one")]
    Engines {
        from: &'static str,
        to: &'static str,
    },
    #[error("the source store is at schema version {found}, this binary's is {expected}: {advice}")]
    SourceSchema {
        found: usize,
        expected: usize,
        advice: &'static str,
    },
    #[error(
        "the target database is not empty ({table} has rows): migrate-store copies into an \
         empty database only; nothing was written"
    )]
    NotEmpty { table: &'static str },
    #[error(
        "the source has a {0} that this version of tidegate does not copy; nothing was written"
    )]
    Unknown(String),
    #[error("{table}: {copied} rows copied but the target has {found}")]
    Count {
        table: &'static str,
        copied: u64,
        found: i64,
    },
    #[error("{} already exists", .0.display())]
    Exists(PathBuf),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Copies every table of `source` into the empty store `target`, both at this binary's schema
/// for their engine, in one snapshot and one write transaction.
fn copy(source: &mut Db, target: &mut Db) -> Result<CopyReport, CopyError> {
    let started = Instant::now();
    let src = source.snapshot()?;
    let found = migrations::schema_version(&src)?;
    let expected = migrations::steps(src.engine()).len();
    if found != expected {
        return Err(CopyError::SourceSchema {
            found,
            expected,
            advice: if found < expected {
                "start this version of tidegate on it once (or run `tidegate accounts list` \
                 with it configured) to migrate it first"
            } else {
                "copy it with the version of tidegate that wrote it"
            },
        });
    }
    let plans = plan(&src)?;
    let dst = target.write()?;
    // Tables copied over what the target holds (its install secret, the one-row key
    // generation) may have rows already; every other one must be empty.
    for plan in plans.iter().filter(|p| p.table.on_conflict.is_empty()) {
        let any: bool = dst.query_one(
            &format!("SELECT EXISTS (SELECT 1 FROM {})", plan.table.name),
            &[],
            |r| r.get(0),
        )?;
        if any {
            return Err(CopyError::NotEmpty {
                table: plan.table.name,
            });
        }
    }
    let triggers = triggers_off(&dst)?;
    let mut tables = Vec::with_capacity(plans.len());
    for plan in &plans {
        if plan.table.name == "low_balance_thresholds" && triggers != Triggers::Off {
            // The thresholds the account trigger added; the target had none before.
            dst.execute("DELETE FROM low_balance_thresholds", &[])?;
        }
        let copied = copy_table(&src, &dst, plan)?;
        tables.push((plan.table.name, copied));
    }
    if dst.engine() == Engine::Postgres {
        // Every identity column of the schema (SQLite's `INTEGER PRIMARY KEY`s and the
        // explicit `rowid`s), advanced past the largest value copied.
        let identities: Vec<(String, String)> = dst.query_all(
            "SELECT c.relname, a.attname FROM pg_attribute a
             JOIN pg_class c ON c.oid = a.attrelid
             WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
               AND c.relkind = 'r' AND a.attidentity <> '' AND NOT a.attisdropped",
            &[],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        for (name, column) in &identities {
            dst.query_one(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{name}', '{column}'), \
                     COALESCE(max({column}), 0) + 1, false) FROM {name}"
                ),
                &[],
                |r| r.get::<i64>(0),
            )?;
        }
    }
    for &(name, copied) in &tables {
        if name == "settings" {
            // It may keep an install secret of its own besides the source's.
            continue;
        }
        let found: i64 =
            dst.query_one(&format!("SELECT count(*) FROM {name}"), &[], |r| r.get(0))?;
        if u64::try_from(found).ok() != Some(copied) {
            return Err(CopyError::Count {
                table: name,
                copied,
                found,
            });
        }
    }
    dst.commit()?;
    drop(src);
    Ok(CopyReport {
        tables,
        triggers,
        elapsed: started.elapsed(),
    })
}

/// Turns the target's triggers off for the rest of the transaction if the role may; a refusal
/// is rolled back to a savepoint, so the transaction goes on with them on. SQLite has no such
/// switch.
fn triggers_off(dst: &Tx<'_>) -> Result<Triggers, StoreError> {
    if dst.engine() == Engine::Sqlite {
        return Ok(Triggers::On(
            "SQLite has no session_replication_role".into(),
        ));
    }
    dst.batch("SAVEPOINT tidegate_copy")?;
    match dst.batch("SET LOCAL session_replication_role = replica") {
        Ok(()) => {
            dst.batch("RELEASE SAVEPOINT tidegate_copy")?;
            Ok(Triggers::Off)
        }
        Err(e) => {
            dst.batch("ROLLBACK TO SAVEPOINT tidegate_copy; RELEASE SAVEPOINT tidegate_copy")?;
            Ok(Triggers::On(e.to_string()))
        }
    }
}
