//! What every handler shares: built once at start-up, cloned cheaply into each worker.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use super::metrics::Metrics;
use crate::config::Config;
use crate::domain::{Clock, Regions, TrustedProxies};
use crate::service::auth_limits::SignInGuard;
use crate::service::gate::Gate;
use crate::service::generations::{Roster, Workers};
use crate::service::{MediaStore, Store};

pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    /// The key cache, the request-log writer and the limiters of the key pipeline.
    pub gate: Gate,
    pub clock: Clock,
    /// Failed dashboard sign-ins per client IP and per e-mail address, counted for every node.
    pub signin: SignInGuard,
    /// Sign-in through the configured OpenID provider, if any.
    pub sso: Option<Arc<crate::service::oidc::SingleSignOn>>,
    pub proxies: TrustedProxies,
    /// The regions served, and the one a host that names none gets.
    pub regions: Regions,
    pub metrics: Metrics,
    pub openapi: Vec<u8>,
    /// The management API's document, `GET /api/v1/openapi.json`.
    pub management_openapi: Vec<u8>,
    /// New keys waiting for their one view in the admin pages.
    pub reveals: super::reveal::Reveals,
    pub webhook_reveals: super::reveal::Reveals<crate::domain::webhook::WebhookSecret>,
    /// The catalog and the providers with their breakers.
    pub roster: Arc<Roster>,
    /// This node's generation workers.
    pub workers: Arc<dyn Workers>,
    /// Generated files.
    pub media: MediaStore,
    /// Writes of a generation's state that failed and were tried again.
    pub generation_store_retries: Arc<AtomicU64>,
    /// GitHub's secret scanning reports: its keys and its rate limit.
    pub secret_scanning: Arc<crate::service::secret_scanning::SecretScanning>,
}
