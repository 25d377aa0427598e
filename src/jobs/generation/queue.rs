//! The queue of accepted generations and what each worker is running, so that a cancel can
//! reach it. The use cases reach it through `service::generations::Workers`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use crate::providers::PredictionSlot;
use crate::service::generations::{Roster, Workers};

/// A generation a worker is running: how to stop it, and the provider of the current attempt
/// with the slot its upstream fills (one lock, so both always belong to the same attempt).
pub struct Running {
    cancel: watch::Sender<bool>,
    attempt: Mutex<Option<(String, PredictionSlot)>>,
    /// What stopping it came to: a second stop (the API's and a node's notification of the
    /// same cancel) waits for the first and sends the upstream nothing more.
    stopped: tokio::sync::OnceCell<bool>,
}

impl Running {
    /// The attempt now under way: `provider`, whose upstream fills `slot`.
    pub fn attempt(&self, provider: &str, slot: &PredictionSlot) {
        if let Ok(mut attempt) = self.attempt.lock() {
            *attempt = Some((provider.to_owned(), slot.clone()));
        }
    }
}

/// A running generation as its worker holds it; unregistered when dropped.
pub struct Registration<'a> {
    queue: &'a WorkQueue,
    id: String,
    pub running: Arc<Running>,
    /// Turns true when the generation is canceled.
    pub canceled: watch::Receiver<bool>,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        if let Ok(mut map) = self.queue.running.lock() {
            map.remove(&self.id);
        }
    }
}

/// A generation a worker took from the queue; counted busy until dropped.
pub struct Taken<'a> {
    pub id: String,
    busy: &'a watch::Sender<usize>,
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        self.busy.send_modify(|n| *n -= 1);
    }
}

/// This node's queue of generations to run.
pub struct WorkQueue {
    /// For stopping the upstream of a running attempt.
    roster: Arc<Roster>,
    queue: mpsc::UnboundedSender<String>,
    receiver: tokio::sync::Mutex<mpsc::UnboundedReceiver<String>>,
    running: Mutex<HashMap<String, Arc<Running>>>,
    /// Generations taken from the queue and not yet finished.
    busy: watch::Sender<usize>,
    /// When the server began to stop: from then on workers take nothing more from the queue.
    stopping: watch::Sender<Option<Instant>>,
}

impl WorkQueue {
    pub fn new(roster: Arc<Roster>) -> WorkQueue {
        let (queue, receiver) = mpsc::unbounded_channel();
        WorkQueue {
            roster,
            queue,
            receiver: tokio::sync::Mutex::new(receiver),
            running: Mutex::new(HashMap::new()),
            busy: watch::channel(0).0,
            stopping: watch::channel(None).0,
        }
    }

    pub fn enqueue(&self, id: String) {
        // The receiver lives as long as the queue, so sending cannot fail.
        let _ = self.queue.send(id);
    }

    /// Stops the worker running `id` (if any) and, for an asynchronous upstream that has
    /// assigned a prediction id, asks it to cancel. True when the running attempt was reached:
    /// the local renderer's result is dropped, or the upstream acknowledged the cancel.
    pub async fn stop(&self, id: &str) -> bool {
        let running = self.running.lock().ok().and_then(|r| r.get(id).cloned());
        let Some(running) = running else {
            return false;
        };
        *running
            .stopped
            .get_or_init(|| async {
                let _ = running.cancel.send(true);
                let attempt = running.attempt.lock().ok().and_then(|a| a.clone());
                let Some((provider, slot)) = attempt else {
                    return false;
                };
                self.roster.cancel_attempt(&provider, &slot).await
            })
            .await
    }

    /// Starts no more generations: queued ones stay `pending` and are queued again at the next
    /// start. The first call marks the start of the stop.
    pub fn stop_taking(&self) {
        self.stopping.send_if_modified(|began| {
            let first = began.is_none();
            began.get_or_insert_with(Instant::now);
            first
        });
    }

    /// The generations this node's workers are running now.
    pub fn running_ids(&self) -> Vec<String> {
        self.running
            .lock()
            .map(|r| r.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Stops taking generations and lets the running ones finish until `grace` after the stop
    /// began. Returns how many were still running then (the next start fails and refunds them).
    pub async fn drain(&self, grace: Duration) -> usize {
        self.stop_taking();
        // A worker takes a generation and counts it busy under this lock; holding it, no worker
        // takes another and every one taken is counted.
        let _queue = self.receiver.lock().await;
        let began = (*self.stopping.borrow()).unwrap_or_else(Instant::now);
        let deadline = tokio::time::Instant::from_std(began + grace);
        let mut busy = self.busy.subscribe();
        // The sender lives in `self`, so waiting can only end by the count reaching 0.
        let _ = tokio::time::timeout_at(deadline, busy.wait_for(|n| *n == 0)).await;
        *self.busy.borrow()
    }

    /// The next queued generation, counted busy; `None` once the server stops taking work.
    pub async fn take(&self) -> Option<Taken<'_>> {
        let mut stopping = self.stopping.subscribe();
        let mut queue = self.receiver.lock().await;
        let next = tokio::select! {
            biased;
            _ = stopping.wait_for(Option::is_some) => None,
            id = queue.recv() => id,
        };
        let id = next?;
        self.busy.send_modify(|n| *n += 1);
        Some(Taken {
            id,
            busy: &self.busy,
        })
    }

    /// Registers `id` as running until the registration is dropped: meanwhile `stop` reaches it.
    pub fn register(&self, id: &str) -> Registration<'_> {
        let (cancel, canceled) = watch::channel(false);
        let running = Arc::new(Running {
            stopped: tokio::sync::OnceCell::new(),
            cancel,
            attempt: Mutex::new(None),
        });
        if let Ok(mut map) = self.running.lock() {
            map.insert(id.to_owned(), Arc::clone(&running));
        }
        Registration {
            queue: self,
            id: id.to_owned(),
            running,
            canceled,
        }
    }
}

impl Workers for WorkQueue {
    fn enqueue(&self, id: String) {
        WorkQueue::enqueue(self, id);
    }

    fn stop<'a>(&'a self, id: &'a str) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
        Box::pin(WorkQueue::stop(self, id))
    }
}
