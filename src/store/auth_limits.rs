//! Failed authentications counted for every node of a PostgreSQL store (see
//! `sql/0014_auth_limits.sql`): one row per kind and subject, read and written inside the
//! caller's write transaction, so nodes that fail at once count one after the other.

use super::{StoreError, Tx};

/// The channel on which PostgreSQL nodes hear of a new pre-auth block: the payload is
/// `schema:address:blocked_until`, the address in clear (a notification is not kept; the row
/// keeps only its hash).
pub const BLOCKED: &str = "tidegate_auth_blocked";

/// One subject's failures as the row keeps them (milliseconds since the epoch).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Failures {
    pub window_start: i64,
    pub failures: i64,
    pub last_failure: i64,
    pub blocked_until: i64,
}

/// The row of `kind` and `subject`, if it has not expired at `now`.
pub fn get(
    tx: &Tx<'_>,
    kind: &str,
    subject: &str,
    now: i64,
) -> Result<Option<Failures>, StoreError> {
    tx.query_opt(
        "SELECT window_start, failures, last_failure, blocked_until FROM auth_failures
         WHERE kind = ?1 AND subject = ?2 AND expires_at >= ?3",
        &[&kind, &subject, &now],
        |r| {
            Ok(Failures {
                window_start: r.get(0)?,
                failures: r.get(1)?,
                last_failure: r.get(2)?,
                blocked_until: r.get(3)?,
            })
        },
    )
}

/// Writes the row of `kind` and `subject`, kept until `expires_at`; rows of any subject that
/// expired before `now` go.
pub fn put(
    tx: &Tx<'_>,
    kind: &str,
    subject: &str,
    f: &Failures,
    expires_at: i64,
    now: i64,
) -> Result<(), StoreError> {
    tx.execute("DELETE FROM auth_failures WHERE expires_at < ?1", &[&now])?;
    tx.execute(
        "INSERT INTO auth_failures
             (kind, subject, window_start, failures, last_failure, blocked_until, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (kind, subject) DO UPDATE SET
             window_start = excluded.window_start, failures = excluded.failures,
             last_failure = excluded.last_failure, blocked_until = excluded.blocked_until,
             expires_at = excluded.expires_at",
        &[
            &kind,
            &subject,
            &f.window_start,
            &f.failures,
            &f.last_failure,
            &f.blocked_until,
            &expires_at,
        ],
    )?;
    Ok(())
}

/// Forgets the row of `kind` and `subject` (a sign-in that succeeded).
pub fn clear(tx: &Tx<'_>, kind: &str, subject: &str) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM auth_failures WHERE kind = ?1 AND subject = ?2",
        &[&kind, &subject],
    )?;
    Ok(())
}

/// On PostgreSQL, tells every node at commit that `address` is blocked until `until`.
pub fn announce_block(tx: &Tx<'_>, address: &str, until: i64) -> Result<(), StoreError> {
    if tx.engine() == super::Engine::Postgres {
        let payload = format!("{address}:{until}");
        let notify = format!("SELECT pg_notify('{BLOCKED}', current_schema() || ':' || ?1)");
        tx.query_one(&notify, &[&payload], |_| Ok(()))?;
    }
    Ok(())
}
