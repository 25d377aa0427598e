//! How a connection waits for a lock that another connection (or process) holds.
//!
//! SQLite's busy handler is told only how many times it has been called, so the waits here are
//! measured by the clock: counting tries and multiplying by the sleep overshot the configured
//! timeout by 60-70%, because every sleep lasts longer than asked. A wait ends at
//! `storage.busy_timeout_ms` after it began or at the deadline of the request it serves,
//! whichever comes first, so a request waits at most the timeout however many statements it
//! runs (or however many failing groups of the log writer it queues behind).
//!
//! The handler is a plain function, so what it needs to know is kept per thread: `Store::run`
//! sets its store's timeout and its request's deadline around the work it runs, and a store's
//! own threads (the log writer, the key reader, the checkpointer) set their store's timeout once.

use std::cell::Cell;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The busy timeout of the store opened last, for connections used outside `Store::run` and the
/// store's own threads (start-up, commands): those set the timeout of their own store.
static TIMEOUT_US: AtomicU64 = AtomicU64::new(5_000_000);

/// The writer and the checkpointer retry this often: the lock they wait for is usually held for
/// well under a millisecond. SQLite's own backoff sleeps up to 100 ms between tries.
const EAGER_STEP: Duration = Duration::from_micros(100);
/// Other connections back off from 100 µs to this.
const PATIENT_STEP: Duration = Duration::from_millis(5);
/// How often the checkpointer retries (see `wait_briefly`).
const BRIEF_TRIES: i32 = 100;

thread_local! {
    /// When the current wait began (set by the handler's first call for a statement).
    static WAIT_BEGAN: Cell<Option<Instant>> = const { Cell::new(None) };
    /// The limits of the store work this thread is doing now.
    static LIMITS: Cell<Limits> = const { Cell::new(Limits { timeout: None, deadline: None }) };
}

/// How long the store work a thread is doing may wait for a lock: the busy timeout of its store,
/// and the deadline of the request it works for, if any.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub timeout: Option<Duration>,
    pub deadline: Option<Instant>,
}

tokio::task_local! {
    /// When the request being served arrived (see `request_scope`).
    static ARRIVED: Instant;
}

pub(super) fn set_default_timeout(timeout: Duration) {
    let us = u64::try_from(timeout.as_micros()).unwrap_or(u64::MAX);
    TIMEOUT_US.store(us, Ordering::Relaxed);
}

fn timeout() -> Duration {
    LIMITS
        .get()
        .timeout
        .unwrap_or_else(|| Duration::from_micros(TIMEOUT_US.load(Ordering::Relaxed)))
}

/// Gives the current thread (one of a store's own) that store's busy timeout for good.
pub(super) fn set_thread_timeout(timeout: Duration) {
    LIMITS.set(Limits {
        timeout: Some(timeout),
        deadline: None,
    });
}

/// Runs a request's future with its arrival time known to the store work it awaits.
pub async fn request_scope<F: Future>(arrived: Instant, future: F) -> F::Output {
    ARRIVED.scope(arrived, future).await
}

/// When the request whose future is running arrived, if it is one.
pub(super) fn request_arrival() -> Option<Instant> {
    ARRIVED.try_with(|arrived| *arrived).ok()
}

/// The latest moment work for a request that arrived at `arrived` may wait, with `timeout`.
pub(super) fn deadline(arrived: Instant, timeout: Duration) -> Instant {
    // The configuration caps the timeout at an hour, so this cannot overflow.
    arrived.checked_add(timeout).unwrap_or(arrived)
}

/// The deadline of a request that arrived at `arrived`, by the current thread's timeout.
pub(super) fn deadline_for(arrived: Instant) -> Instant {
    deadline(arrived, timeout())
}

/// Runs `f` with these limits on its lock waits.
pub(super) fn with_limits<T>(limits: Limits, f: impl FnOnce() -> T) -> T {
    let outer = LIMITS.replace(limits);
    let result = f();
    LIMITS.set(outer);
    result
}

/// Runs `f` with its lock waits also bounded by `deadline`.
pub(super) fn with_deadline<T>(deadline: Option<Instant>, f: impl FnOnce() -> T) -> T {
    let limits = Limits {
        deadline,
        ..LIMITS.get()
    };
    with_limits(limits, f)
}

/// The busy handler of the request-log writer: retries every 100 µs.
pub(super) fn wait_eagerly(tries: i32) -> bool {
    wait(tries, timeout(), |_| EAGER_STEP)
}

/// The busy handler of every other connection: retries after 100 µs, then less and less often.
pub(super) fn wait_patiently(tries: i32) -> bool {
    wait(tries, timeout(), |tries| {
        EAGER_STEP
            .saturating_mul(1 << tries.clamp(0, 6))
            .min(PATIENT_STEP)
    })
}

/// The busy handler of the checkpointer: 100 tries, 100 µs apart. That is about 10 ms on an idle
/// machine and longer on a busy one, where the writer's transactions that a RESTART waits for
/// take longer too (a limit by the clock gave up on them under load, and the WAL grew).
pub(super) fn wait_briefly(tries: i32) -> bool {
    if tries >= BRIEF_TRIES {
        return false;
    }
    std::thread::sleep(EAGER_STEP);
    true
}

fn wait(tries: i32, limit: Duration, step: impl Fn(i32) -> Duration) -> bool {
    let now = Instant::now();
    if tries == 0 {
        WAIT_BEGAN.set(Some(now));
    }
    let began = WAIT_BEGAN.get().unwrap_or(now);
    let end = match (began.checked_add(limit), LIMITS.get().deadline) {
        (Some(end), Some(deadline)) => Some(end.min(deadline)),
        (end, deadline) => end.or(deadline),
    };
    let left = end.map_or(Duration::MAX, |end| end.saturating_duration_since(now));
    if left.is_zero() {
        return false;
    }
    std::thread::sleep(step(tries).min(left));
    true
}

/// How long, in milliseconds, a PostgreSQL transaction begun now may wait for a lock: the
/// same limits as SQLite's busy handler, set once as the transaction's `lock_timeout`.
pub(super) fn lock_timeout_ms() -> u64 {
    let limits = LIMITS.get();
    let mut left = timeout();
    if let Some(deadline) = limits.deadline {
        left = left.min(deadline.saturating_duration_since(Instant::now()));
    }
    u64::try_from(left.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How long a handler with this limit and step lets one statement wait.
    fn waited(limit: Duration, step: fn(i32) -> Duration) -> Duration {
        let began = Instant::now();
        let mut tries = 0;
        while wait(tries, limit, step) {
            tries += 1;
        }
        began.elapsed()
    }

    #[test]
    fn a_wait_ends_at_the_limit_by_the_clock() {
        let limit = Duration::from_millis(200);
        for step in [|_| EAGER_STEP, |_| PATIENT_STEP] {
            let waited = waited(limit, step);
            assert!(
                waited >= limit && waited < Duration::from_millis(240),
                "{waited:?}"
            );
        }
    }

    #[test]
    fn a_request_deadline_shortens_the_wait() {
        let deadline = Instant::now() + Duration::from_millis(50);
        let waited = with_deadline(Some(deadline), || {
            waited(Duration::from_millis(200), |_| EAGER_STEP)
        });
        assert!(waited < Duration::from_millis(90), "{waited:?}");
        let past = with_deadline(Some(Instant::now()), || {
            wait(0, Duration::from_secs(1), |_| EAGER_STEP)
        });
        assert!(!past, "a deadline already passed allows no wait");
    }
}
