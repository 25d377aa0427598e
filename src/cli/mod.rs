//! The command line: `serve` (the default) and the admin commands, which work on the same data
//! directory, also while the server runs.

/// `println!` for a command's answer on stdout: a reader that went away (`| head`) is not the
/// command's failure, so a closed pipe ends the output quietly instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod accounts;
mod admin;
mod audit;
mod backup;
mod bench;
mod budget;
mod flags;
mod key_args;
mod keys;
mod migrate;
mod quota;
mod scan;
mod webhooks;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::Config;

#[derive(Parser)]
#[command(
    name = "tidegate",
    version,
    about = "Self-hosted API-key appliance with a BabySea-compatible /v1 API"
)]
struct Cli {
    /// Configuration file, merged over the embedded defaults.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print machine-readable JSON on stdout.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Print the effective configuration, secrets redacted.
    PrintConfig,
    /// Manage accounts.
    #[command(subcommand)]
    Accounts(accounts::AccountsCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(Box<keys::KeysCommand>),
    /// Manage webhook endpoints and their deliveries.
    #[command(subcommand)]
    Webhooks(webhooks::WebhooksCommand),
    /// Manage dashboard users.
    #[command(subcommand)]
    Users(admin::UsersCommand),
    /// An account's credits: add, balance, ledger.
    #[command(subcommand)]
    Credits(admin::CreditsCommand),
    /// Write a consistent copy of the live store to FILE (a SQLite file, without the generated
    /// media), or with --with-media DIR a complete data directory: DIR/tidegate.db and
    /// DIR/media/.
    Backup {
        /// The SQLite file to write; it must not exist. Generated media are not in it.
        #[arg(
            required_unless_present = "with_media",
            conflicts_with = "with_media",
            value_name = "FILE"
        )]
        file: Option<PathBuf>,
        /// Write DIR/tidegate.db and copy the generated media into DIR/media/, so that DIR can
        /// be served as a data directory; DIR must not exist or be empty.
        #[arg(long, value_name = "DIR")]
        with_media: Option<PathBuf>,
    },
    /// Check a store (the configured one, or FILE): integrity, schema, ledger, activity chain,
    /// and that every generated file a generation names is in the media directory beside it.
    Check {
        /// A store or backup file to check instead of the configured store; its media are
        /// checked when a media/ directory is beside it (a backup written with --with-media).
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Copy the SQLite store (the configured one, or --from FILE) into an empty PostgreSQL
    /// database: every table, in one transaction.
    MigrateStore {
        /// Connection string of the target database (postgres://user:password@host/db);
        /// without it, storage.postgres_url (e.g. TIDEGATE_STORAGE__POSTGRES_URL), which keeps
        /// the password out of the process list.
        #[arg(long, value_name = "POSTGRES_URL")]
        to: Option<String>,
        /// The SQLite file to copy instead of the configured store's.
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
    },
    /// The activity audit trail.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Run one maintenance job now: expire-rotated-keys, warn-expiring-keys,
    /// purge-request-logs, purge-idempotency-keys, fail-stuck-generations or notify-keys.
    RunJob {
        /// expire-rotated-keys, warn-expiring-keys, purge-request-logs, purge-idempotency-keys,
        /// fail-stuck-generations or notify-keys.
        #[arg(value_name = "JOB")]
        name: String,
    },
    /// Store many keys and request-log rows at once for benchmarks (tests/bench/README.md):
    /// keys first (their secrets are discarded), then the rows, through the request-log
    /// writer's own commit.
    #[command(hide = true)]
    BenchSeed {
        /// The account's id.
        #[arg(long)]
        account: String,
        /// How many keys to store.
        #[arg(long, default_value_t = 0)]
        count: u64,
        /// How many request-log rows to write, across the account's keys.
        #[arg(long, default_value_t = 0)]
        logs: u64,
        /// Over how many days before now the rows are spread.
        #[arg(long, default_value_t = 90)]
        days: u32,
    },
}

/// A command's failure: one clear line on stderr and a non-zero exit.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    /// 1 for a command that failed; 2 when it could not start (no store, bad configuration).
    pub exit_code: u8,
}

impl CliError {
    pub fn new(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            exit_code: 1,
        }
    }
}

/// A service's refusal, its API field names turned into the flags a user types.
impl From<crate::service::ServiceError> for CliError {
    fn from(e: crate::service::ServiceError) -> CliError {
        match e {
            crate::service::ServiceError::Invalid { field, message, .. } => {
                CliError::new(flags::reword(field, &message))
            }
            other => CliError::new(other.to_string()),
        }
    }
}

/// A service's "not found" for what the user named with `flag`, said with the value they gave.
pub fn unknown(given: &str, flag: &str) -> impl FnOnce(crate::service::ServiceError) -> CliError {
    move |e| match e {
        crate::service::ServiceError::NotFound(what) => {
            CliError::new(format!("no {what} with the id {given:?} ({flag})"))
        }
        other => CliError::from(other),
    }
}

macro_rules! cli_error_from {
    ($($t:ty),* $(,)?) => {$(
        impl From<$t> for CliError {
            fn from(e: $t) -> CliError {
                CliError::new(e.to_string())
            }
        }
    )*};
}

