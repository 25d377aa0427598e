//! What the logs hold: a request as the audit log recorded it, and an entry of the activity
//! log (who changed what), which is chained by hashes so that a removed row is noticed.

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
    pub user_agent: Option<String>,
    pub region: Region,
    pub latency_us: i64,
    pub created_at: Timestamp,
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
