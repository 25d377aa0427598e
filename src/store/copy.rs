//! Every table of a store copied, row for row and byte for byte, into an empty store of the
//! other engine: SQLite into PostgreSQL (`tidegate migrate-store`, moving an install) and
//! PostgreSQL into a new SQLite file (`tidegate backup` of a PostgreSQL store, which
//! `migrate-store --from FILE` restores).
//!
//! The source is read inside one snapshot, so a server may keep running on it; the target is
//! written inside one write transaction, so a failure leaves it as it was. Ids are copied as
//! they are (the activity chain covers them), the three tables whose SQLite `rowid` the queries
//! use have it copied into (or from) PostgreSQL's `rowid` column, and on PostgreSQL every
//! identity is then advanced past the largest id copied (SQLite picks the next rowid itself).
//!
//! The target schema's triggers would add to a verbatim copy (a default low-balance threshold
//! for every account inserted). On PostgreSQL the copy runs with `session_replication_role =
//! replica`, which turns them off (foreign-key checks included) and needs a superuser. Without
//! that right, and always on SQLite (which has no such switch), the triggers stay on and the
//! thresholds they add are removed before the source's are copied. Either way the key
//! generation is copied like any row after the keys, tables go parents first (SQLite checks
//! foreign keys on every statement), and the keys' replacement links are set once every key is
//! in.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::engine::{Engine, Param, Value};
use super::migrations;
use super::{Db, Store, StoreError, StoreOptions, Tx};

/// A table and the columns copied, in the order both schemas declare them.
struct Table {
    name: &'static str,
    columns: &'static [&'static str],
    /// The primary key (or the columns of the unique index): the order rows are read in from
    /// PostgreSQL. A SQLite source is read in `rowid` order, the order the rows were written in.
    key: &'static str,
    /// Columns that refer to rows of the same table: inserted NULL, set once every row is in,
    /// so that foreign-key checks (on when the triggers are) never see a row before its target.
    links: &'static [&'static str],
    /// The statement's end: how a row the target has already is treated.
    on_conflict: &'static str,
}

