//! `tidegate check`: integrity, schema version, credit ledger and activity chain of a store.

use serde::Serialize;

use super::ServiceError;
use super::credits::ledger_mismatches;
use crate::domain::log::ChainBreak;
use crate::store::Db;
use crate::store::activity::verify;
use crate::store::check as store;

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
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.integrity == ["ok"]
            && self.schema_version == self.expected_schema_version
            && self.ledger_mismatches.is_empty()
            && self.activity_break.is_none()
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

pub fn run_checks(db: &mut Db) -> Result<CheckReport, ServiceError> {
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
    Ok(CheckReport {
        integrity,
        schema_version: version,
        expected_schema_version: store::current_schema_version(tx.engine()),
        ledger_mismatches: ledger,
        activity_rows: rows,
        activity_break: chain.as_ref().map(describe_break),
    })
}
