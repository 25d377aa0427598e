//! The sections of the configuration, one struct each, as `config/default.toml` lists them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub keys: KeysConfig,
    pub accounts: AccountsConfig,
    pub auth: AuthConfig,
    pub logs: LogsConfig,
    pub jobs: JobsConfig,
    pub generation: GenerationConfig,
    pub webhooks: WebhooksConfig,
    pub audit: AuditConfig,
    pub smtp: SmtpConfig,
    pub secret_scanning: SecretScanningConfig,
    pub telemetry: TelemetryConfig,
    pub plans: BTreeMap<String, PlanConfig>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub default_region: String,
    pub regions: Vec<String>,
    pub trusted_proxies: Vec<String>,
    pub workers: usize,
    pub shutdown_timeout_seconds: u64,
    pub metrics: bool,
    pub max_body_bytes: usize,
    pub body_timeout_seconds: u64,
    pub max_connections_per_ip: usize,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    pub backend: Backend,
    pub data_dir: PathBuf,
    /// `backend = "postgres"`: the database, as a `postgres://` URL or `key=value` pairs.
    pub postgres_url: String,
    /// With `sslmode=require` in the URL: the certificates (PEM) to verify the server with,
    /// instead of the system's roots.
    pub postgres_ca_file: Option<PathBuf>,
    pub pool_size: u32,
    pub busy_timeout_ms: u64,
}

/// Where the store lives: one SQLite file in `data_dir`, or a PostgreSQL database several
/// nodes share.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    pub prefix: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AccountsConfig {
    pub default_plan: String,
    pub initial_credits: f64,
}

impl AccountsConfig {
    /// The initial credits in thousandths (validated: non-negative, at most 3 decimals).
    pub fn initial_credits_thousandths(&self) -> i64 {
        // In range by validation; `as` saturates in any case.
        (self.initial_credits * 1000.0).round() as i64
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub preauth_max_failures: u32,
    pub preauth_block_seconds: u64,
    pub allow_signup: bool,
    pub session_hours: u32,
    pub signin_max_failures: u32,
    pub signin_window_minutes: u32,
    pub oidc: OidcConfig,
}

/// Sign-in through an OpenID provider (docs/operator.md, "Single sign-on"); an empty issuer
/// turns it off.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub scopes: Vec<String>,
    pub button_label: String,
    /// The account (id or name) an unknown person joins at their first sign-in; empty: none.
    pub auto_provision_account: String,
    pub auto_provision_role: String,
    pub password_login: bool,
}

impl OidcConfig {
    /// The issuer URL, when single sign-on is on.
    pub fn issuer(&self) -> Option<&str> {
        let issuer = self.issuer.trim();
        (!issuer.is_empty()).then_some(issuer)
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogsConfig {
    pub retention_days: u32,
    pub max_batch: usize,
    /// Days a request's client address is kept in clear; 0 never keeps it.
    pub client_ip_days: u32,
}

/// Cron strings of the scheduled jobs (empty disables one) and the expiry warning lead time.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JobsConfig {
    pub expire_rotated_keys: String,
    pub warn_expiring_keys: String,
    pub purge_request_logs: String,
    pub purge_idempotency_keys: String,
    pub fail_stuck_generations: String,
    pub expiry_warning_days: u32,
    pub notify_keys: String,
    pub ratelimit_refusals_per_hour: u32,
    pub unused_key_days: u32,
}

/// Where the catalog comes from, how many generations run at once, and the media URL origin.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationConfig {
    pub catalog: String,
    pub workers: usize,
    pub public_url: String,
}

impl GenerationConfig {
    pub fn catalog_file(&self) -> Option<&Path> {
        (!self.catalog.trim().is_empty()).then(|| Path::new(self.catalog.trim()))
    }

    /// The configured origin without a trailing slash, if any.
    pub fn public_origin(&self) -> Option<&str> {
        let url = self.public_url.trim().trim_end_matches('/');
        (!url.is_empty()).then_some(url)
    }
}

/// The SMTP server notifications are e-mailed through (docs/notifications.md, "E-mail"); an empty
/// host sends no e-mail.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    /// `starttls`, `tls` or `none` (loopback only).
    pub security: String,
    pub user: String,
    pub password: String,
    pub from: String,
}

/// Reports of leaked keys from GitHub's secret scanning (docs/keys.md, "Leaked keys").
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SecretScanningConfig {
    /// GitHub's public keys in its own JSON format, for installs that cannot fetch them.
    pub public_keys_file: String,
    /// Where GitHub publishes them.
    pub public_keys_url: String,
    pub requests_per_minute: u32,
}

/// How webhook deliveries are made (docs/generation.md, "Delivery and retries").
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksConfig {
    pub allow_private_networks: bool,
    pub retry_schedule_seconds: Vec<f64>,
    /// The slow retries after the fast schedule, each varied by `retry_jitter`.
    pub retry_tail_seconds: Vec<f64>,
    /// How much a slow retry's delay varies, as a fraction of it (0.2: ±20 %).
    pub retry_jitter: f64,
    pub timeout_seconds: f64,
    pub disable_after_failures: u32,
    pub queue_hours: u32,
    pub max_concurrent: usize,
    pub max_concurrent_per_endpoint: usize,
    pub max_endpoints_per_account: u32,
}

impl WebhooksConfig {
    /// The whole schedule: the fast retries, then the slow tail.
    pub fn retry_schedule(&self) -> RetrySchedule {
        let delays = |seconds: &[f64]| {
            seconds
                .iter()
                .map(|s| Duration::from_secs_f64(*s))
                .collect()
        };
        RetrySchedule {
            fast: delays(&self.retry_schedule_seconds),
            tail: delays(&self.retry_tail_seconds),
            jitter: self.retry_jitter,
        }
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout_seconds)
    }
}

/// When a failed webhook delivery is tried again: after each delay of `fast`, then of `tail`,
/// each of those varied by up to `jitter` of itself either way.
#[derive(Clone, Debug, PartialEq)]
pub struct RetrySchedule {
    pub fast: Vec<Duration>,
    pub tail: Vec<Duration>,
    pub jitter: f64,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    pub level: String,
    pub format: LogFormat,
    pub color: ColorChoice,
}

/// Whether text log lines carry ANSI colours.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ColorChoice {
    /// When standard error is a terminal and `NO_COLOR` is not set.
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PlanConfig {
    pub requests_per_minute: Option<u32>,
    pub requests_per_day: Option<u32>,
    pub max_in_flight: Option<u32>,
}

/// Where the activity log goes besides the store.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    pub syslog: SyslogConfig,
}

/// Streaming every new activity entry to a syslog receiver (docs/operator.md, "Audit
/// streaming"); an empty address turns it off.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogConfig {
    /// host:port of a receiver of RFC 5424 over TCP (RFC 6587 octet counting).
    pub address: String,
    pub tls: bool,
    /// PEM certificates to verify the receiver with instead of the system's roots.
    pub ca_file: String,
    pub app_name: String,
    /// The syslog facility, 0-23 (13: log audit).
    pub facility: u8,
    /// Longest wait between two attempts to reach the receiver.
    pub max_retry_seconds: u64,
}

impl SyslogConfig {
    /// The receiver's address, when streaming is on.
    pub fn address(&self) -> Option<&str> {
        let address = self.address.trim();
        (!address.is_empty()).then_some(address)
    }
}
