//! `tidegate migrate-store --to URL`: copies the SQLite store (the configured one, or
//! `--from FILE`) into an empty PostgreSQL database, all of it or nothing.

use std::path::PathBuf;
use std::time::Duration;

use super::{CliError, Context, print_json, print_table};
use crate::store::copy::{Triggers, describe_postgres, sqlite_to_postgres};
use crate::store::{Store, StoreOptions, check_postgres_url};
use crate::wire::admin::MigratedOut;

pub fn run(ctx: &Context, to: Option<String>, from: Option<PathBuf>) -> Result<(), CliError> {
    let configured = ctx.config.storage.postgres_url.trim();
    let (to, named) = match &to {
        Some(to) => (to.as_str(), "--to"),
        None if !configured.is_empty() => (configured, "storage.postgres_url"),
        None => {
            return Err(CliError::new(
                "name the target with --to or storage.postgres_url \
                 (TIDEGATE_STORAGE__POSTGRES_URL)",
            ));
        }
    };
    // The parser's message never repeats the URL, nor its password.
    check_postgres_url(to).map_err(|m| CliError::new(format!("{named} {m}")))?;
    let path = match from {
        Some(file) => file,
        None => {
            super::require_store(&ctx.config)?;
            ctx.config.database_path()
        }
    };
    let mut source = super::backup::open_sqlite_file(&path)?;
    let target_name = describe_postgres(to);
    let options = StoreOptions::single(Duration::from_millis(ctx.config.storage.busy_timeout_ms));
    // Migrates the target to this binary's schema first.
    let ca_file = ctx.config.storage.postgres_ca_file.as_deref();
    let store = Store::open_postgres(to, ca_file, &ctx.config.storage.data_dir, options)
        .map_err(|e| CliError::new(format!("{target_name}: {e}")))?;
    let mut target = store.db()?;
    let report = sqlite_to_postgres(&mut source, &mut target)?;
    let seconds = report.elapsed.as_secs_f64();
    if ctx.json {
        print_json(&MigratedOut::of(path, target_name, &report));
        return Ok(());
    }
    out!(
        "Copied {} into {target_name}: {} rows in {seconds:.2} s.",
        path.display(),
        report.rows()
    );
    match &report.triggers {
        Triggers::Off => out!(
            "The target's triggers were off during the copy (session_replication_role = replica)."
        ),
        Triggers::On(reason) => out!(
            "The target's triggers could not be turned off ({reason}): the low-balance \
             thresholds they added were removed, and key_generation was set from the source."
        ),
    }
    let rows: Vec<Vec<String>> = report
        .tables
        .iter()
        .map(|(name, rows)| vec![(*name).to_owned(), rows.to_string()])
        .collect();
    print_table(&["TABLE", "ROWS"], &rows);
    out!(
        "Next: set storage.backend = \"postgres\" and storage.postgres_url, keep storage.data_dir \
         (generated media stay there), and run `tidegate check`."
    );
    Ok(())
}
