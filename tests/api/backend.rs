//! The suite runs against both store backends. `backend_tests!(name, …)` turns each
//! `async fn name()` into two tests, `name::sqlite` and `name::postgres`; the helpers start the
//! server (and run the binary) on the backend of the test running on this thread.
//!
//! The PostgreSQL variants need a server: `TIDEGATE_TEST_POSTGRES_URL` names a database in
//! which every test gets a schema of its own (`.ci/run` sets it). Without the variable they
//! pass without running, and the run says so once on its standard error.

use std::cell::Cell;
use std::future::Future;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tidegate::testing::engine::{Column, Param, Value, postgres_placeholders};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

thread_local! {
    static CURRENT: Cell<Backend> = const { Cell::new(Backend::Sqlite) };
    /// The schemas this thread's test made, dropped when it ends (see `drop_schemas`).
    static MADE: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

pub const URL_VARIABLE: &str = "TIDEGATE_TEST_POSTGRES_URL";

/// Two tests per `async fn`: one on each backend.
#[macro_export]
macro_rules! backend_tests {
    (multi_thread: $($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::backend::Backend::Sqlite.run(super::$name()).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::backend::Backend::Postgres.run(super::$name()).await
            }
        }
    )*};
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                $crate::backend::Backend::Sqlite.run(super::$name()).await
            }
            #[tokio::test]
            async fn postgres() {
                $crate::backend::Backend::Postgres.run(super::$name()).await
            }
        }
    )*};
}

impl Backend {
    /// The backend of the test running on this thread.
    pub fn current() -> Backend {
        CURRENT.get()
    }

    pub async fn run<F: Future<Output = ()>>(self, test: F) {
        if self == Backend::Postgres && postgres_url().is_none() {
            skipped_once();
            return;
        }
        CURRENT.set(self);
        // Dropped when the test ends, passed or failed (a panic unwinds through it).
        let _schemas = Schemas;
        test.await;
    }
}

pub fn postgres_url() -> Option<String> {
    std::env::var(URL_VARIABLE).ok().filter(|u| !u.is_empty())
}

fn skipped_once() {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        use std::io::Write;
        // Straight to the file descriptor: the test harness captures `eprintln!`.
        let _ = writeln!(
            std::io::stderr(),
            "note: the PostgreSQL variants of the tests pass without running: \
             {URL_VARIABLE} is not set"
        );
    });
}

/// Where a test's PostgreSQL store lives: its own schema, named in a file of its data
/// directory so that a restart, and every command run on that directory, find it again.
const MARKER: &str = ".test-postgres-url";

/// The store settings (as environment variables of the binary) for a data directory.
pub fn store_env(data_dir: &Path) -> Vec<(String, String)> {
    match std::fs::read_to_string(data_dir.join(MARKER)) {
        Ok(url) => vec![
            ("TIDEGATE_STORAGE__BACKEND".into(), "postgres".into()),
            ("TIDEGATE_STORAGE__POSTGRES_URL".into(), url),
        ],
        Err(_) => Vec::new(),
    }
}

/// The PostgreSQL URL of this data directory's store, creating its schema the first time.
pub fn provision(data_dir: &Path) -> String {
    if let Ok(url) = std::fs::read_to_string(data_dir.join(MARKER)) {
        return url;
    }
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let schema = format!(
        "t{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    );
    let base = postgres_url().expect("TIDEGATE_TEST_POSTGRES_URL");
    off_runtime(|| {
        let mut client = postgres::Client::connect(&base, postgres::NoTls).expect("connect");
        drop_orphans(&mut client);
        client
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .expect("create schema");
    });
    MADE.with(|m| m.borrow_mut().push(schema.clone()));
    let separator = if base.contains('?') { '&' } else { '?' };
    // The application name tells this test's connections apart in `pg_stat_activity`.
    let url =
        format!("{base}{separator}options=-c%20search_path%3D{schema}&application_name={schema}");
    std::fs::write(data_dir.join(MARKER), &url).expect("marker");
    url
}

/// Drops the schemas of the current thread's test when it ends.
pub struct Schemas;

impl Drop for Schemas {
    fn drop(&mut self) {
        drop_schemas();
    }
}

/// Drops every schema this thread's test made: its servers' connections (named by the schema,
/// see `provision`) are ended first, so that nothing holds a lock the drop waits for.
pub fn drop_schemas() {
    let made: Vec<String> = MADE.with(|m| std::mem::take(&mut *m.borrow_mut()));
    let Some(base) = postgres_url().filter(|_| !made.is_empty()) else {
        return;
    };
    off_runtime(|| {
        let Ok(mut client) = postgres::Client::connect(&base, postgres::NoTls) else {
            return;
        };
        for schema in &made {
            let _ = client.batch_execute(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE application_name = '{schema}';
                 SET lock_timeout = '5s';
                 DROP SCHEMA IF EXISTS {schema} CASCADE"
            ));
        }
    });
}

