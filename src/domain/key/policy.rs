//! An account's key lifetime policy (docs/keys.md, "Key policy"): the rules every key of the
//! account is created, edited and rotated under. Pure: the service checks keys against it.

use crate::domain::{Preset, ScopeSet, Timestamp};

/// Longest lifetime or default expiry a policy may name, in days (ten years).
pub const MAX_POLICY_DAYS: i64 = 3650;
/// Longest rotation grace a policy may allow, in hours (a week, the product's own ceiling).
pub const MAX_POLICY_GRACE_HOURS: i64 = 168;

/// `None` in a field: no rule. The default policy has no rules at all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyPolicy {
    /// Applied to a key created without an expiry.
    pub default_expiry_days: Option<i64>,
    /// A key's expiry may be at most this many days after its creation or edit.
    pub max_lifetime_days: Option<i64>,
    /// Every key must carry an expiry.
    pub require_expiry: bool,
    /// The longest grace period a rotation may give the old key.
    pub max_rotation_grace_hours: Option<i64>,
    /// The presets a key may be created from (and the only scopes it may carry); `None`: any.
    pub allowed_presets: Option<Vec<Preset>>,
    /// Keys that break the policy are refused at use like expired keys.
    pub enforce_on_use: bool,
}

/// A rule a key breaks: the field to name and the sentence to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Breach {
    pub field: &'static str,
    pub message: String,
}

fn breach(field: &'static str, message: String) -> Breach {
    Breach { field, message }
}

impl KeyPolicy {
    /// Checks the policy's own values (first failure wins).
    pub fn validate(&self) -> Result<(), Breach> {
        let days = [
            ("default_expiry_days", self.default_expiry_days),
            ("max_lifetime_days", self.max_lifetime_days),
        ];
        for (field, value) in days {
            if value.is_some_and(|d| !(1..=MAX_POLICY_DAYS).contains(&d)) {
                return Err(breach(
                    field,
                    format!("{field} must be between 1 and {MAX_POLICY_DAYS}"),
                ));
            }
        }
        if self
            .max_rotation_grace_hours
            .is_some_and(|h| !(1..=MAX_POLICY_GRACE_HOURS).contains(&h))
        {
            return Err(breach(
                "max_rotation_grace_hours",
                format!("max_rotation_grace_hours must be between 1 and {MAX_POLICY_GRACE_HOURS}"),
            ));
        }
        if let (Some(default), Some(max)) = (self.default_expiry_days, self.max_lifetime_days)
            && default > max
        {
            return Err(breach(
                "default_expiry_days",
                format!(
                    "default_expiry_days ({default}) must not exceed max_lifetime_days ({max})"
                ),
            ));
        }
        if self.allowed_presets.as_ref().is_some_and(Vec::is_empty) {
            return Err(breach(
                "allowed_presets",
                "allowed_presets must name at least one preset (leave it out to allow any)".into(),
            ));
        }
        Ok(())
    }

