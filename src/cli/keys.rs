//! `tidegate keys create|list|show|revoke|disable|enable`.

use clap::Subcommand;

use super::key_args::{UpdateArgs, resolve_key};
use super::open_store;
use super::{CliError, Context, print_json, print_table, unknown};
use crate::domain::key::ApiKey;
use crate::domain::key::Switch;
use crate::domain::{Clock, Environment, KeyFormat, Timestamp};
use crate::service::Actor;
use crate::service::keys::{CreateKey, ScopeChoice, create_key, get_key, switch_key};
use crate::service::lifecycle::{delete_key, expire_now, rotate_key, update_key};
use crate::store::keys::list_keys;
use crate::wire::key::{CreatedKeyOut, DeletedKeyOut, KeyOut, RotatedKeyOut};

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create a key; its secret is printed once.
    Create {
        /// The account's id (`tidegate accounts list` shows them).
        #[arg(long, value_name = "ID")]
        account: String,
        /// The key's name, as pages show it.
        #[arg(long)]
        name: String,
        /// The key's scopes as a preset: full_access, generate_only, read_only, monitor_only or
        /// key_management.
        #[arg(long, conflicts_with = "scopes", required_unless_present = "scopes")]
        preset: Option<String>,
        /// Comma-separated scopes instead of a preset, e.g. account:read,generation:read
        /// (generation:write, generation:read, generation:delete, account:read, health:read,
        /// library:read, keys:read, keys:write, webhooks:read, webhooks:write, activity:read).
        #[arg(long, value_delimiter = ',')]
        scopes: Option<Vec<String>>,
        /// Comma-separated IP addresses or CIDR blocks allowed to use the key (default: every
        /// address).
        #[arg(
            long = "allowed-ips",
            visible_alias = "ips",
            value_delimiter = ',',
            value_name = "IPS"
        )]
        ips: Vec<String>,
        /// Expire at this time: RFC 3339 (2030-01-31T12:00:00Z) or YYYY-MM-DD.
        #[arg(long, value_name = "RFC3339", conflicts_with = "expires_in_days")]
        expires_at: Option<String>,
        /// Expire N days from now (1-3650).
        #[arg(long, value_name = "N")]
        expires_in_days: Option<i64>,
        /// Comma-separated model identifiers (owner/name) the key may use (default: every model).
        #[arg(long, value_delimiter = ',', value_name = "MODELS")]
        allowed_models: Option<Vec<String>>,
        /// Requests per minute for this key (below the plan's limit).
        #[arg(long, value_name = "N", allow_negative_numbers = true)]
        rate_limit: Option<i64>,
        /// Make a test key (bye_test_…).
        #[arg(long)]
        test: bool,
        /// Credits the key's generations may spend per --budget-period (default: no budget).
        #[arg(long, value_name = "N", allow_negative_numbers = true)]
        budget_credits: Option<String>,
        /// day, week (from Monday) or month: when the budget renews, at UTC midnight.
        #[arg(long, value_name = "PERIOD")]
        budget_period: Option<String>,
        #[command(flatten)]
        quota: super::quota::QuotaFlags,
    },
    /// List keys, newest first.
    List {
        /// Only this account's keys (its id).
        #[arg(long, value_name = "ID")]
        account: Option<String>,
    },
    /// Show one key.
    Show {
        /// The key's id or its display prefix (e.g. bye_bpsF8, or a unique start of it).
        #[arg(value_name = "ID_OR_PREFIX")]
        id: String,
    },
    /// Rotate a key: prints the new key once; the old one works until the grace period ends.
    Rotate {
        /// The key's id or its display prefix (e.g. bye_bpsF8, or a unique start of it).
        #[arg(value_name = "ID_OR_PREFIX")]
        id: String,
        /// Hours the old key keeps working (1-168).
        #[arg(long, default_value_t = 24)]
        grace_hours: i64,
    },
    /// End a rotated key's grace period now.
    ExpireNow {
        /// The key's id or its display prefix (e.g. bye_bpsF8, or a unique start of it).
        #[arg(value_name = "ID_OR_PREFIX")]
        id: String,
    },
    /// Revoke a key (final).
    Revoke {
        /// The key's id or its display prefix (e.g. bye_bpsF8, or a unique start of it).
        #[arg(value_name = "ID_OR_PREFIX")]
        id: String,
    },
    /// Delete a key and all its request-log rows (usage roll-ups stay).
    Delete {
        /// The key's id or its display prefix (e.g. bye_bpsF8, or a unique start of it).
        #[arg(value_name = "ID_OR_PREFIX")]
        id: String,
    },
    /// Disable a key (reversible).
    Disable {
        /// The key's id or its display prefix (e.g. bye_bpsF8, or a unique start of it).
        #[arg(value_name = "ID_OR_PREFIX")]
        id: String,
    },
    /// Change what a key may do: its name, expiry, IP allowlist, rate limit or models.
    Update(UpdateArgs),
    /// Enable a disabled key.
    Enable {
        /// The key's id or its display prefix (e.g. bye_bpsF8, or a unique start of it).
        #[arg(value_name = "ID_OR_PREFIX")]
        id: String,
    },
    /// Set or remove a key's credit budget.
    Budget(super::budget::BudgetArgs),
    /// Set or remove a key's request quota.
    Quota(super::quota::QuotaArgs),
    /// Find this install's keys in files, directories and git history; exit status 1 when a
    /// key that works is found.
    Scan(super::scan::ScanArgs),
}

