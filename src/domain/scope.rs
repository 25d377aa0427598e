//! Scopes and presets (docs/keys.md, "Scopes and presets").

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    GenerationWrite,
    GenerationRead,
    GenerationDelete,
    AccountRead,
    HealthRead,
    LibraryRead,
    KeysRead,
    KeysWrite,
    WebhooksRead,
    WebhooksWrite,
    ActivityRead,
}

impl Scope {
    pub const ALL: [Scope; 11] = [
        Scope::GenerationWrite,
        Scope::GenerationRead,
        Scope::GenerationDelete,
        Scope::AccountRead,
        Scope::HealthRead,
        Scope::LibraryRead,
        Scope::KeysRead,
        Scope::KeysWrite,
        Scope::WebhooksRead,
        Scope::WebhooksWrite,
        Scope::ActivityRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::GenerationWrite => "generation:write",
            Scope::GenerationRead => "generation:read",
            Scope::GenerationDelete => "generation:delete",
            Scope::AccountRead => "account:read",
            Scope::HealthRead => "health:read",
            Scope::LibraryRead => "library:read",
            Scope::KeysRead => "keys:read",
            Scope::KeysWrite => "keys:write",
            Scope::WebhooksRead => "webhooks:read",
            Scope::WebhooksWrite => "webhooks:write",
            Scope::ActivityRead => "activity:read",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes, stored as a comma-separated list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScopeSet(u16);

#[derive(Debug, PartialEq, Eq)]
pub struct ScopeError {
    pub index: usize,
    pub value: String,
}

impl ScopeSet {
    pub fn of(scopes: &[Scope]) -> ScopeSet {
        ScopeSet(scopes.iter().fold(0, |acc, s| acc | s.bit()))
    }

    /// Parses scope names; `generation:*` stands for the three generation scopes. `*` and `*:*`
    /// are refused like any unknown name.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<ScopeSet, ScopeError> {
        let mut set = ScopeSet::default();
        for (index, name) in names.iter().enumerate() {
            let name = name.as_ref().trim();
            if name == "generation:*" {
                set = set.union(ScopeSet::of(&[
                    Scope::GenerationWrite,
                    Scope::GenerationRead,
                    Scope::GenerationDelete,
                ]));
                continue;
            }
            match Scope::ALL.iter().find(|s| s.as_str() == name) {
                Some(scope) => set.0 |= scope.bit(),
                None => {
                    return Err(ScopeError {
                        index,
                        value: name.to_owned(),
                    });
                }
            }
        }
        Ok(set)
    }

    /// Reads the stored form; unknown names (from a newer version) are ignored.
    pub fn from_stored(s: &str) -> ScopeSet {
        ScopeSet::of(
            &s.split(',')
                .filter_map(|n| Scope::ALL.iter().copied().find(|sc| sc.as_str() == n))
                .collect::<Vec<_>>(),
        )
    }

    pub fn union(self, other: ScopeSet) -> ScopeSet {
        ScopeSet(self.0 | other.0)
    }

    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Scope::as_str).collect()
    }

    pub fn to_stored(self) -> String {
        self.names().join(",")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    FullAccess,
    GenerateOnly,
    ReadOnly,
    MonitorOnly,
    KeyManagement,
}

impl Preset {
    pub const ALL: [Preset; 5] = [
        Preset::FullAccess,
        Preset::GenerateOnly,
        Preset::ReadOnly,
        Preset::MonitorOnly,
        Preset::KeyManagement,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Preset::FullAccess => "full_access",
            Preset::GenerateOnly => "generate_only",
            Preset::ReadOnly => "read_only",
            Preset::MonitorOnly => "monitor_only",
            Preset::KeyManagement => "key_management",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Preset::FullAccess => "Full Access",
            Preset::GenerateOnly => "Generate Only",
            Preset::ReadOnly => "Read Only",
            Preset::MonitorOnly => "Monitor Only",
            Preset::KeyManagement => "Key Management",
        }
    }

    pub fn parse(id: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.id() == id)
    }

    pub fn scopes(self) -> ScopeSet {
        use Scope::*;
        match self {
            Preset::FullAccess => ScopeSet::of(&[
                GenerationWrite,
                GenerationRead,
                GenerationDelete,
                AccountRead,
                HealthRead,
                LibraryRead,
            ]),
            Preset::GenerateOnly => ScopeSet::of(&[GenerationWrite, GenerationRead, LibraryRead]),
            Preset::ReadOnly => {
                ScopeSet::of(&[GenerationRead, AccountRead, HealthRead, LibraryRead])
            }
            Preset::MonitorOnly => ScopeSet::of(&[HealthRead, LibraryRead]),
            Preset::KeyManagement => ScopeSet::of(&[
                KeysRead,
                KeysWrite,
                WebhooksRead,
                WebhooksWrite,
                ActivityRead,
            ]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_wildcard_expands_to_the_three_generation_scopes() {
        let set = ScopeSet::parse(&["generation:*"]).unwrap();
        assert_eq!(
            set.names(),
            ["generation:write", "generation:read", "generation:delete"]
        );
    }

    #[test]
    fn global_wildcards_and_unknown_names_are_refused_with_their_index() {
        for bad in ["*", "*:*", "account:write", ""] {
            let err = ScopeSet::parse(&["account:read", bad]).unwrap_err();
            assert_eq!(err.index, 1, "{bad}");
        }
    }

    #[test]
    fn stored_form_round_trips() {
        let set = Preset::ReadOnly.scopes();
        assert_eq!(ScopeSet::from_stored(&set.to_stored()), set);
    }

    #[test]
    fn full_access_has_the_six_v1_scopes_and_no_management() {
        let set = Preset::FullAccess.scopes();
        assert_eq!(set.iter().count(), 6);
        assert!(!set.contains(Scope::KeysRead));
    }
}
