//! `tidegate accounts create|list`.

use clap::Subcommand;

use super::open_store;
use super::{CliError, Context, print_json, print_table};
use crate::domain::Clock;
use crate::service::Actor;
use crate::service::accounts::{CreateAccount, create_account};
use crate::store::accounts::list_accounts;
use crate::wire::account::AccountOut;
use crate::wire::admin::{AccountCreatedOut, PasswordSetOut};

#[derive(Subcommand)]
pub enum AccountsCommand {
    /// Create an account (personal unless --team).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        team: bool,
        #[arg(long, value_name = "us|eu|jp")]
        region: Option<String>,
        #[arg(long)]
        plan: Option<String>,
        #[arg(long)]
        owner: Option<String>,
    },
    /// List accounts.
    List,
}

pub fn run(ctx: &Context, cmd: AccountsCommand) -> Result<(), CliError> {
    let store = open_store(&ctx.config)?;
    let mut db = store.db()?;
    match cmd {
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
                println!(
                    "Created account \"{}\" with id {}",
                    account.name, account.id
                );
                match &created.owner_password {
                    Some(password) => println!(
                        "Primary owner: {}, a new user with the one-time password {password} \
                         (shown only this once; they choose their own at the first sign-in)",
                        created.owner_email
                    ),
                    None => println!("Primary owner: {}", created.owner_email),
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
