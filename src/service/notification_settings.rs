//! Who hears of notices by e-mail (docs/notifications.md, "Who is e-mailed"): owners choose
//! which notices the account e-mails and to which members; each member mutes what they do not
//! want for themselves. Webhook endpoints choose their own events on the Webhooks page.

use super::changes::{self, Category, Change, Note};
use super::{Actor, ServiceError};
use crate::domain::Timestamp;
use crate::domain::webhook::WebhookEvent;
use crate::store::Db;
use crate::store::notification_settings::{self as store, Recipient};
use crate::store::webhooks as endpoints;

/// A notice as the notifications page shows it.
#[derive(Clone, Debug)]
pub struct NoticeRow {
    pub event: WebhookEvent,
    /// The account e-mails it.
    pub emailed: bool,
    /// The signed-in member muted it for themselves.
    pub muted: bool,
    /// Endpoints that listen to it (enabled or not).
    pub endpoints: usize,
}

/// The account's notification settings, as one member sees them.
#[derive(Clone, Debug)]
pub struct Settings {
    pub notices: Vec<NoticeRow>,
    pub members: Vec<Recipient>,
}

pub fn get(db: &mut Db, account_id: &str, user_id: &str) -> Result<Settings, ServiceError> {
    let tx = db.snapshot()?;
    let off = store::events_off(&tx, account_id)?;
    let muted = store::mutes(&tx, account_id, user_id)?;
    let mut notices = Vec::new();
    for event in WebhookEvent::NOTICES {
        let name = event.as_str();
        notices.push(NoticeRow {
            event,
            emailed: !off.iter().any(|e| e == name),
            muted: muted.iter().any(|e| e == name),
            endpoints: endpoints::listeners(&tx, account_id, name)?.len(),
        });
    }
    let members = store::members(&tx, account_id)?;
    Ok(Settings { notices, members })
}

/// The notices named in `names`, each known and once; an unknown name is refused naming
/// `field`.
fn notices<'n>(names: &'n [String], field: &'static str) -> Result<Vec<&'n str>, ServiceError> {
    let mut chosen: Vec<&str> = Vec::new();
    for name in names {
        let name = name.trim();
        if WebhookEvent::parse_notice(name).is_none() {
            let known: Vec<&str> = WebhookEvent::NOTICES.iter().map(|e| e.as_str()).collect();
            return Err(ServiceError::invalid(
                field,
                format!(
                    "unknown notice {name:?}; the notices are {}",
                    known.join(", ")
                ),
            ));
        }
        if !chosen.contains(&name) {
            chosen.push(name);
        }
    }
    Ok(chosen)
}

/// Sets which notices the account e-mails: those in `emailed`, and none of the others.
pub fn set_emailed(
    db: &mut Db,
    actor: &Actor,
    account_id: &str,
    emailed: &[String],
    now: Timestamp,
) -> Result<(), ServiceError> {
    let on = notices(emailed, "email")?;
    let off: Vec<&str> = WebhookEvent::NOTICES
        .iter()
        .map(|e| e.as_str())
        .filter(|e| !on.contains(e))
        .collect();
    let tx = db.write()?;
    super::accounts::live(&tx, account_id)?;
    store::set_events_off(&tx, account_id, &off)?;
    let description = if off.is_empty() {
        "E-mails every notice".to_owned()
    } else {
        format!("E-mails every notice but {}", off.join(", "))
    };
    record(&tx, actor, account_id, description, now)?;
    tx.commit()?;
    Ok(())
}

/// Sets which members are e-mailed the account's notices: those in `user_ids`, and none of the
/// others. A user id that is no member is refused.
pub fn set_recipients(
    db: &mut Db,
    actor: &Actor,
    account_id: &str,
    user_ids: &[String],
    now: Timestamp,
) -> Result<(), ServiceError> {
    let tx = db.write()?;
    super::accounts::live(&tx, account_id)?;
    let members = store::members(&tx, account_id)?;
    if let Some(stranger) = user_ids
        .iter()
        .find(|id| !members.iter().any(|m| &m.user_id == *id))
    {
        return Err(ServiceError::invalid(
            "recipients",
            format!("{stranger:?} is no member of this workspace"),
        ));
    }
    let choices: Vec<(&str, bool)> = members
        .iter()
        .map(|m| (m.user_id.as_str(), user_ids.contains(&m.user_id)))
        .collect();
    store::set_recipients(&tx, account_id, &choices)?;
    let chosen: Vec<&str> = members
        .iter()
        .filter(|m| user_ids.contains(&m.user_id))
        .map(|m| m.email.as_str())
        .collect();
    let description = if chosen.is_empty() {
        "E-mails notices to nobody".to_owned()
    } else {
        format!("E-mails notices to {}", chosen.join(", "))
    };
    record(&tx, actor, account_id, description, now)?;
    tx.commit()?;
    Ok(())
}

/// Sets the notices `user_id` wants e-mailed, in this account, to those in `wanted`: the others
/// are muted for them.
pub fn set_wanted(
    db: &mut Db,
    account_id: &str,
    user_id: &str,
    wanted: &[String],
) -> Result<(), ServiceError> {
    let wanted = notices(wanted, "receive")?;
    let muted: Vec<&str> = WebhookEvent::NOTICES
        .iter()
        .map(|e| e.as_str())
        .filter(|e| !wanted.contains(e))
        .collect();
    let tx = db.write()?;
    super::accounts::live(&tx, account_id)?;
    store::set_mutes(&tx, account_id, user_id, &muted)?;
    tx.commit()?;
    Ok(())
}

fn record(
    tx: &crate::store::Tx<'_>,
    actor: &Actor,
    account_id: &str,
    description: String,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let note = Note {
        account_id: Some(account_id),
        category: Category::Account,
        action: "notifications_changed",
        target: Some(account_id),
        description,
    };
    changes::record(tx, actor, Change::Note(note), now)?;
    Ok(())
}
