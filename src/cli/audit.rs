//! `tidegate audit`: the check of the activity log's hash chain in the store, its export as JSON
//! Lines, and the offline check of such an export (docs/decisions.md, "Audit export").

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::backup::store_to_check;
use super::{CliError, Context, open_store, print_json};
use crate::domain::Timestamp;
use crate::service::activity::{self, ActivityFilter, FileCheck};
use crate::service::check::describe_break;
use crate::wire::admin::ChainOut;
use crate::wire::log::ActivityLine;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Walk the hash-chained activity log and report the first broken link; with --file, check
    /// an export instead and report its first line that was changed, removed or reordered.
    Verify {
        /// A file written by `tidegate audit export` or the Activity page's export.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// The export was filtered (the Activity page's, which holds one workspace's entries):
        /// entries may be missing between two lines; each line and the order are still checked.
        #[arg(long, requires = "file")]
        filtered: bool,
    },
    /// Write the activity log of every account, oldest first, as JSON Lines on stdout: each
    /// line an entry with its chain fields (id, prev_hash, hash).
    Export {
        /// Only entries from this time on (RFC 3339 or YYYY-MM-DD); the export then starts
        /// mid-chain, and is checked from its first line's previous hash.
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Only entries before this time (RFC 3339 or YYYY-MM-DD).
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
    },
}

pub fn run(ctx: &Context, cmd: AuditCommand) -> Result<(), CliError> {
    match cmd {
        AuditCommand::Verify { file: None, .. } => verify_store(ctx),
        AuditCommand::Verify {
            file: Some(file),
            filtered,
        } => verify_file(ctx, &file, filtered),
        AuditCommand::Export { since, until } => export(ctx, since, until),
    }
}

fn verify_store(ctx: &Context) -> Result<(), CliError> {
    let (mut db, _, _) = store_to_check(ctx, None)?;
    let (rows, broken) = activity::verify_chain(&db.read())?;
    if ctx.json {
        print_json(&ChainOut {
            rows,
            intact: broken.is_none(),
            first_break: broken.as_ref().map(describe_break),
        });
    } else if broken.is_none() {
        out!("Activity chain intact: {rows} rows");
    }
    match broken {
        None => Ok(()),
        Some(b) => Err(CliError::new(format!(
            "activity chain broken: {}",
            describe_break(&b)
        ))),
    }
}

fn time(flag: &str, value: Option<String>) -> Result<Option<Timestamp>, CliError> {
    value
        .map(|v| {
            Timestamp::parse(&v).ok_or_else(|| {
                CliError::new(format!(
                    "{flag} {v:?} is not an RFC 3339 time or a YYYY-MM-DD date"
                ))
            })
        })
        .transpose()
}

fn export(ctx: &Context, since: Option<String>, until: Option<String>) -> Result<(), CliError> {
    let filter = ActivityFilter {
        since: time("--since", since)?,
        until: time("--until", until)?,
        ..ActivityFilter::default()
    };
    let mut db = open_store(&ctx.config)?.db()?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut after = None;
    loop {
        let rows = activity::export_batch(&db.read(), &filter, after)?;
        for row in &rows {
            // A reader that went away (`| head`) is not this command's failure.
            if out
                .write_all(ActivityLine::to_jsonl(row).as_bytes())
                .is_err()
            {
                return Ok(());
            }
        }
        if (rows.len() as i64) < activity::EXPORT_BATCH {
            break;
        }
        after = rows.last().map(|r| r.id);
    }
    let _ = out.flush();
    Ok(())
}

/// The non-empty lines of `file` with their 1-based numbers, read again for each pass.
fn lines(file: &Path) -> Result<impl Iterator<Item = (usize, String)>, CliError> {
    let opened = std::fs::File::open(file)
        .map_err(|e| CliError::new(format!("cannot read {}: {e}", file.display())))?;
    Ok(BufReader::new(opened)
        .lines()
        .map_while(Result::ok)
        .enumerate()
        .map(|(i, text)| (i + 1, text))
        .filter(|(_, text)| !text.trim().is_empty()))
}

fn verify_file(ctx: &Context, file: &Path, filtered: bool) -> Result<(), CliError> {
    let mut check = FileCheck::new(filtered);
    let mut entries = 0;
    for (line, text) in lines(file)? {
        // A line that does not read is reported in the second pass, at its place.
        let id = ActivityLine::parse(&text).map_or(i64::MAX, |e| e.id);
        check.index(id, line);
        entries += 1;
    }
    let mut broken = None;
    for (index, (line, text)) in lines(file)?.enumerate() {
        // The file may have changed between the passes; what was indexed is what is checked.
        if index >= entries {
            break;
        }
        let found = match ActivityLine::parse(&text) {
            Ok(entry) => check.check_at(index, line, &entry),
            Err(e) => Err(format!("line {line} is not an activity entry: {e}")),
        };
        if let Err(problem) = found {
            broken = Some(problem);
            break;
        }
    }
    if ctx.json {
        print_json(&ChainOut {
            rows: check.checked as i64,
            intact: broken.is_none(),
            first_break: broken.clone(),
        });
    } else if broken.is_none() {
        out!(
            "Export intact: {} entries in {}",
            check.checked,
            file.display()
        );
    }
    match broken {
        None => Ok(()),
        Some(problem) => Err(CliError::new(format!(
            "{} is not the activity log as exported: {problem}",
            file.display()
        ))),
    }
}
