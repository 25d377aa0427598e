//! What each account does with a key reported leaked (docs/keys.md, "Leaked keys").

use super::{StoreError, Tx};
use crate::domain::Timestamp;

/// The account's action (`revoke`, `disable`, `notify`), if it chose one.
pub fn action(tx: &Tx<'_>, account_id: &str) -> Result<Option<String>, StoreError> {
    tx.query_opt(
        "SELECT action FROM leak_policies WHERE account_id = ?1",
        &[&account_id],
        |r| r.get(0),
    )
}

pub fn set_action(
    tx: &Tx<'_>,
    account_id: &str,
    action: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO leak_policies (account_id, action, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (account_id) DO UPDATE SET action = excluded.action,
             updated_at = excluded.updated_at",
        &[&account_id, &action, &now.0],
    )?;
    Ok(())
}
