//! Schema migrations compiled into the binary, applied in order, tracked by `PRAGMA user_version`.

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

pub const MIGRATIONS: &[&str] = &[
    include_str!("sql/0001_foundation.sql"),
    include_str!("sql/0002_lifecycle.sql"),
    include_str!("sql/0003_sessions.sql"),
    include_str!("sql/0004_thresholds.sql"),
    include_str!("sql/0005_generations.sql"),
    include_str!("sql/0006_generation_inputs.sql"),
    include_str!("sql/0007_log_index_tags.sql"),
    include_str!("sql/0008_webhooks.sql"),
];

pub fn schema_version(conn: &Connection) -> Result<usize, StoreError> {
    let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    Ok(usize::try_from(v).unwrap_or(0))
}

/// Applies every pending step, one transaction each. `BEGIN IMMEDIATE` and a re-read of the
/// version inside it let a CLI command and the server start on the same file at once.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version = schema_version(&tx)?;
        if version > MIGRATIONS.len() {
            return Err(StoreError::SchemaTooNew {
                found: version,
                supported: MIGRATIONS.len(),
            });
        }
        let Some(step) = MIGRATIONS.get(version) else {
            return Ok(());
        };
        tx.execute_batch(step)?;
        tx.pragma_update(
            None,
            "user_version",
            i64::try_from(version + 1).unwrap_or(i64::MAX),
        )?;
        tx.commit()?;
        tracing::info!(version = version + 1, "applied schema migration");
    }
}
