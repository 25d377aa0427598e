//! Request quotas at the gate (docs/keys.md, "Request quotas"): every admitted request of a key
//! with a quota takes one request from it, and a key whose quota is used up is refused until the
//! refill.
//!
//! On SQLite each request takes its request from the store in a write transaction of its own,
//! so the count is exact whatever the concurrency. Beside other nodes (PostgreSQL) a node takes
//! requests in blocks of a twentieth of the quota (from 1 to 100), one claim at a time, and
//! serves from the block it holds: the nodes together never serve more than the quota, and may
//! fall short of it by what they hold unused when the period ends (under a block each).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::domain::Timestamp;
use crate::domain::key::quota::Quota;
use crate::store::quotas::{self, Claimed};
use crate::store::{Store, StoreError};

/// Above this many keys held, those whose period has ended are forgotten.
const PRUNE_ABOVE: usize = 10_000;

/// What the quota says about one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaLeft {
    /// Whether the request may go on.
    pub allowed: bool,
    /// Requests left after this one (as far as this node knows, beside other nodes).
    pub remaining: i64,
    pub requests: i64,
    /// When the quota is whole again; `None`: never.
    pub refills_at: Option<Timestamp>,
}

pub struct Quotas {
    store: Store,
    /// Requests taken at once: 1 on one node, a block beside others.
    blocks: bool,
    held: Mutex<HashMap<String, Held>>,
    claiming: tokio::sync::Mutex<()>,
}

/// Requests this node holds for a key, taken from its quota for the period that ends at `ends`.
#[derive(Clone, Copy)]
struct Held {
    left: i64,
    /// What the store had left after the last claim.
    store_left: i64,
    quota: Quota,
    ends: Option<Timestamp>,
    /// The store granted nothing: used up until `ends`.
    exhausted: bool,
}

impl Quotas {
    pub fn new(store: Store) -> Quotas {
        Quotas {
            blocks: store.engine() == crate::store::Engine::Postgres,
            store,
            held: Mutex::default(),
            claiming: tokio::sync::Mutex::new(()),
        }
    }

    /// Takes one request of `key_id`'s quota, as the key read says it is. `None` when the key
    /// has no quota after all (it was removed since the key was read).
    pub async fn take(
        &self,
        key_id: &str,
        quota: Quota,
        now: Timestamp,
    ) -> Result<Option<QuotaLeft>, StoreError> {
        if let Some(left) = self.take_held(key_id, quota, now) {
            return Ok(Some(left));
        }
        let _claim = self.claiming.lock().await;
        if let Some(left) = self.take_held(key_id, quota, now) {
            return Ok(Some(left));
        }
        let wanted = if self.blocks {
            (quota.requests / 20).clamp(1, 100)
        } else {
            1
        };
        let id = key_id.to_owned();
        let claimed = self
            .store
            .run(move |db| -> Result<Option<Claimed>, StoreError> {
                let tx = db.write()?;
                let claimed = quotas::claim(&tx, &id, now, wanted)?;
                tx.commit()?;
                Ok(claimed)
            })
            .await?;
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let Some(c) = claimed else {
            held.remove(key_id);
            return Ok(None);
        };
        let h = Held {
            left: (c.granted - 1).max(0),
            store_left: c.left,
            quota: c.quota,
            ends: c.refills_at,
            exhausted: c.granted == 0,
        };
        if held.len() > PRUNE_ABOVE {
            held.retain(|_, h| h.ends.is_none_or(|end| end > now));
        }
        held.insert(key_id.to_owned(), h);
        Ok(Some(QuotaLeft {
            allowed: c.granted > 0,
            remaining: h.left + h.store_left,
            requests: c.quota.requests,
            refills_at: c.refills_at,
        }))
    }

    /// A request served from what this node holds, or a refusal it already knows of; `None`
    /// when the store must be asked. What is held for another quota (it was edited) or for an
    /// ended period is dropped.
    fn take_held(&self, key_id: &str, quota: Quota, now: Timestamp) -> Option<QuotaLeft> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let h = held.get_mut(key_id)?;
        if h.quota != quota || h.ends.is_some_and(|end| end <= now) {
            held.remove(key_id);
            return None;
        }
        let allowed = if h.left > 0 {
            h.left -= 1;
            true
        } else if h.exhausted {
            false
        } else {
            return None;
        };
        Some(QuotaLeft {
            allowed,
            remaining: h.left + h.store_left,
            requests: h.quota.requests,
            refills_at: h.ends,
        })
    }
}
