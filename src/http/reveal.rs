//! New secrets waiting to be shown once: keys after create or rotate, webhook signing secrets
//! after add or rotate. A key never touches the database, and no secret is ever shown from it,
//! so the view reads it from this in-memory slot, which the first read empties: reloading the
//! page never shows it again.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::domain::random::base62_string;
use crate::domain::{KeySecret, Timestamp};

const TTL_MS: i64 = 10 * 60_000;

pub struct Pending<S> {
    pub secret: S,
    pub name: String,
    pub session: String,
    created: Timestamp,
}

pub struct Reveals<S = KeySecret> {
    slots: Mutex<HashMap<String, Pending<S>>>,
}

impl<S> Default for Reveals<S> {
    fn default() -> Self {
        Reveals {
            slots: Mutex::new(HashMap::new()),
        }
    }
}

impl<S> Reveals<S> {
    /// Keeps the secret for one view by the same session; returns the slot's token.
    pub fn put(&self, secret: S, name: String, session: String, now: Timestamp) -> Option<String> {
        let token = base62_string(24).ok()?;
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.retain(|_, p| now.millis() - p.created.millis() < TTL_MS);
        slots.insert(
            token.clone(),
            Pending {
                secret,
                name,
                session,
                created: now,
            },
        );
        Some(token)
    }

    /// Takes the secret out; only the session that created it may, and only once.
    pub fn take(&self, token: &str, session: &str, now: Timestamp) -> Option<Pending<S>> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = slots
            .get(token)
            .is_some_and(|p| p.session == session && now.millis() - p.created.millis() < TTL_MS);
        if fresh { slots.remove(token) } else { None }
    }
}
