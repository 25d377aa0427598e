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

mod tx;

pub use tx::Tx;

use super::StoreError;
use super::engine::{Engine, PgConn, PgManager};

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
    /// Notices are also e-mailed (an SMTP server is configured).
    mail: bool,
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
            mail: false,
        }
    }

    pub(super) fn owned(conn: Connection) -> Db {
        Db {
            conn: Conn::SqliteOwned(conn),
            outbox: None,
            mail: false,
        }
    }

    pub(super) fn pooled_postgres(conn: PooledConnection<PgManager>) -> Db {
        Db {
            conn: Conn::Postgres(Box::new(conn)),
            outbox: None,
            mail: false,
        }
    }

    pub(super) fn owned_postgres(conn: PgConn) -> Db {
        Db {
            conn: Conn::PostgresOwned(Box::new(conn)),
            outbox: None,
            mail: false,
        }
    }

    /// Rings `outbox` after each commit that wrote a delivery due now; with `mail`, notices
    /// written through it are e-mailed too.
    pub(super) fn waking(mut self, outbox: &Arc<Notify>, mail: bool) -> Db {
        self.outbox = Some(Arc::clone(outbox));
        self.mail = mail;
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
        let mail = self.mail;
        Ok(Tx {
            scope: scope(self.conn.handle())?,
            outbox,
            mail,
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
        let mail = self.mail;
        Tx {
            scope: match self.conn.handle() {
                Handle::Sqlite(c) => Scope::SqliteRead(c),
                Handle::Postgres(c) => Scope::Postgres(PgScope::plain(c)),
            },
            outbox,
            mail,
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

pub(super) enum Scope<'a> {
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
pub(super) struct PgScope<'a> {
    pub(super) conn: RefCell<&'a mut PgConn>,
    pub(super) open: bool,
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

    pub(super) fn commit(mut self) -> Result<(), StoreError> {
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
