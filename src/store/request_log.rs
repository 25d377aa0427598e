//! The request-log writer: one thread owns one connection and commits rows in groups. A request
//! waits for the commit that holds its row, so nothing is served unaudited, and many waiting
//! requests share one transaction. Daily roll-ups and `last_used_at` move in the same commit.

mod batch;
mod rollups;
pub(super) mod stats;
mod writer;

pub use stats::WriterStats;

use std::borrow::Cow;
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::checkpoint::Checkpointer;
use super::{Db, Store, StoreError};
use crate::domain::key::ApiKey;
use writer::writer_loop;

/// One row of `request_logs` (docs/keys.md, "Request log").
#[derive(Clone, Debug)]
pub struct LogEntry {
    pub request_id: String,
    /// The key the row belongs to: its id, account, prefix and environment are logged.
    pub key: Arc<ApiKey>,
    pub method: Cow<'static, str>,
    pub endpoint: String,
    pub route: String,
    pub query: Option<String>,
    pub status_code: u16,
    pub error_code: Option<&'static str>,
    pub idempotency_replayed: bool,
    pub ip_hash: String,
    /// The address in clear, while `logs.client_ip_days` is above 0.
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub region: &'static str,
    pub latency_us: i64,
    pub created_at: i64,
    /// Whether the key passed authentication; only then does the request count as a use.
    pub authenticated: bool,
    /// For a decision taken from the key cache, the `key_generation` it was read at: the row is
    /// written only if no key changed since (see `key_reader`).
    pub decided_at: Option<i64>,
    /// When the request arrived: the writer waits for a lock no longer than its deadline.
    pub arrived: std::time::Instant,
}

/// What became of a row sent to the writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    Committed,
    /// Not written: a key changed after the request was decided from the cache.
    Stale,
}

/// A request refused before any key was identified, counted per IP hash and day.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Refusal {
    pub day: String,
    pub ip_hash: String,
    pub reason: &'static str,
    /// The address in clear, while `logs.client_ip_days` is above 0 (one per hash).
    pub client_ip: Option<String>,
}

/// The outcome of one row, on its way back to the request waiting for it.
type Done = (oneshot::Sender<Option<Written>>, Option<Written>);

/// A task on a worker thread that hands outcomes to that thread's requests. Waking a task from
/// another thread costs the worker a system call and a wake-up; through a relay, a group costs
/// one per worker thread instead of one per row, and the relay wakes each request locally.
#[derive(Clone)]
pub struct Relay(tokio::sync::mpsc::UnboundedSender<(std::time::Instant, Vec<Done>)>);

impl Relay {
    /// Starts a relay on the current thread's local task set (the HTTP worker's).
    fn spawn_local(stats: Arc<WriterStats>) -> Relay {
        let (tx, mut rx) =
            tokio::sync::mpsc::unbounded_channel::<(std::time::Instant, Vec<Done>)>();
        tokio::task::spawn_local(async move {
            while let Some((sent, group)) = rx.recv().await {
                stats.relay_wake.record(sent.elapsed());
                for (done, written) in group {
                    let _ = done.send(written);
                }
            }
        });
        Relay(tx)
    }
}

struct Reply {
    done: oneshot::Sender<Option<Written>>,
    relay: Option<Relay>,
    queued: std::time::Instant,
}

impl Reply {
    /// The reply of a row no request waits for any more (see the writer's later tries).
    fn detached() -> Reply {
        let (done, _) = oneshot::channel();
        Reply {
            done,
            relay: None,
            queued: std::time::Instant::now(),
        }
    }
}

enum Message {
    Row(Box<LogEntry>, Reply),
    Refusal(Refusal),
    Shutdown,
}

#[derive(Debug, thiserror::Error)]
#[error("the request log could not be written")]
pub struct LogUnavailable;

/// The sending side, cheap to clone into every worker.
#[derive(Clone)]
pub struct RequestLogWriter {
    tx: mpsc::Sender<Message>,
    stats: Arc<WriterStats>,
}

