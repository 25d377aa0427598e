//! The only module that speaks SQL: the connection pool, migrations, one file per table group,
//! and the request-log writer.

pub mod accounts;
pub mod activity;
pub mod busy;
pub mod check;
pub mod checkpoint;
pub mod copy;
pub mod credits;
mod db;
pub mod engine;
pub mod generations;
pub mod idempotency;
pub mod key_reader;
pub mod keys;
pub mod logs;
pub mod maintenance;
pub mod media;
pub mod members;
pub mod migrations;
pub mod nodes;
pub mod notices;
pub mod request_log;
pub mod sessions;
pub mod settings;
pub mod usage;
pub mod webhooks;

use std::path::{Path, PathBuf};
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

pub use db::{Db, Tx};
pub use engine::Engine;

use engine::PgManager;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database error: {}", postgres_message(.0))]
    Postgres(#[from] postgres::Error),
    #[error("cannot connect to PostgreSQL: {}", postgres_message(.0))]
    Connect(postgres::Error),
    #[error("TLS to PostgreSQL: {0}")]
    Tls(String),
    #[error("column {index}: {what}")]
    Decode { index: usize, what: String },
    #[error("connection pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("data directory {path} cannot be used: {what}: {source}")]
    Unusable {
        path: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
    #[error("cannot open the database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("database schema version {found} is newer than this binary supports ({supported})")]
    SchemaTooNew { found: usize, supported: usize },
    #[error("random number generator: {0}")]
    Random(#[from] crate::domain::random::RandomError),
    #[error("background task failed: {0}")]
    Task(String),
}

#[derive(Clone, Copy, Debug)]
pub struct StoreOptions {
    pub pool_size: u32,
    pub busy_timeout: Duration,
    /// The server checkpoints the WAL on its own thread; no connection then does it inside a
    /// commit.
    pub background_checkpoints: bool,
}

impl StoreOptions {
    /// One connection, checkpoints in its commits: for a command's single piece of work.
    pub fn single(busy_timeout: Duration) -> StoreOptions {
        StoreOptions {
            pool_size: 1,
            busy_timeout,
            background_checkpoints: false,
        }
    }
}

#[derive(Clone)]
pub struct Store {
    pool: Pool,
    /// The SQLite database file; for PostgreSQL, the data directory (media, exports).
    path: PathBuf,
    options: StoreOptions,
    /// Woken when work through `run` has written a webhook delivery that is due now.
    outbox: std::sync::Arc<tokio::sync::Notify>,
    /// This process among the nodes serving the store (`nodes`), new at every start.
    node: std::sync::Arc<str>,
}

#[derive(Clone)]
enum Pool {
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
    fn get(&self, wait: Option<Duration>) -> Result<Db, StoreError> {
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
fn configure(conn: &Connection, options: StoreOptions) -> rusqlite::Result<()> {
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
    /// Opens (creating if needed) `tidegate.db` in `data_dir`, switches it to WAL and applies
    /// pending migrations.
    pub fn open(data_dir: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let path = data_dir.join("tidegate.db");
        check_writable(data_dir, &path)?;
        busy::set_default_timeout(options.busy_timeout);
        let open = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(&path).map_err(open)?;
        configure(&conn, options).map_err(open)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open)?;
        match migrations::migrate(&mut Db::owned(conn)) {
            Err(StoreError::Sqlite(source)) => return Err(open(source)),
            other => other?,
        }
        let manager =
            SqliteConnectionManager::file(&path).with_init(move |c| configure(c, options));
        // Waiting for a free connection is waiting for a lock like any other.
        let pool = r2d2::Pool::builder()
            .max_size(options.pool_size)
            .connection_timeout(options.busy_timeout.max(Duration::from_millis(1)))
            .build(manager)?;
        Ok(Store {
            pool: Pool::Sqlite(pool),
            path,
            options,
            outbox: std::sync::Arc::default(),
            node: uuid::Uuid::new_v4().to_string().into(),
        })
    }

    /// Connects to the PostgreSQL database at `url` and applies pending migrations; the data
    /// directory keeps what is not in the database (generated media).
    /// `ca_file`: with `sslmode=require`, the certificates to verify the server with instead of
    /// the system's roots.
    pub fn open_postgres(
        url: &str,
        ca_file: Option<&Path>,
        data_dir: &Path,
        options: StoreOptions,
    ) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_owned(),
            source,
        })?;
        busy::set_default_timeout(options.busy_timeout);
        let mut config: postgres::Config = url.parse().map_err(StoreError::Connect)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.busy_timeout.max(Duration::from_secs(1)));
        }
        if config.get_application_name().is_none() {
            config.application_name("tidegate");
        }
        let manager = PgManager::new(config, ca_file)?;
        let first = manager.connect().map_err(StoreError::Connect)?;
        migrations::migrate(&mut Db::owned_postgres(first))?;
        let manager = std::sync::Arc::new(manager);
        let pool = r2d2::Pool::builder()
            .max_size(options.pool_size)
            .connection_timeout(options.busy_timeout.max(Duration::from_millis(1)))
            .build(PgManager::clone(&manager))?;
        Ok(Store {
            pool: Pool::Postgres { pool, manager },
            path: data_dir.to_owned(),
            options,
            outbox: std::sync::Arc::default(),
            node: uuid::Uuid::new_v4().to_string().into(),
        })
    }

    /// This process's name among the nodes serving the store.
    pub fn node(&self) -> &str {
        &self.node
    }

    pub fn engine(&self) -> Engine {
        match self.pool {
            Pool::Sqlite(_) => Engine::Sqlite,
            Pool::Postgres { .. } => Engine::Postgres,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn busy_timeout(&self) -> Duration {
        self.options.busy_timeout
    }

    /// Notified when a transaction of this process has committed a webhook delivery that is
    /// due now.
    pub fn outbox_signal(&self) -> std::sync::Arc<tokio::sync::Notify> {
        std::sync::Arc::clone(&self.outbox)
    }

    /// A pooled connection, for blocking code (the command line, start-up).
    pub fn db(&self) -> Result<Db, StoreError> {
        Ok(self.pool.get(None)?.waking(&self.outbox))
    }

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

    /// The one bridge from async code to blocking store work: runs `f` on the blocking thread
    /// pool, off the async workers, and hands back its own result, so an error keeps its kind
    /// (not found, invalid, storage) on its way to the caller. Inside a request its waits for
    /// locks (and for a pooled connection) end at the request's deadline.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut Db) -> Result<T, E> + Send + 'static,
    {
        let pool = self.pool.clone();
        let outbox = std::sync::Arc::clone(&self.outbox);
        let timeout = self.options.busy_timeout;
        let deadline = busy::request_arrival().map(|arrived| busy::deadline(arrived, timeout));
        let limits = busy::Limits {
            timeout: Some(timeout),
            deadline,
        };
        // What the work logs carries the span of the request or job it does it for.
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let left = deadline.map(|deadline| {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                left.max(Duration::from_millis(1))
            });
            let mut db = pool.get(left)?.waking(&outbox);
            busy::with_limits(limits, || f(&mut db))
        })
        .await
        .map_err(|e| E::from(StoreError::Task(e.to_string())))?
    }
}

