//! Accounts and dashboard users on the wire (the command line's `--json`).

use schemars::JsonSchema;
use serde::Serialize;

use super::{Credits, Region, Time, named};
use crate::domain::account::Account;
use crate::service::users::UserSummary;

named!(
    /// A member's role in a workspace.
    Role(crate::domain::account::Role),
    crate::domain::account::Role::ALL
);

#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "Account")]
pub struct AccountOut {
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub is_personal: bool,
    pub region: Region,
    pub plan: String,
    pub credit_balance: Credits,
    pub created_at: Time,
}

impl AccountOut {
    pub fn of(a: &Account) -> AccountOut {
        AccountOut {
            id: a.id.clone(),
            name: a.name.clone(),
            email: a.email.clone(),
            is_personal: a.is_personal,
            region: Region(a.region),
            plan: a.plan.clone(),
            credit_balance: Credits(a.credit_balance),
            created_at: Time(a.created_at),
        }
    }
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "User")]
pub struct UserOut {
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
    pub email: String,
    pub is_instance_admin: bool,
    pub created_at: Time,
    /// `[account id, role]` of each workspace the user belongs to.
    pub memberships: Vec<(String, Role)>,
}

impl UserOut {
    pub fn of(u: &UserSummary) -> UserOut {
        UserOut {
            id: u.id.clone(),
            email: u.email.clone(),
            is_instance_admin: u.is_instance_admin,
            created_at: Time(u.created_at),
            memberships: u
                .memberships
                .iter()
                .map(|(account, role)| (account.clone(), Role(*role)))
                .collect(),
        }
    }
}
