//! What every handler shares: built once at start-up, cloned cheaply into each worker.

use std::net::IpAddr;
use std::sync::Arc;

use super::metrics::Metrics;
use crate::config::Config;
use crate::domain::{Clock, TrustedProxies};
use crate::service::Store;
use crate::service::gate::Gate;
use crate::service::preauth::{FailureLimiter, SignInBackoff};

pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    /// The key cache, the request-log writer and the limiters of the key pipeline.
    pub gate: Gate,
    pub clock: Clock,
    /// Failed dashboard sign-ins per client IP and per e-mail address.
    pub signin_ip: FailureLimiter<IpAddr>,
    pub signin_email: SignInBackoff,
    pub proxies: TrustedProxies,
    pub metrics: Metrics,
    pub openapi: Vec<u8>,
    /// New keys waiting for their one view in the admin pages.
    pub reveals: super::admin::Reveals,
    pub webhook_reveals: super::admin::Reveals<crate::domain::webhook::WebhookSecret>,
    /// The catalog, the providers and the worker pool.
    pub generator: Arc<crate::generation::Generator>,
}
