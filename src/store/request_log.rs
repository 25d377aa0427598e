//! The request-log writer: one thread owns one connection and commits rows in groups. A request
//! waits for the commit that holds its row, so nothing is served unaudited, and many waiting
//! requests share one transaction. Daily roll-ups and `last_used_at` move in the same commit.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::checkpoint::Checkpointer;
use super::{Db, Store, StoreError};
use crate::domain::key::ApiKey;
use crate::telemetry::Histogram;

/// One row of `request_logs` (keys.md §7).
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

/// Commits and rows written so far, for `/metrics`.
#[derive(Debug, Default)]
pub struct WriterStats {
    pub commits: AtomicU64,
    pub rows: AtomicU64,
    /// From a row's arrival at the writer to its outcome being handed back.
    pub row_wait: Histogram,
    /// One group's transaction, from its start to its commit.
    pub commit: Histogram,
    /// From a group's outcomes being sent to a relay to the relay receiving them.
    pub relay_wake: Histogram,
    /// The checkpointer's passive rounds, and the RESTARTs that hold writers off.
    pub checkpoint_passive: Histogram,
    pub checkpoint_restart: Histogram,
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

impl RequestLogThread {
    pub fn shutdown(self) {
        let _ = self.tx.send(Message::Shutdown);
        if self.handle.join().is_err() {
            tracing::error!("request-log writer thread panicked");
        }
        self.checkpointer.stop();
    }
}

/// A small group lets the other threads run `GATHER_ROUNDS` times so that rows already on their
/// way can join it; `GATHER_ENOUGH` rows commit at once. (Measured: timed waits cost more
/// throughput than they save; committing at once gives smaller groups and more commits.)
const GATHER_ROUNDS: u32 = 2;
const GATHER_ENOUGH: usize = 32;

fn writer_loop(
    mut conn: super::Dedicated,
    rx: mpsc::Receiver<Message>,
    max_batch: usize,
    stats: &WriterStats,
) {
    let mut rows: Vec<(Box<LogEntry>, Reply)> = Vec::with_capacity(max_batch);
    let mut spent: Vec<Box<LogEntry>> = Vec::with_capacity(max_batch);
    let mut refusals: Vec<Refusal> = Vec::new();
    let mut touched = LastUsed::default();
    let mut stopping = false;
    while !stopping {
        let Ok(first) = rx.recv() else { break };
        let mut next = Some(first);
        // Give requests already on their way a moment to join this commit: fewer, larger
        // commits cost far less than one per row.
        let mut waits = GATHER_ROUNDS;
        loop {
            while let Some(message) = next.take() {
                match message {
                    Message::Row(entry, done) => rows.push((entry, done)),
                    Message::Refusal(r) => refusals.push(r),
                    Message::Shutdown => stopping = true,
                }
                if rows.len() < max_batch {
                    next = rx.try_recv().ok();
                }
            }
            if stopping || waits == 0 || rows.len() >= GATHER_ENOUGH.min(max_batch) {
                break;
            }
            waits -= 1;
            std::thread::yield_now();
            next = rx.try_recv().ok();
        }
        // However many failing groups a row queued behind, it waits no longer than its own
        // request's deadline.
        let deadline = rows
            .iter()
            .map(|(e, _)| super::busy::deadline_for(e.arrived))
            .min();
        let started = std::time::Instant::now();
        let written = super::busy::with_deadline(deadline, || {
            conn.get()
                .and_then(|db| write_batch(db, &rows, &refusals, &mut touched))
        });
        stats.commit.record(started.elapsed());
        let generation = match written {
            Ok(generation) => {
                stats.commits.fetch_add(1, Ordering::Relaxed);
                stats.rows.fetch_add(rows.len() as u64, Ordering::Relaxed);
                Some(generation)
            }
            Err(e) => {
                let first = rows
                    .first()
                    .map(|(e, _)| e.request_id.as_str())
                    .unwrap_or("-");
                tracing::error!(error = %crate::telemetry::cause_chain(&e), rows = rows.len(), first_request_id = first,
                    "request log commit failed");
                None
            }
        };
        let mut relayed: Vec<(Relay, Vec<Done>)> = Vec::new();
        // The rows are freed only after every request has its answer: freeing memory that
        // other threads allocated is slow, and the answers are what the requests wait for.
        for (entry, reply) in rows.drain(..) {
            let written = generation.map(|g| outcome(&entry, g));
            stats.row_wait.record(reply.queued.elapsed());
            spent.push(entry);
            let Some(relay) = reply.relay else {
                let _ = reply.done.send(written);
                continue;
            };
            match relayed.iter_mut().find(|(r, _)| r.0.same_channel(&relay.0)) {
                Some((_, group)) => group.push((reply.done, written)),
                None => relayed.push((relay, vec![(reply.done, written)])),
            }
        }
        let sent = std::time::Instant::now();
        for (relay, group) in relayed {
            // A relay whose thread has stopped: answer directly.
            if let Err(unsent) = relay.0.send((sent, group)) {
                for (done, written) in unsent.0.1 {
                    let _ = done.send(written);
                }
            }
        }
        spent.clear();
        refusals.clear();
    }
    // Anything sent after the shutdown message is refused rather than silently dropped.
    drop(rx);
}

/// `last_used_at` may lag by up to a second (v1-api.md §4), so each key's is written at most
/// once a second instead of in every commit.
#[derive(Default)]
struct LastUsed {
    written: HashMap<String, i64>,
}

impl LastUsed {
    const EVERY_MS: i64 = 1_000;

