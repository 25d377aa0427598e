//! Key lookups for authentication on one dedicated thread. Under load many lookups wait at once;
//! the thread answers all of them per wake-up inside one read transaction, instead of one
//! blocking-pool hand-off (and its context switches) per request.
//!
//! Found keys are cached. Each batch first reads `key_generation`, which triggers bump on every
//! change that can alter an authentication decision, whichever process makes it; a changed
//! generation empties the cache, so a revoke from the command line still counts on the very next
//! request. Status is derived from the cached timestamps at request time, so expiry needs no
//! invalidation.

use std::collections::HashMap;
use std::sync::mpsc;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::keys::{AuthRecord, find_for_auth};
use super::{Store, StoreError};

const MAX_BATCH: usize = 512;
const MAX_CACHED: usize = 100_000;

type Reply = oneshot::Sender<Result<Option<AuthRecord>, StoreError>>;

#[derive(Clone)]
pub struct KeyReader {
    tx: mpsc::Sender<(String, Reply)>,
}

impl KeyReader {
    /// Starts the reader thread; it ends when the last `KeyReader` is dropped.
    pub fn start(store: &Store) -> Result<KeyReader, StoreError> {
        let conn = store.dedicated_connection()?;
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("key-reader".into())
            .spawn(move || reader_loop(conn, rx))
            .map_err(|e| StoreError::Task(e.to_string()))?;
        Ok(KeyReader { tx })
    }

    /// The key with this SHA-256 hex digest, with its account's state.
    pub async fn find(&self, key_hash: String) -> Result<Option<AuthRecord>, StoreError> {
        let (reply, wait) = oneshot::channel();
        self.tx
            .send((key_hash, reply))
            .map_err(|_| StoreError::Task("key reader stopped".into()))?;
        wait.await
            .map_err(|_| StoreError::Task("key reader stopped".into()))?
    }
}

#[derive(Default)]
struct Cache {
    generation: Option<i64>,
    keys: HashMap<String, AuthRecord>,
}

fn reader_loop(mut conn: Connection, rx: mpsc::Receiver<(String, Reply)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut cache = Cache::default();
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        // One snapshot for the batch: every lookup sees all commits made before it was asked.
        match conn.transaction() {
            Ok(tx) => {
                answer(&tx, &mut cache, &mut batch);
                let _ = tx.finish();
            }
            Err(e) => {
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(StoreError::Task(e.to_string())));
                }
            }
        }
    }
}

fn answer(conn: &Connection, cache: &mut Cache, batch: &mut Vec<(String, Reply)>) {
    let generation = conn
        .prepare_cached("SELECT value FROM key_generation WHERE id = 1")
        .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)));
    match generation {
        Ok(g) if cache.generation == Some(g) => {}
        Ok(g) => {
            cache.keys.clear();
            cache.generation = Some(g);
        }
        Err(_) => {
            cache.keys.clear();
            cache.generation = None;
        }
    }
    for (hash, reply) in batch.drain(..) {
        if let Some(found) = cache.keys.get(&hash) {
            let _ = reply.send(Ok(Some(found.clone())));
            continue;
        }
        let result = find_for_auth(conn, &hash);
        if let (Ok(Some(found)), Some(_)) = (&result, cache.generation) {
            if cache.keys.len() >= MAX_CACHED {
                cache.keys.clear();
            }
            cache.keys.insert(hash, found.clone());
        }
        let _ = reply.send(result);
    }
}
