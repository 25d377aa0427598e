//! Queries of the scheduled maintenance jobs: key expiry bookkeeping and retention deletes.

use super::StoreError;
use super::Tx;
use super::engine::Param;
use crate::domain::Timestamp;

/// What the expiry jobs need of a key to record an event about it.
#[derive(Clone, Debug)]
pub struct ExpiryCandidate {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub key_prefix: String,
    pub expires_at: Timestamp,
}

fn candidates(
    tx: &Tx<'_>,
    condition: &str,
    args: &[&dyn Param],
    limit: usize,
) -> Result<Vec<ExpiryCandidate>, StoreError> {
    let sql = format!(
        "SELECT id, account_id, name, key_prefix, expires_at FROM api_keys
         WHERE expires_at IS NOT NULL AND revoked_at IS NULL AND {condition}
         ORDER BY expires_at, id LIMIT {limit}"
    );
    tx.query_all(&sql, args, |r| {
        Ok(ExpiryCandidate {
            id: r.get(0)?,
            account_id: r.get(1)?,
            name: r.get(2)?,
            key_prefix: r.get(3)?,
            expires_at: Timestamp(r.get(4)?),
        })
    })
}

/// Up to `limit` keys past their expiry whose expiry has not been recorded yet. A key whose
/// expiry was moved past the time it was recorded (an edit that extended it) counts again when
/// it next expires.
pub fn unrecorded_expiries(
    tx: &Tx<'_>,
    now: Timestamp,
    limit: usize,
) -> Result<Vec<ExpiryCandidate>, StoreError> {
    candidates(
        tx,
        "expires_at <= ?1 AND (expiry_recorded_at IS NULL OR expiry_recorded_at < expires_at)",
        &[&now.0],
        limit,
    )
}

/// Up to `limit` keys that still authenticate and expire after `from` and by `until`, with no
/// notice `kind` sent about their present expiry (the period of an expiry notice is the expiry
/// itself, so a key whose expiry was edited is warned about again).
pub fn unwarned_expiring(
    tx: &Tx<'_>,
    from: Timestamp,
    until: Timestamp,
    kind: &str,
    limit: usize,
) -> Result<Vec<ExpiryCandidate>, StoreError> {
    candidates(
        tx,
        // A rotated key's expiry is its grace period, announced when it was rotated.
        "disabled_at IS NULL AND rotated_at IS NULL AND expires_at > ?1 AND expires_at <= ?2 \
         AND NOT EXISTS (SELECT 1 FROM notices_sent n WHERE n.kind = ?3 \
             AND n.subject = api_keys.id AND n.period = api_keys.expires_at)",
        &[&from.0, &until.0, &kind],
        limit,
    )
}

pub fn set_expiry_recorded(tx: &Tx<'_>, id: &str, now: Timestamp) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE api_keys SET expiry_recorded_at = ?2 WHERE id = ?1",
        &[&id, &now.0],
    )?;
    Ok(())
}

pub fn set_expiry_warned(tx: &Tx<'_>, id: &str, now: Timestamp) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE api_keys SET expiry_warned_at = ?2 WHERE id = ?1",
        &[&id, &now.0],
    )?;
    Ok(())
}

/// Deletes at most `limit` request-log rows created before `cutoff`; returns how many went.
pub fn delete_request_logs_before(
    tx: &Tx<'_>,
    cutoff: Timestamp,
    limit: i64,
) -> Result<u64, StoreError> {
    let n = tx.execute(
        // Rows are appended in time order, so the oldest are the lowest ids: each chunk looks
        // only at the head of the table (no index on created_at to maintain on every insert).
        // The inner query is named: PostgreSQL before 16 requires it.
        "DELETE FROM request_logs WHERE id IN
             (SELECT id FROM (SELECT id, created_at FROM request_logs ORDER BY id LIMIT ?2) head
              WHERE created_at < ?1)",
        &[&cutoff.0, &limit],
    )?;
    Ok(n as u64)
}

