//! The nodes serving a store and the schedule ticks they claim (see `sql/0009_nodes.sql`).

use super::{StoreError, Tx};

/// Enters the node, or renews its lease, until `lease_until`.
pub fn renew(tx: &Tx<'_>, id: &str, now: i64, lease_until: i64) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO nodes (id, started_at, lease_until) VALUES (?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET lease_until = excluded.lease_until",
        &[&id, &now, &lease_until],
    )?;
    Ok(())
}

/// Takes the node out (a clean stop), along with nodes whose lease ran out long ago.
pub fn remove(tx: &Tx<'_>, id: &str, now: i64) -> Result<(), StoreError> {
    const DAY_MS: i64 = 86_400_000;
    tx.execute(
        "DELETE FROM nodes WHERE id = ?1 OR lease_until < ?2",
        &[&id, &(now - DAY_MS)],
    )?;
    Ok(())
}

/// Claims a run of `job` for the schedule tick `tick`; false when a node already ran the same
/// tick. Firings less than a second apart are one tick (nodes' timers differ by milliseconds).
pub fn claim_tick(tx: &Tx<'_>, job: &str, tick: i64, node: &str) -> Result<bool, StoreError> {
    const DAY_MS: i64 = 86_400_000;
    tx.execute(
        "DELETE FROM job_runs WHERE job = ?1 AND tick < ?2",
        &[&job, &(tick - DAY_MS)],
    )?;
    let taken = tx.execute(
        "INSERT INTO job_runs (job, tick, node)
         SELECT CAST(?1 AS TEXT), CAST(?2 AS BIGINT), CAST(?3 AS TEXT)
         WHERE NOT EXISTS (SELECT 1 FROM job_runs WHERE job = ?1 AND tick > ?2 - 1000
                                                        AND tick < ?2 + 1000)
         ON CONFLICT (job, tick) DO NOTHING",
        &[&job, &tick, &node],
    )?;
    Ok(taken == 1)
}

/// Grants up to `wanted` more requests of `subject`'s window starting at `window_start`,
/// never past `limit` in all; how many it granted (0: the window is used up). Older windows of
/// the subject go.
pub fn grant(
    tx: &Tx<'_>,
    subject: &str,
    window_start: i64,
    wanted: i64,
    limit: i64,
) -> Result<i64, StoreError> {
    tx.execute(
        "DELETE FROM rate_grants WHERE subject = ?1 AND window_start < ?2",
        &[&subject, &window_start],
    )?;
    let granted: i64 = tx
        .query_opt(
            "SELECT granted FROM rate_grants WHERE subject = ?1 AND window_start = ?2",
            &[&subject, &window_start],
            |r| r.get(0),
        )?
        .unwrap_or(0);
    let now_granted = (granted + wanted).min(limit);
    if now_granted <= granted {
        return Ok(0);
    }
    tx.execute(
        "INSERT INTO rate_grants (subject, window_start, granted) VALUES (?1, ?2, ?3)
         ON CONFLICT (subject, window_start) DO UPDATE SET granted = excluded.granted",
        &[&subject, &window_start, &now_granted],
    )?;
    Ok(now_granted - granted)
}
