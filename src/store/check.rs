//! What `tidegate check` reads of a store: its integrity, schema version, and the reservations
//! the ledger left unsettled.

use super::{StoreError, Tx};

/// A read of a real table: the database is open, migrated and answering.
pub fn probe(tx: &Tx<'_>) -> Result<(), StoreError> {
    // One row at most: readiness probes come often, and counting a table reads all of it.
    tx.sql()
        .query_row("SELECT EXISTS (SELECT 1 FROM accounts)", [], |r| {
            r.get::<_, i64>(0)
        })?;
    Ok(())
}

pub fn integrity(tx: &Tx<'_>) -> Result<Vec<String>, StoreError> {
    let mut stmt = tx.sql().prepare("PRAGMA integrity_check")?;
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn schema_version(tx: &Tx<'_>) -> Result<usize, StoreError> {
    super::migrations::schema_version(tx.sql())
}

/// The schema version this binary migrates to.
pub fn current_schema_version() -> usize {
    super::migrations::MIGRATIONS.len()
}

/// Reservations with no charge or refund whose generation is not pending or processing.
pub fn unsettled_reservations(tx: &Tx<'_>) -> Result<Vec<String>, StoreError> {
    let mut stmt = tx.sql().prepare(
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