    fn due(&self, key: &str, at: i64) -> bool {
        self.written
            .get(key)
            .is_none_or(|&w| at - w >= Self::EVERY_MS)
    }

    fn record(&mut self, written: Vec<(String, i64)>) {
        if self.written.len() > 100_000 {
            self.written.clear();
        }
        self.written.extend(written);
    }
}

/// Roll-up keys count days as whole days since the epoch; the date text is made once per
/// roll-up row rather than once per log row.
type UsageKey<'a> = (&'a str, i64, &'a str, &'a str, i64);
type ErrorKey<'a> = (&'a str, i64, &'a str, &'a str, &'static str);

fn day_text(day: i64) -> String {
    crate::domain::Timestamp(day * crate::domain::Timestamp::MS_PER_DAY).day()
}

/// Whether a row was written, given the key generation its batch committed at.
fn outcome(entry: &LogEntry, generation: Option<i64>) -> Written {
    match entry.decided_at {
        Some(decided) if Some(decided) != generation => Written::Stale,
        _ => Written::Committed,
    }
}

/// The most rows one `INSERT` writes.
const ROWS_PER_INSERT: usize = 32;

/// `INSERT INTO request_logs … VALUES (…), (…)` for `n` rows (1 to `ROWS_PER_INSERT`) of 17
/// placeholders each, built once rather than for every group.
fn insert_rows(n: usize) -> &'static str {
    static SQL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let all = SQL.get_or_init(|| {
        use std::fmt::Write;
        (1..=ROWS_PER_INSERT)
            .map(|n| {
                let mut sql = String::from(
                    "INSERT INTO request_logs (request_id, key_id, account_id, key_prefix,
                         environment, method, endpoint, route, query, status_code, error_code,
                         idempotency_replayed, ip_hash, user_agent, region, latency_us,
                         created_at) VALUES ",
                );
                for row in 0..n {
                    sql.push_str(if row == 0 { "(" } else { ", (" });
                    for column in 0..17 {
                        let sep = if column == 0 { "" } else { ", " };
                        let _ = write!(sql, "{sep}?{}", row * 17 + column + 1);
                    }
                    sql.push(')');
                }
                sql
            })
            .collect()
    });
    &all[n.clamp(1, ROWS_PER_INSERT) - 1]
}

