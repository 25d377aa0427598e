//! The unit of work. The store lends a connection (`Db`) for one piece of work, and its
//! operations run inside a `Tx`: a transaction that holds the write lock from its start, or
//! plain statements that each read the latest commit. Callers never see a connection or SQL;
//! what they can do with a `Tx` is the store's operations, each of which takes one. The service
//! decides what belongs in one transaction, the store how it is done.
//!
//! Both engines give a write transaction the same guarantee: it holds the one write lock from
//! `BEGIN`, so a use case that reads and then writes sees no other writer in between. SQLite
//! has that lock in the file (`BEGIN IMMEDIATE`); on PostgreSQL every node takes one
//! transaction-scoped advisory lock (`docs/decisions.md`, "Several nodes").

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use tokio::sync::Notify;

use r2d2::PooledConnection;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::StoreError;
use super::engine::{Engine, Param, PgConn, PgManager, Row};

/// The advisory lock every PostgreSQL write transaction holds: the store's write lock. Its
/// second half is the schema's, so installs in separate schemas of one database (the tests
/// run that way) do not wait for each other.
const WRITE_LOCK: &str = "1953064037, hashtext(coalesce(current_schema(), ''))"; // "tide"

/// A connection lent for one piece of work.
pub struct Db {
    conn: Conn,
    /// The deliverer's wake-up, when there is one in this process: a write transaction that
    /// wrote a delivery due now rings it once it has committed.
    outbox: Option<Arc<Notify>>,
}

enum Conn {
    Sqlite(PooledConnection<SqliteConnectionManager>),
    SqliteOwned(Connection),
    Postgres(Box<PooledConnection<PgManager>>),
    PostgresOwned(Box<PgConn>),
}

impl Db {
    pub(super) fn pooled(conn: PooledConnection<SqliteConnectionManager>) -> Db {
        Db {
            conn: Conn::Sqlite(conn),
            outbox: None,
        }
    }

    pub(super) fn owned(conn: Connection) -> Db {
        Db {
            conn: Conn::SqliteOwned(conn),
            outbox: None,
        }
    }

    pub(super) fn pooled_postgres(conn: PooledConnection<PgManager>) -> Db {
        Db {
            conn: Conn::Postgres(Box::new(conn)),
            outbox: None,
        }
    }

    pub(super) fn owned_postgres(conn: PgConn) -> Db {
        Db {
            conn: Conn::PostgresOwned(Box::new(conn)),
            outbox: None,
        }
    }

    /// Rings `outbox` after each commit that wrote a delivery due now.
    pub(super) fn waking(mut self, outbox: &Arc<Notify>) -> Db {
        self.outbox = Some(Arc::clone(outbox));
        self
    }

    pub fn engine(&self) -> Engine {
        match self.conn {
            Conn::Sqlite(_) | Conn::SqliteOwned(_) => Engine::Sqlite,
            Conn::Postgres(_) | Conn::PostgresOwned(_) => Engine::Postgres,
        }
    }

    /// The connection, pooled or not.
    fn handle(&mut self) -> Handle<'_> {
        self.conn.handle()
    }

    /// A unit of work on the connection.
    fn tx(
        &mut self,
        scope: impl FnOnce(Handle<'_>) -> Result<Scope<'_>, StoreError>,
    ) -> Result<Tx<'_>, StoreError> {
        let outbox = self.outbox.as_deref();
        Ok(Tx {
            scope: scope(self.conn.handle())?,
            outbox,
            wake: Cell::new(false),
        })
    }

    /// The SQLite connection, for what only SQLite has (checkpoints, backups, checks).
    pub(super) fn sqlite(&mut self) -> Option<&Connection> {
        match self.handle() {
            Handle::Sqlite(c) => Some(c),
            Handle::Postgres(_) => None,
        }
    }

    /// The PostgreSQL connection, for what only PostgreSQL has (notifications).
    pub(super) fn postgres(&mut self) -> Option<&mut PgConn> {
        match self.handle() {
            Handle::Postgres(c) => Some(c),
            Handle::Sqlite(_) => None,
        }
    }

    /// Whether the database dropped the connection (a restart, a failover); it will not come
    /// back. A SQLite connection never breaks this way.
    pub fn is_broken(&self) -> bool {
        match &self.conn {
            Conn::Postgres(c) => c.is_closed(),
            Conn::PostgresOwned(c) => c.is_closed(),
            Conn::Sqlite(_) | Conn::SqliteOwned(_) => false,
        }
    }

    /// A transaction that takes the write lock at once, so a use case that reads and then
    /// writes cannot fail half-way because another writer came in between. Dropped without
    /// `commit`, it rolls back.
    pub fn write(&mut self) -> Result<Tx<'_>, StoreError> {
        self.tx(|handle| {
            Ok(match handle {
                Handle::Sqlite(c) => {
                    Scope::SqliteTx(c.transaction_with_behavior(TransactionBehavior::Immediate)?)
                }
                Handle::Postgres(c) => Scope::Postgres(PgScope::begin(c, Begin::Write)?),
            })
        })
    }

    /// A read-only transaction: every statement in it sees the same snapshot.
    pub fn snapshot(&mut self) -> Result<Tx<'_>, StoreError> {
        self.tx(|handle| {
            Ok(match handle {
                Handle::Sqlite(c) => {
                    Scope::SqliteTx(c.transaction_with_behavior(TransactionBehavior::Deferred)?)
                }
                Handle::Postgres(c) => Scope::Postgres(PgScope::begin(c, Begin::Snapshot)?),
            })
        })
    }

    /// Statements outside a transaction, each reading the latest commit.
    pub fn read(&mut self) -> Tx<'_> {
        let outbox = self.outbox.as_deref();
        Tx {
            scope: match self.conn.handle() {
                Handle::Sqlite(c) => Scope::SqliteRead(c),
                Handle::Postgres(c) => Scope::Postgres(PgScope::plain(c)),
            },
            outbox,
            wake: Cell::new(false),
        }
    }
}

