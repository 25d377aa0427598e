//! Creating and listing accounts.

use super::{Actor, ServiceError};
use crate::config::Config;
use crate::domain::{Name, Regions, Timestamp};
use crate::store::accounts::{self, NewAccount};
use crate::store::{Db, Tx};

pub use crate::domain::account::Account;

pub fn get(tx: &Tx<'_>, id: &str) -> Result<Account, ServiceError> {
    accounts::get_account(tx, id)?.ok_or(ServiceError::NotFound("account"))
}

/// The account, if it exists.
pub fn find(tx: &Tx<'_>, id: &str) -> Result<Option<Account>, ServiceError> {
    Ok(accounts::get_account(tx, id)?)
}

/// Every account, for the instance administrator.
pub fn list(tx: &Tx<'_>) -> Result<Vec<Account>, ServiceError> {
    Ok(accounts::list_accounts(tx)?)
}
use super::changes::{self, Category, Change, Note};

pub struct CreateAccount {
    pub name: String,
    pub team: bool,
    pub region: Option<String>,
    pub plan: Option<String>,
    pub email: Option<String>,
}

/// The regions the configuration serves (checked at start-up, so refused only by a
/// configuration the server would not have started with).
pub(super) fn served_regions(config: &Config) -> Result<Regions, ServiceError> {
    Regions::parse(&config.server.default_region, &config.server.regions)
        .map_err(|(key, message)| ServiceError::invalid(key, message))
}

pub fn create_account(
    db: &mut Db,
    config: &Config,
    actor: &Actor,
    now: Timestamp,
    input: CreateAccount,
) -> Result<Account, ServiceError> {
    let name = Name::parse(&input.name).map_err(|m| ServiceError::invalid("name", m))?;
    let regions = served_regions(config)?;
    let region = match input.region.as_deref() {
        None => regions.default,
        Some(r) => regions.served(r).ok_or_else(|| {
            ServiceError::invalid(
                "region",
                format!("{r:?} is not a region this instance serves"),
            )
        })?,
    };
    let plan = input
        .plan
        .unwrap_or_else(|| config.accounts.default_plan.clone());
    if !config.plans.contains_key(&plan) {
        return Err(ServiceError::invalid(
            "plan",
            format!("no plan named {plan:?}"),
        ));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let tx = db.write()?;
    accounts::insert_account(
        &tx,
        &NewAccount {
            id: &id,
            name: name.as_str(),
            email: input.email.as_deref(),
            is_personal: !input.team,
            region,
            plan: &plan,
            created_at: now,
        },
    )?;
    let created = Note {
        account_id: Some(&id),
        category: Category::Account,
        action: "created",
        target: Some(&id),
        description: format!("Created account \"{name}\" in region {region} on plan {plan}"),
    };
    changes::record(&tx, actor, Change::Note(created), now)?;
    tx.commit()?;
    accounts::get_account(&db.read(), &id)?.ok_or(ServiceError::NotFound("account"))
}
