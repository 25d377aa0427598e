//! Creating and listing accounts.

use super::{Actor, ServiceError};
use crate::config::Config;
use crate::domain::{Name, Regions, Timestamp};
use crate::store::accounts::{self, NewAccount};
use crate::store::{Db, Tx};

pub use crate::domain::account::{Account, AccountOverview};

pub fn get(tx: &Tx<'_>, id: &str) -> Result<Account, ServiceError> {
    accounts::get_account(tx, id)?.ok_or(ServiceError::NotFound("account"))
}

/// The account, if it exists.
pub fn find(tx: &Tx<'_>, id: &str) -> Result<Option<Account>, ServiceError> {
    Ok(accounts::get_account(tx, id)?)
}

/// Every live account with its members, keys and last activity, for the instance administrator.
pub fn overview(tx: &Tx<'_>, now: Timestamp) -> Result<Vec<AccountOverview>, ServiceError> {
    Ok(accounts::overview(tx, now)?)
}

use super::changes::{self, Category, Change, Note};
use super::users::{insert_new_user, one_time_password, parse_email};
use crate::domain::Money;
use crate::domain::account::Role;

pub struct CreateAccount {
    pub name: String,
    pub team: bool,
    pub region: Option<String>,
    pub plan: Option<String>,
    /// The primary owner's e-mail (a new user when nobody has it); without it, the instance
    /// administrator.
    pub owner: Option<String>,
    /// The hash of the password a person signing up chose: the owner must then be new, and is
    /// made with it instead of a one-time password.
    pub owner_password_hash: Option<String>,
}

/// A new account and who owns it.
pub struct CreatedAccount {
    pub account: Account,
    pub owner_id: String,
    pub owner_email: String,
    /// The one-time password of an owner created with the account, shown once.
    pub owner_password: Option<String>,
}

/// The regions the configuration serves (checked at start-up, so refused only by a
/// configuration the server would not have started with).
pub(super) fn served_regions(config: &Config) -> Result<Regions, ServiceError> {
    Regions::parse(&config.server.default_region, &config.server.regions)
        .map_err(|(key, message)| ServiceError::invalid(key, message))
}

/// Creates an account with its primary owner and the configured initial credits.
pub fn create_account(
    db: &mut Db,
    config: &Config,
    actor: &Actor,
    now: Timestamp,
    input: CreateAccount,
) -> Result<CreatedAccount, ServiceError> {
    let name = Name::parse(&input.name).map_err(|m| ServiceError::invalid("name", m))?;
    let regions = served_regions(config)?;
    let region = match input.region.as_deref() {
        None => regions.default,
        Some(r) => regions.served(r).ok_or_else(|| {
            ServiceError::invalid(
                "region",
                format!(
                    "{r:?} is not a region this instance serves ({})",
                    config.server.regions.join(", ")
                ),
            )
        })?,
    };
    let plan = input
        .plan
        .unwrap_or_else(|| config.accounts.default_plan.clone());
    if !config.plans.contains_key(&plan) {
        return Err(ServiceError::invalid(
            "plan",
            format!("no plan named {plan:?} (plans: {})", plan_names(config)),
        ));
    }
    let owner = input.owner.as_deref().map(parse_email).transpose()?;
    // Hashing is slow: done before the write transaction, used only if the owner is new.
    let fresh = owner
        .as_ref()
        .map(|_| match &input.owner_password_hash {
            Some(chosen) => Ok((None, chosen.clone())),
            None => one_time_password().map(|(password, hash)| (Some(password), hash)),
        })
        .transpose()?;
    let id = uuid::Uuid::new_v4().to_string();
    let tx = db.write()?;
    let (owner_id, owner_email, owner_password, owner_is_new) = match (owner, fresh) {
        (Some(email), Some((password, hash))) => match accounts::user_id_by_email(&tx, &email)? {
            Some(_) if input.owner_password_hash.is_some() => {
                return Err(ServiceError::invalid(
                    "email",
                    "already belongs to someone here: sign in instead",
                ));
            }
            Some(user_id) => (user_id, email, None, false),
            None => {
                let user_id = insert_new_user(&tx, &email, &hash, password.is_some(), now)?;
                (user_id, email, password, true)
            }
        },
        _ => {
            let admin = accounts::instance_admin_id(&tx)?.ok_or_else(|| {
                ServiceError::InvalidState(
                    "this store has no instance administrator yet; start the server once, or name \
                     the primary owner with an e-mail address"
                        .into(),
                )
            })?;
            let email = crate::store::members::email_of(&tx, &admin)?.unwrap_or_default();
            (admin, email, None, false)
        }
    };
    accounts::insert_account(
        &tx,
        &NewAccount {
            id: &id,
            name: name.as_str(),
            email: Some(&owner_email),
            is_personal: !input.team,
            region,
            plan: &plan,
            created_at: now,
        },
    )?;
    accounts::insert_membership(&tx, &id, &owner_id, Role::PrimaryOwner, now)?;
    let whose = if owner_is_new {
        format!("{owner_email} (a new user)")
    } else {
        owner_email.clone()
    };
    let created = Note {
        account_id: Some(&id),
        category: Category::Account,
        action: "created",
        target: Some(&id),
        description: format!(
            "Created account \"{name}\" in region {region} on plan {plan}, primary owner {whose}"
        ),
    };
    changes::record(&tx, actor, Change::Note(created), now)?;
    let initial = Money(config.accounts.initial_credits_thousandths());
    if initial.thousandths() > 0 {
        super::credits::add_in(&tx, actor, now, &id, initial, Some("initial"))?;
    }
    tx.commit()?;
    let account =
        accounts::get_account(&db.read(), &id)?.ok_or(ServiceError::NotFound("account"))?;
    Ok(CreatedAccount {
        account,
        owner_id,
        owner_email,
        owner_password,
    })
}