cli_error_from!(
    String,
    std::io::Error,
    serde_json::Error,
    crate::store::StoreError,
    crate::store::copy::CopyError,
    crate::domain::random::RandomError,
    crate::jobs::JobError,
);

pub struct Context {
    pub config: Config,
    pub json: bool,
}

/// What the command line asked for.
pub struct Parsed {
    pub config: Option<PathBuf>,
    pub json: bool,
    pub command: Command,
}

pub fn parse() -> Parsed {
    let cli = Cli::parse();
    Parsed {
        config: cli.config,
        json: cli.json,
        command: cli.command.unwrap_or(Command::Serve),
    }
}

/// Runs a command other than `serve`, which the application runs.
pub fn run(ctx: &Context, command: Command) -> Result<(), CliError> {
    match command {
        Command::Serve => Err(CliError::new("serve is run by the application")),
        Command::PrintConfig => print_config(ctx),
        Command::Accounts(cmd) => accounts::run(ctx, cmd),
        Command::Keys(cmd) => keys::run(ctx, *cmd),
        Command::Webhooks(cmd) => webhooks::run(ctx, cmd),
        Command::Users(cmd) => admin::users(ctx, cmd),
        Command::Credits(cmd) => admin::credits(ctx, cmd),
        Command::Backup { file, with_media } => backup::backup(
            ctx,
            match (file, with_media) {
                (_, Some(dir)) => backup::Target::WithMedia(dir),
                (Some(file), None) => backup::Target::File(file),
                (None, None) => return Err(CliError::new("give FILE or --with-media DIR")),
            },
        ),
        Command::Check { file } => backup::check(ctx, file),
        Command::MigrateStore { to, from } => migrate::run(ctx, to, from),
        Command::Audit(cmd) => audit::run(ctx, cmd),
        Command::RunJob { name } => admin::run_job(ctx, &name),
        Command::BenchSeed {
            account,
            count,
            logs,
            days,
        } => bench::run(
            ctx,
            bench::Seed {
                account,
                keys: count,
                logs,
                days,
            },
        ),
    }
}

/// The store the configuration names, opened for one command and brought up to today's rules
/// (as the server does at start). A command never makes a new SQLite store: the server does at
/// its first start, with the instance administrator; a command run in the wrong directory
/// would otherwise work on an empty store of its own.
fn open_store(config: &crate::config::Config) -> Result<crate::store::Store, CliError> {
    require_store(config)?;
    let store = crate::store::Store::configured(config, false)?;
    let now = crate::domain::Clock::system().now();
    for change in crate::service::bootstrap::repair(&mut store.db()?, config, now)? {
        eprintln!("note: {change}");
    }
    Ok(store)
}

/// Refuses (exit code 2) when the configured SQLite store does not exist, naming where it was
/// looked for. A PostgreSQL store is its database, which the connection answers for.
pub(crate) fn require_store(config: &crate::config::Config) -> Result<(), CliError> {
    if config.storage.backend != crate::config::Backend::Sqlite {
        return Ok(());
    }
    let path = config.database_path();
    if path.is_file() {
        return Ok(());
    }
    let data_dir = &config.storage.data_dir;
    let relative = if data_dir.is_relative() {
        let cwd = std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|_| "the current directory".into());
        format!(", relative to {cwd}")
    } else {
        String::new()
    };
    Err(CliError {
        message: format!(
            "no Tidegate store at {} (storage.data_dir = {}{relative}); run it where the server \
             runs, or pass --config or TIDEGATE_STORAGE__DATA_DIR",
            absolute(&path).display(),
            data_dir.display()
        ),
        exit_code: 2,
    })
}

/// `path` made absolute against the current directory (without resolving links).
pub fn absolute(path: &std::path::Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

fn print_config(ctx: &Context) -> Result<(), CliError> {
    if ctx.json {
        let mut value = serde_json::to_value(&ctx.config)?;
        redact_json(&mut value);
        out!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        let text = ctx.config.to_redacted_toml()?;
        out!("{}", text.trim_end_matches('\n'));
    }
    Ok(())
}

fn redact_json(value: &mut serde_json::Value) {
    if let serde_json::Value::Object(map) = value {
        for (key, v) in map.iter_mut() {
            if ["secret", "password", "token"]
                .iter()
                .any(|w| key.contains(w))
                && v.is_string()
            {
                *v = "[redacted]".into();
            } else {
                redact_json(v);
            }
        }
    }
}

/// Prints one JSON value on stdout.
pub fn print_json(value: &impl serde::Serialize) {
    use std::io::Write;
    // A reader that went away (`| head`) is not this command's failure.
    let _ = writeln!(
        std::io::stdout().lock(),
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// Prints `value` as JSON with `--json`, else `line`.
pub fn say(ctx: &Context, value: &impl serde::Serialize, line: &str) {
    if ctx.json {
        print_json(value);
    } else {
        out!("{line}");
    }
}

/// Prints rows as aligned columns.
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out!("{}", padded.join("  ").trim_end());
    };
    line(headers.iter().map(|h| (*h).to_owned()).collect());
    for row in rows {
        line(row.clone());
    }
}
