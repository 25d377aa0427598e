//! Opening a store: the SQLite file in its data directory (checked for writing first) or a
//! PostgreSQL database, each migrated to this binary's schema; and a SQLite file opened for
//! reading only, or copied while live, for checks and backups.

use std::path::Path;
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

use super::engine::PgManager;
use super::pool::{Pool, configure};
use super::{Db, Store, StoreError, StoreOptions, Tx, busy, migrations};
use crate::config::{Backend, Config};

impl Store {
    /// The store the configuration names, as a command opens it (`background_checkpoints`
    /// false: its connections checkpoint the WAL themselves) or as the server does.
    pub fn configured(config: &Config, background_checkpoints: bool) -> Result<Store, StoreError> {
        let options = StoreOptions {
            pool_size: config.storage.pool_size,
            busy_timeout: Duration::from_millis(config.storage.busy_timeout_ms),
            background_checkpoints,
            mail: !config.smtp.host.is_empty(),
        };
        match config.storage.backend {
            Backend::Sqlite => Store::open(&config.storage.data_dir, options),
            Backend::Postgres => Store::open_postgres(
                &config.storage.postgres_url,
                config.storage.postgres_ca_file.as_deref(),
                &config.storage.data_dir,
                options,
            ),
        }
    }

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
