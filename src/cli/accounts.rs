//! `tidegate accounts create|list`.

use clap::Subcommand;

use super::open_store;
use super::{CliError, Context, print_json, print_table};
use crate::domain::Clock;
use crate::service::Actor;
use crate::service::accounts::{CreateAccount, create_account};
use crate::store::accounts::list_accounts;
use crate::wire::account::AccountOut;

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
        email: Option<String>,
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
            email,
        } => {
            let input = CreateAccount {
                name,
                team,
                region,
                plan,
                email,
            };
            let account = create_account(
                &mut db,
                &ctx.config,
                &Actor::Cli,
                Clock::system().now(),
                input,
            )?;
            if ctx.json {
                print_json(&AccountOut::of(&account));
            } else {
                println!(
                    "Created account \"{}\" with id {}",
                    account.name, account.id
                );
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
