//! The key gate shared by /v1 and the management API (docs/api.md, "Authentication", steps 2–11):
//! who a bearer token belongs to, whether it may make this request here and now, and the audit row
//! that every request of an identified key commits before its response leaves.
//!
//! The decision is the service's; how a request carries its token and how a denial reads on the
//! wire stay with the caller.

mod log_text;
mod request;

use std::net::IpAddr;
use std::sync::Arc;

use super::auth::{Principal, Refused, authorize};
use super::auth_limits::PreAuth;
use super::quota::Quotas;
use super::rate_limit::{Decision, RateLimiter, SharedLimits, Subject};
use crate::config::{Config, PlanConfig};
use crate::domain::key::ApiKey;
use crate::domain::{IpHasher, KeyFormat, Timestamp};
use crate::store::key_reader::KeyReader;
use crate::store::keys::AuthRecord;
use crate::store::request_log::{LogEntry, Refusal, RequestLogWriter};
use crate::store::{Store, StoreError};
use log_text::truncate;

pub use crate::store::request_log::{Relay, WriterStats, Written};
pub use log_text::sanitised_query;
pub use request::{Attempt, Audit, Denial, Denied, Lookup, NotLogged, Record};

const MAX_USER_AGENT: usize = 256;
const UNLIMITED: PlanConfig = PlanConfig {
    requests_per_minute: None,
    requests_per_day: None,
    max_in_flight: None,
};

/// What the gate holds between requests: the key cache, the log writer and the limiters.
pub struct Gate {
    pub key_format: KeyFormat,
    pub ip_hasher: IpHasher,
    keys: KeyReader,
    log: RequestLogWriter,
    limiter: RateLimiter,
    /// Beside other nodes: the limits of the whole cluster.
    shared: Option<SharedLimits>,
    /// Failed authentications per address, shared with other nodes (see `PreAuth`).
    preauth: PreAuth,
    quotas: Quotas,
    config: Arc<Config>,
}

impl Gate {
    pub fn start(
        store: &Store,
        config: Arc<Config>,
        key_format: KeyFormat,
        ip_hasher: IpHasher,
    ) -> Result<(Gate, crate::store::request_log::RequestLogThread), StoreError> {
        let (log, log_thread) = RequestLogWriter::start(store, config.logs.max_batch)?;
        let gate = Gate {
            key_format,
            keys: KeyReader::start(store)?,
            log,
            limiter: RateLimiter::default(),
            shared: (store.engine() == crate::store::Engine::Postgres)
                .then(|| SharedLimits::new(store.clone())),
            preauth: PreAuth::new(&config, store, ip_hasher.clone()),
            quotas: Quotas::new(store.clone()),
            ip_hasher,
            config,
        };
        Ok((gate, log_thread))
    }

