//! `tidegate accounts create|list`.

use clap::Subcommand;
use serde_json::json;

use super::{CliError, Context, print_json, print_table};
use crate::app::open_store;
use crate::domain::Clock;
use crate::service::Actor;
use crate::service::accounts::{CreateAccount, create_account};
use crate::store::accounts::{Account, list_accounts};

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

pub fn account_json(a: &Account) -> serde_json::Value {
    json!({
        "id": a.id,
        "name": a.name,
        "email": a.email,
        "is_personal": a.is_personal,
        "region": a.region.as_str(),
        "plan": a.plan,
        "credit_balance": a.credit_balance.to_json(),
        "created_at": a.created_at.to_rfc3339(),
    })
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
                print_json(&account_json(&account));
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
                print_json(&serde_json::Value::Array(
                    accounts.iter().map(account_json).collect(),
                ));
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