    /// The first rule of this (an account's) policy that is looser than the instance's
    /// ceiling, naming its field.
    pub fn looser_than(&self, ceiling: &KeyPolicy) -> Option<Breach> {
        let looser = |field: &'static str, own: Option<i64>, max: Option<i64>| match max {
            Some(max) if own.is_none_or(|v| v > max) => Some(breach(
                field,
                format!("{field} must be at most {max}, the instance's key policy"),
            )),
            _ => None,
        };
        looser(
            "max_lifetime_days",
            self.max_lifetime_days,
            ceiling.max_lifetime_days,
        )
        .or_else(|| {
            // No default expiry at all is no looser: the longest lifetime refuses such keys.
            let default = self.default_expiry_days.or(ceiling.default_expiry_days)?;
            looser(
                "default_expiry_days",
                Some(default),
                ceiling.max_lifetime_days,
            )
        })
        .or_else(|| {
            looser(
                "max_rotation_grace_hours",
                self.max_rotation_grace_hours,
                ceiling.max_rotation_grace_hours,
            )
        })
        .or_else(|| {
            (ceiling.require_expiry && !self.require_expiry).then(|| {
                breach(
                    "require_expiry",
                    "the instance's key policy requires every key to expire".into(),
                )
            })
        })
        .or_else(|| {
            let allowed = ceiling.allowed_presets.as_ref()?;
            let within = self
                .allowed_presets
                .as_ref()
                .is_some_and(|own| own.iter().all(|p| allowed.contains(p)));
            (!within).then(|| {
                let ids: Vec<&str> = allowed.iter().map(|p| p.id()).collect();
                breach(
                    "allowed_presets",
                    format!(
                        "the instance's key policy allows only the presets {}",
                        ids.join(", ")
                    ),
                )
            })
        })
        .or_else(|| {
            (ceiling.enforce_on_use && !self.enforce_on_use).then(|| {
                breach(
                    "enforce_on_use",
                    "the instance's key policy is enforced on use".into(),
                )
            })
        })
    }

    /// The policy in force for an account from its own and the instance's, each if set.
    pub fn in_force(own: Option<KeyPolicy>, instance: Option<KeyPolicy>) -> KeyPolicy {
        match (own, instance) {
            (Some(own), Some(ceiling)) => own.within(&ceiling),
            (own, instance) => own.or(instance).unwrap_or_default(),
        }
    }

    /// The policy in force for an account: its own held within the instance's ceiling (the
    /// stricter of the two for every rule), so a ceiling tightened later holds at once.
    pub fn within(&self, ceiling: &KeyPolicy) -> KeyPolicy {
        let min = |a: Option<i64>, b: Option<i64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let max_lifetime_days = min(self.max_lifetime_days, ceiling.max_lifetime_days);
        let allowed_presets = match (&self.allowed_presets, &ceiling.allowed_presets) {
            (Some(own), Some(allowed)) => Some(
                own.iter()
                    .copied()
                    .filter(|p| allowed.contains(p))
                    .collect(),
            ),
            (own, allowed) => own.clone().or_else(|| allowed.clone()),
        };
        KeyPolicy {
            default_expiry_days: self
                .default_expiry_days
                .or(ceiling.default_expiry_days)
                .map(|d| max_lifetime_days.map_or(d, |m| d.min(m))),
            max_lifetime_days,
            require_expiry: self.require_expiry || ceiling.require_expiry,
            max_rotation_grace_hours: min(
                self.max_rotation_grace_hours,
                ceiling.max_rotation_grace_hours,
            ),
            allowed_presets,
            enforce_on_use: self.enforce_on_use || ceiling.enforce_on_use,
        }
    }

    /// The expiry a key gets under the policy: the given one, else the default expiry from
    /// `now`; refused when it is missing but required, or more than the longest lifetime after
    /// the key's creation (`created`).
    pub fn expiry(
        &self,
        given: Option<Timestamp>,
        field: &'static str,
        created: Timestamp,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, Breach> {
        let expiry = given.or_else(|| {
            self.default_expiry_days
                .map(|d| now.plus_millis(d * Timestamp::MS_PER_DAY))
        });
        match (expiry, self.max_lifetime_days) {
            (None, Some(max)) => Err(breach(
                field,
                format!("the account's key policy requires an expiry of at most {max} days"),
            )),
            (None, None) if self.require_expiry => Err(breach(
                field,
                "the account's key policy requires every key to expire".into(),
            )),
            (Some(at), Some(max)) if at > created.plus_millis(max * Timestamp::MS_PER_DAY) => {
                Err(breach(
                    field,
                    format!(
                        "the account's key policy allows a lifetime of at most {max} days \
                         (max_lifetime_days)"
                    ),
                ))
            }
            _ => Ok(expiry),
        }
    }

    /// The expiry of a rotation's new key: the old key's, capped at the longest lifetime from
    /// now, else the default expiry; refused when the policy requires one and none is known.
    pub fn rotated_expiry(
        &self,
        inherited: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, Breach> {
        let cap = self
            .max_lifetime_days
            .map(|d| now.plus_millis(d * Timestamp::MS_PER_DAY));
        let wanted = inherited.or_else(|| {
            self.default_expiry_days
                .map(|d| now.plus_millis(d * Timestamp::MS_PER_DAY))
        });
        let expiry = match (wanted, cap) {
            (Some(e), Some(c)) => Some(e.min(c)),
            (e, c) => e.or(c),
        };
        if expiry.is_none() && self.require_expiry {
            return Err(breach(
                "expires_at",
                "the account's key policy requires every key to expire; give the key an expiry \
                 before rotating it"
                    .into(),
            ));
        }
        Ok(expiry)
    }

    /// Refuses a preset the policy does not allow, or scopes beyond those of its presets.
    pub fn scopes(&self, preset: Option<Preset>, scopes: ScopeSet) -> Result<(), Breach> {
        let Some(allowed) = &self.allowed_presets else {
            return Ok(());
        };
        let names = || {
            allowed
                .iter()
                .map(|p| p.id())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match preset {
            Some(p) if !allowed.contains(&p) => Err(breach(
                "preset",
                format!(
                    "the account's key policy allows only the presets {}",
                    names()
                ),
            )),
            _ => {
                let room = allowed
                    .iter()
                    .fold(ScopeSet::default(), |acc, p| acc.union(p.scopes()));
                match scopes.iter().find(|s| !room.contains(*s)) {
                    Some(s) => Err(breach(
                        "scopes",
                        format!(
                            "the account's key policy allows no scope {:?} (presets {})",
                            s.as_str(),
                            names()
                        ),
                    )),
                    None => Ok(()),
                }
            }
        }
    }

    /// Refuses a rotation grace longer than the policy allows.
    pub fn grace(&self, hours: i64) -> Result<(), Breach> {
        match self.max_rotation_grace_hours {
            Some(max) if hours > max => Err(breach(
                "grace_hours",
                format!("the account's key policy allows a rotation grace of at most {max} hours"),
            )),
            _ => Ok(()),
        }
    }

    /// The rule an issued key breaks under this policy, if any (the first one), for the flags
    /// on the key page and the dashboard.
    pub fn breach_of(
        &self,
        expires_at: Option<Timestamp>,
        created_at: Timestamp,
        scopes: ScopeSet,
    ) -> Option<Breach> {
        let unchanged = KeyPolicy {
            default_expiry_days: None,
            ..self.clone()
        };
        unchanged
            .expiry(expires_at, "expires_at", created_at, created_at)
            .err()
            .or_else(|| self.scopes(None, scopes).err())
    }

    /// The presets stored as one comma-separated text; `None` when any preset is allowed.
    pub fn presets_to_stored(&self) -> Option<String> {
        self.allowed_presets
            .as_ref()
            .map(|ps| ps.iter().map(|p| p.id()).collect::<Vec<_>>().join(","))
    }

    pub fn presets_from_stored(stored: Option<&str>) -> Option<Vec<Preset>> {
        stored.map(|s| s.split(',').filter_map(Preset::parse).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = Timestamp::MS_PER_DAY;

    #[test]
    fn the_default_expiry_applies_and_the_lifetime_counts_from_creation() {
        let policy = KeyPolicy {
            default_expiry_days: Some(7),
            max_lifetime_days: Some(30),
            ..KeyPolicy::default()
        };
        let now = Timestamp(1_000 * DAY);
        assert_eq!(
            policy.expiry(None, "expires_at", now, now),
            Ok(Some(Timestamp(1_007 * DAY)))
        );
        let late = Some(Timestamp(1_031 * DAY));
        assert_eq!(
            policy
                .expiry(late, "expires_in_days", now, now)
                .unwrap_err()
                .field,
            "expires_in_days"
        );
        let created = Timestamp(990 * DAY);
        assert!(
            policy
                .expiry(Some(Timestamp(1_025 * DAY)), "expires_at", created, now)
                .is_err()
        );
    }

    #[test]
    fn an_account_policy_is_never_looser_than_the_ceiling_and_is_held_within_it() {
        let ceiling = KeyPolicy {
            max_lifetime_days: Some(60),
            require_expiry: true,
            allowed_presets: Some(vec![Preset::ReadOnly, Preset::GenerateOnly]),
            ..KeyPolicy::default()
        };
        let field = |p: KeyPolicy| p.looser_than(&ceiling).map(|b| b.field);
        assert_eq!(field(KeyPolicy::default()), Some("max_lifetime_days"));
        let own = KeyPolicy {
            max_lifetime_days: Some(30),
            require_expiry: true,
            allowed_presets: Some(vec![Preset::ReadOnly]),
            ..KeyPolicy::default()
        };
        assert_eq!(field(own.clone()), None);
        let wider = KeyPolicy {
            allowed_presets: Some(vec![Preset::FullAccess]),
            ..own.clone()
        };
        assert_eq!(field(wider), Some("allowed_presets"));
        let tighter = KeyPolicy {
            max_lifetime_days: Some(20),
            ..ceiling.clone()
        };
        assert_eq!(own.within(&tighter).max_lifetime_days, Some(20));
        assert_eq!(KeyPolicy::in_force(None, Some(ceiling.clone())), ceiling);
    }
}