const fn table(name: &'static str, columns: &'static [&'static str], key: &'static str) -> Table {
    Table {
        name,
        columns,
        key,
        links: &[],
        on_conflict: "",
    }
}

/// Every table, each after the tables it refers to. A table or column the source does not have
/// is one this binary's schema does not have either (the source's version is this binary's),
/// and is left out; one the source has that is not listed here stops the copy before anything
/// is written, rather than leave it behind.
const TABLES: &[Table] = &[
    // A PostgreSQL node started on the target may have created its own install secret; the
    // source's wins (IP hashes were keyed with it).
    Table {
        on_conflict: " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        ..table("settings", &["name", "value"], "name")
    },
    table(
        "accounts",
        &[
            "id",
            "name",
            "email",
            "is_personal",
            "picture_url",
            "region",
            "plan",
            "credit_balance",
            "subscription_status",
            "cancel_at_period_end",
            "currency",
            "period_starts_at",
            "period_ends_at",
            "billing_created_at",
            "billing_updated_at",
            "created_at",
            "deleted_at",
        ],
        "id",
    ),
    table(
        "users",
        &[
            "id",
            "email",
            "password_hash",
            "is_instance_admin",
            "created_at",
        ],
        "id",
    ),
    table(
        "memberships",
        &["account_id", "user_id", "role", "created_at"],
        "account_id, user_id",
    ),
    Table {
        links: &["replaced_by", "replaces"],
        ..table(
            "api_keys",
            &[
                "id",
                "account_id",
                "name",
                "key_prefix",
                "key_hash",
                "environment",
                "scopes",
                "ip_allowlist",
                "allowed_models",
                "rate_limit_per_minute",
                "created_at",
                "created_by",
                "last_used_at",
                "expires_at",
                "rotated_at",
                "replaced_by",
                "replaces",
                "disabled_at",
                "revoked_at",
                "expiry_recorded_at",
                "expiry_warned_at",
            ],
            "id",
        )
    },
    // The migration wrote its one row; the source's value replaces it.
    Table {
        on_conflict: " ON CONFLICT (id) DO UPDATE SET value = excluded.value",
        ..table("key_generation", &["id", "value"], "id")
    },
    table(
        "request_logs",
        &[
            "id",
            "request_id",
            "key_id",
            "account_id",
            "key_prefix",
            "environment",
            "method",
            "endpoint",
            "route",
            "query",
            "status_code",
            "error_code",
            "idempotency_replayed",
            "ip_hash",
            "user_agent",
            "region",
            "latency_us",
            "created_at",
        ],
        "id",
    ),
    table(
        "usage_daily",
        &[
            "day",
            "account_id",
            "key_id",
            "route",
            "status_class",
            "requests",
        ],
        "account_id, day, key_id, route, status_class",
    ),
    table(
        "usage_daily_errors",
        &[
            "day",
            "account_id",
            "key_id",
            "route",
            "error_code",
            "requests",
        ],
        "account_id, day, key_id, route, error_code",
    ),
    table(
        "refusals_daily",
        &["day", "ip_hash", "reason", "requests"],
        "day, ip_hash, reason",
    ),
    table(
        "activity",
        &[
            "id",
            "account_id",
            "actor",
            "category",
            "action",
            "target",
            "description",
            "ip_hash",
            "created_at",
            "prev_hash",
            "hash",
        ],
        "id",
    ),
    table(
        "idempotency_keys",
        &[
            "account_id",
            "route",
            "idempotency_key",
            "fingerprint",
            "state",
            "status_code",
            "response_body",
            "request_id",
            "created_at",
            "rowid",
        ],
        "rowid",
    ),
    table(
        "credit_ledger",
        &[
            "id",
            "account_id",
            "kind",
            "amount",
            "reference",
            "reservation_id",
            "actor",
            "created_at",
        ],
        "id",
    ),
    table(
        "sessions",
        &[
            "id_hash",
            "user_id",
            "account_id",
            "csrf_token",
            "ip_hash",
            "created_at",
            "expires_at",
        ],
        "id_hash",
    ),
    table(
        "low_balance_thresholds",
        &["account_id", "threshold", "armed"],
        "account_id, threshold",
    ),
    table("nodes", &["id", "started_at", "lease_until"], "id"),
    table(
        "generations",
        &[
            "id",
            "account_id",
            "key_id",
            "environment",
            "model_identifier",
            "model_type",
            "provider_order",
            "provider_used",
            "prediction_id",
            "status",
            "prompt",
            "ratio",
            "output_format",
            "output_number",
            "input_files",
            "output_files",
            "duration",
            "resolution",
            "generate_audio",
            "specific",
            "cost",
            "error",
            "error_code",
            "files_removed",
            "created_at",
            "started_at",
            "completed_at",
            "predict_ms",
            "last_frame",
            "origin",
            "node",
            "rowid",
        ],
        "rowid",
    ),
    table(
        "generation_attempts",
        &[
            "id",
            "generation_id",
            "provider",
            "outcome",
            "error_code",
            "error",
            "latency_ms",
            "created_at",
        ],
        "id",
    ),
    table(
        "usage_generations_daily",
        &["day", "account_id", "generations", "estimated_cost"],
        "account_id, day",
    ),
    table(
        "usage_providers_daily",
        &[
            "day",
            "account_id",
            "provider",
            "submissions",
            "used",
            "cancelled",
            "discarded",
            "failed",
            "estimated_cost",
            "wasted_cost",
        ],
        "account_id, day, provider",
    ),
    table(
        "webhook_endpoints",
        &[
            "id",
            "account_id",
            "url",
            "description",
            "events",
            "secret",
            "enabled",
            "disabled_reason",
            "consecutive_failures",
            "created_at",
            "updated_at",
            "secret_rotated_at",
        ],
        "id",
    ),
    table(
        "webhook_events",
        &[
            "id",
            "account_id",
            "event",
            "generation_id",
            "data",
            "created_at",
        ],
        "id",
    ),
    table(
        "webhook_deliveries",
        &[
            "id",
            "endpoint_id",
            "event_id",
            "status",
            "attempts",
            "next_attempt_at",
            "lease_until",
            "last_status_code",
            "last_error",
            "duration_ms",
            "replay_of",
            "created_at",
            "completed_at",
            "rowid",
        ],
        "rowid",
    ),
    table("job_runs", &["job", "tick", "node"], "job, tick"),
    table(
        "rate_grants",
        &["subject", "window_start", "granted"],
        "subject, window_start",
    ),
];

/// Values bound per insert statement: rows are sent in groups of about this many values.
const VALUES_PER_STATEMENT: usize = 4096;

/// How the schema's triggers were kept out of the copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Triggers {
    /// `session_replication_role = replica` for the copy's transaction.
    Off,
    /// The role could not be set (the reason; on SQLite, that it has none): the thresholds the
    /// account trigger added were removed before the source's were copied.
    On(String),
}

