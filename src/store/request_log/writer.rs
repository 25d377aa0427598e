//! The writer thread's loop: rows gathered into a group, the group committed within the
//! deadline of its earliest request, and each outcome handed back to its request, directly or
//! through its worker thread's relay.

use std::sync::atomic::Ordering;
use std::sync::mpsc;

use super::batch::{LastUsed, outcome, write_batch};
use super::rollups::Rollups;
use super::{Done, LogEntry, Message, Refusal, Relay, Reply, WriterStats};
use crate::store::{Dedicated, busy};

/// A small group lets the other threads run `GATHER_ROUNDS` times so that rows already on their
/// way can join it; `GATHER_ENOUGH` rows commit at once. (Measured: timed waits cost more
/// throughput than they save; committing at once gives smaller groups and more commits.)
const GATHER_ROUNDS: u32 = 2;
const GATHER_ENOUGH: usize = 32;

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
    while !stopping {
        // Roll-ups summed under load are written when due, in a commit of their own if no row
        // comes first.
        let first = match sums.wait() {
            None => rx.recv().ok(),
            Some(wait) => match rx.recv_timeout(wait) {
                Ok(message) => Some(message),
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
        let Some(first) = first else { break };
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
            .map(|(e, _)| busy::deadline_for(e.arrived))
            .min();
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
    if !sums.is_empty()
        && let Err(e) = conn
            .get()
            .and_then(|db| write_batch(db, &[], &[], &mut touched, &mut sums, true))
    {
        tracing::error!(error = %crate::telemetry::cause_chain(&e), "request log roll-ups failed");
    }
}
