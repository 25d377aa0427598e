//! Key lookups for authentication: a cache shared by every worker, in front of one dedicated
//! reader thread.
//!
//! The reader thread answers cache misses: under load many wait at once, and it answers all of
//! them per wake-up inside one read transaction. Each batch first reads `key_generation`, which
//! triggers bump on every change that can alter an authentication decision, whichever process
//! makes it; a changed generation empties the cache.
//!
//! A hit costs no I/O, so it carries the generation it was read at. Read-only operations answer
//! from a hit and the request-log writer checks that generation inside the very transaction that
//! commits the request's row: if a key changed meanwhile (a revoke from the command line, say),
//! the row is not written and the request is decided again from the store. Nothing is served on
//! a decision older than its own commit, so a revoke counts on the very next request. Operations
//! that change something are decided from the store before they run. Status is derived from the
//! cached timestamps at request time, so expiry needs no invalidation.
//!
//! On PostgreSQL, where other nodes change keys too, a watcher thread also empties the cache as
//! soon as the counter moves: it listens on `tidegate_keys` (the triggers notify it at commit)
//! and reads the counter every `POLL` as well, because notifications sent while its connection
//! is down are lost. It only makes the cache forget sooner; the check at commit is what makes a
//! revoke count on the next request, on every node.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak, mpsc};
use std::time::Duration;

use tokio::sync::oneshot;

use super::keys::{AuthRecord, find_for_auth};
use super::{Store, StoreError, Tx};
use crate::domain::KeyDigest;

const MAX_BATCH: usize = 512;
const MAX_CACHED: usize = 100_000;
/// How often the watcher reads the counter, notification or not.
const POLL: Duration = Duration::from_millis(250);
/// How long the watcher waits before it connects again.
const RECONNECT: Duration = Duration::from_secs(1);

type Reply = oneshot::Sender<Result<Option<AuthRecord>, StoreError>>;

#[derive(Clone)]
pub struct KeyReader {
    tx: mpsc::Sender<(KeyDigest, Reply)>,
    cache: Arc<RwLock<Cache>>,
}

/// A key from the cache, and the `key_generation` its entry was read at.
pub struct Cached {
    pub record: AuthRecord,
    pub generation: i64,
}

impl KeyReader {
    /// Starts the reader thread; it ends when the last `KeyReader` is dropped.
    pub fn start(store: &Store) -> Result<KeyReader, StoreError> {
        let conn = store.dedicated(false, store.dedicated_connection()?);
        let (tx, rx) = mpsc::channel();
        let cache = Arc::new(RwLock::new(Cache::default()));
        let shared = cache.clone();
        let timeout = store.busy_timeout();
        std::thread::Builder::new()
            .name("key-reader".into())
            .spawn(move || {
                super::busy::set_thread_timeout(timeout);
                reader_loop(conn, rx, &shared)
            })
            .map_err(|e| StoreError::Task(e.to_string()))?;
        if store.engine() == super::Engine::Postgres {
            let store = store.clone();
            let watched = Arc::downgrade(&cache);
            std::thread::Builder::new()
                .name("key-watcher".into())
                .spawn(move || {
                    super::busy::set_thread_timeout(timeout);
                    watch(&store, &watched)
                })
                .map_err(|e| StoreError::Task(e.to_string()))?;
        }
        Ok(KeyReader { tx, cache })
    }

    /// The cached key with this digest, without touching the store. The caller must have the
    /// decision confirmed at commit (see the module comment).
    pub fn cached(&self, digest: &KeyDigest) -> Option<Cached> {
        let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
        let generation = cache.generation?;
        cache.keys.get(digest).map(|record| Cached {
            record: record.clone(),
            generation,
        })
    }

    /// The key with this digest, with its account's state, as the store has it now.
    pub async fn find(&self, digest: KeyDigest) -> Result<Option<AuthRecord>, StoreError> {
        let (reply, wait) = oneshot::channel();
        self.tx
            .send((digest, reply))
            .map_err(|_| StoreError::Task("key reader stopped".into()))?;
        wait.await
            .map_err(|_| StoreError::Task("key reader stopped".into()))?
    }
}

#[derive(Default)]
struct Cache {
    generation: Option<i64>,
    keys: HashMap<KeyDigest, AuthRecord>,
}

fn reader_loop(
    mut conn: super::Dedicated,
    rx: mpsc::Receiver<(KeyDigest, Reply)>,
    cache: &RwLock<Cache>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        // One snapshot for the batch: every lookup sees all commits made before it was asked.
        match conn.get().and_then(|db| db.snapshot()) {
            Ok(tx) => {
                answer(&tx, cache, &mut batch);
                let _ = tx.commit();
            }
            Err(e) => {
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(StoreError::Task(e.to_string())));
                }
            }
        }
    }
}

fn answer(tx: &Tx<'_>, cache: &RwLock<Cache>, batch: &mut Vec<(KeyDigest, Reply)>) {
    let generation = current_generation(tx).ok();
    let mut found = Vec::with_capacity(batch.len());
    for (digest, reply) in batch.drain(..) {
        let result = find_for_auth(tx, &digest.to_hex());
        if let Ok(Some(record)) = &result {
            found.push((digest, record.clone()));
        }
        let _ = reply.send(result);
    }
    let mut cache = cache.write().unwrap_or_else(|p| p.into_inner());
    // The watcher has seen a later change since this batch's snapshot: keep what it left.
    if cache
        .generation
        .zip(generation)
        .is_some_and(|(now, read)| read < now)
    {
        return;
    }
    if cache.generation != generation || cache.keys.len() + found.len() > MAX_CACHED {
        cache.keys.clear();
        cache.generation = generation;
    }
    if generation.is_some() {
        cache.keys.extend(found);
    }
}

/// Empties the cache whenever the counter moves past what it was filled at, until the reader
/// is gone; connects again after a failure, forgetting everything cached meanwhile.
fn watch(store: &Store, cache: &Weak<RwLock<Cache>>) {
    while cache.strong_count() > 0 {
        if let Err(e) = watch_connected(store, cache) {
            tracing::warn!(error = %crate::telemetry::cause_chain(&e), "key change watcher lost its connection");
        }
        if let Some(cache) = cache.upgrade() {
            let mut cache = cache.write().unwrap_or_else(|p| p.into_inner());
            cache.keys.clear();
            cache.generation = None;
        }
        std::thread::sleep(RECONNECT);
    }
}

fn watch_connected(store: &Store, cache: &Weak<RwLock<Cache>>) -> Result<(), StoreError> {
    let mut listener = super::notices::Listener::connect(store, "tidegate_keys")?;
    loop {
        let Some(shared) = cache.upgrade() else {
            return Ok(());
        };
        let generation = current_generation(&listener.db().read())?;
        observe(&shared, generation);
        drop(shared);
        // A notification brings the next read forward; without one, it comes after `POLL`.
        listener.next(POLL)?;
    }
}

/// Forgets what the cache holds if the counter has moved since it was filled.
fn observe(cache: &RwLock<Cache>, generation: i64) {
    let mut cache = cache.write().unwrap_or_else(|p| p.into_inner());
    if cache.generation.is_some_and(|filled| filled < generation) {
        cache.keys.clear();
        cache.generation = Some(generation);
    }
}

/// The counter every authentication-relevant change bumps (see the module comment).
pub fn current_generation(tx: &Tx<'_>) -> Result<i64, StoreError> {
    tx.query_one("SELECT value FROM key_generation WHERE id = 1", &[], |r| {
        r.get(0)
    })
}
