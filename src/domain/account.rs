//! Accounts (workspaces), the people in them and the role each holds (docs/keys.md, "Roles").

use std::fmt;

use super::{Money, Region, Timestamp};

/// An account: a workspace of keys, members and credits.
#[derive(Clone, Debug)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub is_personal: bool,
    pub picture_url: Option<String>,
    pub region: Region,
    /// The name of a plan under `[plans]` in the configuration.
    pub plan: String,
    pub credit_balance: Money,
    pub subscription_status: Option<String>,
    pub cancel_at_period_end: Option<bool>,
    pub currency: Option<String>,
    pub period_starts_at: Option<Timestamp>,
    pub period_ends_at: Option<Timestamp>,
    pub billing_created_at: Option<Timestamp>,
    pub billing_updated_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub deleted_at: Option<Timestamp>,
}

impl Account {
    pub fn is_live(&self) -> bool {
        self.deleted_at.is_none()
    }
}

/// An account as the instance administrator surveys it.
#[derive(Clone, Debug)]
pub struct AccountOverview {
    pub account: Account,
    pub members: i64,
    pub primary_owner: Option<String>,
    /// Keys that work now (not revoked, disabled or expired), and all keys.
    pub active_keys: i64,
    pub keys: i64,
    /// The latest of its activity and its keys' last use.
    pub last_activity: Option<Timestamp>,
}

/// What a member of a workspace may do there. Primary owners manage everyone and the
/// workspace's settings, owners manage keys, webhooks and members, members read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    PrimaryOwner,
    Owner,
    Member,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::PrimaryOwner, Role::Owner, Role::Member];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::PrimaryOwner => "primary-owner",
            Role::Owner => "owner",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// A role that can be given by invitation or a change of role: the primary owner is only
    /// ever handed over.
    pub fn parse_assignable(s: &str) -> Option<Role> {
        Role::parse(s).filter(|r| *r != Role::PrimaryOwner)
    }

    /// Owners and the primary owner manage keys, webhook endpoints and members.
    pub fn is_owner(self) -> bool {
        matches!(self, Role::PrimaryOwner | Role::Owner)
    }

    pub fn is_primary(self) -> bool {
        self == Role::PrimaryOwner
    }

    /// Owners and the primary owner read client addresses in the request log; members read only
    /// their keyed hashes (docs/keys.md, "Request log").
    pub fn sees_client_addresses(self) -> bool {
        self.is_owner()
    }

    /// Whether someone holding this role may invite, change or remove someone holding `other`:
    /// the primary owner manages everyone else, owners manage members, members nobody.
    pub fn manages(self, other: Role) -> bool {
        match self {
            Role::PrimaryOwner => other != Role::PrimaryOwner,
            Role::Owner => other == Role::Member,
            Role::Member => false,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A person's membership of a workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub user_id: String,
    pub email: String,
    pub role: Role,
    pub joined_at: Timestamp,
}

/// One movement of an account's credits: added, reserved, charged or refunded.
#[derive(Clone, Debug)]
pub struct LedgerEntry {
    pub kind: String,
    pub amount: Money,
    pub reference: Option<String>,
    pub actor: String,
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_read_back_from_their_names_and_only_two_can_be_assigned() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("admin"), None);
        assert_eq!(Role::parse_assignable("primary-owner"), None);
        assert_eq!(Role::parse_assignable("owner"), Some(Role::Owner));
    }

    #[test]
    fn the_primary_owner_manages_everyone_else_and_owners_manage_members() {
        use Role::*;
        assert!(PrimaryOwner.manages(Owner) && PrimaryOwner.manages(Member));
        assert!(!PrimaryOwner.manages(PrimaryOwner));
        assert!(Owner.manages(Member) && !Owner.manages(Owner));
        assert!(Role::ALL.iter().all(|r| !Member.manages(*r)));
    }
}
