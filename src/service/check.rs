//! `tidegate check`: integrity, schema version, credit ledger and activity chain of a store.

use serde::Serialize;

use super::ServiceError;
use super::credits::ledger_mismatches;
use crate::domain::log::ChainBreak;
use crate::store::Db;
use crate::store::activity::verify;
use crate::store::check as store;
use crate::store::generations::referenced_files;
use crate::store::media::MediaStore;

/// Whether the store answers, for the readiness probe.
pub fn ready(db: &mut Db) -> Result<(), ServiceError> {
    Ok(store::probe(&db.read())?)
}

#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub integrity: Vec<String>,
    pub schema_version: usize,
    pub expected_schema_version: usize,
    pub ledger_mismatches: Vec<String>,
    pub activity_rows: i64,
    pub activity_break: Option<String>,
    /// Files the generations name, checked on disk (`None`: no media directory to check).
    pub media_files: Option<usize>,
    /// `<generation id>/<file>` of each named file that is not there.
    pub media_missing: Vec<String>,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.integrity == ["ok"]
            && self.schema_version == self.expected_schema_version
            && self.ledger_mismatches.is_empty()
            && self.activity_break.is_none()
            && self.media_missing.is_empty()
    }

    pub fn lines(&self) -> Vec<String> {
        let mark = |ok: bool| if ok { "ok  " } else { "FAIL" };
        let mut out = vec![
            format!(
                "{} integrity: {}",
                mark(self.integrity == ["ok"]),
                self.integrity.join("; ")
            ),
            format!(
                "{} schema version {} (this binary: {})",
                mark(self.schema_version == self.expected_schema_version),
                self.schema_version,
                self.expected_schema_version
            ),
        ];
        if self.ledger_mismatches.is_empty() {
            out.push(format!(
                "{} credit balances equal their ledgers and every finished reservation is settled",
                mark(true)
            ));
        }
        for m in &self.ledger_mismatches {
            out.push(format!("{} {m}", mark(false)));
        }
        out.push(match &self.activity_break {
            None => format!(
                "{} activity chain intact ({} rows)",
                mark(true),
                self.activity_rows
            ),
            Some(b) => format!("{} activity chain broken: {b}", mark(false)),
        });
        match self.media_files {
            None => out.push(format!(
                "{} media not checked: no media directory beside the store",
                mark(true)
            )),
            Some(n) if self.media_missing.is_empty() => out.push(format!(
                "{} every generated file is there ({n} files)",
                mark(true)
            )),
            Some(n) => {
                out.push(format!(
                    "{} {} of {n} generated files are missing",
                    mark(false),
                    self.media_missing.len()
                ));
                for missing in &self.media_missing {
                    out.push(format!("{} missing media/{missing}", mark(false)));
                }
            }
        }
        out
    }
}

pub fn describe_break(b: &ChainBreak) -> String {
    match b {
        ChainBreak::Edited { id } => format!("row {id} was changed after it was written"),
        ChainBreak::Unlinked { id } => {
            format!("row {id} does not follow the row before it (a row was deleted or inserted)")
        }
    }
}

/// The SQLite schema version that added generations (and so reservations); PostgreSQL's
/// first schema has them.
const GENERATIONS_SCHEMA: usize = 5;

/// The checks, and with `media` the files the generations name: each must be there.
pub fn run_checks(db: &mut Db, media: Option<&MediaStore>) -> Result<CheckReport, ServiceError> {
    let tx = db.read();
    let integrity = store::integrity(&tx)?;
    let version = store::schema_version(&tx)?;
    let mut ledger: Vec<String> = ledger_mismatches(&tx)?
        .into_iter()
        .map(|(id, balance, sum)| {
            format!("account {id}: balance {balance} but ledger sums to {sum}")
        })
        .collect();
    if tx.engine() == crate::store::Engine::Postgres || version >= GENERATIONS_SCHEMA {
        ledger.extend(
            store::unsettled_reservations(&tx)?
                .into_iter()
                .map(|id| format!("reservation {id} is neither settled nor in flight")),
        );
    }
    let (rows, chain) = verify(&tx)?;
    let has_generations =
        tx.engine() == crate::store::Engine::Postgres || version >= GENERATIONS_SCHEMA;
    let (media_files, media_missing) = match media.filter(|_| has_generations) {
        None => (None, Vec::new()),
        Some(media) => {
            let mut count = 0;
            let mut missing = Vec::new();
            for (id, names) in referenced_files(&tx)? {
                for name in names {
                    count += 1;
                    if media.file(&id, &name).is_none() {
                        missing.push(format!("{id}/{name}"));
                    }
                }
            }
            (Some(count), missing)
        }
    };
    Ok(CheckReport {
        media_files,
        media_missing,
        integrity,
        schema_version: version,
        expected_schema_version: store::current_schema_version(tx.engine()),
        ledger_mismatches: ledger,
        activity_rows: rows,
        activity_break: chain.as_ref().map(describe_break),
    })
}