/// What a copy did.
#[derive(Debug)]
pub struct CopyReport {
    /// Rows copied, per table, in the order they were copied.
    pub tables: Vec<(&'static str, u64)>,
    pub triggers: Triggers,
    pub elapsed: std::time::Duration,
}

impl CopyReport {
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the source must be a {from} store and the target a {to} one")]
    Engines {
        from: &'static str,
        to: &'static str,
    },
    #[error("the source store is at schema version {found}, this binary's is {expected}: {advice}")]
    SourceSchema {
        found: usize,
        expected: usize,
        advice: &'static str,
    },
    #[error(
        "the target database is not empty ({table} has rows): migrate-store copies into an \
         empty database only; nothing was written"
    )]
    NotEmpty { table: &'static str },
    #[error(
        "the source has a {0} that this version of tidegate does not copy; nothing was written"
    )]
    Unknown(String),
    #[error("{table}: {copied} rows copied but the target has {found}")]
    Count {
        table: &'static str,
        copied: u64,
        found: i64,
    },
    #[error("{} already exists", .0.display())]
    Exists(PathBuf),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A table as this source has it: the listed columns it has, in the listed order.
struct Plan {
    table: &'static Table,
    columns: Vec<&'static str>,
}

/// The source's tables (the migration record of PostgreSQL left out, and SQLite's own).
fn source_tables(src: &Tx<'_>) -> Result<Vec<String>, StoreError> {
    match src.engine() {
        Engine::Sqlite => src.query_all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            &[],
            |r| r.get(0),
        ),
        // The catalog itself: `information_schema` takes milliseconds a query.
        Engine::Postgres => src.query_all(
            "SELECT CAST(relname AS TEXT) FROM pg_class
             WHERE relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
               AND relkind IN ('r', 'p') AND relname <> 'tidegate_schema'",
            &[],
            |r| r.get(0),
        ),
    }
}

/// The columns of one of the source's tables.
fn source_columns(src: &Tx<'_>, table: &str) -> Result<Vec<String>, StoreError> {
    match src.engine() {
        Engine::Sqlite => src.query_all("SELECT name FROM pragma_table_info(?1)", &[&table], |r| {
            r.get(0)
        }),
        Engine::Postgres => src.query_all(
            "SELECT CAST(a.attname AS TEXT) FROM pg_attribute a
             JOIN pg_class c ON c.oid = a.attrelid
             WHERE c.relnamespace =
                       (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
               AND c.relname = CAST(?1 AS NAME) AND a.attnum > 0 AND NOT a.attisdropped",
            &[&table],
            |r| r.get(0),
        ),
    }
}

/// The tables and columns to copy from this source; an error names one it has that the copy
/// does not know.
fn plan(src: &Tx<'_>) -> Result<Vec<Plan>, CopyError> {
    let present = source_tables(src)?;
    if let Some(unknown) = present
        .iter()
        .find(|name| !TABLES.iter().any(|t| t.name == name.as_str()))
    {
        return Err(CopyError::Unknown(format!("table {unknown}")));
    }
    let mut plans = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        if !present.iter().any(|name| name == table.name) {
            continue;
        }
        let columns = source_columns(src, table.name)?;
        if let Some(unknown) = columns
            .iter()
            .find(|c| !table.columns.contains(&c.as_str()))
        {
            return Err(CopyError::Unknown(format!(
                "column {}.{unknown}",
                table.name
            )));
        }
        plans.push(Plan {
            table,
            columns: table
                .columns
                .iter()
                .copied()
                // `rowid` is SQLite's own, in every table that has no other; PostgreSQL has it
                // as a column where it is listed.
                .filter(|c| *c == "rowid" || columns.iter().any(|name| name == c))
                .collect(),
        });
    }
    Ok(plans)
}

