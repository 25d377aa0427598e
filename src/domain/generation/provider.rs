//! A provider as the catalog configures it: its kind, where it lives, its secret, its time limits
//! and its circuit breaker.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// Built in, offline, procedural.
    Local,
    /// An OpenAI-compatible `POST /v1/images/generations` upstream.
    OpenaiImages,
    /// Submit, then poll: `POST /predictions`, `GET /predictions/{id}`,
    /// `POST /predictions/{id}/cancel`.
    HttpAsync,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Local => "local",
            ProviderKind::OpenaiImages => "openai_images",
            ProviderKind::HttpAsync => "http_async",
        }
    }
}

/// When a provider's circuit opens and how it recovers.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// Attempts older than this no longer count.
    pub window_seconds: u64,
    /// Attempts needed in the window before the failure rate is judged.
    pub min_attempts: u32,
    /// Failure rate (0-1) at or above which the circuit opens (`degraded`).
    pub failure_rate: f64,
    /// How long an open circuit refuses attempts before letting a probe through (`recovering`).
    pub cooldown_seconds: f64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            window_seconds: 300,
            min_attempts: 5,
            failure_rate: 0.5,
            cooldown_seconds: 30.0,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSpec {
    pub id: String,
    pub name: String,
    pub kind: ProviderKind,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub website: String,
    #[serde(default)]
    pub docs: String,
    /// Upstream base URL (HTTP adapters), e.g. `http://127.0.0.1:8000`.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Bearer secret sent upstream; or read from `secret_file`.
    #[serde(default, skip_serializing)]
    pub secret: Option<String>,
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// Longest one attempt may take, in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: f64,
    /// `http_async`: pause between polls, in milliseconds.
    #[serde(default = "default_poll")]
    pub poll_interval_ms: u64,
    #[serde(default)]
    pub breaker: BreakerConfig,
}

fn default_timeout() -> f64 {
    60.0
}

fn default_poll() -> u64 {
    500
}
