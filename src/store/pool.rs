//! The store's connections: the pool that work through `Store::run` borrows from, the
//! connections its own threads keep (opened again after the database has dropped them), and
//! the settings every SQLite connection starts with.

use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

use super::engine::PgManager;
use super::{Db, Store, StoreError, StoreOptions, busy};

#[derive(Clone)]
pub(super) enum Pool {
    Sqlite(r2d2::Pool<SqliteConnectionManager>),
    Postgres {
        pool: r2d2::Pool<PgManager>,
        /// For the store's own threads, which keep a connection of their own.
        manager: std::sync::Arc<PgManager>,
    },
}

/// The connection of one of the store's own threads (the log writer, the key reader). After a
/// database restart or failover it is opened again on its next use, so the node recovers on
/// its own once the database is back.
pub(in crate::store) struct Dedicated {
    store: Store,
    eager: bool,
    db: Option<Db>,
}

impl Dedicated {
    pub(in crate::store) fn get(&mut self) -> Result<&mut Db, StoreError> {
        let db = match self.db.take().filter(|db| !db.is_broken()) {
            Some(db) => db,
            None if self.eager => self.store.eager_connection()?,
            None => self.store.dedicated_connection()?,
        };
        Ok(self.db.insert(db))
    }
}

impl Pool {
    /// A pooled connection, waiting at most `wait` (else the pool's own timeout) for one.
    pub(super) fn get(&self, wait: Option<Duration>) -> Result<Db, StoreError> {
        Ok(match (self, wait) {
            (Pool::Sqlite(pool), Some(wait)) => Db::pooled(pool.get_timeout(wait)?),
            (Pool::Sqlite(pool), None) => Db::pooled(pool.get()?),
            (Pool::Postgres { pool, .. }, Some(wait)) => {
                Db::pooled_postgres(pool.get_timeout(wait)?)
            }
            (Pool::Postgres { pool, .. }, None) => Db::pooled_postgres(pool.get()?),
        })
    }
}

/// Pragmas every connection needs: foreign keys and the busy handler are per connection.
pub(super) fn configure(conn: &Connection, options: StoreOptions) -> rusqlite::Result<()> {
    conn.busy_handler(Some(busy::wait_patiently))?;
    // Every statement of the store is prepared once per connection (the log writer's
    // multi-row inserts alone come in up to 32 sizes).
    conn.set_prepared_statement_cache_capacity(128);
    if options.background_checkpoints {
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    }
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA synchronous = NORMAL;
         PRAGMA journal_size_limit = 16777216;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -16000;",
    )
}

impl Store {
    /// A dedicated connection outside the pool (the log writer owns one).
    pub(in crate::store) fn dedicated_connection(&self) -> Result<Db, StoreError> {
        match &self.pool {
            Pool::Sqlite(_) => Ok(Db::owned(self.sqlite_connection()?)),
            Pool::Postgres { manager, .. } => Ok(Db::owned_postgres(
                manager.connect().map_err(StoreError::Connect)?,
            )),
        }
    }

    /// A dedicated connection that is opened again once the database has dropped it.
    pub(in crate::store) fn dedicated(&self, eager: bool, first: Db) -> Dedicated {
        Dedicated {
            store: self.clone(),
            eager,
            db: Some(first),
        }
    }

    /// A connection of its own to the SQLite file, for what only SQLite does (checkpoints).
    pub(in crate::store) fn sqlite_connection(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open(&self.path)?;
        configure(&conn, self.options)?;
        Ok(conn)
    }

    /// A dedicated connection that retries a locked database every 100 µs for as long as the
    /// busy timeout: for the thread that takes the write lock on every request's behalf.
    /// (PostgreSQL wakes a waiter itself when a lock is released.)
    pub(in crate::store) fn eager_connection(&self) -> Result<Db, StoreError> {
        let mut db = self.dedicated_connection()?;
        if let Some(conn) = db.sqlite() {
            conn.busy_handler(Some(busy::wait_eagerly))?;
        }
        Ok(db)
    }
}
