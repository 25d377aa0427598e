//! What an account does with a key reported leaked (docs/keys.md, "Leaked keys").

/// What is done with a leaked key of an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeakAction {
    Revoke,
    Disable,
    Notify,
}

impl LeakAction {
    pub const ALL: [LeakAction; 3] = [LeakAction::Revoke, LeakAction::Disable, LeakAction::Notify];

    pub fn as_str(self) -> &'static str {
        match self {
            LeakAction::Revoke => "revoke",
            LeakAction::Disable => "disable",
            LeakAction::Notify => "notify",
        }
    }

    pub fn parse(s: &str) -> Option<LeakAction> {
        LeakAction::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// What became of the key: `revoked`, `disabled`, `notified`.
    pub fn done(self) -> &'static str {
        match self {
            LeakAction::Revoke => "revoked",
            LeakAction::Disable => "disabled",
            LeakAction::Notify => "notified",
        }
    }
}
