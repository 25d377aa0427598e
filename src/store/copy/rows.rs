//! The rows of one table streamed from the source into the target: many rows to an insert,
//! and the links between rows of the same table set once every row is in.

use super::plan::Plan;
use super::tables::Table;
use crate::store::engine::{Engine, Param, Value};
use crate::store::{StoreError, Tx};

/// Values bound per insert statement: rows are sent in groups of about this many values.
const VALUES_PER_STATEMENT: usize = 4096;

/// Streams one table from the source into the target in groups of rows; the rows copied.
pub(super) fn copy_table(src: &Tx<'_>, dst: &Tx<'_>, plan: &Plan) -> Result<u64, StoreError> {
    let table = plan.table;
    let width = plan.columns.len();
    let per_statement = (VALUES_PER_STATEMENT / width.max(1)).max(1);
    let columns = plan.columns.join(", ");
    let order = match src.engine() {
        Engine::Sqlite if !super::tables::WITHOUT_ROWID.contains(&table.name) => "rowid",
        _ => table.key,
    };
    let select = format!("SELECT {columns} FROM {} ORDER BY {order}", table.name);
    let linked: Vec<bool> = plan
        .columns
        .iter()
        .map(|c| table.links.contains(c))
        .collect();
    let mut pending: Vec<Value<'static>> = Vec::with_capacity(per_statement * width);
    // The key column (listed first) and the link columns of each row that has a link.
    let mut links: Vec<Vec<Value<'static>>> = Vec::new();
    let mut copied = 0u64;
    // Only the keys link rows of their own table; no other table needs the bookkeeping.
    let has_links = !table.links.is_empty();
    // Both engines hand the rows over as they are read: a large table is never held whole.
    src.each(&select, &[], |row| {
        let mut row_links = Vec::new();
        for (index, is_link) in linked.iter().enumerate() {
            let value: Value<'static> = row.get(index)?;
            if *is_link {
                row_links.push(value);
                pending.push(Value::Null);
            } else {
                if index == 0 && has_links {
                    row_links.push(value.clone());
                }
                pending.push(value);
            }
        }
        if has_links && row_links.iter().skip(1).any(|v| *v != Value::Null) {
            links.push(row_links);
        }
        copied += 1;
        if pending.len() >= per_statement * width {
            insert(dst, table, &columns, width, &pending)?;
            pending.clear();
        }
        Ok(true)
    })?;
    if !pending.is_empty() {
        insert(dst, table, &columns, width, &pending)?;
    }
    if !links.is_empty() {
        let set: Vec<String> = plan
            .columns
            .iter()
            .filter(|c| table.links.contains(c))
            .enumerate()
            .map(|(i, c)| format!("{c} = ?{}", i + 2))
            .collect();
        let update = format!(
            "UPDATE {} SET {} WHERE {} = ?1",
            table.name,
            set.join(", "),
            plan.columns.first().copied().unwrap_or("id")
        );
        for row in &links {
            let params: Vec<&dyn Param> = row.iter().map(|v| v as &dyn Param).collect();
            dst.execute(&update, &params)?;
        }
    }
    Ok(copied)
}

/// One insert of the rows in `values` (a whole number of rows of `width` values each).
fn insert(
    dst: &Tx<'_>,
    table: &Table,
    columns: &str,
    width: usize,
    values: &[Value<'static>],
) -> Result<(), StoreError> {
    let rows: Vec<String> = (0..values.len() / width.max(1))
        .map(|row| {
            let cells: Vec<String> = (1..=width)
                .map(|column| format!("?{}", row * width + column))
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO {} ({columns}) VALUES {}{}",
        table.name,
        rows.join(", "),
        table.on_conflict
    );
    let params: Vec<&dyn Param> = values.iter().map(|v| v as &dyn Param).collect();
    dst.execute(&sql, &params)?;
    Ok(())
}
