//! Typed configuration: embedded `config/default.toml` → `--config FILE` → `TIDEGATE_*` environment.
//! A leaf: it knows the shape of the settings and their ranges, nothing of the product. What
//! only the product can tell (a region's name, the key prefix, a cron string, a PostgreSQL URL)
//! is checked at start-up by `app::settings`.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
mod sections;

pub use sections::{
    Backend, ColorChoice, Config, JobsConfig, LogFormat, OidcConfig, PlanConfig, RetrySchedule,
    SecretScanningConfig, SmtpConfig, SyslogConfig, TelemetryConfig, WebhooksConfig,
};

pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// Environment variables with the `TIDEGATE_` prefix that are not configuration keys.
/// `TIDEGATE_` variables that are not configuration: the first administrator's password, and
/// the test suite's PostgreSQL server and OpenID provider.
const NOT_CONFIG: &[&str] = &[
    "admin_password",
    "test_postgres_url",
    "test_oidc_provider_dir",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Load(String),
    #[error("invalid configuration: {key}: {message}")]
    Invalid { key: &'static str, message: String },
}

impl Config {
    /// Loads and validates the configuration from all three sources.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::Load(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment.merge(Env::prefixed("TIDEGATE_").split("__").ignore(NOT_CONFIG));
        Self::from_figment(figment)
    }

    /// The embedded defaults alone, with overrides applied on top (used by tests and tools).
    pub fn from_figment(figment: Figment) -> Result<Config, ConfigError> {
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Load(one_line(&e)))?;
        config.validate()?;
        Ok(config)
    }

    pub fn defaults() -> Figment {
        Figment::from(Toml::string(DEFAULT_TOML))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: String| Err(ConfigError::Invalid { key, message });
        if self.server.max_body_bytes == 0 {
            return invalid("server.max_body_bytes", "must be at least 1".into());
        }
        if !(1..=3600).contains(&self.server.body_timeout_seconds) {
            return invalid(
                "server.body_timeout_seconds",
                "must be between 1 and 3600".into(),
            );
        }
        if self.server.max_connections_per_ip == 0 {
            return invalid("server.max_connections_per_ip", "must be at least 1".into());
        }
        if !(1..=256).contains(&self.generation.workers) {
            return invalid("generation.workers", "must be 1-256".into());
        }
        if let Some(url) = self.generation.public_origin()
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return invalid(
                "generation.public_url",
                "must start with http:// or https://".into(),
            );
        }
        let w = &self.webhooks;
        for (key, delays) in [
            ("webhooks.retry_schedule_seconds", &w.retry_schedule_seconds),
            ("webhooks.retry_tail_seconds", &w.retry_tail_seconds),
        ] {
            if delays.len() > 20 || delays.iter().any(|s| !(0.0..=86_400.0).contains(s)) {
                return invalid(key, "at most 20 delays, each 0-86400 seconds".into());
            }
        }
        if !(0.0..=0.5).contains(&w.retry_jitter) {
            return invalid("webhooks.retry_jitter", "must be from 0 to 0.5".into());
        }
        if !(w.timeout_seconds > 0.0 && w.timeout_seconds <= 300.0) {
            return invalid("webhooks.timeout_seconds", "must be in (0, 300]".into());
        }
        for (key, value) in [
            ("webhooks.disable_after_failures", w.disable_after_failures),
            ("webhooks.queue_hours", w.queue_hours),
            (
                "webhooks.max_endpoints_per_account",
                w.max_endpoints_per_account,
            ),
        ] {
            if value == 0 {
                return invalid(key, "must be at least 1".into());
            }
        }
        if w.max_concurrent == 0 || w.max_concurrent_per_endpoint == 0 {
            return invalid("webhooks.max_concurrent", "must be at least 1".into());
        }
        if self.storage.pool_size == 0 {
            return invalid("storage.pool_size", "must be at least 1".into());
        }
        if self.storage.backend == Backend::Postgres && self.storage.postgres_url.trim().is_empty()
        {
            return invalid(
                "storage.postgres_url",
                "must be set when storage.backend is \"postgres\"".into(),
            );
        }
        if !(1..=3_600_000).contains(&self.storage.busy_timeout_ms) {
            return invalid(
                "storage.busy_timeout_ms",
                "must be between 1 and 3600000 (one hour)".into(),
            );
        }
        if !self.plans.contains_key(&self.accounts.default_plan) {
            return invalid(
                "accounts.default_plan",
                format!(
                    "no plan named {:?} under [plans]",
                    self.accounts.default_plan
                ),
            );
        }
        let credits = self.accounts.initial_credits;
        if !(0.0..=1e9).contains(&credits)
            || ((credits * 1000.0).round() - credits * 1000.0).abs() > 1e-6
        {
            return invalid(
                "accounts.initial_credits",
                "must be 0-1000000000 with at most 3 decimals".into(),
            );
        }
        for (name, plan) in &self.plans {
            let limits = [
                plan.requests_per_minute,
                plan.requests_per_day,
                plan.max_in_flight,
            ];
            if limits.contains(&Some(0)) {
                return invalid("plans", format!("plan {name:?}: limits must be at least 1"));
            }
        }
        if self.auth.session_hours == 0 {
            return invalid("auth.session_hours", "must be at least 1".into());
        }
        if self.auth.signin_max_failures == 0 || self.auth.signin_window_minutes == 0 {
            return invalid(
                "auth.signin_max_failures",
                "limits must be at least 1".into(),
            );
        }
        self.validate_syslog()?;
        self.validate_oidc()?;
        if self.logs.retention_days == 0 {
            return invalid("logs.retention_days", "must be at least 1".into());
        }
        if self.logs.max_batch == 0 {
            return invalid("logs.max_batch", "must be at least 1".into());
        }
        if !(1..=3650).contains(&self.jobs.expiry_warning_days) {
            return invalid(
                "jobs.expiry_warning_days",
                "must be between 1 and 3650".into(),
            );
        }
        if !(1..=1_000_000).contains(&self.jobs.ratelimit_refusals_per_hour) {
            return invalid(
                "jobs.ratelimit_refusals_per_hour",
                "must be between 1 and 1000000".into(),
            );
        }
        if !(1..=3650).contains(&self.jobs.unused_key_days) {
            return invalid("jobs.unused_key_days", "must be between 1 and 3650".into());
        }
        let smtp = &self.smtp;
        if !["starttls", "tls", "none"].contains(&smtp.security.as_str()) {
            return invalid(
                "smtp.security",
                "must be \"starttls\", \"tls\" or \"none\"".into(),
            );
        }
        if !smtp.host.is_empty() {
            if smtp.port == 0 {
                return invalid("smtp.port", "must be between 1 and 65535".into());
            }
            if !smtp.from.contains('@') {
                return invalid("smtp.from", "must be an e-mail address".into());
            }
        }
        if !(1..=10_000).contains(&self.secret_scanning.requests_per_minute) {
            return invalid(
                "secret_scanning.requests_per_minute",
                "must be between 1 and 10000".into(),
            );
        }
        Ok(())
    }

    fn validate_syslog(&self) -> Result<(), ConfigError> {
        let syslog = &self.audit.syslog;
        let invalid = |key, message: String| Err(ConfigError::Invalid { key, message });
        if syslog.facility > 23 {
            return invalid("audit.syslog.facility", "must be 0-23".into());
        }
        if syslog.app_name.is_empty()
            || syslog.app_name.len() > 48
            || !syslog.app_name.bytes().all(|b| (33..=126).contains(&b))
        {
            return invalid(
                "audit.syslog.app_name",
                "must be 1-48 printable ASCII characters without spaces".into(),
            );
        }
        if !(1..=3600).contains(&syslog.max_retry_seconds) {
            return invalid("audit.syslog.max_retry_seconds", "must be 1-3600".into());
        }
        Ok(())
    }

    fn validate_oidc(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| {
            Err(ConfigError::Invalid {
                key,
                message: message.to_owned(),
            })
        };
        let oidc = &self.auth.oidc;
        let Some(issuer) = oidc.issuer() else {
            if !oidc.password_login {
                return invalid(
                    "auth.oidc.password_login",
                    "may be false only when auth.oidc.issuer is set",
                );
            }
            return Ok(());
        };
        if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
            return invalid("auth.oidc.issuer", "must start with https:// or http://");
        }
        if oidc.client_id.trim().is_empty() {
            return invalid(
                "auth.oidc.client_id",
                "must be set when auth.oidc.issuer is",
            );
        }
        if !oidc.scopes.iter().any(|s| s == "openid") {
            return invalid("auth.oidc.scopes", "must include \"openid\"");
        }
        if oidc.button_label.trim().is_empty() {
            return invalid("auth.oidc.button_label", "must not be empty");
        }
        Ok(())
    }

    pub fn database_path(&self) -> PathBuf {
        self.storage.data_dir.join("tidegate.db")
    }

    /// The effective configuration as TOML, with every secret-looking value redacted.
    pub fn to_redacted_toml(&self) -> Result<String, String> {
        let mut value = toml::Value::try_from(self).map_err(|e| e.to_string())?;
        redact(&mut value);
        toml::to_string_pretty(&value).map_err(|e| e.to_string())
    }
}