fn describe(k: &ApiKey, now: Timestamp) {
    let show = |t: Option<Timestamp>| t.map(Timestamp::to_rfc3339).unwrap_or_else(|| "-".into());
    out!("id           {}", k.id);
    out!("name         {}", k.name);
    out!("prefix       {}", k.key_prefix);
    out!("account      {}", k.account_id);
    out!("status       {}", k.status(now).as_str());
    out!("environment  {}", k.environment.as_str());
    out!("scopes       {}", k.scopes.names().join(", "));
    let ips = k.ip_allowlist.entries();
    out!(
        "ip allowlist {}",
        if ips.is_empty() {
            "all".into()
        } else {
            ips.join(", ")
        }
    );
    if let Some(models) = &k.allowed_models {
        out!("models       {}", models.join(", "));
    }
    if let Some(limit) = k.rate_limit_per_minute {
        out!("rate limit   {limit}/min");
    }
    out!("created      {}", k.created_at.to_rfc3339());
    out!("last used    {}", show(k.last_used_at));
    out!("expires      {}", show(k.expires_at));
}

pub fn run(ctx: &Context, cmd: KeysCommand) -> Result<(), CliError> {
    let cmd = match cmd {
        KeysCommand::Scan(args) => return super::scan::run(ctx, args),
        KeysCommand::Budget(args) => return super::budget::run(ctx, args),
        KeysCommand::Quota(args) => return super::quota::run(ctx, args),
        other => other,
    };
    let store = open_store(&ctx.config)?;
    let mut db = store.db()?;
    let now = Clock::system().now();
    let switched = |key: ApiKey, verb: &str| {
        if ctx.json {
            print_json(&KeyOut::of(&key, now));
        } else {
            out!("{verb} API key \"{}\" ({})", key.name, key.key_prefix);
        }
    };
    let cmd = match cmd {
        KeysCommand::Show { id } => KeysCommand::Show {
            id: resolve_key(&mut db, &id)?,
        },
        KeysCommand::Rotate { id, grace_hours } => KeysCommand::Rotate {
            id: resolve_key(&mut db, &id)?,
            grace_hours,
        },
        KeysCommand::ExpireNow { id } => KeysCommand::ExpireNow {
            id: resolve_key(&mut db, &id)?,
        },
        KeysCommand::Revoke { id } => KeysCommand::Revoke {
            id: resolve_key(&mut db, &id)?,
        },
        KeysCommand::Delete { id } => KeysCommand::Delete {
            id: resolve_key(&mut db, &id)?,
        },
        KeysCommand::Disable { id } => KeysCommand::Disable {
            id: resolve_key(&mut db, &id)?,
        },
        KeysCommand::Enable { id } => KeysCommand::Enable {
            id: resolve_key(&mut db, &id)?,
        },
        other => other,
    };
    match cmd {
        KeysCommand::Update(args) => {
            let (given, patch) = args.patch()?;
            let id = resolve_key(&mut db, &given)?;
            let key = update_key(&mut db, &Actor::Cli, now, (None, &id), &patch)?;
            if ctx.json {
                print_json(&KeyOut::of(&key, now));
            } else {
                out!("Updated API key \"{}\" ({})", key.name, key.key_prefix);
                describe(&key, now);
            }
        }
        KeysCommand::Create {
            account,
            name,
            preset,
            scopes,
            ips,
            expires_at,
            expires_in_days,
            allowed_models,
            rate_limit,
            test,
            budget_credits,
            budget_period,
            quota,
        } => {
            let format = KeyFormat::new(&ctx.config.keys.prefix).map_err(CliError::new)?;
            let input = CreateKey {
                account_id: account,
                name,
                scopes: match (preset, scopes) {
                    (Some(p), _) => ScopeChoice::Preset(p),
                    (None, s) => ScopeChoice::Scopes(s.unwrap_or_default()),
                },
                ip_allowlist: ips,
                expires_at,
                expires_in_days,
                allowed_models,
                rate_limit_per_minute: rate_limit,
                environment: if test {
                    Environment::Test
                } else {
                    Environment::Live
                },
                budget_credits,
                budget_period,
                quota: quota.input(),
            };
            let (key, secret) = create_key(&mut db, &format, &Actor::Cli, now, &input)
                .map_err(unknown(&input.account_id, "--account"))?;
            if ctx.json {
                print_json(&CreatedKeyOut::of(&key, secret.expose(), now));
            } else {
                out!(
                    "Created API key \"{}\" ({}) with id {}",
                    key.name,
                    key.key_prefix,
                    key.id
                );
                out!(
                    "Key (shown only this once, store it safely): {}",
                    secret.expose()
                );
            }
        }
        KeysCommand::List { account } => {
            let keys = list_keys(&db.read(), account.as_deref())?;
            if ctx.json {
                print_json(&keys.iter().map(|k| KeyOut::of(k, now)).collect::<Vec<_>>());
            } else {
                let rows: Vec<Vec<String>> = keys
                    .iter()
                    .map(|k| {
                        vec![
                            k.id.clone(),
                            k.name.clone(),
                            k.key_prefix.clone(),
                            k.status(now).as_str().to_owned(),
                            k.last_used_at
                                .map(Timestamp::to_rfc3339)
                                .unwrap_or_else(|| "never".into()),
                            k.created_at.to_rfc3339(),
                        ]
                    })
                    .collect();
                print_table(
                    &["ID", "NAME", "PREFIX", "STATUS", "LAST USED", "CREATED"],
                    &rows,
                );
            }
        }
        KeysCommand::Show { id } => {
            let key = get_key(&db.read(), &id)?;
            if ctx.json {
                print_json(&KeyOut::of(&key, now));
            } else {
                describe(&key, now);
                out!("budget       {}", super::budget::describe(key.budget));
                out!("quota        {}", super::quota::describe(key.quota, now));
            }
        }
        KeysCommand::Rotate { id, grace_hours } => {
            let format = KeyFormat::new(&ctx.config.keys.prefix).map_err(CliError::new)?;
            let (old, new, secret) = rotate_key(
                &mut db,
                &format,
                &Actor::Cli,
                now,
                (None, &id),
                Some(grace_hours),
            )?;
            if ctx.json {
                print_json(&RotatedKeyOut::of(&old, &new, secret.expose(), now));
            } else {
                let grace = old
                    .expires_at
                    .map(Timestamp::to_rfc3339)
                    .unwrap_or_default();
                out!(
                    "Rotated \"{}\": new key {} with id {}",
                    new.name,
                    new.key_prefix,
                    new.id
                );
                out!(
                    "Key (shown only this once, store it safely): {}",
                    secret.expose()
                );
                out!("The old key {} keeps working until {grace}", old.key_prefix);
            }
        }
        KeysCommand::ExpireNow { id } => switched(
            expire_now(&mut db, &Actor::Cli, now, (None, &id))?,
            "Expired",
        ),
        KeysCommand::Delete { id } => {
            let (key, logs) = delete_key(&mut db, &Actor::Cli, now, (None, &id))?;
            if ctx.json {
                print_json(&DeletedKeyOut::of(&key, logs));
            } else {
                out!(
                    "Deleted API key \"{}\" ({}) and {logs} request-log rows",
                    key.name,
                    key.key_prefix
                );
            }
        }
        KeysCommand::Revoke { id } => switched(
            switch_key(&mut db, &Actor::Cli, now, (None, &id), Switch::Revoke)?,
            "Revoked",
        ),
        KeysCommand::Disable { id } => switched(
            switch_key(&mut db, &Actor::Cli, now, (None, &id), Switch::Disable)?,
            "Disabled",
        ),
        KeysCommand::Enable { id } => switched(
            switch_key(&mut db, &Actor::Cli, now, (None, &id), Switch::Enable)?,
            "Enabled",
        ),
        // Run before the store is opened here.
        KeysCommand::Scan(_) | KeysCommand::Budget(_) | KeysCommand::Quota(_) => {}
    }
    Ok(())
}