/// The configured plans' names, for messages.
pub fn plan_names(config: &Config) -> String {
    config.plans.keys().cloned().collect::<Vec<_>>().join(", ")
}

/// One account as the operator sees it: who owns it, who is in it, how many keys it has.
pub struct AccountDetail {
    pub account: Account,
    pub primary_owner: Option<String>,
    pub members: Vec<crate::domain::account::Member>,
    pub active_keys: i64,
    pub keys: i64,
}

/// The live account with its members and key counts.
pub fn detail(db: &mut Db, id: &str, now: Timestamp) -> Result<AccountDetail, ServiceError> {
    let tx = db.read();
    let account = live(&tx, id)?;
    let members = crate::store::members::list(&tx, id)?;
    let primary_owner = members
        .iter()
        .find(|m| m.role == Role::PrimaryOwner)
        .map(|m| m.email.clone());
    let (active_keys, keys) = accounts::key_counts(&tx, id, now)?;
    Ok(AccountDetail {
        account,
        primary_owner,
        members,
        active_keys,
        keys,
    })
}

/// The account, unless it does not exist or was deleted.
pub fn live(tx: &Tx<'_>, id: &str) -> Result<Account, ServiceError> {
    if !crate::domain::name::can_match(id) {
        return Err(ServiceError::NotFound("account"));
    }
    accounts::get_account(tx, id)?
        .filter(Account::is_live)
        .ok_or(ServiceError::NotFound("account"))
}

/// What deleting an account ended.
pub struct DeletedAccount {
    pub account: Account,
    pub keys_revoked: u64,
    pub members_removed: u64,
    pub webhook_endpoints_deleted: u64,
}

/// Deletes an account in one transaction, once `confirm` repeats its name: its keys are
/// revoked, its members and webhook endpoints removed, and the account marked deleted. Its
/// credit ledger, generations, request logs and activity stay: the activity chain and the
/// ledger are records that must not lose rows.
pub fn delete_account(
    db: &mut Db,
    actor: &Actor,
    now: Timestamp,
    id: &str,
    confirm: &str,
) -> Result<DeletedAccount, ServiceError> {
    let tx = db.write()?;
    let account = live(&tx, id)?;
    if confirm != account.name {
        return Err(ServiceError::invalid(
            "confirm",
            format!(
                "{confirm:?} is not the account's name; repeat its name, {:?}, to delete it",
                account.name
            ),
        ));
    }
    let webhook_endpoints_deleted = crate::store::webhooks::delete_endpoints_of(&tx, id)?;
    let (keys_revoked, members_removed) = accounts::mark_deleted(&tx, id, now)?;
    let deleted = Note {
        account_id: Some(id),
        category: Category::Account,
        action: "deleted",
        target: Some(id),
        description: format!(
            "Deleted account \"{}\": {keys_revoked} keys revoked, {members_removed} members \
             removed, {webhook_endpoints_deleted} webhook endpoints deleted",
            account.name
        ),
    };
    changes::record(&tx, actor, Change::Note(deleted), now)?;
    tx.commit()?;
    Ok(DeletedAccount {
        account,
        keys_revoked,
        members_removed,
        webhook_endpoints_deleted,
    })
}
