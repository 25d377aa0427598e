//! WAL checkpoints on their own thread. Left to SQLite, a checkpoint (with its fsync) would run
//! inside whichever commit crosses the threshold — usually the request-log writer's, stalling
//! every request waiting on that commit.
//!
//! A passive checkpoint copies the WAL alongside the writers, but SQLite starts the WAL over only
//! after a checkpoint that caught up with the last commit, and one that runs next to a writer
//! committing every millisecond never does: with one client calling steadily, the WAL grew by
//! 600 MB in 10 s (its own fsync makes a passive round take tens of milliseconds). So when the
//! WAL holds more than `RESTART_FRAMES`, a RESTART checkpoint follows, which holds writers off
//! while it copies what the passive rounds left, so it completes and the next commit starts the
//! WAL from the beginning. What it copies is what came in during the round before it, so up to
//! `CATCH_UP_ROUNDS` passive rounds run first, each shorter than the last, until one finds
//! nothing new (a RESTART with nothing to copy skips its fsync as well): at a steady 4,000 requests a second the RESTART's pause went from
//! about 4 ms (one round) to well under a millisecond in most cases, and the p99 that the log
//! adds to a request from about 3 ms to about 1 ms. Its pause grows with the WAL, hence a small
//! threshold (at full load with one round: about 4 ms ten times a second with 4 MiB, 12 ms with
//! 16 MiB, 50 ms with 256 MiB; 32 and 64 MiB with more rounds stalled commits for 65 and 130 ms).
//! A RESTART also waits for readers of older snapshots, holding writers off meanwhile, so it
//! gives up after 10 ms and is not tried again for a second: a long read lets the WAL grow for as
//! long as it lasts rather than stall every request.

use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use super::request_log::stats::WriterStats;
use super::{Engine, Store, StoreError};

const INTERVAL: Duration = Duration::from_millis(100);
/// 4 MiB of 4 KiB pages.
const RESTART_FRAMES: i64 = 1_024;
/// Passive rounds before a RESTART, at most, while each still finds frames to copy. A RESTART
/// that finds nothing to copy skips its fsync too, and holds writers off for microseconds.
const CATCH_UP_ROUNDS: u32 = 3;
/// After a RESTART gave up waiting for a reader, one second without another try.
const RESTART_BACKOFF_ROUNDS: u32 = 10;

/// The checkpoint thread of a SQLite store; PostgreSQL checkpoints by itself.
pub struct Checkpointer {
    running: Option<(mpsc::Sender<()>, JoinHandle<()>)>,
}

impl Checkpointer {
    pub fn start(store: &Store, stats: Arc<WriterStats>) -> Result<Checkpointer, StoreError> {
        if store.engine() != Engine::Sqlite {
            return Ok(Checkpointer { running: None });
        }
        let conn = store.sqlite_connection()?;
        // A RESTART holds new writers off while it waits for older readers: it must give up
        // soon (and try again next round) rather than stall every request behind a long read.
        conn.busy_handler(Some(super::busy::wait_briefly))?;
        let (stop, stopped) = mpsc::channel::<()>();
        let timeout = store.busy_timeout();
        let handle = std::thread::Builder::new()
            .name("wal-checkpoint".into())
            .spawn(move || {
                super::busy::set_thread_timeout(timeout);
                // Rounds to skip the RESTART after one gave up on a reader.
                let mut patience = 0;
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
                    round(&conn, &stats, &mut patience);
                }
                checkpoint(&conn, "TRUNCATE");
            })
            .map_err(|e| StoreError::Task(e.to_string()))?;
        Ok(Checkpointer {
            running: Some((stop, handle)),
        })
    }

    pub fn stop(self) {
        let Some((stop, handle)) = self.running else {
            return;
        };
        let _ = stop.send(());
        if handle.join().is_err() {
            tracing::error!("checkpoint thread panicked");
        }
    }
}

