//! The syslog stream's place in the activity log: the id of the last entry sent, and the lease
//! that lets one node at a time send (docs/decisions.md, "Audit export").

use super::StoreError;
use super::Tx;
use crate::domain::Timestamp;

/// Makes the stream's row when it has none, starting after the newest entry: what is streamed
/// is what is written from the first start with a receiver on.
pub fn ensure(tx: &Tx<'_>) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO audit_stream (id, last_sent_id)
         VALUES (1, (SELECT COALESCE(MAX(id), 0) FROM activity))
         ON CONFLICT (id) DO NOTHING",
        &[],
    )?;
    Ok(())
}

/// Takes or renews the lease for `holder` until `until`, unless another holder's lease runs
/// past `now`; the id of the last entry sent when the lease is held.
pub fn lease(
    tx: &Tx<'_>,
    holder: &str,
    now: Timestamp,
    until: Timestamp,
) -> Result<Option<i64>, StoreError> {
    let taken = tx.execute(
        "UPDATE audit_stream SET holder = ?1, lease_until = ?2
         WHERE id = 1 AND (holder IS NULL OR holder = ?1 OR lease_until IS NULL OR lease_until <= ?3)",
        &[&holder, &until.0, &now.0],
    )?;
    if taken == 0 {
        return Ok(None);
    }
    tx.query_opt(
        "SELECT last_sent_id FROM audit_stream WHERE id = 1",
        &[],
        |r| r.get(0),
    )
}

/// The id of the last entry sent.
pub fn cursor(tx: &Tx<'_>) -> Result<Option<i64>, StoreError> {
    tx.query_opt(
        "SELECT last_sent_id FROM audit_stream WHERE id = 1",
        &[],
        |r| r.get(0),
    )
}

/// Records that the entries up to `id` were sent, if `holder` still holds the lease.
pub fn sent(tx: &Tx<'_>, holder: &str, id: i64) -> Result<bool, StoreError> {
    Ok(tx.execute(
        "UPDATE audit_stream SET last_sent_id = ?2 WHERE id = 1 AND holder = ?1 AND last_sent_id < ?2",
        &[&holder, &id],
    )? == 1)
}

/// Gives the lease up, so another node takes over at once.
pub fn release(tx: &Tx<'_>, holder: &str) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE audit_stream SET holder = NULL, lease_until = NULL WHERE id = 1 AND holder = ?1",
        &[&holder],
    )?;
    Ok(())
}