impl Conn {
    fn handle(&mut self) -> Handle<'_> {
        match self {
            Conn::Sqlite(c) => Handle::Sqlite(c),
            Conn::SqliteOwned(c) => Handle::Sqlite(c),
            Conn::Postgres(c) => Handle::Postgres(c),
            Conn::PostgresOwned(c) => Handle::Postgres(c),
        }
    }
}

/// A `Db`'s connection, whichever the engine and however it was lent.
enum Handle<'a> {
    Sqlite(&'a mut Connection),
    Postgres(&'a mut PgConn),
}

/// Where the store's operations run: a write transaction, or plain statements.
pub struct Tx<'a> {
    scope: Scope<'a>,
    outbox: Option<&'a Notify>,
    /// A delivery due now was written: the deliverer is woken once this commits.
    wake: Cell<bool>,
}

enum Scope<'a> {
    SqliteTx(Transaction<'a>),
    SqliteRead(&'a Connection),
    Postgres(PgScope<'a>),
}

enum Begin {
    Write,
    Snapshot,
}

/// A PostgreSQL connection inside (or outside) a transaction. Statements need the connection
/// mutably while the store's operations share the `Tx`, hence the cell; a `Tx` never leaves
/// its thread.
struct PgScope<'a> {
    conn: RefCell<&'a mut PgConn>,
    open: bool,
}

impl<'a> PgScope<'a> {
    fn plain(conn: &'a mut PgConn) -> PgScope<'a> {
        PgScope {
            conn: RefCell::new(conn),
            open: false,
        }
    }

    fn begin(conn: &'a mut PgConn, kind: Begin) -> Result<PgScope<'a>, StoreError> {
        match kind {
            Begin::Write => conn.client()?.batch_execute(&format!(
                "BEGIN; SET LOCAL lock_timeout = {}; SELECT pg_advisory_xact_lock({WRITE_LOCK})",
                super::busy::lock_timeout_ms()
            ))?,
            Begin::Snapshot => conn
                .client()?
                .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?,
        }
        Ok(PgScope {
            conn: RefCell::new(conn),
            open: true,
        })
    }

    fn commit(mut self) -> Result<(), StoreError> {
        self.open = false;
        self.conn.get_mut().client()?.batch_execute("COMMIT")?;
        Ok(())
    }
}

impl Drop for PgScope<'_> {
    fn drop(&mut self) {
        if self.open
            && let Ok(client) = self.conn.get_mut().client()
        {
            let _ = client.batch_execute("ROLLBACK");
        }
    }
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

fn pg_values<'p>(params: &'p [&dyn Param]) -> Vec<super::engine::Value<'p>> {
    params.iter().map(|p| p.value()).collect()
}

fn pg_refs<'v>(
    values: &'v [super::engine::Value<'_>],
) -> Vec<&'v (dyn postgres::types::ToSql + Sync)> {
    values
        .iter()
        .map(|v| v as &(dyn postgres::types::ToSql + Sync))
        .collect()
}
