//! Leaked keys (docs/keys.md, "Leaked keys"): a key found where it should not be (reported by a
//! secret scanner, or found by `tidegate keys scan`) is looked up by its digest and, as its
//! account chose or as the caller asks, revoked, disabled or only announced: an activity entry
//! naming where it was found and the `apikey.leaked` notice. The key itself is never stored,
//! logged or shown.

use super::changes::{self, Change, KeyChange, KeyRef};
use super::notify::{self, Notice};
use super::{Actor, ServiceError};
use crate::domain::Timestamp;
pub use crate::domain::key::leak::LeakAction;
use crate::domain::key::{ApiKey, KeyFormat, KeyStatus, Switch};
use crate::store::{Db, keys, leaks};

/// Who decides what is done with a key found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Response {
    /// The key's account (`revoke` unless it chose otherwise).
    AccountPolicy,
    /// Revoke it, whatever the account chose.
    Revoke,
    /// Only look it up: nothing changes.
    LookOnly,
}

/// What a token turned out to be.
#[derive(Clone, Debug)]
pub enum Verdict {
    /// Not shaped like a key of this install, or its checksum fails.
    NotAKey,
    /// Well formed, but no key of this store.
    Unknown,
    /// A key of this store, its status when it was found, and what was done.
    Known {
        key: Box<ApiKey>,
        status: KeyStatus,
        taken: Option<LeakAction>,
    },
}

/// Looks up `token` found at `source` and responds as `response` says, in one transaction.
/// A revoked key is left as it is, with no notice: it can no longer be used.
pub fn respond(
    db: &mut Db,
    format: &KeyFormat,
    token: &str,
    source: &str,
    response: Response,
    actor: &Actor,
    now: Timestamp,
) -> Result<Verdict, ServiceError> {
    let Some(parsed) = format.parse(token) else {
        return Ok(Verdict::NotAKey);
    };
    let tx = db.write()?;
    let Some(key) = keys::get_by_hash(&tx, &parsed.digest.to_hex())? else {
        return Ok(Verdict::Unknown);
    };
    let status = key.status(now);
    let action = match response {
        Response::LookOnly => None,
        Response::Revoke => Some(LeakAction::Revoke),
        Response::AccountPolicy => Some(account_action(&tx, &key.account_id)?),
    };
    let Some(action) = action.filter(|_| status != KeyStatus::Revoked) else {
        return Ok(Verdict::Known {
            key: Box::new(key),
            status,
            taken: None,
        });
    };
    let switched = match action {
        LeakAction::Revoke => Some((Switch::Revoke, KeyChange::Revoked)),
        LeakAction::Disable if status != KeyStatus::Disabled => {
            Some((Switch::Disable, KeyChange::Disabled))
        }
        _ => None,
    };
    if let Some((switch, change)) = switched {
        keys::set_switch(&tx, &key.id, switch, now)?;
        changes::record(&tx, actor, Change::Key(KeyRef::of(&key), change), now)?;
    }
    let notice = Notice::KeyLeaked {
        key: KeyRef::of(&key),
        source,
        action,
        at: now,
    };
    notify::send(&tx, &notice, now)?;
    tx.commit()?;
    Ok(Verdict::Known {
        key: Box::new(key),
        status,
        taken: Some(action),
    })
}

/// The account's leak action: `revoke` unless it chose otherwise.
pub fn account_action(
    tx: &crate::store::Tx<'_>,
    account_id: &str,
) -> Result<LeakAction, ServiceError> {
    Ok(leaks::action(tx, account_id)?
        .as_deref()
        .and_then(LeakAction::parse)
        .unwrap_or(LeakAction::Revoke))
}

/// Sets the account's leak action (owners, on the settings page).
pub fn set_account_action(
    db: &mut Db,
    actor: &Actor,
    account_id: &str,
    action: &str,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let action = LeakAction::parse(action.trim()).ok_or_else(|| {
        ServiceError::invalid(
            "leak_action",
            format!("{action:?} is not an action; choose revoke, disable or notify"),
        )
    })?;
    let tx = db.write()?;
    super::accounts::live(&tx, account_id)?;
    leaks::set_action(&tx, account_id, action.as_str(), now)?;
    let note = changes::Note {
        account_id: Some(account_id),
        category: changes::Category::Account,
        action: "leak_action_changed",
        target: Some(account_id),
        description: format!("Keys reported leaked are now {}", action.done()),
    };
    changes::record(&tx, actor, Change::Note(note), now)?;
    tx.commit()?;
    Ok(())
}
