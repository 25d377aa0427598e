//! What every handler shares: built once at start-up, cloned cheaply into each worker.

use std::net::IpAddr;
use std::sync::Arc;

use hmac::{KeyInit, Mac};
use sha2::Sha256;

use super::metrics::Metrics;
use crate::config::Config;
use crate::domain::random::hex;
use crate::domain::{Clock, KeyFormat, TrustedProxies};
use crate::service::preauth::{FailureLimiter, PreAuthLimiter, SignInBackoff};
use crate::service::rate_limit::RateLimiter;
use crate::store::Store;
use crate::store::key_reader::KeyReader;
use crate::store::request_log::RequestLogWriter;

pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub key_reader: KeyReader,
    pub clock: Clock,
    pub key_format: KeyFormat,
    pub log: RequestLogWriter,
    pub limiter: RateLimiter,
    pub preauth: PreAuthLimiter,
    /// Failed dashboard sign-ins per client IP and per e-mail address.
    pub signin_ip: FailureLimiter<IpAddr>,
    pub signin_email: SignInBackoff,
    pub proxies: TrustedProxies,
    pub ip_hasher: IpHasher,
    pub metrics: Metrics,
    pub openapi: Vec<u8>,
    /// New keys waiting for their one view in the admin pages.
    pub reveals: super::admin::Reveals,
    pub webhook_reveals: super::admin::Reveals<crate::domain::webhook::WebhookSecret>,
    /// The catalog, the providers and the worker pool.
    pub generator: Arc<crate::generation::Generator>,
}

/// Keyed HMAC-SHA256 of client IPs: a plain hash of an IPv4 address is reversible by brute force.
pub struct IpHasher {
    mac: Hmac,
}

type Hmac = hmac::Hmac<Sha256>;

impl IpHasher {
    pub fn new(secret: &[u8]) -> IpHasher {
        // HMAC accepts keys of any length, so this cannot fail.
        let mac = <Hmac as KeyInit>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
        IpHasher { mac }
    }

    pub fn hash(&self, ip: IpAddr) -> String {
        let mut mac = self.mac.clone();
        mac.update(ip.to_canonical().to_string().as_bytes());
        hex(&mac.finalize().into_bytes())
    }
}
