//! `tidegate check`: integrity, schema version, credit ledger and activity chain of a store.

use rusqlite::Connection;
use serde::Serialize;

use super::ServiceError;
use super::credits::ledger_mismatches;
use crate::store::activity::{ChainBreak, verify};
use crate::store::migrations::{MIGRATIONS, schema_version};

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

/// The schema version that added generations (and so reservations).
const GENERATIONS_SCHEMA: usize = 5;

/// Reservations with no charge or refund whose generation is not pending or processing.
fn unsettled_reservations(conn: &Connection) -> Result<Vec<String>, ServiceError> {
    let mut stmt = conn.prepare(
        "SELECT r.reservation_id FROM credit_ledger r
         WHERE r.kind = 'reserve'
           AND NOT EXISTS (SELECT 1 FROM credit_ledger s WHERE s.reservation_id = r.reservation_id
                           AND s.kind IN ('charge', 'refund'))
           AND NOT EXISTS (SELECT 1 FROM generations g WHERE g.id = r.reservation_id
                           AND g.status IN ('pending', 'processing'))
         ORDER BY r.id",
    )?;
    let ids = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(ids)
}

pub fn run_checks(conn: &Connection) -> Result<CheckReport, ServiceError> {
    let mut stmt = conn.prepare("PRAGMA integrity_check")?;
    let integrity = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let version = schema_version(conn)?;
    let mut ledger: Vec<String> = ledger_mismatches(conn)?
        .into_iter()
        .map(|(id, balance, sum)| {
            format!("account {id}: balance {balance} but ledger sums to {sum}")
        })
        .collect();
    if version >= GENERATIONS_SCHEMA {
        ledger.extend(
            unsettled_reservations(conn)?
                .into_iter()
                .map(|id| format!("reservation {id} is neither settled nor in flight")),
        );
    }
    let (rows, chain) = verify(conn)?;
    Ok(CheckReport {
        integrity,
        schema_version: version,
        expected_schema_version: MIGRATIONS.len(),
        ledger_mismatches: ledger,
        activity_rows: rows,
        activity_break: chain.as_ref().map(describe_break),
    })
}