/// Drops the schemas that earlier runs of the suite left (a run killed before its tests
/// ended): those named after a process that is gone. Once per run.
fn drop_orphans(client: &mut postgres::Client) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Ok(rows) = client.query(
            "SELECT nspname FROM pg_namespace WHERE nspname ~ '^t[0-9]+_[0-9]+_[0-9]+$'",
            &[],
        ) else {
            return;
        };
        for row in rows {
            let schema: String = row.get(0);
            let pid = schema[1..].split('_').next().unwrap_or_default();
            if pid != std::process::id().to_string() && !Path::new(&format!("/proc/{pid}")).exists()
            {
                let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
            }
        }
    });
}

/// PostgreSQL's synchronous client runs a runtime of its own, which must not start on a
/// thread that drives the test's.
pub fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().expect("database thread"))
}

/// A connection to a test's store, whichever the backend, for what a test checks or arranges
/// behind the server's back. SQL is written once, with `?N` placeholders.
pub enum TestDb {
    Sqlite(rusqlite::Connection),
    /// Taken when dropped (see `Drop`).
    Postgres(Mutex<Option<postgres::Client>>),
}

/// A row, read by column index.
pub struct TestRow(Vec<Value<'static>>);

impl TestRow {
    pub fn get<T: Column>(&self, index: usize) -> Result<T, String> {
        let value = self.0.get(index).cloned().ok_or("no such column")?;
        T::from_value(value)
    }
}

pub type Params<'a> = &'a [&'a dyn Param];

impl TestDb {
    pub fn open(data_dir: &Path) -> TestDb {
        match std::fs::read_to_string(data_dir.join(MARKER)) {
            Ok(url) => TestDb::Postgres(Mutex::new(Some(off_runtime(|| {
                postgres::Client::connect(&url, postgres::NoTls).expect("connect")
            })))),
            Err(_) => {
                let conn =
                    rusqlite::Connection::open(data_dir.join("tidegate.db")).expect("open db");
                conn.busy_timeout(std::time::Duration::from_secs(5))
                    .expect("busy timeout");
                TestDb::Sqlite(conn)
            }
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            TestDb::Sqlite(_) => Backend::Sqlite,
            TestDb::Postgres(_) => Backend::Postgres,
        }
    }

    fn rows(&self, sql: &str, params: Params<'_>) -> Result<Vec<TestRow>, String> {
        let values: Vec<Value<'_>> = params.iter().map(|p| p.value()).collect();
        match self {
            TestDb::Sqlite(conn) => {
                let mut stmt = conn.prepare(sql).map_err(|e| e.to_string())?;
                let columns = stmt.column_count();
                let mut rows = stmt
                    .query(rusqlite::params_from_iter(values.iter()))
                    .map_err(|e| e.to_string())?;
                let mut out = Vec::new();
                while let Some(row) = rows.next().map_err(|e| e.to_string())? {
                    let mut cells = Vec::with_capacity(columns);
                    for i in 0..columns {
                        let value: rusqlite::types::Value =
                            row.get(i).map_err(|e| e.to_string())?;
                        cells.push(match value {
                            rusqlite::types::Value::Null => Value::Null,
                            rusqlite::types::Value::Integer(i) => Value::Int(i),
                            rusqlite::types::Value::Real(r) => Value::Real(r),
                            rusqlite::types::Value::Text(t) => Value::Text(t.into()),
                            rusqlite::types::Value::Blob(b) => Value::Blob(b.into()),
                        });
                    }
                    out.push(TestRow(cells));
                }
                Ok(out)
            }
            TestDb::Postgres(client) => {
                let sql = postgres_placeholders(sql);
                let refs = pg_refs(&values);
                with_client(client, |client| {
                    let rows = client.query(&sql, &refs).map_err(|e| format!("{e:?}"))?;
                    rows.iter()
                        .map(|row| {
                            (0..row.len())
                                .map(|i| tidegate::testing::engine::pg_value(row, i))
                                .collect::<Result<Vec<_>, _>>()
                                .map(TestRow)
                                .map_err(|e| e.to_string())
                        })
                        .collect()
                })
            }
        }
    }

    /// The first row's value, read by `f`.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: Params<'_>,
        f: impl FnOnce(&TestRow) -> Result<T, String>,
    ) -> Result<T, String> {
        let rows = self.rows(sql, params)?;
        f(rows.first().ok_or("no rows")?)
    }

    /// Every row, read by `f`.
    pub fn query_map<T>(
        &self,
        sql: &str,
        params: Params<'_>,
        f: impl FnMut(&TestRow) -> Result<T, String>,
    ) -> Result<std::vec::IntoIter<Result<T, String>>, String> {
        let rows: Vec<Result<T, String>> = self.rows(sql, params)?.iter().map(f).collect();
        Ok(rows.into_iter())
    }

    /// A statement to run later, as rusqlite's `prepare` gives.
    pub fn prepare<'a>(&'a self, sql: &'a str) -> Result<TestStatement<'a>, String> {
        Ok(TestStatement { db: self, sql })
    }

    /// Runs statements without parameters, in SQL both engines accept.
    pub fn execute_batch(&self, sql: &str) -> Result<(), String> {
        match self {
            TestDb::Sqlite(conn) => conn.execute_batch(sql).map_err(|e| e.to_string()),
            TestDb::Postgres(client) => with_client(client, |client| {
                client.batch_execute(sql).map_err(|e| format!("{e:?}"))
            }),
        }
    }

    /// Makes every `operation` (`INSERT`, `UPDATE`, `DELETE`) on `table` fail with `message`,
    /// as a full disk or a broken table would, until `allow` undoes it.
    pub fn refuse(&self, table: &str, operation: &str, message: &str) -> Result<(), String> {
        self.execute_batch(&match self.backend() {
            Backend::Sqlite => format!(
                "CREATE TRIGGER refuse_{table} BEFORE {operation} ON {table}
                 BEGIN SELECT RAISE(ABORT, '{message}'); END;"
            ),
            Backend::Postgres => format!(
                "CREATE FUNCTION refuse_{table}() RETURNS trigger LANGUAGE plpgsql AS
                     $$ BEGIN RAISE EXCEPTION '{message}'; END $$;
                 CREATE TRIGGER refuse_{table} BEFORE {operation} ON {table}
                     FOR EACH ROW EXECUTE FUNCTION refuse_{table}();"
            ),
        })
    }

    pub fn allow(&self, table: &str) -> Result<(), String> {
        self.execute_batch(&match self.backend() {
            Backend::Sqlite => format!("DROP TRIGGER refuse_{table}"),
            Backend::Postgres => {
                format!("DROP TRIGGER refuse_{table} ON {table}; DROP FUNCTION refuse_{table}();")
            }
        })
    }

    /// Runs one statement; the rows it changed.
    pub fn execute(&self, sql: &str, params: Params<'_>) -> Result<usize, String> {
        let values: Vec<Value<'_>> = params.iter().map(|p| p.value()).collect();
        match self {
            TestDb::Sqlite(conn) => conn
                .execute(sql, rusqlite::params_from_iter(values.iter()))
                .map_err(|e| e.to_string()),
            TestDb::Postgres(client) => {
                let sql = postgres_placeholders(sql);
                let refs = pg_refs(&values);
                with_client(client, |client| {
                    client
                        .execute(&sql, &refs)
                        .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
                        .map_err(|e| format!("{e:?}"))
                })
            }
        }
    }
}

/// Runs `f` with a test's PostgreSQL client, off the test's runtime.
fn with_client<T: Send>(
    client: &Mutex<Option<postgres::Client>>,
    f: impl FnOnce(&mut postgres::Client) -> T + Send,
) -> T {
    let mut guard = client.lock().unwrap_or_else(|p| p.into_inner());
    let client = guard.as_mut().expect("open");
    off_runtime(|| f(client))
}

fn pg_refs<'a>(values: &'a [Value<'_>]) -> Vec<&'a (dyn postgres::types::ToSql + Sync)> {
    values
        .iter()
        .map(|v| v as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

/// A client closes on its own runtime, which cannot start on the test's thread.
impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres(client) = self {
            let client = client.get_mut().unwrap_or_else(|p| p.into_inner()).take();
            off_runtime(move || drop(client));
        }
    }
}

pub struct TestStatement<'a> {
    db: &'a TestDb,
    sql: &'a str,
}

impl TestStatement<'_> {
    pub fn query_map<T>(
        &mut self,
        params: Params<'_>,
        f: impl FnMut(&TestRow) -> Result<T, String>,
    ) -> Result<std::vec::IntoIter<Result<T, String>>, String> {
        self.db.query_map(self.sql, params, f)
    }
}

