//! `tidegate keys budget ID_OR_PREFIX --budget-credits N --budget-period day|week|month`, or
//! `--none` (docs/keys.md, "Per-key budgets").

use clap::Args;
use serde::Serialize;

use super::key_args::resolve_key;
use super::{CliError, Context, open_store, print_json};
use crate::domain::Clock;
use crate::domain::key::budget::Budget;
use crate::service::Actor;
use crate::service::lifecycle::{KeyPatch, update_key};

#[derive(Args)]
pub struct BudgetArgs {
    /// The key's id or its display prefix (e.g. bye_bpsF8, or a unique start of it).
    #[arg(value_name = "ID_OR_PREFIX")]
    id: String,
    /// Credits the key's generations may spend per period (above 0, up to 1000000).
    #[arg(
        long,
        value_name = "N",
        allow_negative_numbers = true,
        conflicts_with = "none"
    )]
    budget_credits: Option<String>,
    /// day, week (from Monday) or month, renewed at UTC midnight.
    #[arg(long, value_name = "PERIOD", conflicts_with = "none")]
    budget_period: Option<String>,
    /// Remove the key's budget.
    #[arg(long)]
    none: bool,
}

/// A key's budget as `--json` prints it.
#[derive(Serialize)]
pub struct BudgetOut {
    pub key_id: String,
    /// `null`: no budget.
    pub budget_credits: Option<f64>,
    pub budget_period: Option<&'static str>,
}

impl BudgetOut {
    pub fn of(key_id: &str, budget: Option<Budget>) -> BudgetOut {
        BudgetOut {
            key_id: key_id.to_owned(),
            budget_credits: budget.map(|b| b.credits.thousandths() as f64 / 1000.0),
            budget_period: budget.map(|b| b.period.as_str()),
        }
    }
}

/// "20.000 credits a week", or "none".
pub fn describe(budget: Option<Budget>) -> String {
    budget.map_or_else(
        || "none".to_owned(),
        |b| format!("{} credits a {}", b.credits, b.period.as_str()),
    )
}

/// An edit of the key's budget alone, through the same use case as every other edit.
pub fn run(ctx: &Context, args: BudgetArgs) -> Result<(), CliError> {
    if !args.none && args.budget_credits.is_none() && args.budget_period.is_none() {
        return Err(CliError::new(
            "give --budget-credits and --budget-period, or --none to remove the budget",
        ));
    }
    let patch = KeyPatch {
        budget: Some((args.budget_credits, args.budget_period)),
        ..KeyPatch::default()
    };
    let store = open_store(&ctx.config)?;
    let mut db = store.db()?;
    let id = resolve_key(&mut db, &args.id)?;
    let now = Clock::system().now();
    let key = update_key(&mut db, &Actor::Cli, now, (None, &id), &patch)?;
    if ctx.json {
        print_json(&BudgetOut::of(&key.id, key.budget));
    } else {
        out!(
            "Budget of API key \"{}\" ({}): {}",
            key.name,
            key.key_prefix,
            describe(key.budget)
        );
    }
    Ok(())
}
