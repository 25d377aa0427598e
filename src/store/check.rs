//! What `tidegate check` reads of a store: its integrity, schema version, and the reservations
//! the ledger left unsettled.

use super::engine::Engine;
use super::{StoreError, Tx};

/// A read of a real table: the database is open, migrated and answering.
pub fn probe(tx: &Tx<'_>) -> Result<(), StoreError> {
    // One row at most: readiness probes come often, and counting a table reads all of it.
    tx.query_one("SELECT EXISTS (SELECT 1 FROM accounts)", &[], |r| {
        r.get::<i64>(0)
    })?;
    Ok(())
}

/// SQLite's own check of every page and index ("ok" when sound). PostgreSQL keeps its
/// structures sound itself and has no such check; its answer is "ok".
pub fn integrity(tx: &Tx<'_>) -> Result<Vec<String>, StoreError> {
    match tx.engine() {
        Engine::Sqlite => tx.query_all("PRAGMA integrity_check", &[], |r| r.get(0)),
        Engine::Postgres => Ok(vec!["ok".to_owned()]),
    }
}

pub fn schema_version(tx: &Tx<'_>) -> Result<usize, StoreError> {
    super::migrations::schema_version(tx)
}

/// The schema version this binary migrates the store's engine to.
pub fn current_schema_version(engine: Engine) -> usize {
    super::migrations::steps(engine).len()
}

/// Reservations with no charge or refund whose generation is not pending or processing.
pub fn unsettled_reservations(tx: &Tx<'_>) -> Result<Vec<String>, StoreError> {
    tx.query_all(
        "SELECT r.reservation_id FROM credit_ledger r
         WHERE r.kind = 'reserve'
           AND NOT EXISTS (SELECT 1 FROM credit_ledger s WHERE s.reservation_id = r.reservation_id
                           AND s.kind IN ('charge', 'refund'))
           AND NOT EXISTS (SELECT 1 FROM generations g WHERE g.id = r.reservation_id
                           AND g.status IN ('pending', 'processing'))
         ORDER BY r.id",
        &[],
        |r| r.get(0),
    )
}
