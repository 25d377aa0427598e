//! What runs inside a unit of work: the statements of the store's operations, on either engine,
//! and the commit that wakes the deliverer when it wrote a delivery due now.

use std::cell::Cell;

use rusqlite::Connection;
use tokio::sync::Notify;

use super::Scope;
use crate::store::StoreError;
use crate::store::engine::{Engine, Param, Row};

/// Where the store's operations run: a write transaction, or plain statements.
pub struct Tx<'a> {
    pub(super) scope: Scope<'a>,
    pub(super) outbox: Option<&'a Notify>,
    /// Notices are also e-mailed: an SMTP server is configured.
    pub(super) mail: bool,
    /// A delivery due now was written: the deliverer is woken once this commits.
    pub(super) wake: Cell<bool>,
}

fn no_row() -> StoreError {
    StoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows)
}

impl<'a> Tx<'a> {
    /// Commits a write transaction (plain statements have nothing to commit), then wakes the
    /// deliverer if the transaction wrote a delivery that is due now.
    pub fn commit(self) -> Result<(), StoreError> {
        match self.scope {
            Scope::SqliteTx(tx) => tx.commit()?,
            Scope::SqliteRead(_) => {}
            Scope::Postgres(pg) if pg.open => pg.commit()?,
            Scope::Postgres(_) => {}
        }
        if self.wake.get()
            && let Some(outbox) = self.outbox
        {
            outbox.notify_one();
        }
        Ok(())
    }

    /// Asks for the deliverer to be woken when this transaction commits.
    pub(in crate::store) fn wake_deliverer_at_commit(&self) {
        self.wake.set(true);
    }

    /// Whether notices written here are also e-mailed (an SMTP server is configured).
    pub fn mails(&self) -> bool {
        self.mail
    }

    pub fn engine(&self) -> Engine {
        match self.scope {
            Scope::SqliteTx(_) | Scope::SqliteRead(_) => Engine::Sqlite,
            Scope::Postgres(_) => Engine::Postgres,
        }
    }

    /// Runs a statement; the number of rows it changed.
    pub(in crate::store) fn execute(
        &self,
        sql: &str,
        params: &[&dyn Param],
    ) -> Result<usize, StoreError> {
        match &self.scope {
            Scope::SqliteTx(tx) => sqlite_execute(tx, sql, params),
            Scope::SqliteRead(conn) => sqlite_execute(conn, sql, params),
            Scope::Postgres(pg) => {
                let mut conn = pg.conn.borrow_mut();
                let statement = conn.prepare(sql)?;
                let values = pg_values(params);
                let changed = conn.client()?.execute(&statement, &pg_refs(&values))?;
                Ok(usize::try_from(changed).unwrap_or(usize::MAX))
            }
        }
    }

    /// Every row a query returns, each read by `f`.
    pub(in crate::store) fn query_all<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        mut f: impl FnMut(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        self.each(sql, params, |row| {
            out.push(f(row)?);
            Ok(true)
        })?;
        Ok(out)
    }

    /// Calls `f` with each row in turn while it answers `true`.
    pub(in crate::store) fn each(
        &self,
        sql: &str,
        params: &[&dyn Param],
        mut f: impl FnMut(&Row<'_>) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        match &self.scope {
            Scope::SqliteTx(tx) => sqlite_each(tx, sql, params, f),
            Scope::SqliteRead(conn) => sqlite_each(conn, sql, params, f),
            Scope::Postgres(pg) => {
                let mut conn = pg.conn.borrow_mut();
                let statement = conn.prepare(sql)?;
                let values = pg_values(params);
                // Row by row as they arrive, not the whole result first (`check` walks every
                // activity row this way).
                use postgres::fallible_iterator::FallibleIterator;
                let mut rows = conn.client()?.query_raw(&statement, pg_refs(&values))?;
                while let Some(row) = rows.next()? {
                    if !f(&Row::postgres(&row))? {
                        break;
                    }
                }
                Ok(())
            }
        }
    }

    /// The first row a query returns, if any.
    pub(in crate::store) fn query_opt<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnOnce(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let mut f = Some(f);
        let mut out = None;
        self.each(sql, params, |row| {
            if let Some(f) = f.take() {
                out = Some(f(row)?);
            }
            Ok(false)
        })?;
        Ok(out)
    }

    /// The first row a query returns; there must be one.
    pub(in crate::store) fn query_one<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnOnce(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.query_opt(sql, params, f)?.ok_or_else(no_row)
    }

    /// Several statements without parameters (migrations).
    pub(in crate::store) fn batch(&self, sql: &str) -> Result<(), StoreError> {
        match &self.scope {
            Scope::SqliteTx(tx) => Ok(tx.execute_batch(sql)?),
            Scope::SqliteRead(conn) => Ok(conn.execute_batch(sql)?),
            Scope::Postgres(pg) => Ok(pg.conn.borrow_mut().client()?.batch_execute(sql)?),
        }
    }
}

fn sqlite_execute(
    conn: &Connection,
    sql: &str,
    params: &[&dyn Param],
) -> Result<usize, StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    Ok(statement.execute(rusqlite::params_from_iter(params.iter().map(|p| p.value())))?)
}

fn sqlite_each(
    conn: &Connection,
    sql: &str,
    params: &[&dyn Param],
    mut f: impl FnMut(&Row<'_>) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(rusqlite::params_from_iter(params.iter().map(|p| p.value())))?;
    while let Some(row) = rows.next()? {
        if !f(&Row::sqlite(row))? {
            break;
        }
    }
    Ok(())
}

fn pg_values<'p>(params: &'p [&dyn Param]) -> Vec<crate::store::engine::Value<'p>> {
    params.iter().map(|p| p.value()).collect()
}

fn pg_refs<'v>(
    values: &'v [crate::store::engine::Value<'_>],
) -> Vec<&'v (dyn postgres::types::ToSql + Sync)> {
    values
        .iter()
        .map(|v| v as &(dyn postgres::types::ToSql + Sync))
        .collect()
}