/// The URL of a new, empty schema in the test database, for a test that fills it itself
/// (`migrate_store.rs`); unlike `provision`, no data directory is told of it.
pub fn fresh_schema(label: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let schema = format!(
        "{label}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let base = postgres_url().expect("TIDEGATE_TEST_POSTGRES_URL");
    off_runtime(|| {
        let mut client = postgres::Client::connect(&base, postgres::NoTls).expect("connect");
        client
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
            ))
            .expect("create schema");
    });
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}options=-c%20search_path%3D{schema}")
}

#[tokio::test]
async fn each_postgres_test_schema_is_dropped_when_its_test_ends() {
    let Some(base) = postgres_url() else {
        return;
    };
    let schema = std::sync::Arc::new(Mutex::new(String::new()));
    let seen = schema.clone();
    Backend::Postgres
        .run(async move {
            let app = crate::helpers::spawn_app().await;
            assert_eq!(app.get("/v1/status", None).await.status(), 401);
            let url = std::fs::read_to_string(app.data_dir.path().join(MARKER)).unwrap();
            let name = url.rsplit("application_name=").next().unwrap().to_owned();
            *seen.lock().unwrap() = name;
        })
        .await;
    let schema = schema.lock().unwrap().clone();
    let left: i64 = off_runtime(|| {
        let mut client = postgres::Client::connect(&base, postgres::NoTls).unwrap();
        client
            .query_one(
                "SELECT count(*) FROM pg_namespace WHERE nspname = $1",
                &[&schema],
            )
            .unwrap()
            .get(0)
    });
    assert_eq!(left, 0, "{schema} is still there");
}
