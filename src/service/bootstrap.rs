//! First start on an empty store: the instance administrator and a personal account.

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
    let created = Note {
        account_id: Some(&account_id),
        category: Category::Member,
        action: "created",
        target: Some(&user_id),
        description: format!("Created the instance administrator {ADMIN_EMAIL}"),
    };
    changes::record(&tx, &Actor::System, Change::Note(created), now)?;
    tx.commit()?;
    Ok(Some(AdminCreated {
        email: ADMIN_EMAIL,
        generated_password: generated.then_some(password),
        account_id,
    }))
}
