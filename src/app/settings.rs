//! The settings only the product can check, checked before anything starts: the regions, the
//! key prefix, the trusted proxies, the cron strings and the PostgreSQL URL. The configuration
//! itself (`config`) checks shapes and ranges.

use crate::config::{Backend, Config, ConfigError};
use crate::domain::account::Role;
use crate::domain::{KeyFormat, Regions, TrustedProxies};

/// What the settings come to, for the server to run with.
pub struct Checked {
    pub regions: Regions,
    pub key_format: KeyFormat,
    pub proxies: TrustedProxies,
    /// The role of the people single sign-on creates.
    pub provision_role: Role,
}

pub fn check(config: &Config) -> Result<Checked, ConfigError> {
    let invalid = |key, message| ConfigError::Invalid { key, message };
    let server = &config.server;
    let regions = Regions::parse(&server.default_region, &server.regions)
        .map_err(|(key, message)| invalid(key, message))?;
    let proxies = TrustedProxies::parse(&server.trusted_proxies)
        .map_err(|m| invalid("server.trusted_proxies", m))?;
    let key_format = KeyFormat::new(&config.keys.prefix).map_err(|m| invalid("keys.prefix", m))?;
    if config.storage.backend == Backend::Postgres {
        crate::store::check_postgres_url(&config.storage.postgres_url)
            .map_err(|m| invalid("storage.postgres_url", m))?;
    }
    // The message names the key of the bad cron string.
    crate::jobs::validate_schedules(&config.jobs).map_err(ConfigError::Load)?;
    let provision_role = provision_role(&config.auth.oidc.auto_provision_role)
        .map_err(|m| invalid("auth.oidc.auto_provision_role", m))?;
    Ok(Checked {
        regions,
        key_format,
        proxies,
        provision_role,
    })
}

/// Single sign-on makes owners or members; the primary owner is handed over by a person.
fn provision_role(raw: &str) -> Result<Role, String> {
    match Role::parse(raw.trim()) {
        Some(Role::PrimaryOwner) => Err(format!(
            "{:?} is never given at sign-in (an account's primary owner is handed over on its \
             Members page); use {:?} or {:?}",
            Role::PrimaryOwner.as_str(),
            Role::Owner.as_str(),
            Role::Member.as_str()
        )),
        Some(role) => Ok(role),
        None => Err(format!(
            "{raw:?} is not a role; use {:?} or {:?}",
            Role::Owner.as_str(),
            Role::Member.as_str()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::providers::Serialized;

    fn checked(key: &str, value: serde_json::Value) -> Result<Checked, String> {
        let figment = Config::defaults().merge(Serialized::default(key, value));
        let config = Config::from_figment(figment).map_err(|e| e.to_string())?;
        check(&config).map_err(|e| e.to_string())
    }

    #[test]
    fn the_embedded_defaults_pass() {
        let config = Config::from_figment(Config::defaults()).unwrap();
        assert!(check(&config).is_ok());
    }

    #[test]
    fn invalid_values_name_their_key() {
        let cases: [(&str, serde_json::Value); 4] = [
            ("server.default_region", "mars".into()),
            ("server.regions", serde_json::json!([])),
            ("keys.prefix", "BAD".into()),
            ("server.trusted_proxies", serde_json::json!(["x"])),
        ];
        for (key, value) in cases {
            let err = checked(key, value).err().unwrap_or_default();
            assert!(err.contains(key), "{key}: {err}");
            assert_eq!(err.lines().count(), 1);
        }
    }

    #[test]
    fn single_sign_on_never_makes_a_primary_owner() {
        let err = checked("auth.oidc.auto_provision_role", "primary-owner".into())
            .err()
            .unwrap_or_default();
        assert!(
            err.starts_with("invalid configuration: auth.oidc.auto_provision_role: \"primary-owner\" is never given"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1);
        let owner = checked("auth.oidc.auto_provision_role", "owner".into());
        assert_eq!(owner.map(|c| c.provision_role).ok(), Some(Role::Owner));
    }

    #[test]
    fn an_invalid_cron_string_stops_start_up_naming_its_key() {
        let err = checked("jobs.purge_request_logs", "15 3 * *".into())
            .err()
            .unwrap_or_default();
        assert!(
            err.starts_with(
                "invalid configuration: jobs.purge_request_logs: invalid cron expression \"15 3 * *\""
            ),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1);
        assert!(
            checked("jobs.warn_expiring_keys", "".into()).is_ok(),
            "an empty string disables a job"
        );
    }
}
