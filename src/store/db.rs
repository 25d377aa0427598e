//! The unit of work. The store lends a connection (`Db`) for one piece of work, and its
//! operations run inside a `Tx`: a transaction that holds the write lock from its start, or
//! plain statements that each read the latest commit. Callers never see a connection or SQL;
//! what they can do with a `Tx` is the store's operations, each of which takes one. The service
//! decides what belongs in one transaction, the store how it is done.

use r2d2::PooledConnection;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::StoreError;

/// A connection lent for one piece of work.
pub struct Db {
    conn: Conn,
}

enum Conn {
    Pooled(PooledConnection<SqliteConnectionManager>),
    Owned(Connection),
}

impl Db {
    pub(super) fn pooled(conn: PooledConnection<SqliteConnectionManager>) -> Db {
        Db {
            conn: Conn::Pooled(conn),
        }
    }

    pub(super) fn owned(conn: Connection) -> Db {
        Db {
            conn: Conn::Owned(conn),
        }
    }

    fn connection(&self) -> &Connection {
        match &self.conn {
            Conn::Pooled(c) => c,
            Conn::Owned(c) => c,
        }
    }

    fn connection_mut(&mut self) -> &mut Connection {
        match &mut self.conn {
            Conn::Pooled(c) => c,
            Conn::Owned(c) => c,
        }
    }

    /// A transaction that takes the write lock at once, so a use case that reads and then
    /// writes cannot fail half-way because another writer came in between. Dropped without
    /// `commit`, it rolls back.
    pub fn write(&mut self) -> Result<Tx<'_>, StoreError> {
        let tx = self
            .connection_mut()
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        Ok(Tx(Scope::Write(tx)))
    }

    /// Statements outside a transaction, each reading the latest commit.
    pub fn read(&self) -> Tx<'_> {
        Tx(Scope::Read(self.connection()))
    }
}

/// Where the store's operations run: a write transaction, or plain statements.
pub struct Tx<'a>(Scope<'a>);

enum Scope<'a> {
    Write(Transaction<'a>),
    Read(&'a Connection),
}

impl<'a> Tx<'a> {
    /// The store's operations over a connection (or transaction) of the store's own threads.
    pub(in crate::store) fn over(conn: &'a Connection) -> Tx<'a> {
        Tx(Scope::Read(conn))
    }

    /// Commits a write transaction; plain statements have nothing to commit.
    pub fn commit(self) -> Result<(), StoreError> {
        match self.0 {
            Scope::Write(tx) => Ok(tx.commit()?),
            Scope::Read(_) => Ok(()),
        }
    }

    /// The connection, for the store's own operations.
    pub(in crate::store) fn sql(&self) -> &Connection {
        match &self.0 {
            Scope::Write(tx) => tx,
            Scope::Read(conn) => conn,
        }
    }
}
