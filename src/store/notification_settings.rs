//! Who hears of notices by e-mail (docs/notifications.md, "Who is e-mailed"): an account's
//! choice per notice and per member, and each member's own mutes. Only what differs from the
//! default (every notice e-mailed to the owners) is stored.

use super::{StoreError, Tx};

/// A member as the notifications page lists them.
#[derive(Clone, Debug)]
pub struct Recipient {
    pub user_id: String,
    pub email: String,
    pub role: String,
    /// Whether the account's notices are e-mailed to them.
    pub emailed: bool,
}

/// The addresses the notice `event` of the account is e-mailed to: the members chosen (the
/// owners unless chosen otherwise) who have not muted it, none when the account does not
/// e-mail it. The primary owner first.
pub fn recipients(tx: &Tx<'_>, account_id: &str, event: &str) -> Result<Vec<String>, StoreError> {
    tx.query_all(
        "SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id
         LEFT JOIN notification_recipients r
             ON r.account_id = m.account_id AND r.user_id = m.user_id
         WHERE m.account_id = ?1
           AND COALESCE(r.email, CASE WHEN m.role = 'member' THEN 0 ELSE 1 END) = 1
           AND NOT EXISTS (SELECT 1 FROM notification_events e
               WHERE e.account_id = ?1 AND e.event = ?2 AND e.email = 0)
           AND NOT EXISTS (SELECT 1 FROM notification_mutes x
               WHERE x.account_id = ?1 AND x.user_id = m.user_id AND x.event = ?2)
         ORDER BY CASE m.role WHEN 'primary-owner' THEN 0 WHEN 'owner' THEN 1 ELSE 2 END,
                  u.email",
        &[&account_id, &event],
        |r| r.get(0),
    )
}

/// The notices the account does not e-mail.
pub fn events_off(tx: &Tx<'_>, account_id: &str) -> Result<Vec<String>, StoreError> {
    tx.query_all(
        "SELECT event FROM notification_events WHERE account_id = ?1 AND email = 0
         ORDER BY event",
        &[&account_id],
        |r| r.get(0),
    )
}

/// Replaces the account's choice of notices not e-mailed.
pub fn set_events_off(tx: &Tx<'_>, account_id: &str, off: &[&str]) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM notification_events WHERE account_id = ?1",
        &[&account_id],
    )?;
    for event in off {
        tx.execute(
            "INSERT INTO notification_events (account_id, event, email) VALUES (?1, ?2, 0)",
            &[&account_id, event],
        )?;
    }
    Ok(())
}

/// The account's members, each with whether its notices are e-mailed to them; owners first.
pub fn members(tx: &Tx<'_>, account_id: &str) -> Result<Vec<Recipient>, StoreError> {
    tx.query_all(
        "SELECT m.user_id, u.email, m.role,
                COALESCE(r.email, CASE WHEN m.role = 'member' THEN 0 ELSE 1 END)
         FROM memberships m JOIN users u ON u.id = m.user_id
         LEFT JOIN notification_recipients r
             ON r.account_id = m.account_id AND r.user_id = m.user_id
         WHERE m.account_id = ?1
         ORDER BY CASE m.role WHEN 'primary-owner' THEN 0 WHEN 'owner' THEN 1 ELSE 2 END,
                  u.email",
        &[&account_id],
        |r| {
            Ok(Recipient {
                user_id: r.get(0)?,
                email: r.get(1)?,
                role: r.get(2)?,
                emailed: r.get::<i64>(3)? != 0,
            })
        },
    )
}

/// Records, for each member listed, whether the account's notices are e-mailed to them.
pub fn set_recipients(
    tx: &Tx<'_>,
    account_id: &str,
    choices: &[(&str, bool)],
) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM notification_recipients WHERE account_id = ?1",
        &[&account_id],
    )?;
    for (user_id, emailed) in choices {
        tx.execute(
            "INSERT INTO notification_recipients (account_id, user_id, email)
             VALUES (?1, ?2, ?3)",
            &[&account_id, user_id, &i64::from(*emailed)],
        )?;
    }
    Ok(())
}

/// The notices the member has muted for themselves.
pub fn mutes(tx: &Tx<'_>, account_id: &str, user_id: &str) -> Result<Vec<String>, StoreError> {
    tx.query_all(
        "SELECT event FROM notification_mutes WHERE account_id = ?1 AND user_id = ?2
         ORDER BY event",
        &[&account_id, &user_id],
        |r| r.get(0),
    )
}

/// Replaces the member's mutes.
pub fn set_mutes(
    tx: &Tx<'_>,
    account_id: &str,
    user_id: &str,
    muted: &[&str],
) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM notification_mutes WHERE account_id = ?1 AND user_id = ?2",
        &[&account_id, &user_id],
    )?;
    for event in muted {
        tx.execute(
            "INSERT INTO notification_mutes (account_id, user_id, event) VALUES (?1, ?2, ?3)",
            &[&account_id, &user_id, event],
        )?;
    }
    Ok(())
}
