//! What the administration commands print with `--json`: users and passwords, credits, backups,
//! copies between engines and the activity chain.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::Credits;
use crate::store::copy::{CopyReport, Triggers};

/// A new account and its primary owner; a new owner's one-time password is printed only here.
#[derive(Debug, Serialize)]
pub struct AccountCreatedOut {
    #[serde(flatten)]
    pub account: super::account::AccountOut,
    pub primary_owner: PasswordSetOut,
}

/// A new user; its one-time password is printed only here.
#[derive(Debug, Serialize)]
pub struct UserCreatedOut {
    pub id: String,
    pub email: String,
    pub password: String,
}

/// A password set; a generated one is printed only here.
#[derive(Debug, Serialize)]
pub struct PasswordSetOut {
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CreditsAddedOut {
    pub account_id: String,
    /// False when the reference was applied before and nothing was added.
    pub added: bool,
    pub credit_balance: Credits,
}

/// A backup; from PostgreSQL, with what was copied.
#[derive(Debug, Serialize)]
pub struct BackupOut {
    pub backup: PathBuf,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub copied: Option<CopiedOut>,
}

/// The rows copied per table, in all, and how long it took.
#[derive(Debug, Serialize)]
pub struct CopiedOut {
    pub tables: BTreeMap<String, u64>,
    pub rows: u64,
    pub seconds: f64,
}

impl CopiedOut {
    pub fn of(report: &CopyReport) -> CopiedOut {
        CopiedOut {
            tables: report
                .tables
                .iter()
                .map(|(name, rows)| ((*name).to_owned(), *rows))
                .collect(),
            rows: report.rows(),
            seconds: (report.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        }
    }
}

/// `migrate-store`: what was copied where, and whether the target's triggers ran.
#[derive(Debug, Serialize)]
pub struct MigratedOut {
    pub from: PathBuf,
    pub to: String,
    #[serde(flatten)]
    pub copied: CopiedOut,
    /// `off` (triggers were off during the copy) or `on`, with why they could not be.
    pub triggers: &'static str,
    pub triggers_reason: Option<String>,
}

impl MigratedOut {
    pub fn of(from: PathBuf, to: String, report: &CopyReport) -> MigratedOut {
        let (triggers, triggers_reason) = match &report.triggers {
            Triggers::Off => ("off", None),
            Triggers::On(reason) => ("on", Some(reason.clone())),
        };
        MigratedOut {
            from,
            to,
            copied: CopiedOut::of(report),
            triggers,
            triggers_reason,
        }
    }
}

/// `audit verify`: the rows of the activity chain checked, and its first break.
#[derive(Debug, Serialize)]
pub struct ChainOut {
    pub rows: i64,
    pub intact: bool,
    #[serde(rename = "break")]
    pub first_break: Option<String>,
}
