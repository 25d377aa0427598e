//! First start on an empty store: the instance administrator and a personal account. Every
//! start: the repairs that bring a store made by an earlier version up to today's rules.

use super::changes::{self, Category, Change, Note};
use super::password::{generate_password, hash_password};
use super::{Actor, ServiceError};
use crate::config::Config;
use crate::domain::Timestamp;
use crate::domain::account::Role;
use crate::store::Db;
use crate::store::accounts::{self, NewAccount, NewUser};

pub const ADMIN_EMAIL: &str = "admin@localhost";

pub struct AdminCreated {
    pub email: &'static str,
    /// The generated password, to be shown once; `None` when it came from the environment.
    pub generated_password: Option<String>,
    pub account_id: String,
}

/// Creates the instance administrator when no user exists yet; does nothing otherwise.
pub fn ensure_instance_admin(
    db: &mut Db,
    config: &Config,
    now: Timestamp,
    password_from_env: Option<String>,
) -> Result<Option<AdminCreated>, ServiceError> {
    let tx = db.write()?;
    if accounts::count_users(&tx)? > 0 {
        return Ok(None);
    }
    let (password, generated) = match password_from_env.filter(|p| !p.is_empty()) {
        Some(p) => (p, false),
        None => (
            generate_password().map_err(crate::store::StoreError::from)?,
            true,
        ),
    };
    let hash = hash_password(&password).map_err(|e| ServiceError::InvalidState(e.to_string()))?;
    let user_id = uuid::Uuid::new_v4().to_string();
    let account_id = uuid::Uuid::new_v4().to_string();
    accounts::insert_user(
        &tx,
        &NewUser {
            id: &user_id,
            email: ADMIN_EMAIL,
            password_hash: &hash,
            is_instance_admin: true,
            // A generated password is replaced at the first sign-in; one the operator chose
            // through the environment is theirs.
            must_change_password: generated,
            created_at: now,
        },
    )?;
    accounts::insert_account(
        &tx,
        &NewAccount {
            id: &account_id,
            name: "Administrator",
            email: Some(ADMIN_EMAIL),
            is_personal: true,
            region: super::accounts::served_regions(config)?.default,
            plan: &config.accounts.default_plan,
            created_at: now,
        },
    )?;
    accounts::insert_membership(&tx, &account_id, &user_id, Role::PrimaryOwner, now)?;
    let created = Note::member(
        Some(&account_id),
        "created",
        &user_id,
        format!("Created the instance administrator {ADMIN_EMAIL}"),
    );
    changes::record(&tx, &Actor::System, Change::Note(created), now)?;
    tx.commit()?;
    Ok(Some(AdminCreated {
        email: ADMIN_EMAIL,
        generated_password: generated.then_some(password),
        account_id,
    }))
}

/// The plan the defaults once called "unlimited", which gives no credits.
const OLD_UNLIMITED: (&str, &str) = ("unlimited", "unthrottled");

/// Brings a store written by an earlier version up to today's rules, recording each change in
/// the activity log: every live account gets a primary owner (its longest-standing owner, else
/// the instance administrator), and accounts on the old default plan "unlimited" move to its
/// new name when the configuration no longer defines it. Does nothing on a store that needs
/// nothing; returns a line per change.
pub fn repair(db: &mut Db, config: &Config, now: Timestamp) -> Result<Vec<String>, ServiceError> {
    let mut done = Vec::new();
    let tx = db.write()?;
    for (account_id, name) in accounts::without_primary_owner(&tx)? {
        let (user_id, how) = match accounts::oldest_owner(&tx, &account_id)? {
            Some(owner) => (owner, "its longest-standing owner"),
            None => match accounts::instance_admin_id(&tx)? {
                Some(admin) => (admin, "the instance administrator"),
                None => continue,
            },
        };
        match crate::store::members::role_of(&tx, &account_id, &user_id)? {
            Some(_) => {
                crate::store::members::set_role(&tx, &account_id, &user_id, Role::PrimaryOwner)?
            }
            None => {
                accounts::insert_membership(&tx, &account_id, &user_id, Role::PrimaryOwner, now)?
            }
        }
        let email = crate::store::members::email_of(&tx, &user_id)?.unwrap_or_default();
        let line = format!("Made {email}, {how}, the primary owner of \"{name}\", which had none");
        let note = Note::member(
            Some(&account_id),
            "primary_owner_assigned",
            &user_id,
            line.clone(),
        );
        changes::record(&tx, &Actor::System, Change::Note(note), now)?;
        done.push(line);
    }
    let (old, new) = OLD_UNLIMITED;
    if !config.plans.contains_key(old) && config.plans.contains_key(new) {
        for account_id in accounts::rename_plan(&tx, old, new)? {
            let line = format!(
                "Renamed the plan \"{old}\" to \"{new}\" (rate limits only; credits are separate)"
            );
            let note = Note {
                account_id: Some(&account_id),
                category: Category::Account,
                action: "plan_changed",
                target: Some(&account_id),
                description: line.clone(),
            };
            changes::record(&tx, &Actor::System, Change::Note(note), now)?;
            done.push(line);
        }
    }
    tx.commit()?;
    Ok(done)
}