#[cfg(test)]
impl Store {
    /// A store in a new temporary directory, opened as the server opens it.
    pub(crate) fn temporary() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let options = StoreOptions {
            pool_size: 1,
            busy_timeout: Duration::from_secs(5),
            background_checkpoints: true,
        };
        let store = Store::open(dir.path(), options).unwrap();
        (dir, store)
    }
}

/// Whether the database and the files SQLite keeps beside it (its WAL and shared memory) can be
/// written, checked with the file system's own answer (read-only, permission denied, no space)
/// rather than SQLite's "unable to open database file".
fn check_writable(data_dir: &Path, database: &Path) -> Result<(), StoreError> {
    use std::io::Write;
    let unusable = |what| {
        let path = data_dir.to_owned();
        move |source| StoreError::Unusable { path, what, source }
    };
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(database)
        .map_err(unusable("tidegate.db cannot be opened for writing"))?;
    // Room for a few pages of the WAL.
    let probe = data_dir.join(".tidegate-write-check");
    let written = std::fs::File::create(&probe).and_then(|mut f| {
        f.write_all(&[0; 64 * 1024])?;
        f.sync_all()
    });
    let _ = std::fs::remove_file(&probe);
    written.map_err(unusable("a test write failed"))
}

/// Opens a database file for reading only, without migrating it (checks, backups).
pub fn open_read_only(path: &Path) -> Result<Db, StoreError> {
    if !path.is_file() {
        return Err(StoreError::Sqlite(rusqlite::Error::InvalidPath(
            path.to_owned(),
        )));
    }
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(Db::owned(conn))
}

/// Writes a consistent copy of the live SQLite database to `target` (which must not exist
/// yet).
pub fn backup_to(tx: &Tx<'_>, target: &Path) -> Result<(), StoreError> {
    let target = target
        .to_str()
        .ok_or_else(|| StoreError::Sqlite(rusqlite::Error::InvalidPath(target.to_owned())))?;
    tx.execute("VACUUM INTO ?1", &[&target])?;
    Ok(())
}

/// Whether `url` is a PostgreSQL connection string (a URL or `key=value` pairs). The parser's
/// message never repeats the string, or the password in it.
pub fn check_postgres_url(url: &str) -> Result<(), String> {
    url.parse::<postgres::Config>()
        .map(|_| ())
        .map_err(|e| format!("cannot be parsed: {e}"))
}

/// A PostgreSQL error with the server's own message, which `postgres::Error`'s display leaves
/// out ("db error").
fn postgres_message(e: &postgres::Error) -> String {
    match (e.as_db_error(), std::error::Error::source(e)) {
        (Some(db), _) => format!("{}: {}", db.code().code(), db.message()),
        (None, Some(cause)) => format!("{e}: {cause}"),
        (None, None) => e.to_string(),
    }
}

/// Reads an optional millisecond timestamp column.
pub(crate) fn ts(v: Option<i64>) -> Option<crate::domain::Timestamp> {
    v.map(crate::domain::Timestamp)
}
