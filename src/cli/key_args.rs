//! What the key commands take: a key named by its id or its display prefix, and the edits of
//! `keys update` (what the management API's PATCH edits).

use super::CliError;
use crate::service::keys::{KeyMatch, find_by_id_or_prefix};
use crate::service::lifecycle::KeyPatch;
use crate::store::Db;

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("expiry").args(["expires_in_days", "expires_at", "no_expiry"])))]
pub struct UpdateArgs {
    /// The key's id or its display prefix (e.g. bye_bpsF8, or a unique start of it).
    #[arg(long, value_name = "ID_OR_PREFIX")]
    key: String,
    /// A new name.
    #[arg(long)]
    name: Option<String>,
    /// Expire N days from now (1-3650).
    #[arg(long, value_name = "N")]
    expires_in_days: Option<i64>,
    /// Expire at this time: RFC 3339 (2030-01-31T12:00:00Z) or YYYY-MM-DD.
    #[arg(long, value_name = "RFC3339")]
    expires_at: Option<String>,
    /// Never expire.
    #[arg(long)]
    no_expiry: bool,
    /// Comma-separated IP addresses or CIDR blocks allowed to use the key; "" allows every
    /// address.
    #[arg(long, value_delimiter = ',', value_name = "IPS")]
    allowed_ips: Option<Vec<String>>,
    /// Requests per minute for this key (below the plan's limit).
    #[arg(
        long,
        value_name = "N",
        allow_negative_numbers = true,
        conflicts_with = "no_rate_limit"
    )]
    rate_limit: Option<i64>,
    /// Remove the key's own rate limit (the plan's applies).
    #[arg(long)]
    no_rate_limit: bool,
    /// Comma-separated model identifiers (owner/name) the key may use; "" allows every model.
    #[arg(long, value_delimiter = ',', value_name = "MODELS")]
    allowed_models: Option<Vec<String>>,
}

impl UpdateArgs {
    pub(super) fn patch(self) -> Result<(String, KeyPatch), CliError> {
        let list = |v: Option<Vec<String>>| {
            v.map(|items| {
                let items: Vec<String> =
                    items.into_iter().filter(|i| !i.trim().is_empty()).collect();
                Some(items)
            })
        };
        let patch = KeyPatch {
            name: self.name,
            expires_at: match (self.expires_at, self.no_expiry) {
                (Some(at), _) => Some(Some(at)),
                (None, true) => Some(None),
                (None, false) => None,
            },
            expires_in_days: self.expires_in_days,
            ip_allowlist: list(self.allowed_ips),
            allowed_models: list(self.allowed_models),
            rate_limit_per_minute: match (self.rate_limit, self.no_rate_limit) {
                (Some(n), _) => Some(Some(n)),
                (None, true) => Some(None),
                (None, false) => None,
            },
            disabled: None,
            budget: None,
            quota: None,
        };
        let nothing = patch.name.is_none()
            && patch.expires_at.is_none()
            && patch.expires_in_days.is_none()
            && patch.ip_allowlist.is_none()
            && patch.allowed_models.is_none()
            && patch.rate_limit_per_minute.is_none();
        if nothing {
            return Err(CliError::new(
                "nothing to change: give --name, --expires-in-days, --expires-at, --no-expiry, \
                 --allowed-ips, --rate-limit, --no-rate-limit or --allowed-models",
            ));
        }
        Ok((self.key, patch))
    }
}

/// The id of the key `given` names: its id, or its display prefix or a start of it when that
/// names one key only.
pub(super) fn resolve_key(db: &mut Db, given: &str) -> Result<String, CliError> {
    match find_by_id_or_prefix(&db.read(), given)? {
        KeyMatch::One(key) => Ok(key.id),
        KeyMatch::Nothing => Err(CliError::new(format!(
            "no API key with the id or prefix {given:?}"
        ))),
        KeyMatch::Several(keys) => {
            let listed: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "{} \"{}\" (id {}, account {})",
                        k.key_prefix, k.name, k.id, k.account_id
                    )
                })
                .collect();
            Err(CliError::new(format!(
                "{given:?} matches several API keys; give the id or more of the prefix: {}",
                listed.join("; ")
            )))
        }
    }
}
