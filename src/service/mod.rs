//! Use cases shared by the HTTP API, the pages, the jobs and the command line. No actix here.

pub(crate) mod accounts;
pub(crate) mod activity;
pub(crate) mod auth;
pub(crate) mod auth_limits;
pub(crate) mod bootstrap;
pub(crate) mod changes;
pub(crate) mod check;
pub(crate) mod credits;
pub(crate) mod dashboard;
pub(crate) mod gate;
pub(crate) mod generations;
pub(crate) mod idempotency;
pub(crate) mod key_policy;
pub(crate) mod keys;
pub(crate) mod leaks;
pub(crate) mod lifecycle;
pub(crate) mod logs;
pub(crate) mod maintenance;
pub(crate) mod members;
pub(crate) mod memberships;
pub(crate) mod notification_settings;
pub(crate) mod notify;
pub(crate) mod oidc;
pub(crate) mod password;
pub(crate) mod preauth;
pub(crate) mod quota;
pub(crate) mod rate_limit;
pub(crate) mod second_factor;
pub(crate) mod secret_scanning;
pub(crate) mod sessions;
pub(crate) mod settings;
pub(crate) mod sign_in;
pub(crate) mod sign_in_link;
pub(crate) mod submit;
pub(crate) mod usage;
pub(crate) mod users;
pub(crate) mod webhooks;

use crate::store::StoreError;

/// Lock waits inside the future end at the deadline of a request that arrived at the instant.
pub use crate::store::busy::request_scope;
/// Generated files on disk, which the workers write and the media route serves.
pub use crate::store::media::MediaStore;
/// The store and its unit of work, as the callers of the services hold them: they pass the `Db`
/// of `Store::run` to a service and never see what is inside.
pub use crate::store::{Db, Store};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Bad input; `field` names it for `details.field`, `index` points into a list.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
        index: Option<usize>,
    },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    InvalidState(String),
    /// The actor's role does not allow the change (docs/keys.md, "Roles").
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ServiceError {
    /// Whether the failure is the system's, not the caller's: it is logged, with its causes.
    pub fn is_unexpected(&self) -> bool {
        matches!(self, ServiceError::Store(_))
    }

    pub fn invalid(field: &'static str, message: impl Into<String>) -> ServiceError {
        ServiceError::Invalid {
            field,
            message: message.into(),
            index: None,
        }
    }
}

/// Who made a change, as the activity log names them.
#[derive(Clone, Debug)]
pub enum Actor {
    Cli,
    System,
    /// A signed-in person, and the keyed hash of their address.
    User {
        email: String,
        ip_hash: Option<String>,
    },
    /// The instance administrator acting in an account they are no member of.
    Administrator {
        email: String,
        ip_hash: Option<String>,
    },
    /// A management key (by its prefix), and the keyed hash of the caller's address.
    Key {
        prefix: String,
        ip_hash: Option<String>,
    },
}

impl Actor {
    pub fn label(&self) -> String {
        match self {
            Actor::Cli => "cli".into(),
            Actor::System => "system".into(),
            Actor::User { email, .. } => format!("user:{email}"),
            Actor::Administrator { email, .. } => format!("instance-admin:{email}"),
            Actor::Key { prefix, .. } => format!("key:{prefix}"),
        }
    }

    /// The address the change came from, for the activity row; none for local tools.
    pub fn ip_hash(&self) -> Option<&str> {
        match self {
            Actor::User { ip_hash, .. }
            | Actor::Administrator { ip_hash, .. }
            | Actor::Key { ip_hash, .. } => ip_hash.as_deref(),
            Actor::Cli | Actor::System => None,
        }
    }
}

pub use crate::telemetry::cause_chain;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cause_chain_names_each_cause_once() {
        let io = std::io::Error::other("disk full");
        let store = StoreError::Unusable {
            path: "/data".into(),
            what: "the database",
            source: io,
        };
        let chain = cause_chain(&ServiceError::Store(store));
        assert_eq!(chain.matches("disk full").count(), 1, "{chain}");
        assert!(
            chain.starts_with("data directory /data cannot be used"),
            "{chain}"
        );
    }
}
