//! `tidegate keys scan PATH…` (docs/keys.md, "Leaked keys"): finds the keys of this install in
//! files, directories and (with `--git`) every commit of a repository's history, reports where
//! each is, whose it is and its status, and with `--revoke` revokes those that still work. Exit
//! status 1 when a key that works was found. A key is shown by its prefix only.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clap::Args;
use serde::Serialize;

use super::{CliError, Context, open_store, print_json, print_table};
use crate::domain::{Clock, KeyFormat};
use crate::service::Actor;
use crate::service::leaks::{self, Response, Verdict};

/// Files larger than this are skipped: keys live in source and configuration.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Args)]
pub struct ScanArgs {
    /// Files and directories to scan (directories recursively; `.git` is left to `--git`).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Also scan every commit of the git repositories named, as `git log --all -p` shows them
    /// (needs the git command).
    #[arg(long)]
    git: bool,
    /// Revoke every key found that still works (an activity entry and `apikey.leaked` each).
    #[arg(long)]
    revoke: bool,
}

/// One key found, as reported.
#[derive(Clone, Debug, Serialize)]
struct Finding {
    /// `file:line`, or `commit:file:line` in a repository's history.
    location: String,
    file: String,
    line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    commit: Option<String>,
    prefix: String,
    key_id: Option<String>,
    account_id: Option<String>,
    /// The key's status when found: active, rotated, expired, disabled, revoked, or unknown
    /// (a well-formed key this store does not have).
    status: String,
    /// What `--revoke` did: `revoked`, or nothing.
    action: Option<&'static str>,
}

/// A key in some text: where, and the key.
struct Hit {
    file: String,
    line: usize,
    commit: Option<String>,
    token: String,
}

pub fn run(ctx: &Context, args: ScanArgs) -> Result<(), CliError> {
    let format = KeyFormat::new(&ctx.config.keys.prefix).map_err(CliError::new)?;
    let mut hits = Vec::new();
    for path in &args.paths {
        if !path.exists() {
            return Err(CliError::new(format!(
                "{}: no such file or directory",
                path.display()
            )));
        }
        scan_path(&format, path, &mut hits)?;
        if args.git {
            scan_history(&format, path, &mut hits)?;
        }
    }
    let store = open_store(&ctx.config)?;
    let mut db = store.db()?;
    let now = Clock::system().now();
    let response = if args.revoke {
        Response::Revoke
    } else {
        Response::LookOnly
    };
    let mut verdicts: HashMap<String, Verdict> = HashMap::new();
    let mut findings = Vec::new();
    for hit in hits {
        let location = match &hit.commit {
            Some(commit) => format!(
                "{}:{}:{}",
                &commit[..commit.len().min(12)],
                hit.file,
                hit.line
            ),
            None => format!("{}:{}", hit.file, hit.line),
        };
        let (verdict, first) = match verdicts.get(&hit.token) {
            Some(v) => (v.clone(), false),
            None => {
                let v = leaks::respond(
                    &mut db,
                    &format,
                    &hit.token,
                    &location,
                    response,
                    &Actor::Cli,
                    now,
                )?;
                verdicts.insert(hit.token.clone(), v.clone());
                (v, true)
            }
        };
        let prefix = format.display_prefix(&hit.token).to_owned();
        let finding = match verdict {
            Verdict::NotAKey => continue,
            Verdict::Unknown => Finding {
                location,
                file: hit.file,
                line: hit.line,
                commit: hit.commit,
                prefix,
                key_id: None,
                account_id: None,
                status: "unknown".into(),
                action: None,
            },
            Verdict::Known { key, status, taken } => Finding {
                location,
                file: hit.file,
                line: hit.line,
                commit: hit.commit,
                prefix: key.key_prefix.clone(),
                key_id: Some(key.id.clone()),
                account_id: Some(key.account_id.clone()),
                status: status.as_str().to_owned(),
                action: taken.filter(|_| first).map(|a| a.done()),
            },
        };
        findings.push(finding);
    }
    let working = findings
        .iter()
        .filter(|f| f.status == "active" || f.status == "rotated")
        .count();
    if ctx.json {
        print_json(&findings);
    } else if findings.is_empty() {
        out!("No keys found.");
    } else {
        let rows: Vec<Vec<String>> = findings
            .iter()
            .map(|f| {
                vec![
                    f.location.clone(),
                    f.prefix.clone(),
                    f.account_id.clone().unwrap_or_else(|| "-".into()),
                    f.status.clone(),
                    f.action.unwrap_or("-").to_owned(),
                ]
            })
            .collect();
        print_table(
            &["LOCATION", "PREFIX", "ACCOUNT", "STATUS", "ACTION"],
            &rows,
        );
    }
    if working > 0 {
        let what = if args.revoke {
            "found and revoked"
        } else {
            "found; revoke them with --revoke"
        };
        return Err(CliError::new(format!(
            "{working} place(s) hold a key that works: {what}"
        )));
    }
    Ok(())
}