fn redact(value: &mut toml::Value) {
    if let toml::Value::Table(table) = value {
        for (key, v) in table.iter_mut() {
            let secret = ["secret", "password", "token", "postgres_url"]
                .iter()
                .any(|w| key.contains(w));
            if secret && v.is_str() {
                *v = toml::Value::String("[redacted]".into());
            } else {
                redact(v);
            }
        }
    }
}

/// `server.listen: invalid socket address syntax (from TIDEGATE_ environment variable(s))`.
fn one_line(e: &figment::Error) -> String {
    let key = e.path.join(".").to_lowercase();
    let source = e
        .metadata
        .as_ref()
        .map(|m| format!(" (from {})", m.name))
        .unwrap_or_default();
    let kind = e.kind.to_string();
    let kind = kind.lines().next().unwrap_or("unreadable value");
    if key.is_empty() {
        format!("{kind}{source}")
    } else {
        format!("{key}: {kind}{source}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::providers::Serialized;

    #[test]
    fn embedded_defaults_are_valid() {
        let config = Config::from_figment(Config::defaults()).unwrap();
        assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.accounts.default_plan, "unthrottled");
        assert_eq!(config.plans["free"].requests_per_minute, Some(60));
        assert_eq!(config.plans["unthrottled"], PlanConfig::default());
    }

    #[test]
    fn invalid_values_name_their_key() {
        let cases: [(&str, serde_json::Value); 3] = [
            ("server.listen", "nowhere".into()),
            ("accounts.default_plan", "gold".into()),
            ("storage.busy_timeout_ms", 0.into()),
        ];
        for (key, value) in cases {
            let figment = Config::defaults().merge(Serialized::default(key, value));
            let err = Config::from_figment(figment).unwrap_err().to_string();
            assert!(err.contains(key), "{key}: {err}");
            assert_eq!(err.lines().count(), 1);
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        let figment = Config::defaults().merge(Serialized::default("server.lisen", "x"));
        let err = Config::from_figment(figment).unwrap_err().to_string();
        assert!(err.contains("lisen"), "{err}");
    }
}
