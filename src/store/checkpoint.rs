//! WAL checkpoints on their own thread. Left to SQLite, a checkpoint (with its fsync) would run
//! inside whichever commit crosses the threshold — usually the request-log writer's, stalling
//! every request waiting on that commit.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use super::{Store, StoreError};

const INTERVAL: Duration = Duration::from_millis(500);

pub struct Checkpointer {
    stop: mpsc::Sender<()>,
    handle: JoinHandle<()>,
}

impl Checkpointer {
    pub fn start(store: &Store) -> Result<Checkpointer, StoreError> {
        let conn = store.dedicated_connection()?;
        let (stop, stopped) = mpsc::channel::<()>();
        let handle = std::thread::Builder::new()
            .name("wal-checkpoint".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
                    checkpoint(&conn, "PASSIVE");
                }
                checkpoint(&conn, "TRUNCATE");
            })
            .map_err(|e| StoreError::Task(e.to_string()))?;
        Ok(Checkpointer { stop, handle })
    }

    pub fn stop(self) {
        let _ = self.stop.send(());
        if self.handle.join().is_err() {
            tracing::error!("checkpoint thread panicked");
        }
    }
}

fn checkpoint(conn: &Connection, mode: &str) {
    let sql = format!("PRAGMA wal_checkpoint({mode})");
    if let Err(e) = conn.query_row(&sql, [], |_| Ok(())) {
        tracing::warn!(error = %e, mode, "WAL checkpoint failed");
    }
}
