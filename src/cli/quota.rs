//! `tidegate keys quota ID_OR_PREFIX --quota-requests N --quota-refill none|daily|weekly|monthly
//! [--quota-refill-day D]`, or `--none` (docs/keys.md, "Request quotas").

use clap::Args;
use serde::Serialize;

use super::key_args::resolve_key;
use super::{CliError, Context, open_store, print_json};
use crate::domain::key::quota::KeyQuota;
use crate::domain::{Clock, Timestamp};
use crate::service::Actor;
use crate::service::keys::QuotaInput;
use crate::service::lifecycle::{KeyPatch, update_key};

/// The quota flags of `keys create` and `keys quota`.
#[derive(Args, Clone, Debug, Default)]
pub struct QuotaFlags {
    /// Requests the key may make per refill period (1 to 1000000000).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub quota_requests: Option<String>,
    /// When the quota is whole again, at UTC midnight: none (never), daily, weekly (Mondays)
    /// or monthly (on --quota-refill-day).
    #[arg(long, value_name = "REFILL")]
    pub quota_refill: Option<String>,
    /// The day of the month of a monthly refill (1-31; past a month's end, its last day).
    #[arg(long, value_name = "DAY", allow_negative_numbers = true)]
    pub quota_refill_day: Option<String>,
}

impl QuotaFlags {
    pub fn input(self) -> QuotaInput {
        QuotaInput {
            requests: self.quota_requests,
            refill: self.quota_refill,
            refill_day: self.quota_refill_day,
        }
    }

    fn is_empty(&self) -> bool {
        self.quota_requests.is_none()
            && self.quota_refill.is_none()
            && self.quota_refill_day.is_none()
    }
}

#[derive(Args)]
pub struct QuotaArgs {
    /// The key's id or its display prefix (e.g. bye_bpsF8, or a unique start of it).
    #[arg(value_name = "ID_OR_PREFIX")]
    id: String,
    #[command(flatten)]
    flags: QuotaFlags,
    /// Remove the key's quota.
    #[arg(long, conflicts_with_all = ["quota_requests", "quota_refill", "quota_refill_day"])]
    none: bool,
}

/// A key's quota as `--json` prints it.
#[derive(Serialize)]
pub struct QuotaOut {
    pub key_id: String,
    /// `null`: no quota.
    pub quota_requests: Option<i64>,
    pub quota_refill: Option<&'static str>,
    pub quota_refill_day: Option<u8>,
    pub quota_remaining: Option<i64>,
    pub quota_refills_at: Option<String>,
}

impl QuotaOut {
    pub fn of(key_id: &str, quota: Option<KeyQuota>, now: Timestamp) -> QuotaOut {
        QuotaOut {
            key_id: key_id.to_owned(),
            quota_requests: quota.map(|q| q.quota.requests),
            quota_refill: quota.map(|q| q.quota.refill.as_str()),
            quota_refill_day: quota.and_then(|q| q.quota.refill.day()),
            quota_remaining: quota.map(|q| q.remaining(now)),
            quota_refills_at: quota
                .and_then(|q| q.refills_at(now))
                .map(Timestamp::to_rfc3339),
        }
    }
}

/// "1000 requests, refilled every day: 250 left until 2026-12-08T00:00:00Z", or "none".
pub fn describe(quota: Option<KeyQuota>, now: Timestamp) -> String {
    let Some(q) = quota else {
        return "none".to_owned();
    };
    let until = q
        .refills_at(now)
        .map_or_else(String::new, |at| format!(" until {}", at.to_rfc3339()));
    format!("{}: {} left{until}", q.quota.describe(), q.remaining(now))
}

/// An edit of the key's quota alone, through the same use case as every other edit. A flag left
/// out keeps the quota's own value.
pub fn run(ctx: &Context, args: QuotaArgs) -> Result<(), CliError> {
    if !args.none && args.flags.is_empty() {
        return Err(CliError::new(
            "give --quota-requests and --quota-refill (with --quota-refill-day for monthly), \
             or --none to remove the quota",
        ));
    }
    let patch = KeyPatch {
        quota: Some((!args.none).then(|| args.flags.input())),
        ..KeyPatch::default()
    };
    let store = open_store(&ctx.config)?;
    let mut db = store.db()?;
    let id = resolve_key(&mut db, &args.id)?;
    let now = Clock::system().now();
    let key = update_key(&mut db, &Actor::Cli, now, (None, &id), &patch)?;
    if ctx.json {
        print_json(&QuotaOut::of(&key.id, key.quota, now));
    } else {
        out!(
            "Request quota of API key \"{}\" ({}): {}",
            key.name,
            key.key_prefix,
            describe(key.quota, now)
        );
    }
    Ok(())
}
