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

/// A single-use sign-in link for the instance administrator; the URL is printed only here.
#[derive(Debug, Serialize)]
pub struct SignInLinkOut {
    pub email: String,
    pub url: String,
    pub expires_at: super::Time,
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
    /// The generated media copied beside the file (`--with-media`); absent: not included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaOut>,
}

#[derive(Debug, Serialize)]
pub struct MediaOut {
    pub files: u64,
    pub bytes: u64,
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

/// `accounts show`: the account, its owner and members, and its keys counted.
#[derive(Debug, Serialize)]
pub struct AccountDetailOut {
    #[serde(flatten)]
    pub account: super::account::AccountOut,
    pub kind: &'static str,
    pub primary_owner: Option<String>,
    pub members: Vec<MemberOut>,
    pub keys: KeyCountsOut,
}

#[derive(Debug, Serialize)]
pub struct MemberOut {
    pub user_id: String,
    pub email: String,
    pub role: super::account::Role,
    pub joined_at: super::Time,
}

#[derive(Debug, Serialize)]
pub struct KeyCountsOut {
    pub active: i64,
    pub total: i64,
}

impl AccountDetailOut {
    pub fn of(d: &crate::service::accounts::AccountDetail) -> AccountDetailOut {
        AccountDetailOut {
            account: super::account::AccountOut::of(&d.account),
            kind: if d.account.is_personal {
                "personal"
            } else {
                "team"
            },
            primary_owner: d.primary_owner.clone(),
            members: d
                .members
                .iter()
                .map(|m| MemberOut {
                    user_id: m.user_id.clone(),
                    email: m.email.clone(),
                    role: super::account::Role(m.role),
                    joined_at: super::Time(m.joined_at),
                })
                .collect(),
            keys: KeyCountsOut {
                active: d.active_keys,
                total: d.keys,
            },
        }
    }
}

/// `accounts delete`: the account deleted and what went with it.
#[derive(Debug, Serialize)]
pub struct AccountDeletedOut {
    pub id: String,
    pub name: String,
    pub deleted: bool,
    pub keys_revoked: u64,
    pub members_removed: u64,
    pub webhook_endpoints_deleted: u64,
}

/// `credits balance`.
#[derive(Debug, Serialize)]
pub struct BalanceOut {
    pub account_id: String,
    pub credit_balance: Credits,
}

/// `credits list`: one ledger row, with the balance it left.
#[derive(Debug, Serialize)]
pub struct LedgerEntryOut {
    pub created_at: super::Time,
    /// `add`, `reserve`, `charge` or `refund`.
    pub kind: String,
    pub amount: Credits,
    pub balance_after: Credits,
    pub reference: Option<String>,
    pub actor: String,
}

/// `users add-membership` and `users remove-membership`.
#[derive(Debug, Serialize)]
pub struct MembershipOut {
    pub email: String,
    pub account_id: String,
    pub role: super::account::Role,
    /// False once the membership was removed.
    pub member: bool,
}

/// `users reset-2fa`: whether the user had a second factor, now off.
#[derive(Debug, Serialize)]
pub struct SecondFactorResetOut {
    pub email: String,
    pub reset: bool,
}

/// `users delete`.
#[derive(Debug, Serialize)]
pub struct UserDeletedOut {
    pub id: String,
    pub email: String,
    pub deleted: bool,
}