/// The keys in a file, or in every file under a directory (`.git` left out).
fn scan_path(format: &KeyFormat, path: &Path, hits: &mut Vec<Hit>) -> Result<(), CliError> {
    let meta = std::fs::symlink_metadata(path)
        .map_err(|e| CliError::new(format!("{}: {e}", path.display())))?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| CliError::new(format!("{}: {e}", path.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.file_name().is_none_or(|n| n != ".git"))
            .collect();
        entries.sort();
        for entry in entries {
            scan_path(format, &entry, hits)?;
        }
    } else if meta.is_file() && meta.len() <= MAX_FILE_BYTES {
        let bytes =
            std::fs::read(path).map_err(|e| CliError::new(format!("{}: {e}", path.display())))?;
        let text = String::from_utf8_lossy(&bytes);
        for found in format.find_all(&text) {
            hits.push(Hit {
                file: path.display().to_string(),
                line: text[..found.offset].matches('\n').count() + 1,
                commit: None,
                token: found.token.to_owned(),
            });
        }
    }
    Ok(())
}

/// The keys added in any commit of the repository at `path`, from `git log --all -p`: each with
/// its commit, file and line in that commit.
fn scan_history(format: &KeyFormat, path: &Path, hits: &mut Vec<Hit>) -> Result<(), CliError> {
    let dir = if path.is_dir() {
        path
    } else {
        path.parent().unwrap_or(Path::new("."))
    };
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "log",
            "--all",
            "-p",
            "--no-color",
            "--no-ext-diff",
            "--format=commit %H",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| CliError::new(format!("--git: cannot run git: {e}")))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| CliError::new("--git: no output from git"))?;
    let (mut commit, mut file, mut line) = (String::new(), String::new(), 0usize);
    for text in std::io::BufReader::new(stdout).split(b'\n') {
        let text = text.map_err(|e| CliError::new(format!("--git: {e}")))?;
        let text = String::from_utf8_lossy(&text);
        if let Some(id) = text.strip_prefix("commit ") {
            commit = id.trim().to_owned();
        } else if let Some(name) = text.strip_prefix("+++ ") {
            file = name.strip_prefix("b/").unwrap_or(name).to_owned();
        } else if let Some(hunk) = text.strip_prefix("@@ ") {
            // @@ -a,b +c,d @@: the new side starts at line c.
            line = hunk
                .split_whitespace()
                .find_map(|part| part.strip_prefix('+'))
                .and_then(|c| c.split(',').next())
                .and_then(|c| c.parse().ok())
                .unwrap_or(1);
        } else if let Some(added) = text.strip_prefix('+') {
            for found in format.find_all(added) {
                hits.push(Hit {
                    file: file.clone(),
                    line,
                    commit: Some(commit.clone()),
                    token: found.token.to_owned(),
                });
            }
            line += 1;
        } else if text.starts_with(' ') {
            line += 1;
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| CliError::new(format!("--git: {e}")))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        if why.contains("not a git repository") {
            // Its files were scanned; it has no history to read.
            eprintln!("{}: not in a git repository; its files only", dir.display());
            return Ok(());
        }
        return Err(CliError::new(format!(
            "--git: {}: {}",
            dir.display(),
            why.trim()
        )));
    }
    Ok(())
}