/// A passive checkpoint and, once the WAL is over `RESTART_FRAMES`, a RESTART after it.
fn round(conn: &Connection, stats: &WriterStats, patience: &mut u32) {
    let passive = || timed(&stats.checkpoint_passive, || checkpoint(conn, "PASSIVE"));
    let over = |wal: Option<Frames>| wal.is_some_and(|f| f.log > RESTART_FRAMES);
    let mut wal = passive();
    if *patience > 0 {
        *patience -= 1;
        return;
    }
    if !over(wal) {
        return;
    }
    // What a RESTART copies while writers wait is what came in during the round before it;
    // each further round is shorter than the last, so a few of them leave it almost nothing.
    for _ in 1..CATCH_UP_ROUNDS {
        let before = wal.map(|f| f.copied);
        wal = passive();
        // A round that found nothing new to copy: the RESTART will find little.
        if wal.map(|f| f.copied) == before {
            break;
        }
    }
    if over(wal) {
        let restart = timed(&stats.checkpoint_restart, || checkpoint(conn, "RESTART"));
        if restart.is_none_or(|f| f.busy) {
            *patience = RESTART_BACKOFF_ROUNDS;
        }
    }
}

fn timed<T>(histogram: &crate::telemetry::Histogram, f: impl FnOnce() -> T) -> T {
    let started = std::time::Instant::now();
    let out = f();
    histogram.record(started.elapsed());
    out
}

/// What a checkpoint found: whether it gave up on a lock, the frames in the WAL and how many of
/// them are now in the database.
#[derive(Clone, Copy, Debug)]
struct Frames {
    busy: bool,
    log: i64,
    copied: i64,
}

fn checkpoint(conn: &Connection, mode: &str) -> Option<Frames> {
    let sql = format!("PRAGMA wal_checkpoint({mode})");
    match conn.query_row(&sql, [], |r| {
        Ok(Frames {
            busy: r.get::<_, i64>(0)? != 0,
            log: r.get(1)?,
            copied: r.get(2)?,
        })
    }) {
        Ok(result) => Some(result),
        Err(e) => {
            tracing::warn!(error = %crate::telemetry::cause_chain(&e), mode, "WAL checkpoint failed");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store as the server opens it, and the writer's kind of connection with a scratch table.
    fn scratch_store() -> (tempfile::TempDir, Store, Connection) {
        let (dir, store) = Store::temporary();
        let conn = store.sqlite_connection().unwrap();
        conn.busy_handler(Some(crate::store::busy::wait_eagerly))
            .unwrap();
        conn.execute_batch("CREATE TABLE scratch (v BLOB NOT NULL)")
            .unwrap();
        (dir, store, conn)
    }

    #[test]
    fn a_writer_that_never_pauses_still_gets_its_wal_started_over() {
        let (dir, store, conn) = scratch_store();
        let checkpointer = Checkpointer::start(&store, Default::default()).unwrap();
        let wal = dir.path().join("tidegate.db-wal");
        let (mut largest, mut last, mut cut_back) = (0, 0, false);
        // Each commit adds at least one 4 KiB frame: about 160 MiB without a restart.
        for _ in 0..20_000 {
            conn.execute("INSERT INTO scratch (v) VALUES (zeroblob(2000))", [])
                .unwrap();
            let size = std::fs::metadata(&wal).map_or(0, |m| m.len());
            largest = largest.max(size);
            // A WAL that started over past `journal_size_limit` is cut back to it.
            cut_back |= size < last;
            last = size;
        }
        checkpointer.stop();
        assert!(largest > 0);
        // On a loaded machine a RESTART may give up on the writer and wait a second before the
        // next try, and the WAL grows meanwhile; it must still start over.
        assert!(
            largest < 64 << 20 || cut_back,
            "the WAL reached {largest} bytes and never started over"
        );
    }

    #[test]
    fn a_long_read_does_not_hold_the_writers_up() {
        let (_dir, store, conn) = scratch_store();
        // A reader keeps its snapshot open for the whole test, so no checkpoint can finish.
        let mut reader = store.sqlite_connection().unwrap();
        let snapshot = reader.transaction().unwrap();
        snapshot
            .query_row("SELECT count(*) FROM scratch", [], |r| r.get::<_, i64>(0))
            .unwrap();
        let checkpointer = Checkpointer::start(&store, Default::default()).unwrap();
        let mut slowest = Duration::ZERO;
        for _ in 0..20_000 {
            let started = std::time::Instant::now();
            conn.execute("INSERT INTO scratch (v) VALUES (zeroblob(2000))", [])
                .unwrap();
            slowest = slowest.max(started.elapsed());
        }
        checkpointer.stop();
        drop(snapshot);
        // A RESTART that waited for the reader would hold every commit for the busy timeout.
        assert!(
            slowest < Duration::from_secs(1),
            "a commit waited {slowest:?}"
        );
    }
}
