//! The e-mail outbox (docs/notifications.md, "E-mail"): messages written with their notice and
//! taken by the mailer of any node under a lease.

use super::{Db, StoreError, Tx};
use crate::domain::Timestamp;

/// A message to write.
#[derive(Clone, Debug)]
pub struct NewEmail<'a> {
    pub account_id: Option<&'a str>,
    /// Addresses, comma-separated.
    pub recipients: &'a str,
    pub subject: &'a str,
    pub text_body: &'a str,
    pub html_body: &'a str,
}

/// A message taken to be sent.
#[derive(Clone, Debug)]
pub struct Email {
    pub id: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub attempts: i64,
}

pub fn enqueue(tx: &Tx<'_>, email: &NewEmail<'_>, now: Timestamp) -> Result<String, StoreError> {
    let id = uuid::Uuid::new_v4().to_string();
    tx.execute(
        "INSERT INTO email_outbox (id, account_id, recipients, subject, text_body, html_body,
             next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        &[
            &id,
            &email.account_id,
            &email.recipients,
            &email.subject,
            &email.text_body,
            &email.html_body,
            &now.0,
        ],
    )?;
    Ok(id)
}

/// Takes up to `limit` pending messages that are due and not leased, and leases them until
/// `now + lease_ms`, so no other mailer takes them meanwhile.
pub fn claim_due(
    db: &mut Db,
    now: Timestamp,
    limit: i64,
    lease_ms: i64,
) -> Result<Vec<Email>, StoreError> {
    let tx = db.write()?;
    let due = tx.query_all(
        "SELECT id, recipients, subject, text_body, html_body, attempts FROM email_outbox
         WHERE status = 'pending' AND next_attempt_at <= ?1
           AND (lease_until IS NULL OR lease_until <= ?1)
         ORDER BY next_attempt_at, id LIMIT ?2",
        &[&now.0, &limit],
        |r| {
            let recipients: String = r.get(1)?;
            Ok(Email {
                id: r.get(0)?,
                recipients: recipients.split(',').map(str::to_owned).collect(),
                subject: r.get(2)?,
                text_body: r.get(3)?,
                html_body: r.get(4)?,
                attempts: r.get(5)?,
            })
        },
    )?;
    for email in &due {
        tx.execute(
            "UPDATE email_outbox SET lease_until = ?2 WHERE id = ?1",
            &[&email.id, &(now.0 + lease_ms)],
        )?;
    }
    tx.commit()?;
    Ok(due)
}

/// Records that the message was accepted by the server.
pub fn mark_sent(tx: &Tx<'_>, id: &str, now: Timestamp) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE email_outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?2,
             lease_until = NULL, last_error = NULL WHERE id = ?1",
        &[&id, &now.0],
    )?;
    Ok(())
}

/// Records a failed attempt: tried again at `retry_at`, or failed for good when `None`.
pub fn mark_failed(
    tx: &Tx<'_>,
    id: &str,
    error: &str,
    retry_at: Option<Timestamp>,
) -> Result<(), StoreError> {
    let status = if retry_at.is_some() {
        "pending"
    } else {
        "failed"
    };
    tx.execute(
        "UPDATE email_outbox SET status = ?2, attempts = attempts + 1, last_error = ?3,
             next_attempt_at = COALESCE(?4, next_attempt_at), lease_until = NULL WHERE id = ?1",
        &[&id, &status, &error, &retry_at.map(|t| t.0)],
    )?;
    Ok(())
}

/// Frees the leases a stopped mailer held, so what it was sending is sent again.
pub fn release_leases(tx: &Tx<'_>) -> Result<usize, StoreError> {
    tx.execute(
        "UPDATE email_outbox SET lease_until = NULL WHERE status = 'pending' AND lease_until IS NOT NULL",
        &[],
    )
}

/// Deletes at most `limit` messages sent or failed before `cutoff`.
pub fn purge(tx: &Tx<'_>, cutoff: Timestamp, limit: i64) -> Result<u64, StoreError> {
    let n = tx.execute(
        "DELETE FROM email_outbox WHERE id IN (SELECT id FROM email_outbox
             WHERE status <> 'pending' AND created_at < ?1 LIMIT ?2)",
        &[&cutoff.0, &limit],
    )?;
    Ok(n as u64)
}

/// How the account's e-mail is going, for the settings page.
#[derive(Clone, Debug, Default)]
pub struct Status {
    /// Messages not sent yet.
    pub waiting: i64,
    /// When the last message was sent.
    pub last_sent_at: Option<Timestamp>,
    /// The last failed attempt of a message not sent: the server's answer, the attempts so far
    /// and when it is tried again (`None`: given up).
    pub last_failure: Option<(String, i64, Option<Timestamp>)>,
}

pub fn status(tx: &Tx<'_>, account_id: &str) -> Result<Status, StoreError> {
    let waiting = tx.query_one(
        "SELECT COUNT(*) FROM email_outbox WHERE account_id = ?1 AND status = 'pending'",
        &[&account_id],
        |r| r.get(0),
    )?;
    let last_sent_at = tx
        .query_one(
            "SELECT MAX(sent_at) FROM email_outbox WHERE account_id = ?1 AND status = 'sent'",
            &[&account_id],
            |r| r.get::<Option<i64>>(0),
        )?
        .map(Timestamp);
    let last_failure = tx.query_opt(
        "SELECT last_error, attempts, status, next_attempt_at FROM email_outbox
         WHERE account_id = ?1 AND status <> 'sent' AND last_error IS NOT NULL
         ORDER BY created_at DESC, id DESC LIMIT 1",
        &[&account_id],
        |r| {
            let retried = r.get::<String>(2)? == "pending";
            Ok((
                r.get(0)?,
                r.get(1)?,
                retried
                    .then(|| r.get::<i64>(3).map(Timestamp))
                    .transpose()?,
            ))
        },
    )?;
    Ok(Status {
        waiting,
        last_sent_at,
        last_failure,
    })
}
