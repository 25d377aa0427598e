//! What this source holds of the listed tables and columns, read from its own catalog; a table
//! or column it has that the list does not know stops the copy before anything is written.

use super::CopyError;
use super::tables::{self, Table};
use crate::store::engine::Engine;
use crate::store::{StoreError, Tx};

/// A table as this source has it: the listed columns it has, in the listed order.
pub(super) struct Plan {
    pub(super) table: &'static Table,
    pub(super) columns: Vec<&'static str>,
}

/// The source's tables (the migration record of PostgreSQL left out, and SQLite's own).
fn source_tables(src: &Tx<'_>) -> Result<Vec<String>, StoreError> {
    match src.engine() {
        Engine::Sqlite => src.query_all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            &[],
            |r| r.get(0),
        ),
        // The catalog itself: `information_schema` takes milliseconds a query.
        Engine::Postgres => src.query_all(
            "SELECT CAST(relname AS TEXT) FROM pg_class
             WHERE relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
               AND relkind IN ('r', 'p') AND relname <> 'tidegate_schema'",
            &[],
            |r| r.get(0),
        ),
    }
}

/// The columns of one of the source's tables.
fn source_columns(src: &Tx<'_>, table: &str) -> Result<Vec<String>, StoreError> {
    match src.engine() {
        Engine::Sqlite => src.query_all("SELECT name FROM pragma_table_info(?1)", &[&table], |r| {
            r.get(0)
        }),
        Engine::Postgres => src.query_all(
            "SELECT CAST(a.attname AS TEXT) FROM pg_attribute a
             JOIN pg_class c ON c.oid = a.attrelid
             WHERE c.relnamespace =
                       (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
               AND c.relname = CAST(?1 AS NAME) AND a.attnum > 0 AND NOT a.attisdropped",
            &[&table],
            |r| r.get(0),
        ),
    }
}

/// The tables and columns to copy from this source; an error names one it has that the copy
/// does not know.
pub(super) fn plan(src: &Tx<'_>) -> Result<Vec<Plan>, CopyError> {
    let present = source_tables(src)?;
    if let Some(unknown) = present
        .iter()
        .find(|name| !tables::all().any(|t| t.name == name.as_str()))
    {
        return Err(CopyError::Unknown(format!("table {unknown}")));
    }
    let mut plans = Vec::with_capacity(tables::all().count());
    for table in tables::all() {
        if !present.iter().any(|name| name == table.name) {
            continue;
        }
        let columns = source_columns(src, table.name)?;
        if let Some(unknown) = columns
            .iter()
            .find(|c| !table.columns.contains(&c.as_str()))
        {
            return Err(CopyError::Unknown(format!(
                "column {}.{unknown}",
                table.name
            )));
        }
        plans.push(Plan {
            table,
            columns: table
                .columns
                .iter()
                .copied()
                // `rowid` is SQLite's own, in every table that has no other; PostgreSQL has it
                // as a column where it is listed.
                .filter(|c| *c == "rowid" || columns.iter().any(|name| name == c))
                .collect(),
        });
    }
    Ok(plans)
}
