//! `tidegate users …`, `credits …`, `run-job`.

use clap::Subcommand;

use super::open_store;
use super::{CliError, Context, print_json, print_table, unknown};
use crate::domain::{Clock, Money};
use crate::jobs::{JobContext, run_job as run_job_now};
use crate::service::Actor;
use crate::service::accounts::live;
use crate::service::credits::add_credits;
use crate::service::memberships::{add_membership, delete_user, remove_membership};
use crate::service::second_factor;
use crate::service::settings::ledger;
use crate::service::users::{create_user, list_users, set_password};
use crate::wire::account::{Role, UserOut};
use crate::wire::admin::{
    BalanceOut, CreditsAddedOut, LedgerEntryOut, MembershipOut, PasswordSetOut,
    SecondFactorResetOut, SignInLinkOut, UserCreatedOut, UserDeletedOut,
};
use crate::wire::{Credits, Time};

#[derive(Subcommand)]
pub enum UsersCommand {
    /// Create a dashboard user; prints a one-time password.
    Create {
        /// The user's e-mail address, which they sign in with.
        #[arg(long)]
        email: String,
        /// Add the user to this account (its id)…
        #[arg(long, requires = "role", value_name = "ID")]
        account: Option<String>,
        /// …with this role: owner or member.
        #[arg(long, requires = "account", value_name = "owner|member")]
        role: Option<String>,
    },
    /// List users and their memberships.
    List,
    /// Give a user a new one-time password (or the one read from standard input).
    SetPassword {
        /// The user's e-mail address.
        #[arg(long)]
        email: String,
        /// Read the new password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Turn off a user's second factor and end their sessions, for someone who lost both
    /// their authenticator app and their recovery codes.
    #[command(name = "reset-2fa")]
    Reset2fa {
        /// The user's e-mail address.
        #[arg(long)]
        email: String,
    },
    /// Print a single-use sign-in link for the instance administrator, valid 10 minutes (the
    /// way in when auth.oidc.password_login is false).
    SignInLink {
        /// The instance administrator's e-mail address.
        #[arg(long)]
        email: String,
    },
    /// Add an existing user to an account.
    AddMembership {
        /// The user's e-mail address.
        #[arg(long)]
        email: String,
        /// The account's id.
        #[arg(long, value_name = "ID")]
        account: String,
        /// owner or member (the primary owner is transferred on the Members page).
        #[arg(long, value_name = "owner|member")]
        role: String,
    },
    /// Take a user out of an account (never its primary owner: transfer the ownership first).
    RemoveMembership {
        /// The user's e-mail address.
        #[arg(long)]
        email: String,
        /// The account's id.
        #[arg(long, value_name = "ID")]
        account: String,
    },
    /// Delete a user with their memberships and sessions (not the instance administrator,
    /// nor the primary owner of an account).
    Delete {
        /// The user's e-mail address.
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
pub enum CreditsCommand {
    /// Add credits to an account (idempotent per --reference).
    Add {
        /// The account's id.
        #[arg(long, value_name = "ID")]
        account: String,
        /// Amount with at most three decimals, e.g. 25 or 12.5.
        #[arg(long)]
        amount: String,
        /// A reference (an invoice number…): the same addition given twice is applied once.
        #[arg(long)]
        reference: Option<String>,
    },
    /// An account's credit balance.
    Balance {
        /// The account's id.
        #[arg(long, value_name = "ID")]
        account: String,
    },
    /// An account's credit ledger, newest first: additions, reservations, charges, refunds.
    List {
        /// The account's id.
        #[arg(long, value_name = "ID")]
        account: String,
        /// At most this many entries (1-1000).
        #[arg(long, value_name = "N", default_value_t = 50)]
        limit: i64,
    },
}

pub fn users(ctx: &Context, cmd: UsersCommand) -> Result<(), CliError> {
    let store = open_store(&ctx.config)?;
    let mut db = store.db()?;
    let now = Clock::system().now();
    match cmd {
        UsersCommand::Create {
            email,
            account,
            role,
        } => {
            let membership = account.as_deref().zip(role.as_deref());
            let (id, password) = create_user(&mut db, &Actor::Cli, now, &email, membership)?;
            if ctx.json {
                print_json(&UserCreatedOut {
                    id,
                    email: email.trim().to_lowercase(),
                    password,
                });
            } else {
                out!("Created user {} with id {id}", email.trim().to_lowercase());
                out!("One-time password (shown only this once): {password}");
            }
        }
        UsersCommand::List => {
            let users = list_users(&mut db)?;
            if ctx.json {
                print_json(&users.iter().map(UserOut::of).collect::<Vec<_>>());
            } else {
                let rows: Vec<Vec<String>> = users
                    .iter()
                    .map(|u| {
                        let roles: Vec<String> = u
                            .memberships
                            .iter()
                            .map(|(a, r)| format!("{r}@{a}"))
                            .collect();
                        vec![
                            u.id.clone(),
                            u.email.clone(),
                            if u.is_instance_admin { "yes" } else { "" }.into(),
                            roles.join(" "),
                        ]
                    })
                    .collect();
                print_table(&["ID", "EMAIL", "ADMIN", "MEMBERSHIPS"], &rows);
            }
        }
        UsersCommand::SignInLink { email } => {
            let token = crate::service::sign_in_link::create(&mut db, &email, now)?;
            let origin = match ctx.config.generation.public_origin() {
                Some(origin) => origin.to_owned(),
                None => format!("http://{}", ctx.config.server.listen),
            };
            let out = SignInLinkOut {
                email: email.trim().to_lowercase(),
                url: format!("{origin}{}{token}", crate::service::sign_in_link::LINK_PATH),
                expires_at: Time(
                    now.plus_millis(crate::service::sign_in_link::LINK_MINUTES * 60_000),
                ),
            };
            let line = format!(
                "Sign-in link for {} (opens once, until {}):\n{}",
                out.email,
                out.expires_at.0.to_rfc3339(),
                out.url
            );
            super::say(ctx, &out, &line);
        }
        UsersCommand::AddMembership {
            email,
            account,
            role,
        } => {
            let role = add_membership(&mut db, &Actor::Cli, now, &email, &account, &role)
                .map_err(unknown(&account, "--account"))?;
            let out = MembershipOut {
                email: email.trim().to_lowercase(),
                account_id: account,
                role: Role(role),
                member: true,
            };
            let line = format!(
                "Added {} to account {} as {role}",
                out.email, out.account_id
            );
            super::say(ctx, &out, &line);
        }
        UsersCommand::RemoveMembership { email, account } => {
            let role = remove_membership(&mut db, &Actor::Cli, now, &email, &account)
                .map_err(unknown(&account, "--account"))?;
            let out = MembershipOut {
                email: email.trim().to_lowercase(),
                account_id: account,
                role: Role(role),
                member: false,
            };
            let line = format!(
                "Removed {} ({role}) from account {}",
                out.email, out.account_id
            );
            super::say(ctx, &out, &line);
        }
        UsersCommand::Reset2fa { email } => {
            let email = email.trim().to_lowercase();
            let reset =
                second_factor::reset(&mut db, &Actor::Cli, &email, now).map_err(|e| match e {
                    crate::service::ServiceError::NotFound(_) => {
                        CliError::new(format!("no user with the e-mail address {email} (--email)"))
                    }
                    other => CliError::from(other),
                })?;
            let line = if reset {
                format!(
                    "Two-step sign-in of {email} is off and their sessions ended; they sign in with their password alone until they set it up again"
                )
            } else {
                format!("{email} has no second factor; nothing changed")
            };
            super::say(ctx, &SecondFactorResetOut { email, reset }, &line);
        }
        UsersCommand::Delete { email } => {
            let id = delete_user(&mut db, &Actor::Cli, now, &email)?;
            let out = UserDeletedOut {
                id,
                email: email.trim().to_lowercase(),
                deleted: true,
            };
            let line = format!("Deleted the user {} ({})", out.email, out.id);
            super::say(ctx, &out, &line);
        }
        UsersCommand::SetPassword {
            email,
            password_stdin,
        } => {
            let given = if password_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                Some(line.trim_end_matches(['\r', '\n']).to_owned())
            } else {
                None
            };
            let generated = given.is_none();
            let password = set_password(&mut db, &Actor::Cli, now, &email, given)?;
            match (ctx.json, generated) {
                (true, generated) => print_json(&PasswordSetOut {
                    email,
                    password: generated.then_some(password),
                }),
                (false, true) => {
                    out!("New one-time password for {email} (shown only this once): {password}")
                }
                (false, false) => out!("Password of {email} set."),
            }
        }
    }
    Ok(())
}

pub fn credits(ctx: &Context, cmd: CreditsCommand) -> Result<(), CliError> {
    match cmd {
        CreditsCommand::Add {
            account,
            amount,
            reference,
        } => add(ctx, account, amount, reference),
        CreditsCommand::Balance { account } => {
            let mut db = open_store(&ctx.config)?.db()?;
            let found = live(&db.read(), &account).map_err(unknown(&account, "--account"))?;
            let out = BalanceOut {
                account_id: found.id.clone(),
                credit_balance: Credits(found.credit_balance),
            };
            let line = format!("{} credits", found.credit_balance);
            super::say(ctx, &out, &line);
            Ok(())
        }
        CreditsCommand::List { account, limit } => ledger_list(ctx, &account, limit),
    }
}

fn ledger_list(ctx: &Context, account: &str, limit: i64) -> Result<(), CliError> {
    if !(1..=1000).contains(&limit) {
        return Err(CliError::new("--limit: must be between 1 and 1000"));
    }
    let mut db = open_store(&ctx.config)?.db()?;
    let found = live(&db.read(), account).map_err(unknown(account, "--account"))?;
    let entries = ledger(&mut db, account, limit)?;
    // The balance is the sum of the ledger: walking back from today's, each entry left the
    // balance before the next one's amount was added.
    let mut after = found.credit_balance;
    let out: Vec<LedgerEntryOut> = entries
        .iter()
        .map(|e| {
            let row = LedgerEntryOut {
                created_at: Time(e.created_at),
                kind: e.kind.clone(),
                amount: Credits(e.amount),
                balance_after: Credits(after),
                reference: e.reference.clone(),
                actor: e.actor.clone(),
            };
            after = Money(after.thousandths() - e.amount.thousandths());
            row
        })
        .collect();
    if ctx.json {
        print_json(&out);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .zip(&out)
        .map(|(e, o)| {
            vec![
                e.created_at.to_rfc3339(),
                e.kind.clone(),
                e.amount.to_string(),
                o.balance_after.0.to_string(),
                e.reference.clone().unwrap_or_default(),
                e.actor.clone(),
            ]
        })
        .collect();
    print_table(
        &["TIME", "KIND", "AMOUNT", "BALANCE", "REFERENCE", "ACTOR"],
        &rows,
    );
    Ok(())
}

fn add(
    ctx: &Context,
    account: String,
    amount: String,
    reference: Option<String>,
) -> Result<(), CliError> {
    let amount = Money::parse(&amount).ok_or_else(|| {
        CliError::new(format!(
            "amount: {amount:?} is not an amount with at most 3 decimals"
        ))
    })?;
    let store = open_store(&ctx.config)?;
    let mut db = store.db()?;
    let now = Clock::system().now();
    let (balance, applied) = add_credits(
        &mut db,
        &Actor::Cli,
        now,
        &account,
        amount,
        reference.as_deref(),
    )
    .map_err(unknown(&account, "--account"))?;
    if ctx.json {
        print_json(&CreditsAddedOut {
            account_id: account,
            added: applied,
            credit_balance: Credits(balance),
        });
    } else if applied {
        out!("Added {amount} credits; balance {balance}");
    } else {
        out!("Reference already applied; nothing added. Balance {balance}");
    }
    Ok(())
}

pub fn run_job(ctx: &Context, name: &str) -> Result<(), CliError> {
    let store = open_store(&ctx.config)?;
    let catalog = crate::service::generations::load_catalog(ctx.config.generation.catalog_file())
        .map_err(CliError::new)?;
    let jobs = JobContext {
        store,
        config: std::sync::Arc::new(ctx.config.clone()),
        clock: Clock::system(),
        catalog: std::sync::Arc::new(catalog),
    };
    // The job's store work runs on the runtime's blocking pool; one thread drives it.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let outcome = tokio::task::LocalSet::new().block_on(&runtime, run_job_now(name, &jobs))?;
    if ctx.json {
        print_json(&outcome);
    } else {
        out!("{}", outcome.summary());
    }
    Ok(())
}
