//! The only module that speaks SQL: the connection pool, migrations, one file per table group,
//! and the request-log writer.

pub(crate) mod accounts;
pub(crate) mod activity;
pub(crate) mod audit_stream;
pub(crate) mod auth_limits;
pub(crate) mod busy;
pub(crate) mod check;
pub(crate) mod checkpoint;
pub(crate) mod copy;
pub(crate) mod credits;
mod db;
pub(crate) mod email;
pub(crate) mod engine;
pub(crate) mod generations;
pub(crate) mod idempotency;
pub(crate) mod key_policy;
pub(crate) mod key_reader;
pub(crate) mod keys;
pub(crate) mod leaks;
pub(crate) mod logs;
pub(crate) mod maintenance;
pub(crate) mod media;
pub(crate) mod members;
pub(crate) mod migrations;
pub(crate) mod nodes;
pub(crate) mod notices;
pub(crate) mod notification_settings;
pub(crate) mod notifications;
pub(crate) mod oidc;
mod open;
mod pool;
pub(crate) mod quotas;
pub(crate) mod refusals;
pub(crate) mod request_log;
pub(crate) mod second_factor;
pub(crate) mod sessions;
pub(crate) mod settings;
pub(crate) mod usage;
pub(crate) mod usage_hourly;
pub(crate) mod webhooks;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use db::{Db, Tx};
pub use engine::Engine;
pub use open::{backup_to, check_postgres_url, open_read_only};
pub(in crate::store) use pool::Dedicated;

use pool::Pool;

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
    /// An SMTP server is configured: notices are also written to the e-mail outbox.
    pub mail: bool,
}

impl StoreOptions {
    /// One connection, checkpoints in its commits: for a command's single piece of work.
    pub fn single(busy_timeout: Duration) -> StoreOptions {
        StoreOptions {
            pool_size: 1,
            busy_timeout,
            background_checkpoints: false,
            mail: false,
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

impl Store {
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
        Ok(self.pool.get(None)?.waking(&self.outbox, self.options.mail))
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
        let mail = self.options.mail;
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
            let mut db = pool.get(left)?.waking(&outbox, mail);
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
            mail: false,
        };
        let store = Store::open(dir.path(), options).unwrap();
        (dir, store)
    }
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
