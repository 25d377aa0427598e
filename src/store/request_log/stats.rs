//! What the request-log writer and the checkpointer count, for `/metrics`.

use std::sync::atomic::AtomicU64;

use crate::telemetry::Histogram;

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