/// Copies the SQLite store `source` into the empty PostgreSQL store `target` (migrated to this
/// binary's schema): all of it, or nothing.
pub fn sqlite_to_postgres(source: &mut Db, target: &mut Db) -> Result<CopyReport, CopyError> {
    if source.engine() != Engine::Sqlite || target.engine() != Engine::Postgres {
        return Err(CopyError::Engines {
            from: "SQLite",
            to: "PostgreSQL",
        });
    }
    copy(source, target)
}

/// Copies the PostgreSQL store `source` into the empty SQLite store `target` (just created
/// at this binary's schema): all of it, or nothing.
pub fn postgres_to_sqlite(source: &mut Db, target: &mut Db) -> Result<CopyReport, CopyError> {
    if source.engine() != Engine::Postgres || target.engine() != Engine::Sqlite {
        return Err(CopyError::Engines {
            from: "PostgreSQL",
            to: "SQLite",
        });
    }
    copy(source, target)
}

/// Copies every table of `source` into the empty store `target`, both at this binary's schema
/// for their engine, in one snapshot and one write transaction.
fn copy(source: &mut Db, target: &mut Db) -> Result<CopyReport, CopyError> {
    let started = Instant::now();
    let src = source.snapshot()?;
    let found = migrations::schema_version(&src)?;
    let expected = migrations::steps(src.engine()).len();
    if found != expected {
        return Err(CopyError::SourceSchema {
            found,
            expected,
            advice: if found < expected {
                "start this version of tidegate on it once (or run `tidegate accounts list` \
                 with it configured) to migrate it first"
            } else {
                "copy it with the version of tidegate that wrote it"
            },
        });
    }
    let plans = plan(&src)?;
    let dst = target.write()?;
    // Tables copied over what the target holds (its install secret, the one-row key
    // generation) may have rows already; every other one must be empty.
    for plan in plans.iter().filter(|p| p.table.on_conflict.is_empty()) {
        let any: bool = dst.query_one(
            &format!("SELECT EXISTS (SELECT 1 FROM {})", plan.table.name),
            &[],
            |r| r.get(0),
        )?;
        if any {
            return Err(CopyError::NotEmpty {
                table: plan.table.name,
            });
        }
    }
    let triggers = triggers_off(&dst)?;
    let mut tables = Vec::with_capacity(plans.len());
    for plan in &plans {
        if plan.table.name == "low_balance_thresholds" && triggers != Triggers::Off {
            // The thresholds the account trigger added; the target had none before.
            dst.execute("DELETE FROM low_balance_thresholds", &[])?;
        }
        let copied = copy_table(&src, &dst, plan)?;
        tables.push((plan.table.name, copied));
    }
    if dst.engine() == Engine::Postgres {
        // Every identity column of the schema (SQLite's `INTEGER PRIMARY KEY`s and the
        // explicit `rowid`s), advanced past the largest value copied.
        let identities: Vec<(String, String)> = dst.query_all(
            "SELECT c.relname, a.attname FROM pg_attribute a
             JOIN pg_class c ON c.oid = a.attrelid
             WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
               AND c.relkind = 'r' AND a.attidentity <> '' AND NOT a.attisdropped",
            &[],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        for (name, column) in &identities {
            dst.query_one(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{name}', '{column}'), \
                     COALESCE(max({column}), 0) + 1, false) FROM {name}"
                ),
                &[],
                |r| r.get::<i64>(0),
            )?;
        }
    }
    for &(name, copied) in &tables {
        if name == "settings" {
            // It may keep an install secret of its own besides the source's.
            continue;
        }
        let found: i64 =
            dst.query_one(&format!("SELECT count(*) FROM {name}"), &[], |r| r.get(0))?;
        if u64::try_from(found).ok() != Some(copied) {
            return Err(CopyError::Count {
                table: name,
                copied,
                found,
            });
        }
    }
    dst.commit()?;
    drop(src);
    Ok(CopyReport {
        tables,
        triggers,
        elapsed: started.elapsed(),
    })
}

