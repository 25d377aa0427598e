//! The failure limiters beside other nodes (docs/cluster.md, "What each node keeps to itself"):
//! on PostgreSQL every failure is counted in the store (`auth_failures`), inside a write
//! transaction, so the nodes together allow exactly the configured failures. Rows name the
//! address and the e-mail address by their keyed hash (`IpHasher`): an address is written in
//! clear only where `logs.client_ip_days` allows (docs/decisions.md, "Request log and
//! authentication"). On SQLite (one node) they count in memory, as `super::preauth` does.
//!
//! A dashboard sign-in reads its two counts from the store before it checks a password; an
//! unreachable store refuses it. The /v1 pre-auth limiter reads nothing on the way of a request:
//! each node keeps the blocks in memory, learns those other nodes reach from a notification
//! (`tidegate_auth_blocked`), and writes to the store only for a failure its memory does not
//! already refuse. When the store is away, that failure counts in the node's memory only.

use std::net::IpAddr;
use std::sync::Arc;

use super::ServiceError;
use super::preauth::{FailureLimiter, PreAuthLimiter, SignInBackoff};
use crate::config::Config;
use crate::domain::{IpHasher, Timestamp};
use crate::store::auth_limits as rows;
use crate::store::{Engine, Store, StoreError};

const PREAUTH: &str = "preauth";
const SIGNIN_IP: &str = "signin-ip";
const SIGNIN_EMAIL: &str = "signin-email";
const FROM_ADDRESS: &str = "Too many failed attempts from this address.";
const FOR_EMAIL: &str = "Too many failed attempts for this e-mail address.";

/// The store beside other nodes; `None` on SQLite, whose one node counts in memory.
fn shared(store: &Store) -> Option<Store> {
    (store.engine() == Engine::Postgres).then(|| store.clone())
}

/// Failed dashboard sign-ins: a block per client address, a growing delay per e-mail address.
pub struct SignInGuard {
    shared: Option<Store>,
    hasher: IpHasher,
    ip: Arc<FailureLimiter<IpAddr>>,
    email: Arc<SignInBackoff>,
}

impl SignInGuard {
    pub fn new(config: &Config, store: &Store, hasher: IpHasher) -> SignInGuard {
        let window = u64::from(config.auth.signin_window_minutes) * 60;
        SignInGuard {
            shared: shared(store),
            hasher,
            ip: Arc::new(FailureLimiter::with_window(
                config.auth.signin_max_failures,
                window,
                window,
            )),
            email: Arc::new(SignInBackoff::new(window)),
        }
    }

    /// Seconds to wait and why, when an attempt from `ip` for `email_key` must wait: a hard
    /// limit per address first, then the delay per e-mail address (see `SignInBackoff`). An
    /// empty `email_key` (an attempt that names nobody yet) is limited by its address alone.
    pub async fn check(
        &self,
        ip: IpAddr,
        email_key: &str,
        now: Timestamp,
    ) -> Result<Option<(u64, &'static str)>, ServiceError> {
        let no_email = email_key.is_empty();
        let Some(store) = &self.shared else {
            let wait = match self.ip.blocked_for(&ip, now) {
                Some(wait) => Some((wait, FROM_ADDRESS)),
                None if no_email => None,
                None => self.email.wait_for(email_key, now).map(|w| (w, FOR_EMAIL)),
            };
            return Ok(wait);
        };
        let (address, email) = self.subjects(ip, email_key);
        let (by_ip, by_email) = store
            .run(move |db| -> Result<_, StoreError> {
                let tx = db.read();
                let by_ip = rows::get(&tx, SIGNIN_IP, &address, now.0)?;
                Ok((by_ip, rows::get(&tx, SIGNIN_EMAIL, &email, now.0)?))
            })
            .await?;
        let blocked = by_ip.and_then(|f| FailureLimiter::<IpAddr>::left(&f, now));
        Ok(match blocked {
            Some(wait) => Some((wait, FROM_ADDRESS)),
            None if no_email => None,
            None => by_email
                .and_then(|f| SignInBackoff::wait(&f, now))
                .map(|w| (w, FOR_EMAIL)),
        })
    }

    /// A wrong password (or code) from `ip` for `email_key`. When the store cannot count it,
    /// the next `check` cannot read it either and refuses, so it is only logged.
    pub async fn failed(&self, ip: IpAddr, email_key: &str, now: Timestamp) {
        let no_email = email_key.is_empty();
        let Some(store) = &self.shared else {
            self.ip.record_failure(ip, now);
            if !no_email {
                self.email.record_failure(email_key.to_owned(), now);
            }
            return;
        };
        let (limiter, backoff) = (Arc::clone(&self.ip), Arc::clone(&self.email));
        let (address, email) = self.subjects(ip, email_key);
        let counted = store
            .run(move |db| -> Result<(), StoreError> {
                let tx = db.write()?;
                let mut f = rows::get(&tx, SIGNIN_IP, &address, now.0)?.unwrap_or_default();
                limiter.step(&mut f, now);
                rows::put(&tx, SIGNIN_IP, &address, &f, limiter.expiry(&f), now.0)?;
                if no_email {
                    tx.commit()?;
                    return Ok(());
                }
                let mut f = rows::get(&tx, SIGNIN_EMAIL, &email, now.0)?.unwrap_or_default();
                backoff.step(&mut f, now);
                rows::put(&tx, SIGNIN_EMAIL, &email, &f, backoff.expiry(&f), now.0)?;
                tx.commit()?;
                Ok(())
            })
            .await;
        if let Err(e) = counted {
            tracing::error!(error = %crate::telemetry::cause_chain(&e), "a failed sign-in was not counted");
        }
    }

