//! Schema migrations compiled into the binary, applied in order, one transaction each. SQLite
//! tracks its version in `PRAGMA user_version`, PostgreSQL in the one-row `tidegate_schema`.
//! Each engine has its own list: PostgreSQL starts from the schema SQLite reached in eight
//! steps, and a later change adds a step to both. A step's place in its list is its version,
//! whatever its file is called.

use super::engine::Engine;
use super::{Db, StoreError, Tx};

pub const MIGRATIONS: &[&str] = &[
    include_str!("sql/0001_foundation.sql"),
    include_str!("sql/0002_lifecycle.sql"),
    include_str!("sql/0003_sessions.sql"),
    include_str!("sql/0004_thresholds.sql"),
    include_str!("sql/0005_generations.sql"),
    include_str!("sql/0006_generation_inputs.sql"),
    include_str!("sql/0007_log_index_tags.sql"),
    include_str!("sql/0008_webhooks.sql"),
    include_str!("sql/0009_nodes.sql"),
    include_str!("sql/0010_passwords.sql"),
    include_str!("sql/0011_chart_rollups.sql"),
    include_str!("sql/0012_client_ip.sql"),
    include_str!("sql/0013_second_factor.sql"),
    include_str!("sql/0014_auth_limits.sql"),
    include_str!("sql/0015_oidc.sql"),
    include_str!("sql/0016_key_policy.sql"),
    include_str!("sql/0017_audit_stream.sql"),
    include_str!("sql/0018_notifications.sql"),
    include_str!("sql/0019_notification_settings.sql"),
    include_str!("sql/0020_leaks.sql"),
    include_str!("sql/0021_key_budgets.sql"),
    include_str!("sql/0022_key_quotas.sql"),
];

pub const POSTGRES_MIGRATIONS: &[&str] = &[
    include_str!("sql/postgres/0001_schema.sql"),
    include_str!("sql/postgres/0002_nodes.sql"),
    include_str!("sql/postgres/0003_passwords.sql"),
    include_str!("sql/postgres/0004_chart_rollups.sql"),
    include_str!("sql/postgres/0005_client_ip.sql"),
    include_str!("sql/postgres/0006_second_factor.sql"),
    include_str!("sql/postgres/0007_auth_limits.sql"),
    include_str!("sql/postgres/0008_oidc.sql"),
    include_str!("sql/postgres/0009_key_policy.sql"),
    include_str!("sql/postgres/0010_audit_stream.sql"),
    include_str!("sql/postgres/0011_notifications.sql"),
    include_str!("sql/postgres/0012_notification_settings.sql"),
    include_str!("sql/postgres/0013_leaks.sql"),
    include_str!("sql/postgres/0014_key_budgets.sql"),
    include_str!("sql/postgres/0015_key_quotas.sql"),
];

/// The session-level advisory lock a PostgreSQL node holds while it migrates, so nodes that
/// start at once apply each step once.
const MIGRATION_LOCK: &str = "1953064038, hashtext(coalesce(current_schema(), ''))";

pub fn steps(engine: Engine) -> &'static [&'static str] {
    match engine {
        Engine::Sqlite => MIGRATIONS,
        Engine::Postgres => POSTGRES_MIGRATIONS,
    }
}

pub fn schema_version(tx: &Tx<'_>) -> Result<usize, StoreError> {
    let version: i64 = match tx.engine() {
        Engine::Sqlite => tx.query_one("PRAGMA user_version", &[], |r| r.get(0))?,
        Engine::Postgres => tx
            .query_opt(
                "SELECT version FROM tidegate_schema WHERE id = 1",
                &[],
                |r| r.get(0),
            )?
            .unwrap_or(0),
    };
    Ok(usize::try_from(version).unwrap_or(0))
}

/// Applies every pending step, one transaction each. The write lock and a re-read of the
/// version inside each step's transaction let a command and the server (or several nodes)
/// start on the same store at once.
pub fn migrate(db: &mut Db) -> Result<(), StoreError> {
    if db.engine() == Engine::Postgres {
        db.read()
            .execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"), &[])?;
        let created = db.read().batch(
            "CREATE TABLE IF NOT EXISTS tidegate_schema (
                     id      BIGINT PRIMARY KEY CHECK (id = 1),
                     version BIGINT NOT NULL
                 );
                 INSERT INTO tidegate_schema (id, version) VALUES (1, 0)
                     ON CONFLICT (id) DO NOTHING",
        );
        let result = created.and_then(|()| apply(db));
        let unlock = db
            .read()
            .execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"), &[]);
        result?;
        unlock?;
        return Ok(());
    }
    apply(db)
}

fn apply(db: &mut Db) -> Result<(), StoreError> {
    let steps = steps(db.engine());
    loop {
        let tx = db.write()?;
        let version = schema_version(&tx)?;
        if version > steps.len() {
            return Err(StoreError::SchemaTooNew {
                found: version,
                supported: steps.len(),
            });
        }
        let Some(step) = steps.get(version) else {
            return Ok(());
        };
        tx.batch(step)?;
        let next = i64::try_from(version + 1).unwrap_or(i64::MAX);
        match tx.engine() {
            // PRAGMA takes no parameters.
            Engine::Sqlite => tx.batch(&format!("PRAGMA user_version = {next}"))?,
            Engine::Postgres => {
                tx.execute(
                    "UPDATE tidegate_schema SET version = ?1 WHERE id = 1",
                    &[&next],
                )?;
            }
        }
        tx.commit()?;
        tracing::info!(version = version + 1, "applied schema migration");
    }
}