    /// Steps 2–11: the principal and its audit, or why not.
    pub async fn admit(&self, attempt: Attempt<'_>) -> Result<(Principal, Audit), Denied> {
        let blocked = self.preauth.blocked_for(attempt.client_ip, attempt.now);
        let (record, decided_at) = match self.identify(&attempt).await {
            Ok(found) => found,
            Err(Miss::Denied(denied)) => return Err(denied),
            Err(Miss::NoKey(denial)) => {
                return Err(Denied {
                    denial: self.failed(&attempt, blocked, denial).await,
                    audit: None,
                });
            }
        };
        let principal = match authorize(
            record,
            attempt.now,
            attempt.region,
            attempt.client_ip,
            attempt.scope,
        ) {
            Ok(p) => p,
            Err(refused) => {
                let (refused, record) = *refused;
                // A key that is not usable here (revoked, disabled, expired, another region's) is
                // a failed authentication like an unknown one; past that, the key is the caller's.
                let usable = !matches!(refused, Refused::Lifecycle(_) | Refused::WrongRegion);
                let denial = match refused {
                    Refused::WrongRegion => Denial::Invalid,
                    refused => Denial::Refused(refused),
                };
                let (denial, limits) = if usable {
                    let plan = self.plan(record.account.as_ref().map(|a| a.plan.as_str()));
                    let limits = self.rate_decision(&record.key, plan, attempt.now, false);
                    (denial, limits)
                } else {
                    (self.failed(&attempt, blocked, denial).await, None)
                };
                return Err(Denied {
                    denial,
                    audit: Some(Audit {
                        key: record.key,
                        authenticated: usable,
                        limits,
                        quota: None,
                        decided_at,
                    }),
                });
            }
        };
        let plan = self.plan(Some(&principal.plan));
        let limits = self.rate_decision(&principal.key, plan, attempt.now, true);
        let mut audit = Audit {
            key: Arc::clone(&principal.key),
            authenticated: true,
            limits,
            quota: None,
            decided_at,
        };
        if let Some(retry_after) = limits.and_then(|d| d.retry_after) {
            let limit = limits.and_then(|d| d.exceeded_limit).unwrap_or_default();
            return Err(Denied {
                denial: Denial::RateLimited { retry_after, limit },
                audit: Some(audit),
            });
        }
        if let (Some(shared), Some(_)) = (&self.shared, limits) {
            match shared
                .take(&subject(&principal.key, plan), attempt.now)
                .await
            {
                Ok(None) => {}
                Ok(Some((retry_after, limit))) => {
                    return Err(Denied {
                        denial: Denial::RateLimited { retry_after, limit },
                        audit: Some(audit),
                    });
                }
                Err(e) => {
                    return Err(Denied {
                        denial: Denial::Unavailable(e),
                        audit: Some(audit),
                    });
                }
            }
        }
        let mut principal = principal;
        if let Some(q) = principal.key.quota {
            let taken = match attempt.counted {
                Some(counted) => Ok(Some(counted)),
                None => {
                    self.quotas
                        .take(&principal.key.id, q.quota, attempt.now)
                        .await
                }
            };
            match taken {
                Ok(left) => {
                    audit.quota = left;
                    principal.quota = left;
                }
                Err(e) => {
                    return Err(Denied {
                        denial: Denial::Unavailable(e),
                        audit: Some(audit),
                    });
                }
            }
            if let Some(left) = audit.quota.filter(|l| !l.allowed) {
                let retry_after = left.refills_at.map(|at| {
                    let wait = (at.0 - attempt.now.0 + 999) / 1000;
                    u64::try_from(wait).unwrap_or(1).max(1)
                });
                return Err(Denied {
                    denial: Denial::QuotaExceeded { left, retry_after },
                    audit: Some(audit),
                });
            }
        }
        Ok((principal, audit))
    }

    /// Steps 2–5: everything up to finding the key by its digest. Failures here are not key rows.
    /// A key from the cache comes with the key generation its decision must be confirmed at.
    ///
    /// An attempt that no key stands behind comes back as `Miss::NoKey`, for `failed`.
    async fn identify(&self, attempt: &Attempt<'_>) -> Result<(AuthRecord, Option<i64>), Miss> {
        let failed = Miss::NoKey;
        let token = attempt.token.ok_or_else(|| failed(Denial::Missing))?;
        let parsed = self
            .key_format
            .parse(token)
            .ok_or_else(|| failed(Denial::Invalid))?;
        let cached = match attempt.lookup {
            Lookup::Cached => self.keys.cached(&parsed.digest),
            Lookup::Fresh => None,
        };
        let (record, decided_at) = match cached {
            Some(hit) => (hit.record, Some(hit.generation)),
            None => {
                let found = self.keys.find(parsed.digest).await.map_err(|e| {
                    Miss::Denied(Denied {
                        denial: Denial::Unavailable(e),
                        audit: None,
                    })
                })?;
                (found.ok_or_else(|| failed(Denial::Invalid))?, None)
            }
        };
        // The index (or the cache) found the row; compare the digests again in constant time.
        if !parsed.digest.matches_hex(&record.key.key_hash) {
            return Err(failed(Denial::Invalid));
        }
        Ok((record, decided_at))
    }