    /// A sign-in that succeeded: the delay of its e-mail address is over.
    pub async fn succeeded(&self, email_key: &str) {
        let Some(store) = &self.shared else {
            self.email.record_success(email_key);
            return;
        };
        let email = self.hasher.hash_text(email_key);
        let cleared = store
            .run(move |db| -> Result<(), StoreError> {
                let tx = db.write()?;
                rows::clear(&tx, SIGNIN_EMAIL, &email)?;
                tx.commit()?;
                Ok(())
            })
            .await;
        if let Err(e) = cleared {
            tracing::error!(error = %crate::telemetry::cause_chain(&e), "a sign-in's delay was not cleared");
        }
    }
}

/// The pre-auth limiter of the key gate: failed authentications per client address.
pub struct PreAuth {
    shared: Option<Store>,
    hasher: IpHasher,
    memory: Arc<PreAuthLimiter>,
}

impl PreAuth {
    pub fn new(config: &Config, store: &Store, hasher: IpHasher) -> PreAuth {
        PreAuth {
            shared: shared(store),
            hasher,
            memory: Arc::new(PreAuthLimiter::new(
                config.auth.preauth_max_failures,
                config.auth.preauth_block_seconds,
            )),
        }
    }

    /// Seconds left on the block of `ip` as this node knows it (no read of the store).
    pub fn blocked_for(&self, ip: IpAddr, now: Timestamp) -> Option<u64> {
        self.memory.blocked_for(&ip, now)
    }

    /// Counts a failure of `ip`; the seconds left on the block in force before it, if any.
    /// `blocked` is what this node's memory said before the attempt.
    pub async fn failed(&self, ip: IpAddr, now: Timestamp, blocked: Option<u64>) -> Option<u64> {
        self.memory.record_failure(ip, now);
        let store = match (&self.shared, blocked) {
            (Some(store), None) => store,
            _ => return blocked,
        };
        let memory = Arc::clone(&self.memory);
        let (subject, address) = (self.hasher.hash(ip), ip.to_string());
        let counted = store
            .run(move |db| -> Result<(Option<u64>, i64), StoreError> {
                let tx = db.write()?;
                let mut f = rows::get(&tx, PREAUTH, &subject, now.0)?.unwrap_or_default();
                let before = PreAuthLimiter::left(&f, now);
                let was_blocked_until = f.blocked_until;
                memory.step(&mut f, now);
                rows::put(&tx, PREAUTH, &subject, &f, memory.expiry(&f), now.0)?;
                if f.blocked_until != was_blocked_until {
                    rows::announce_block(&tx, &address, f.blocked_until)?;
                }
                tx.commit()?;
                Ok((before, f.blocked_until))
            })
            .await;
        match counted {
            Ok((before, until)) => {
                self.memory.learn_block(ip, until);
                before
            }
            Err(e) => {
                tracing::warn!(error = %crate::telemetry::cause_chain(&e), "a failed authentication was counted on this node only");
                None
            }
        }
    }

    /// Beside other nodes: blocks they reach are learnt here, as they commit.
    pub fn hear_blocks(&self, store: &Store) -> Result<(), StoreError> {
        let Some(mut heard) = crate::store::notices::listen(store, rows::BLOCKED)? else {
            return Ok(());
        };
        let memory = Arc::clone(&self.memory);
        tokio::spawn(async move {
            while let Some(payload) = heard.recv().await {
                if let Some((ip, until)) = parse_block(&payload) {
                    memory.learn_block(ip, until);
                }
            }
        });
        Ok(())
    }
}

impl SignInGuard {
    /// The row subjects of an address and an e-mail address: their keyed hashes.
    fn subjects(&self, ip: IpAddr, email_key: &str) -> (String, String) {
        (self.hasher.hash(ip), self.hasher.hash_text(email_key))
    }
}

/// `address:blocked_until` (an IPv6 address has colons of its own).
fn parse_block(payload: &str) -> Option<(IpAddr, i64)> {
    let (address, until) = payload.rsplit_once(':')?;
    Some((address.parse().ok()?, until.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::preauth::Failures;

    #[test]
    fn a_block_notice_names_the_address_and_the_end() {
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(parse_block("192.0.2.1:1000"), Some((v4, 1000)));
        assert_eq!(parse_block("2001:db8::1:1000"), Some((v6, 1000)));
        assert_eq!(parse_block("nonsense"), None);
    }

    #[test]
    fn a_failure_counted_in_a_row_steps_as_in_memory() {
        let limiter = PreAuthLimiter::new(2, 60);
        let mut f = Failures::default();
        let t = Timestamp(1_000_000);
        limiter.step(&mut f, t);
        assert_eq!(PreAuthLimiter::left(&f, t), None);
        limiter.step(&mut f, t);
        assert_eq!(PreAuthLimiter::left(&f, t), Some(60));
        assert_eq!(limiter.expiry(&f), t.0 + 60_000);
    }
}
