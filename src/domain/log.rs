//! What the logs hold: a request as the audit log recorded it, and an entry of the activity
//! log (who changed what), which is chained by hashes so that a removed row is noticed.

use super::account::Role;
use super::{Environment, Region, Timestamp};

/// One request of a key, as the request log recorded it.
#[derive(Clone, Debug)]
pub struct LogEntry {
    pub id: i64,
    pub request_id: String,
    pub key_id: String,
    pub key_prefix: String,
    pub environment: Environment,
    pub method: String,
    /// The path as requested.
    pub endpoint: String,
    /// The route template, e.g. `/v1/content/{generation_id}`.
    pub route: String,
    /// The logged query parameters, values of sensitive ones left out.
    pub query: Option<String>,
    pub status_code: i64,
    pub error_code: Option<String>,
    pub idempotency_replayed: bool,
    /// The keyed hash of the client's address.
    pub ip_hash: String,
    /// The address itself, for `logs.client_ip_days` and only for those it is shown to
    /// ([`AddressView`]).
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub region: Region,
    pub latency_us: i64,
    pub created_at: Timestamp,
}

impl LogEntry {
    /// The entry as `view` may read it: without the address for those who see only its hash.
    pub fn seen_as(mut self, view: AddressView) -> LogEntry {
        self.client_ip = view.address(self.client_ip);
        self
    }
}

/// Requests refused before a key was known (firewall, BSE1001, BSE1002, BSE1006), from one
/// address for one reason, over some days.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusalTally {
    pub ip_hash: String,
    pub client_ip: Option<String>,
    /// The error code, or `firewall`.
    pub reason: String,
    pub requests: i64,
}

impl RefusalTally {
    pub fn seen_as(mut self, view: AddressView) -> RefusalTally {
        self.client_ip = view.address(self.client_ip);
        self
    }
}

/// How someone reads the client addresses of the request log and of the refusals counted
/// before a key was known (docs/keys.md, "Request log"): in clear beside the keyed hash, or
/// the hash only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressView {
    /// Owners, the primary owner, the instance administrator, and keys (which only owners make).
    Clear,
    /// Members.
    HashOnly,
}

impl AddressView {
    /// The view of someone holding `role` in a workspace (none: no workspace selected).
    pub fn of(role: Option<Role>, instance_admin: bool) -> AddressView {
        if instance_admin || role.is_some_and(Role::sees_client_addresses) {
            AddressView::Clear
        } else {
            AddressView::HashOnly
        }
    }

    /// `address` as this view shows it.
    pub fn address(self, address: Option<String>) -> Option<String> {
        match self {
            AddressView::Clear => address,
            AddressView::HashOnly => None,
        }
    }
}

/// What a change is about, as the activity log files it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    ApiKey,
    Member,
    Credits,
    Auth,
    Account,
    Webhook,
}

impl Category {
    pub const ALL: [Category; 6] = [
        Category::ApiKey,
        Category::Member,
        Category::Credits,
        Category::Auth,
        Category::Account,
        Category::Webhook,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::ApiKey => "apikey",
            Category::Member => "member",
            Category::Credits => "credits",
            Category::Auth => "auth",
            Category::Account => "account",
            Category::Webhook => "webhook",
        }
    }
}

/// One change recorded in the activity log.
#[derive(Clone, Debug)]
pub struct ActivityEntry {
    pub id: i64,
    pub account_id: Option<String>,
    /// Who made it, e.g. `user:ada@example.com`, `key:bye_AbCd1`, `cli`, `system`.
    pub actor: String,
    /// What it is about: `apikey`, `member`, `credits`, `auth`, `account` or `webhook`.
    pub category: String,
    pub action: String,
    pub target: Option<String>,
    pub description: String,
    pub ip_hash: Option<String>,
    pub created_at: Timestamp,
    pub prev_hash: String,
    pub hash: String,
}

/// Where the chain breaks, if it does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainBreak {
    /// The row's fields no longer hash to its stored hash (it was edited).
    Edited { id: i64 },
    /// The row does not point at the row before it (one was deleted or inserted).
    Unlinked { id: i64 },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_owners_and_the_instance_administrator_read_addresses_in_clear() {
        use AddressView::*;
        let cases = [
            (Some(Role::PrimaryOwner), false, Clear),
            (Some(Role::Owner), false, Clear),
            (Some(Role::Member), false, HashOnly),
            (None, false, HashOnly),
            (Some(Role::Member), true, Clear),
            (None, true, Clear),
        ];
        for (role, admin, view) in cases {
            assert_eq!(AddressView::of(role, admin), view, "{role:?} {admin}");
        }
        let address = Some("198.51.100.7".to_owned());
        assert_eq!(HashOnly.address(address.clone()), None);
        assert_eq!(Clear.address(address.clone()), address);
    }
}
