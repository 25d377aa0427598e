//! The limits of the whole cluster, beside other nodes on one PostgreSQL store: each node takes
//! permits from the store in blocks of a twentieth of a limit (from 1 to 100), one claim at a
//! time, and serves a request only with a permit in hand.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{MINUTE_MS, PRUNE_ABOVE, Subject};
use crate::domain::Timestamp;

/// The cluster-wide side of the limits (see the module comment).
pub struct SharedLimits {
    store: crate::store::Store,
    /// Permits this node holds, by (subject, window start).
    held: Mutex<HashMap<(String, i64), Held>>,
    /// One claim from the store at a time: requests that find no permit while a claim is on its
    /// way wait for it rather than each claiming a block (a burst would otherwise take the
    /// whole limit in blocks and strand most of it).
    claiming: tokio::sync::Mutex<()>,
}

#[derive(Clone, Copy)]
struct Held {
    left: i64,
    /// When the window ends (entries past it are forgotten).
    end: i64,
    /// The store granted nothing more: the window is used up cluster-wide.
    exhausted: bool,
}

/// Permits a node takes at once from a window of `limit`.
fn block(limit: u32) -> i64 {
    i64::from((limit / 20).clamp(1, 100))
}

impl SharedLimits {
    pub fn new(store: crate::store::Store) -> SharedLimits {
        SharedLimits {
            store,
            held: Mutex::default(),
            claiming: tokio::sync::Mutex::new(()),
        }
    }

    /// Takes one request from each window that limits this key; the seconds to wait and the
    /// limit when one of them is used up cluster-wide.
    pub async fn take(
        &self,
        s: &Subject<'_>,
        now: Timestamp,
    ) -> Result<Option<(u64, u32)>, crate::store::StoreError> {
        let minute = now.0 - now.0.rem_euclid(MINUTE_MS);
        let day = now.start_of_day().0;
        let mut windows = Vec::with_capacity(3);
        if let Some(limit) = s.plan.requests_per_minute {
            windows.push((
                format!("account:{}", s.account_id),
                minute,
                MINUTE_MS,
                limit,
            ));
        }
        if let Some(limit) = s.key_per_minute {
            windows.push((format!("key:{}", s.key_id), minute, MINUTE_MS, limit));
        }
        if let Some(limit) = s.plan.requests_per_day {
            let length = Timestamp::MS_PER_DAY;
            windows.push((format!("account-day:{}", s.account_id), day, length, limit));
        }
        for (subject, start, length, limit) in windows {
            if !self
                .take_one(subject, start, start + length, limit, now)
                .await?
            {
                let wait_ms = start + length - now.0;
                let wait = u64::try_from((wait_ms + 999) / 1000).unwrap_or(1).max(1);
                return Ok(Some((wait, limit)));
            }
        }
        Ok(None)
    }

    /// A permit held for the window, if any: `Some(true)` taken, `Some(false)` used up
    /// cluster-wide, `None` none held.
    fn take_held(&self, key: &(String, i64), now: Timestamp) -> Option<bool> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if held.len() > PRUNE_ABOVE {
            held.retain(|_, h| h.end > now.0);
        }
        let h = held.get_mut(key)?;
        if h.left > 0 {
            h.left -= 1;
            return Some(true);
        }
        h.exhausted.then_some(false)
    }

    async fn take_one(
        &self,
        subject: String,
        start: i64,
        end: i64,
        limit: u32,
        now: Timestamp,
    ) -> Result<bool, crate::store::StoreError> {
        let key = (subject, start);
        if let Some(taken) = self.take_held(&key, now) {
            return Ok(taken);
        }
        let _claim = self.claiming.lock().await;
        // The claim this one waited for may have brought permits.
        if let Some(taken) = self.take_held(&key, now) {
            return Ok(taken);
        }
        let (wanted, subject) = (block(limit), key.0.clone());
        let granted = self
            .store
            .run(move |db| -> Result<i64, crate::store::StoreError> {
                let tx = db.write()?;
                let granted =
                    crate::store::nodes::grant(&tx, &subject, start, wanted, i64::from(limit))?;
                tx.commit()?;
                Ok(granted)
            })
            .await?;
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let h = held.entry(key).or_insert(Held {
            left: 0,
            end,
            exhausted: false,
        });
        if granted == 0 {
            h.exhausted = true;
            return Ok(false);
        }
        h.left += granted - 1;
        Ok(true)
    }
}
