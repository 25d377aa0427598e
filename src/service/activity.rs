//! Reading the activity log: the workspace's audit feed and the check of its hash chain. Rows
//! are appended by the use cases that make the changes.

pub use crate::domain::log::ActivityEntry;
pub use crate::domain::log::ChainBreak;

use super::ServiceError;
use crate::store::{Tx, activity};

/// An account's activity, newest first, before the row id `before` when given, limited to one
/// category (`apikey`, `member`, `credits`, `auth`, …) when given.
pub fn list(
    tx: &Tx<'_>,
    account_id: &str,
    category: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<ActivityEntry>, ServiceError> {
    Ok(activity::list_in_category(
        tx, account_id, category, before, limit,
    )?)
}

/// Walks the whole chain in order: the rows checked and the first break.
pub fn verify_chain(tx: &Tx<'_>) -> Result<(i64, Option<ChainBreak>), ServiceError> {
    Ok(activity::verify(tx)?)
}
