//! `tidegate accounts create|list|show|rename|delete`.

use clap::Subcommand;

use super::open_store;
use super::{CliError, Context, print_json, print_table, unknown};
use crate::domain::Clock;
use crate::service::Actor;
use crate::service::accounts::{
    AccountDetail, CreateAccount, create_account, delete_account, detail, get,
};
use crate::service::settings::rename;
use crate::store::accounts::list_accounts;
use crate::wire::account::AccountOut;
use crate::wire::admin::{AccountCreatedOut, AccountDeletedOut, AccountDetailOut, PasswordSetOut};

#[derive(Subcommand)]
pub enum AccountsCommand {
    /// Create an account (personal unless --team).
    Create {
        /// The account's name, as pages show it.
        #[arg(long)]
        name: String,
        /// A team account (several members) rather than a personal one.
        #[arg(long)]
        team: bool,
        /// The account's region: one the instance serves (server.regions; us, eu or jp);
        /// default server.default_region.
        #[arg(long, value_name = "REGION")]
        region: Option<String>,
        /// One of the configured plans (the [plans] table; `tidegate print-config` lists them);
        /// default accounts.default_plan.
        #[arg(long)]
        plan: Option<String>,
        /// The primary owner's e-mail address (a new user when nobody has it); default the
        /// instance administrator.
        #[arg(long, value_name = "EMAIL")]
        owner: Option<String>,
    },
    /// List accounts.
    List,
    /// Show one account: owner, members and their roles, credits, key counts.
    Show {
        /// The account's id (`tidegate accounts list` shows them).
        #[arg(long, value_name = "ID")]
        account: String,
    },
    /// Give an account a new name.
    Rename {
        /// The account's id.
        #[arg(long, value_name = "ID")]
        account: String,
        /// The new name.
        #[arg(long)]
        name: String,
    },
    /// Delete an account: its keys are revoked, its members and webhook endpoints removed;
    /// its credit ledger, generations, request logs and activity are kept for the record.
    Delete {
        /// The account's id.
        #[arg(long, value_name = "ID")]
        account: String,
        /// The account's name, repeated, to confirm what is deleted.
        #[arg(long, value_name = "NAME")]
        confirm: String,
    },
}

pub fn run(ctx: &Context, cmd: AccountsCommand) -> Result<(), CliError> {
    let store = open_store(&ctx.config)?;
    let mut db = store.db()?;
    let now = Clock::system().now();
    match cmd {
        AccountsCommand::Show { account } => {
            let found = detail(&mut db, &account, now).map_err(unknown(&account, "--account"))?;
            show(ctx, &found)
        }
        AccountsCommand::Rename { account, name } => {
            rename(&mut db, &Actor::Cli, &account, &name, now)
                .map_err(unknown(&account, "--account"))?;
            let renamed = get(&db.read(), &account)?;
            if ctx.json {
                print_json(&AccountOut::of(&renamed));
            } else {
                out!("Renamed account {} to \"{}\"", renamed.id, renamed.name);
            }
        }
        AccountsCommand::Delete { account, confirm } => {
            let deleted = delete_account(&mut db, &Actor::Cli, now, &account, &confirm)
                .map_err(unknown(&account, "--account"))?;
            if ctx.json {
                print_json(&AccountDeletedOut {
                    id: deleted.account.id.clone(),
                    name: deleted.account.name.clone(),
                    deleted: true,
                    keys_revoked: deleted.keys_revoked,
                    members_removed: deleted.members_removed,
                    webhook_endpoints_deleted: deleted.webhook_endpoints_deleted,
                });
            } else {
                out!(
                    "Deleted account \"{}\" ({}): {} keys revoked, {} members removed, {} \
                     webhook endpoints deleted; its ledger, generations and activity are kept",
                    deleted.account.name,
                    deleted.account.id,
                    deleted.keys_revoked,
                    deleted.members_removed,
                    deleted.webhook_endpoints_deleted
                );
            }
        }
        AccountsCommand::Create {
            name,
            team,
            region,
            plan,
            owner,
        } => {
            let input = CreateAccount {
                name,
                team,
                region,
                plan,
                owner,
                owner_password_hash: None,
            };
            let created = create_account(
                &mut db,
                &ctx.config,
                &Actor::Cli,
                Clock::system().now(),
                input,
            )?;
            let account = &created.account;
            if ctx.json {
                print_json(&AccountCreatedOut {
                    account: AccountOut::of(account),
                    primary_owner: PasswordSetOut {
                        email: created.owner_email.clone(),
                        password: created.owner_password.clone(),
                    },
                });
            } else {
                out!(
                    "Created account \"{}\" with id {}",
                    account.name,
                    account.id
                );
                match &created.owner_password {
                    Some(password) => out!(
                        "Primary owner: {}, a new user with the one-time password {password} \
                         (shown only this once; they choose their own at the first sign-in)",
                        created.owner_email
                    ),
                    None => out!("Primary owner: {}", created.owner_email),
                }
            }
        }
        AccountsCommand::List => {
            let accounts = list_accounts(&db.read())?;
            if ctx.json {
                print_json(&accounts.iter().map(AccountOut::of).collect::<Vec<_>>());
            } else {
                let rows: Vec<Vec<String>> = accounts
                    .iter()
                    .map(|a| {
                        vec![
                            a.id.clone(),
                            a.name.clone(),
                            if a.is_personal { "personal" } else { "team" }.to_owned(),
                            a.region.to_string(),
                            a.plan.clone(),
                            a.credit_balance.to_string(),
                        ]
                    })
                    .collect();
                print_table(&["ID", "NAME", "KIND", "REGION", "PLAN", "CREDITS"], &rows);
            }
        }
    }
    Ok(())
}

fn show(ctx: &Context, d: &AccountDetail) {
    if ctx.json {
        print_json(&AccountDetailOut::of(d));
        return;
    }
    let a = &d.account;
    out!("id             {}", a.id);
    out!("name           {}", a.name);
    out!(
        "kind           {}",
        if a.is_personal { "personal" } else { "team" }
    );
    out!("region         {}", a.region);
    out!("plan           {}", a.plan);
    out!("credits        {}", a.credit_balance);
    out!(
        "primary owner  {}",
        d.primary_owner.as_deref().unwrap_or("-")
    );
    out!("keys           {} active of {}", d.active_keys, d.keys);
    out!("created        {}", a.created_at.to_rfc3339());
    out!();
    let rows: Vec<Vec<String>> = d
        .members
        .iter()
        .map(|m| {
            vec![
                m.email.clone(),
                m.role.to_string(),
                m.joined_at.to_rfc3339(),
            ]
        })
        .collect();
    print_table(&["MEMBER", "ROLE", "JOINED"], &rows);
}