/// Deletes the per-day refusal counts of days before `day` (`YYYY-MM-DD`).
pub fn delete_refusals_before(tx: &Tx<'_>, day: &str) -> Result<u64, StoreError> {
    Ok(tx.execute("DELETE FROM refusals_daily WHERE day < ?1", &[&day])? as u64)
}

/// Clears the client address of the rows with ids from `from` up to `through` that arrived
/// before `cutoff`, at most `limit` ids on from `from`; returns how many were cleared. A purge
/// walks the ids from the oldest row to the newest that can have arrived before the cutoff
/// (`logs::last_id_before`), a chunk a transaction, along the primary key: no index is kept for
/// it, so the log's inserts pay nothing for it.
pub fn clear_log_addresses(
    tx: &Tx<'_>,
    from: i64,
    through: i64,
    limit: i64,
    cutoff: Timestamp,
) -> Result<u64, StoreError> {
    let n = tx.execute(
        "UPDATE request_logs SET client_ip = NULL
         WHERE id >= ?1 AND id < ?1 + ?3 AND id <= ?2 AND client_ip IS NOT NULL
           AND created_at < ?4",
        &[&from, &through, &limit, &cutoff.0],
    )?;
    Ok(n as u64)
}

/// The oldest row's id, if there is a row.
pub fn first_log_id(tx: &Tx<'_>) -> Result<Option<i64>, StoreError> {
    tx.query_one("SELECT min(id) FROM request_logs", &[], |r| r.get(0))
}

/// Clears the client address of the per-day refusal counts of `day` (`YYYY-MM-DD`) and before;
/// returns how many were cleared.
pub fn clear_refusal_addresses_through(tx: &Tx<'_>, day: &str) -> Result<u64, StoreError> {
    let n = tx.execute(
        "UPDATE refusals_daily SET client_ip = NULL WHERE day <= ?1 AND client_ip IS NOT NULL",
        &[&day],
    )?;
    Ok(n as u64)
}

/// Deletes at most `limit` idempotency records created before `cutoff`.
pub fn delete_idempotency_keys_before(
    tx: &Tx<'_>,
    cutoff: Timestamp,
    limit: i64,
) -> Result<u64, StoreError> {
    let n = tx.execute(
        "DELETE FROM idempotency_keys WHERE rowid IN
             (SELECT rowid FROM idempotency_keys WHERE created_at < ?1 LIMIT ?2)",
        &[&cutoff.0, &limit],
    )?;
    Ok(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::store::Store;

    fn add_row(tx: &Tx<'_>, created_at: i64, client_ip: Option<&str>) {
        tx.execute(
            "INSERT INTO request_logs (request_id, key_id, account_id, key_prefix, environment,
                 method, endpoint, route, status_code, ip_hash, region, latency_us, created_at,
                 client_ip)
             VALUES ('req_1', 'k', 'a', 'bs_live_x', 'live', 'GET', '/v1/status', '/v1/status',
                 200, 'ab', 'us', 1, ?1, ?2)",
            &[&created_at, &client_ip],
        )
        .unwrap();
    }

    #[test]
    fn clearing_addresses_keeps_the_rows_and_walks_the_ids_given() {
        let (_dir, store) = Store::temporary();
        let mut db = store.db().unwrap();
        let conn = db.read();
        add_row(&conn, 10, None);
        add_row(&conn, 20, Some("198.51.100.7"));
        add_row(&conn, 30, Some("198.51.100.7"));
        add_row(&conn, 40, Some("2001:db8::1"));
        assert_eq!(first_log_id(&conn).unwrap(), Some(1));
        let cutoff = Timestamp(35);
        assert_eq!(clear_log_addresses(&conn, 1, 4, 2, cutoff).unwrap(), 1);
        assert_eq!(clear_log_addresses(&conn, 3, 4, 2, cutoff).unwrap(), 1);
        assert_eq!(clear_log_addresses(&conn, 1, 4, 10, cutoff).unwrap(), 0);
        let kept: Vec<Option<String>> = conn
            .query_all("SELECT client_ip FROM request_logs ORDER BY id", &[], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(kept, [None, None, None, Some("2001:db8::1".to_owned())]);
    }
}