    /// An attempt that cannot be tied to a usable key: it counts towards the pre-auth limit of
    /// the caller's address, and while that address is blocked it is refused as blocked instead.
    /// `blocked` is what this node knew of the block when the attempt came; the count beside
    /// other nodes may know more. Only such attempts are refused, so a valid key is served from
    /// an address that another client (behind the same NAT, say) got blocked.
    async fn failed(&self, attempt: &Attempt<'_>, blocked: Option<u64>, denial: Denial) -> Denial {
        let blocked = self
            .preauth
            .failed(attempt.client_ip, attempt.now, blocked)
            .await;
        match blocked {
            Some(wait) => Denial::Blocked(wait),
            None => denial,
        }
    }

    /// The plan of an account; one whose plan is no longer configured gets the default plan.
    pub fn plan(&self, name: Option<&str>) -> &PlanConfig {
        let plans = &self.config.plans;
        name.and_then(|n| plans.get(n))
            .or_else(|| plans.get(&self.config.accounts.default_plan))
            .unwrap_or(&UNLIMITED)
    }

    fn rate_decision(
        &self,
        key: &ApiKey,
        plan: &PlanConfig,
        now: Timestamp,
        consume: bool,
    ) -> Option<Decision> {
        self.limiter.check(&subject(key, plan), now, consume)
    }

    /// Counts a request refused before any key was identified, per address and day.
    pub fn count_refusal(&self, client_ip: IpAddr, now: Timestamp, reason: &'static str) {
        self.log.count_refusal(Refusal {
            day: now.day(),
            ip_hash: self.ip_hasher.hash(client_ip),
            reason,
            client_ip: self.clear_address(client_ip),
        });
    }

    /// The address as it is kept in clear beside its hash: not at all when
    /// `logs.client_ip_days` is 0 (docs/keys.md, "Request log").
    fn clear_address(&self, client_ip: IpAddr) -> Option<String> {
        (self.config.logs.client_ip_days > 0).then(|| client_ip.to_string())
    }

    /// Commits the request's log row; the response may leave only once this returns `Ok`.
    /// `Written::Stale` (only for a decision from the key cache): nothing was written, a key
    /// changed since the decision, and the request must be decided again with `Lookup::Fresh`.
    pub async fn commit(
        &self,
        audit: &Audit,
        record: Record<'_>,
        relay: Option<Relay>,
    ) -> Result<Written, NotLogged> {
        let entry = LogEntry {
            request_id: record.request_id,
            key: Arc::clone(&audit.key),
            method: record.method,
            endpoint: record.endpoint.to_owned(),
            route: record.route.to_owned(),
            query: record.query,
            status_code: record.status,
            error_code: record.error_code,
            idempotency_replayed: record.idempotency_replayed,
            ip_hash: self.ip_hasher.hash(record.client_ip),
            client_ip: self.clear_address(record.client_ip),
            user_agent: record
                .user_agent
                .map(|ua| truncate(ua, MAX_USER_AGENT).to_owned()),
            region: record.region.as_str(),
            latency_us: i64::try_from(record.arrived.elapsed().as_micros()).unwrap_or(i64::MAX),
            created_at: record.now.millis(),
            authenticated: audit.authenticated,
            decided_at: audit.decided_at,
            arrived: record.arrived,
        };
        self.log.commit(entry, relay).await.map_err(|_| NotLogged)
    }

    /// Beside other nodes: the pre-auth blocks they reach are learnt by this node as they
    /// commit (see `PreAuth`).
    pub fn hear_blocks(&self, store: &Store) -> Result<(), StoreError> {
        self.preauth.hear_blocks(store)
    }

    /// Commits and rows written so far, and how long they took.
    pub fn log_stats(&self) -> &WriterStats {
        self.log.stats()
    }

    /// A relay of log outcomes on the current thread's local task set (see `Relay`).
    pub fn spawn_relay(&self) -> Relay {
        self.log.spawn_relay()
    }
}

/// Why `identify` found no key: a denial as it stands, or an attempt no key stands behind.
enum Miss {
    Denied(Denied),
    NoKey(Denial),
}

/// What a key's requests count against: its account's plan and its own limit.
fn subject<'a>(key: &'a ApiKey, plan: &'a PlanConfig) -> Subject<'a> {
    Subject {
        account_id: &key.account_id,
        plan,
        key_id: &key.id,
        key_per_minute: key.rate_limit_per_minute,
    }
}
