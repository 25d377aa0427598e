//! The writer thread's loop: rows gathered into a group, the group committed within the
//! deadline of its earliest request, and each outcome handed back to its request, directly or
//! through its worker thread's relay.
//!
//! A group that cannot be committed (another process holds the lock past the requests'
//! deadline) is answered at once, so each request is refused as `storage_unavailable` within its
//! deadline; its rows are kept, as the refusals they became, and written with a later group or
//! on their own once a second, so the request log still shows every request.

use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::batch::{LastUsed, outcome, write_batch};
use super::rollups::Rollups;
use super::{Done, LogEntry, Message, Refusal, Relay, Reply, WriterStats};
use crate::store::{Dedicated, busy};

/// A small group lets the other threads run `GATHER_ROUNDS` times so that rows already on their
/// way can join it; `GATHER_ENOUGH` rows commit at once. (Measured: timed waits cost more
/// throughput than they save; committing at once gives smaller groups and more commits.)
const GATHER_ROUNDS: u32 = 2;
const GATHER_ENOUGH: usize = 32;
/// How often rows that could not be written are tried again when no other row comes.
const LATE_RETRY: Duration = Duration::from_secs(1);
/// How long a group of such rows alone waits for the lock: the next try is a second away.
const LATE_WAIT: Duration = Duration::from_millis(100);
/// Most rows kept for a later try; past it the oldest are dropped (and counted in the log).
const MAX_LATE: usize = 10_000;

pub(super) fn writer_loop(
    mut conn: Dedicated,
    rx: mpsc::Receiver<Message>,
    max_batch: usize,
    stats: &WriterStats,
) {
    let mut rows: Vec<(Box<LogEntry>, Reply)> = Vec::with_capacity(max_batch);
    let mut spent: Vec<Box<LogEntry>> = Vec::with_capacity(max_batch);
    let mut refusals: Vec<Refusal> = Vec::new();
    let mut touched = LastUsed::default();
    let mut sums = Rollups::default();
    let mut stopping = false;
    // Rows of requests already refused because their group could not be written.
    let mut late: Vec<Box<LogEntry>> = Vec::new();
    while !stopping {
        // Roll-ups summed under load are written when due, in a commit of their own if no row
        // comes first; rows kept for a later try are tried again once a second.
        let wait = match (sums.wait(), late.is_empty()) {
            (wait, true) => wait,
            (wait, false) => Some(wait.map_or(LATE_RETRY, |w| w.min(LATE_RETRY))),
        };
        let first = match wait {
            None => rx.recv().ok(),
            Some(wait) => match rx.recv_timeout(wait) {
                Ok(message) => Some(message),
                Err(mpsc::RecvTimeoutError::Timeout) if !late.is_empty() => None,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let written = conn
                        .get()
                        .and_then(|db| write_batch(db, &[], &[], &mut touched, &mut sums, true));
                    if let Err(e) = written {
                        tracing::error!(error = %crate::telemetry::cause_chain(&e), "request log roll-ups failed");
                        sums.postpone();
                    }
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => None,
            },
        };
        if first.is_none() && late.is_empty() {
            break;
        }
        let mut next = first;
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
        // request's deadline. Rows kept from a failed group have no request waiting: alone
        // they wait briefly, and they never shorten the wait of what they join.
        let kept_alone = rows.is_empty() && refusals.is_empty() && !late.is_empty();
        let deadline = rows
            .iter()
            .map(|(e, _)| busy::deadline_for(e.arrived))
            .min()
            .or_else(|| kept_alone.then(|| Instant::now() + LATE_WAIT));
        rows.extend(late.drain(..).map(|entry| (entry, Reply::detached())));
        let started = std::time::Instant::now();
        let written = busy::with_deadline(deadline, || {
            conn.get()
                .and_then(|db| write_batch(db, &rows, &refusals, &mut touched, &mut sums, stopping))
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
        for (mut entry, reply) in rows.drain(..) {
            let written = generation.map(|g| outcome(&entry, g));
            stats.row_wait.record(reply.queued.elapsed());
            if generation.is_none() {
                // The request is answered 503 BSE5002 (or was, for a row already kept): its
                // row says so, and is written later.
                entry.status_code = 503;
                entry.error_code = Some("BSE5002");
                entry.decided_at = None;
                late.push(entry);
            } else {
                spent.push(entry);
            }
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
        if late.len() > MAX_LATE {
            let dropped = late.len() - MAX_LATE;
            late.drain(..dropped);
            tracing::error!(
                rows = dropped,
                "request log rows dropped after failing commits"
            );
        }
        spent.clear();
        refusals.clear();
    }
    if !late.is_empty() {
        tracing::error!(
            rows = late.len(),
            "request log rows not written before the writer stopped"
        );
    }
    // Anything sent after the shutdown message is refused rather than silently dropped.
    drop(rx);
    if !sums.is_empty()
        && let Err(e) = conn
            .get()
            .and_then(|db| write_batch(db, &[], &[], &mut touched, &mut sums, true))
    {
        tracing::error!(error = %crate::telemetry::cause_chain(&e), "request log roll-ups failed");
    }
}