/// Writes and commits the group; returns the key generation it was checked against, if any row
/// asked for the check.
fn write_batch(
    db: &mut Db,
    rows: &[(Box<LogEntry>, Reply)],
    refusals: &[Refusal],
    touched: &mut LastUsed,
) -> Result<Option<i64>, StoreError> {
    if rows.is_empty() && refusals.is_empty() {
        return Ok(None);
    }
    let tx = db.write()?;
    // Read under the write lock: no other writer can bump it before this commit.
    let generation = if rows.iter().any(|(e, _)| e.decided_at.is_some()) {
        Some(super::key_reader::current_generation(&tx)?)
    } else {
        None
    };
    let mut usage: BTreeMap<UsageKey<'_>, i64> = BTreeMap::new();
    let mut errors: BTreeMap<ErrorKey<'_>, i64> = BTreeMap::new();
    let mut last_used: BTreeMap<&str, i64> = BTreeMap::new();
    let mut written: Vec<(String, i64)> = Vec::new();
    // A key deleted while its request was in flight takes its row with it: each distinct key
    // of the group is looked up once, not once per row.
    let mut live: HashMap<&str, bool> = HashMap::new();
    for (e, _) in rows {
        if !live.contains_key(e.key.id.as_str()) {
            let exists = tx
                .query_opt("SELECT 1 FROM api_keys WHERE id = ?1", &[&e.key.id], |_| {
                    Ok(())
                })?
                .is_some();
            live.insert(&e.key.id, exists);
        }
    }
    let kept: Vec<&LogEntry> = rows
        .iter()
        .map(|(e, _)| e.as_ref())
        .filter(|e| {
            live.get(e.key.id.as_str()) == Some(&true)
                && outcome(e, generation) == Written::Committed
        })
        .collect();
    // Many rows to a statement: on PostgreSQL each statement is a round trip to the server.
    for chunk in kept.chunks(ROWS_PER_INSERT) {
        let environments: Vec<&'static str> =
            chunk.iter().map(|e| e.key.environment.as_str()).collect();
        let mut params: Vec<&dyn super::engine::Param> = Vec::with_capacity(chunk.len() * 17);
        for (e, environment) in chunk.iter().zip(&environments) {
            params.extend_from_slice(&[
                &e.request_id,
                &e.key.id,
                &e.key.account_id,
                &e.key.key_prefix,
                environment,
                &e.method,
                &e.endpoint,
                &e.route,
                &e.query,
                &e.status_code,
                &e.error_code,
                &e.idempotency_replayed,
                &e.ip_hash,
                &e.user_agent,
                &e.region,
                &e.latency_us,
                &e.created_at,
            ]);
        }
        tx.execute(insert_rows(chunk.len()), &params)?;
    }
    for e in kept {
        let day = e
            .created_at
            .div_euclid(crate::domain::Timestamp::MS_PER_DAY);
        let class = i64::from(e.status_code / 100);
        *usage
            .entry((&e.key.account_id, day, &e.key.id, &e.route, class))
            .or_default() += 1;
        if let Some(code) = e.error_code {
            *errors
                .entry((&e.key.account_id, day, &e.key.id, &e.route, code))
                .or_default() += 1;
        }
        if e.authenticated {
            let at = last_used.entry(&e.key.id).or_default();
            *at = (*at).max(e.created_at);
        }
    }
    for ((account, day, key, route, class), n) in &usage {
        tx.execute(
            "INSERT INTO usage_daily (account_id, day, key_id, route, status_class, requests)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (account_id, day, key_id, route, status_class)
             DO UPDATE SET requests = usage_daily.requests + excluded.requests",
            &[account, &day_text(*day), key, route, class, n],
        )?;
    }
    for ((account, day, key, route, code), n) in &errors {
        tx.execute(
            "INSERT INTO usage_daily_errors (account_id, day, key_id, route, error_code, requests)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (account_id, day, key_id, route, error_code)
             DO UPDATE SET requests = usage_daily_errors.requests + excluded.requests",
            &[account, &day_text(*day), key, route, code, n],
        )?;
    }
    for (key, at) in last_used.iter().filter(|(k, at)| touched.due(k, **at)) {
        tx.execute(
            "UPDATE api_keys SET last_used_at = ?2
             WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)",
            &[key, at],
        )?;
        written.push(((*key).to_owned(), *at));
    }
    let mut tally: BTreeMap<&Refusal, i64> = BTreeMap::new();
    for r in refusals {
        *tally.entry(r).or_default() += 1;
    }
    for (r, n) in tally {
        tx.execute(
            "INSERT INTO refusals_daily (day, ip_hash, reason, requests) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (day, ip_hash, reason)
             DO UPDATE SET requests = refusals_daily.requests + excluded.requests",
            &[&r.day, &r.ip_hash, &r.reason, &n],
        )?;
    }
    tx.commit()?;
    touched.record(written);
    Ok(generation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multi_row_insert_numbers_17_placeholders_a_row() {
        assert!(insert_rows(1).ends_with(
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
        ));
        let two = insert_rows(2);
        assert!(two.contains("?17), (?18, ?19"), "{two}");
        assert!(two.ends_with("?34)"), "{two}");
        let most = insert_rows(ROWS_PER_INSERT);
        assert_eq!(most.matches('(').count(), ROWS_PER_INSERT + 1);
        assert!(most.ends_with(&format!("?{})", ROWS_PER_INSERT * 17)));
    }
}
