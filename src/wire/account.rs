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

/// `GET /v1/user/account`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "AccountData")]
pub struct AccountData {
    #[schemars(extend("format" = "uuid"))]
    pub account_id: String,
    pub account_name: String,
    pub account_email: Option<String>,
    pub account_is_personal: bool,
    pub account_picture_url: Option<String>,
    pub account_created_at: Time,
}

impl AccountData {
    pub fn of(a: &Account) -> AccountData {
        AccountData {
            account_id: a.id.clone(),
            account_name: a.name.clone(),
            account_email: a.email.clone(),
            account_is_personal: a.is_personal,
            account_picture_url: a.picture_url.clone(),
            account_created_at: Time(a.created_at),
        }
    }
}

/// `GET /v1/user/billing`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "BillingData")]
pub struct BillingData {
    #[schemars(extend("format" = "uuid"))]
    pub account_id: String,
    pub billing_plan: String,
    pub billing_credit_balance: Credits,
    pub billing_subscription_status: Option<String>,
    pub billing_cancel_at_period_end: Option<bool>,
    pub billing_currency: Option<String>,
    pub billing_period_starts_at: Option<Time>,
    pub billing_period_ends_at: Option<Time>,
    pub billing_created_at: Option<Time>,
    pub billing_updated_at: Option<Time>,
}

impl BillingData {
    pub fn of(a: &Account) -> BillingData {
        BillingData {
            account_id: a.id.clone(),
            billing_plan: a.plan.clone(),
            billing_credit_balance: Credits(a.credit_balance),
            billing_subscription_status: a.subscription_status.clone(),
            billing_cancel_at_period_end: a.cancel_at_period_end,
            billing_currency: a.currency.clone(),
            billing_period_starts_at: Time::of(a.period_starts_at),
            billing_period_ends_at: Time::of(a.period_ends_at),
            billing_created_at: Time::of(a.billing_created_at),
            billing_updated_at: Time::of(a.billing_updated_at),
        }
    }
}
