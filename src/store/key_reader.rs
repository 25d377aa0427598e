//! Key lookups for authentication on one dedicated thread. Under load many lookups wait at once;
//! the thread answers all of them per wake-up, inside one read transaction, instead of one
//! blocking-pool hand-off (and its context switches) per request.

use std::sync::mpsc;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::keys::{AuthRecord, find_for_auth};
use super::{Store, StoreError};

const MAX_BATCH: usize = 512;

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

fn reader_loop(mut conn: Connection, rx: mpsc::Receiver<(String, Reply)>) {
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
        let tx = conn.transaction();
        for (hash, reply) in batch.drain(..) {
            let result = match &tx {
                Ok(tx) => find_for_auth(tx, &hash),
                Err(e) => Err(StoreError::Task(e.to_string())),
            };
            let _ = reply.send(result);
        }
        if let Ok(tx) = tx {
            let _ = tx.finish();
        }
    }
}
