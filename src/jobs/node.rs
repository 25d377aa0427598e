//! This node's lease among the nodes serving one PostgreSQL store. Every `HEARTBEAT` it renews
//! its lease and takes over what nodes whose lease ran out left in flight: their running
//! generations are failed and refunded, their queued ones join this node's queue. A clean stop
//! gives the lease up, so the others take over at once. SQLite has one node and no lease.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::domain::Clock;
use crate::jobs::generation::WorkQueue;
use crate::service::generations::runs;
use crate::service::{ServiceError, Store};

/// How often a node renews its lease.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// How long a lease lasts unrenewed: a node that misses this many heartbeats is gone.
pub const LEASE: Duration = Duration::from_secs(10);

pub struct NodeLease {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    store: Store,
    clock: Clock,
}

impl NodeLease {
    /// Enters this node (PostgreSQL only) before its workers start, so no other node takes
    /// its generations over; then renews the lease on the current runtime.
    pub async fn start(
        store: Store,
        clock: Clock,
        queue: Arc<WorkQueue>,
    ) -> Result<NodeLease, ServiceError> {
        let (stop, mut stopped) = watch::channel(false);
        let mut lease = NodeLease {
            stop,
            task: None,
            store: store.clone(),
            clock: clock.clone(),
        };
        if store.engine() != crate::store::Engine::Postgres {
            return Ok(lease);
        }
        renew(&store, &clock).await?;
        lease.task = Some(tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(HEARTBEAT) => {}
                    _ = stopped.changed() => return,
                }
                if let Err(e) = beat(&store, &clock, &queue).await {
                    tracing::warn!(error = %crate::service::cause_chain(&e), "node heartbeat failed");
                }
            }
        }));
        Ok(lease)
    }

    /// Gives the lease up: the other nodes take over what this one leaves queued.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        let Some(task) = self.task.take() else {
            return;
        };
        let _ = task.await;
        let (node, now) = (self.store.node().to_owned(), self.clock.now().millis());
        let left = self
            .store
            .run(move |db| -> Result<(), ServiceError> {
                let tx = db.write()?;
                crate::store::nodes::remove(&tx, &node, now)?;
                Ok(tx.commit()?)
            })
            .await;
        if let Err(e) = left {
            tracing::warn!(error = %crate::service::cause_chain(&e), "giving the node lease up failed");
        }
    }
}

async fn renew(store: &Store, clock: &Clock) -> Result<(), ServiceError> {
    let node = store.node().to_owned();
    let now = clock.now().millis();
    let until = now.saturating_add(i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX));
    store
        .run(move |db| -> Result<(), ServiceError> {
            let tx = db.write()?;
            crate::store::nodes::renew(&tx, &node, now, until)?;
            Ok(tx.commit()?)
        })
        .await
}

async fn beat(store: &Store, clock: &Clock, queue: &WorkQueue) -> Result<(), ServiceError> {
    renew(store, clock).await?;
    let (adopted, failed) = runs::take_over(store, clock.now()).await?;
    if !adopted.is_empty() || failed > 0 {
        tracing::warn!(
            adopted = adopted.len(),
            failed,
            "took over generations a stopped node left"
        );
    }
    for id in adopted {
        queue.enqueue(id);
    }
    Ok(())
}
