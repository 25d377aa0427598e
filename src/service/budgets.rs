//! A key's credit budget (docs/keys.md, "Per-key budgets"): set at creation or later, carried
//! by rotation, checked when a generation reserves its cost (`generations::accept`).

/// A budget from its two fields as typed: both or neither (`Budget::parse`), refused naming the
/// field at fault.
pub fn parse(credits: Option<&str>, period: Option<&str>) -> Result<Option<Budget>, ServiceError> {
    Budget::parse(credits, period).map_err(|(field, message)| ServiceError::invalid(field, message))
}

use super::changes::{self, Change, KeyChange, KeyRef};
use super::keys::{Scope, get_key_in};
use super::{Actor, ServiceError};
use crate::domain::key::ApiKey;
use crate::domain::key::budget::Budget;
use crate::domain::{KeyStatus, Timestamp};
use crate::store::{Db, keys};

/// The key's budget, if it has one.
pub fn get(db: &mut Db, key_id: &str) -> Result<Option<Budget>, ServiceError> {
    Ok(keys::budget(&db.read(), key_id)?)
}

/// Sets (or with `None` removes) the key's budget; a revoked key is refused. Recorded as an
/// edit of the key.
pub fn set(
    db: &mut Db,
    actor: &Actor,
    now: Timestamp,
    scope: Scope<'_>,
    budget: Option<Budget>,
) -> Result<ApiKey, ServiceError> {
    let tx = db.write()?;
    let key = get_key_in(&tx, scope.0, scope.1)?;
    if key.status(now) == KeyStatus::Revoked {
        return Err(ServiceError::InvalidState("the key is revoked".into()));
    }
    keys::set_budget(&tx, &key.id, budget)?;
    let change = KeyChange::Edited {
        fields: vec!["budget"],
    };
    changes::record(&tx, actor, Change::Key(KeyRef::of(&key), change), now)?;
    tx.commit()?;
    Ok(key)
}