/// Turns the target's triggers off for the rest of the transaction if the role may; a refusal
/// is rolled back to a savepoint, so the transaction goes on with them on. SQLite has no such
/// switch.
fn triggers_off(dst: &Tx<'_>) -> Result<Triggers, StoreError> {
    if dst.engine() == Engine::Sqlite {
        return Ok(Triggers::On(
            "SQLite has no session_replication_role".into(),
        ));
    }
    dst.batch("SAVEPOINT tidegate_copy")?;
    match dst.batch("SET LOCAL session_replication_role = replica") {
        Ok(()) => {
            dst.batch("RELEASE SAVEPOINT tidegate_copy")?;
            Ok(Triggers::Off)
        }
        Err(e) => {
            dst.batch("ROLLBACK TO SAVEPOINT tidegate_copy; RELEASE SAVEPOINT tidegate_copy")?;
            Ok(Triggers::On(e.to_string()))
        }
    }
}

/// Streams one table from the source into the target in groups of rows; the rows copied.
fn copy_table(src: &Tx<'_>, dst: &Tx<'_>, plan: &Plan) -> Result<u64, StoreError> {
    let table = plan.table;
    let width = plan.columns.len();
    let per_statement = (VALUES_PER_STATEMENT / width.max(1)).max(1);
    let columns = plan.columns.join(", ");
    let order = match src.engine() {
        Engine::Sqlite => "rowid",
        Engine::Postgres => table.key,
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

/// Writes `file`, which must not exist, as a SQLite store holding everything of the PostgreSQL
/// store `source`, read in one snapshot: the file `tidegate backup` writes on SQLite, which
/// `tidegate check FILE` checks and `migrate-store --from FILE` restores.
///
/// The store is created in a directory of its own beside `file` (so that the move is a rename
/// within one file system), filled in one transaction, switched from WAL to a rollback journal
/// (one self-contained file, as `VACUUM INTO` writes), closed, and then moved to `file`. A
/// failure removes the directory and leaves `file` unwritten.
pub fn postgres_to_sqlite_file(
    source: &mut Db,
    file: &Path,
    busy_timeout: Duration,
) -> Result<CopyReport, CopyError> {
    // One connection: nothing else has the file open when its journal mode is switched.
    let options = StoreOptions::single(busy_timeout);
    if file.exists() {
        return Err(CopyError::Exists(file.to_owned()));
    }
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| CopyError::Io { path, source }
    };
    let name = file.file_name().ok_or_else(|| CopyError::Io {
        path: file.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
    })?;
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let work = parent.join(format!(
        ".{}.{}.partial",
        name.to_string_lossy(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir(&work).map_err(io(parent))?;
    let written = (|| {
        let store = Store::open(&work, options)?;
        let mut target = store.db()?;
        let report = postgres_to_sqlite(source, &mut target)?;
        let mode: String = target
            .read()
            .query_one("PRAGMA journal_mode = DELETE", &[], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("delete") {
            return Err(CopyError::Io {
                path: work.clone(),
                source: std::io::Error::other(format!("the copy stayed in journal mode {mode}")),
            });
        }
        drop(target);
        let database = store.path().to_owned();
        drop(store);
        // Checked again: the copy took a while, and a rename would replace the file.
        if file.exists() {
            return Err(CopyError::Exists(file.to_owned()));
        }
        std::fs::rename(&database, file).map_err(io(file))?;
        Ok(report)
    })();
    if let Err(e) = std::fs::remove_dir_all(&work) {
        tracing::warn!(path = %work.display(), error = %e, "the backup's work directory is left");
    }
    written
}

/// The target named without its password: database, host and user.
pub fn describe_postgres(url: &str) -> String {
    let Ok(config) = url.parse::<postgres::Config>() else {
        return "PostgreSQL".to_owned();
    };
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            // One port for every host, or one each; 5432 when none is given.
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match host {
                postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
                postgres::config::Host::Unix(path) => path.display().to_string(),
            }
        })
        .collect();
    let mut out = format!(
        "PostgreSQL database {}",
        config
            .get_dbname()
            .or(config.get_user())
            .unwrap_or("postgres")
    );
    if !hosts.is_empty() {
        out.push_str(&format!(" on {}", hosts.join(",")));
    }
    if let Some(user) = config.get_user() {
        out.push_str(&format!(" as {user}"));
    }
    out
}
