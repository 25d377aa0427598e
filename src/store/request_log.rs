//! The request-log writer: one thread owns one connection and commits rows in groups. A request
//! waits for the commit that holds its row, so nothing is served unaudited, and many waiting
//! requests share one transaction. Daily roll-ups and `last_used_at` move in the same commit.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::{Connection, params};
use tokio::sync::oneshot;

use super::checkpoint::Checkpointer;
use super::{Store, StoreError};

/// One row of `request_logs` (keys.md §7).
#[derive(Clone, Debug)]
pub struct LogEntry {
    pub request_id: String,
    pub key_id: String,
    pub account_id: String,
    pub key_prefix: String,
    pub environment: &'static str,
    pub method: String,
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
}

/// A request refused before any key was identified, counted per IP hash and day.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Refusal {
    pub day: String,
    pub ip_hash: String,
    pub reason: &'static str,
}

enum Message {
    Row(Box<LogEntry>, oneshot::Sender<bool>),
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
        let conn = store.dedicated_connection()?;
        // Checkpoints run on their own thread, not inside this connection's commits.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let checkpointer = Checkpointer::start(store)?;
        let (tx, rx) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("request-log".into())
            .spawn(move || writer_loop(conn, rx, max_batch))
            .map_err(|e| StoreError::Task(e.to_string()))?;
        Ok((
            RequestLogWriter { tx: tx.clone() },
            RequestLogThread {
                tx,
                handle,
                checkpointer,
            },
        ))
    }

    /// Queues the row and resolves once its transaction has committed.
    pub async fn commit(&self, entry: LogEntry) -> Result<(), LogUnavailable> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Message::Row(Box::new(entry), done))
            .map_err(|_| LogUnavailable)?;
        match wait.await {
            Ok(true) => Ok(()),
            _ => Err(LogUnavailable),
        }
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

fn writer_loop(mut conn: Connection, rx: mpsc::Receiver<Message>, max_batch: usize) {
    let mut rows: Vec<(Box<LogEntry>, oneshot::Sender<bool>)> = Vec::with_capacity(max_batch);
    let mut refusals: Vec<Refusal> = Vec::new();
    let mut stopping = false;
    while !stopping {
        let Ok(first) = rx.recv() else { break };
        let mut next = Some(first);
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
        let ok = match write_batch(&mut conn, &rows, &refusals) {
            Ok(()) => true,
            Err(e) => {
                let first = rows
                    .first()
                    .map(|(e, _)| e.request_id.as_str())
                    .unwrap_or("-");
                tracing::error!(error = %e, rows = rows.len(), first_request_id = first,
                    "request log commit failed");
                false
            }
        };
        for (_, done) in rows.drain(..) {
            let _ = done.send(ok);
        }
        refusals.clear();
    }
    // Anything sent after the shutdown message is refused rather than silently dropped.
    drop(rx);
}

type UsageKey<'a> = (&'a str, String, &'a str, &'a str, i64);
type ErrorKey<'a> = (&'a str, String, &'a str, &'a str, &'static str);

fn write_batch(
    conn: &mut Connection,
    rows: &[(Box<LogEntry>, oneshot::Sender<bool>)],
    refusals: &[Refusal],
) -> rusqlite::Result<()> {
    if rows.is_empty() && refusals.is_empty() {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut usage: BTreeMap<UsageKey<'_>, i64> = BTreeMap::new();
    let mut errors: BTreeMap<ErrorKey<'_>, i64> = BTreeMap::new();
    let mut last_used: BTreeMap<&str, i64> = BTreeMap::new();
    {
        // A key deleted while its request was in flight takes its row with it.
        let mut insert = tx.prepare_cached(
            "INSERT INTO request_logs (request_id, key_id, account_id, key_prefix, environment,
                 method, endpoint, route, query, status_code, error_code, idempotency_replayed,
                 ip_hash, user_agent, region, latency_us, created_at)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17
             WHERE EXISTS (SELECT 1 FROM api_keys WHERE id = ?2)",
        )?;
        for (e, _) in rows {
            insert.execute(params![
                e.request_id,
                e.key_id,
                e.account_id,
                e.key_prefix,
                e.environment,
                e.method,
                e.endpoint,
                e.route,
                e.query,
                e.status_code,
                e.error_code,
                e.idempotency_replayed,
                e.ip_hash,
                e.user_agent,
                e.region,
                e.latency_us,
                e.created_at,
            ])?;
            let day = crate::domain::Timestamp(e.created_at).day();
            let class = i64::from(e.status_code / 100);
            *usage
                .entry((&e.account_id, day.clone(), &e.key_id, &e.route, class))
                .or_default() += 1;
            if let Some(code) = e.error_code {
                *errors
                    .entry((&e.account_id, day, &e.key_id, &e.route, code))
                    .or_default() += 1;
            }
            if e.authenticated {
                let at = last_used.entry(&e.key_id).or_default();
                *at = (*at).max(e.created_at);
            }
        }
        let mut upsert = tx.prepare_cached(
            "INSERT INTO usage_daily (account_id, day, key_id, route, status_class, requests)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (account_id, day, key_id, route, status_class)
             DO UPDATE SET requests = requests + excluded.requests",
        )?;
        for ((account, day, key, route, class), n) in &usage {
            upsert.execute(params![account, day, key, route, class, n])?;
        }
        let mut upsert = tx.prepare_cached(
            "INSERT INTO usage_daily_errors (account_id, day, key_id, route, error_code, requests)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (account_id, day, key_id, route, error_code)
             DO UPDATE SET requests = requests + excluded.requests",
        )?;
        for ((account, day, key, route, code), n) in &errors {
            upsert.execute(params![account, day, key, route, code, n])?;
        }
        let mut touch = tx.prepare_cached(
            "UPDATE api_keys SET last_used_at = ?2
             WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)",
        )?;
        for (key, at) in &last_used {
            touch.execute(params![key, at])?;
        }
        let mut tally: BTreeMap<&Refusal, i64> = BTreeMap::new();
        for r in refusals {
            *tally.entry(r).or_default() += 1;
        }
        let mut count = tx.prepare_cached(
            "INSERT INTO refusals_daily (day, ip_hash, reason, requests) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (day, ip_hash, reason) DO UPDATE SET requests = requests + excluded.requests",
        )?;
        for (r, n) in tally {
            count.execute(params![r.day, r.ip_hash, r.reason, n])?;
        }
    }
    tx.commit()
}