/// The writer thread; `shutdown` flushes what is queued and waits for it.
pub struct RequestLogThread {
    tx: mpsc::Sender<Message>,
    handle: JoinHandle<()>,
    checkpointer: Checkpointer,
}

impl RequestLogWriter {
    pub fn start(
        store: &Store,
        max_batch: usize,
    ) -> Result<(RequestLogWriter, RequestLogThread), StoreError> {
        // Checkpoints run on their own thread (the server's store turns them off in commits).
        let conn = store.dedicated(true, store.eager_connection()?);
        let stats = Arc::new(WriterStats::default());
        let checkpointer = Checkpointer::start(store, Arc::clone(&stats))?;
        let (tx, rx) = mpsc::channel();
        let thread_stats = stats.clone();
        let timeout = store.busy_timeout();
        let handle = std::thread::Builder::new()
            .name("request-log".into())
            .spawn(move || {
                super::busy::set_thread_timeout(timeout);
                writer_loop(conn, rx, max_batch, &thread_stats)
            })
            .map_err(|e| StoreError::Task(e.to_string()))?;
        Ok((
            RequestLogWriter {
                tx: tx.clone(),
                stats,
            },
            RequestLogThread {
                tx,
                handle,
                checkpointer,
            },
        ))
    }

    /// Queues the row and resolves once its transaction has committed (or found it stale). The
    /// outcome comes through `relay` when there is one.
    pub async fn commit(
        &self,
        entry: LogEntry,
        relay: Option<Relay>,
    ) -> Result<Written, LogUnavailable> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Message::Row(
                Box::new(entry),
                Reply {
                    done,
                    relay,
                    queued: std::time::Instant::now(),
                },
            ))
            .map_err(|_| LogUnavailable)?;
        wait.await.ok().flatten().ok_or(LogUnavailable)
    }

    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// A relay for the current thread, recording its wake-ups in this writer's statistics.
    pub fn spawn_relay(&self) -> Relay {
        Relay::spawn_local(Arc::clone(&self.stats))
    }

    pub fn count_refusal(&self, refusal: Refusal) {
        // Best effort: during shutdown the counter may be lost, which is acceptable for a tally.
        let _ = self.tx.send(Message::Refusal(refusal));
    }
}

/// Rows a seeding group commits at once: large enough that commits cost little, small enough
/// that a group's roll-up rows stay few and its memory small.
const SEED_GROUP: usize = 4_096;

/// Writes made-up rows through the writer's own group commit (`batch::write_batch`), so the
/// rows, the roll-ups and `last_used_at` are stored exactly as served requests store them:
/// for `bench-seed`, which fills a store for the page benchmark (tests/bench/README.md). Rows
/// should come oldest first, as the writer commits them; a row whose key is gone is dropped,
/// as in the writer. Returns how many rows were offered.
pub fn seed_rows(db: &mut Db, rows: impl IntoIterator<Item = LogEntry>) -> Result<u64, StoreError> {
    let mut touched = batch::LastUsed::default();
    let mut sums = rollups::Rollups::default();
    let mut group: Vec<(Box<LogEntry>, Reply)> = Vec::with_capacity(SEED_GROUP);
    let mut offered = 0;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        group.extend(rows.by_ref().take(SEED_GROUP).map(|mut entry| {
            // Nothing waits for these rows, and no key cache decided them.
            entry.decided_at = None;
            let reply = Reply {
                done: oneshot::channel().0,
                relay: None,
                queued: std::time::Instant::now(),
            };
            (Box::new(entry), reply)
        }));
        // Every group writes its roll-ups: nothing is left waiting when seeding ends.
        batch::write_batch(db, &group, &[], &mut touched, &mut sums, true)?;
        offered += group.len() as u64;
        group.clear();
    }
    Ok(offered)
}

impl RequestLogThread {
    pub fn shutdown(self) {
        let _ = self.tx.send(Message::Shutdown);
        if self.handle.join().is_err() {
            tracing::error!("request-log writer thread panicked");
        }
        self.checkpointer.stop();
    }
}
