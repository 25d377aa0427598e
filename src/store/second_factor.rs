//! A user's second factor (docs/admin.md, "Second factor"): the sealed TOTP secret, the step of
//! the last code accepted, and the recovery codes as SHA-256 digests.

use super::{StoreError, Tx};
use crate::domain::Timestamp;

/// The factor's columns of one user.
pub struct FactorRow {
    pub secret: Option<Vec<u8>>,
    pub pending: Option<Vec<u8>>,
    pub enabled_at: Option<i64>,
}

pub fn factor(tx: &Tx<'_>, user_id: &str) -> Result<Option<FactorRow>, StoreError> {
    tx.query_opt(
        "SELECT totp_secret, totp_pending, totp_enabled_at FROM users WHERE id = ?1",
        &[&user_id],
        |r| {
            Ok(FactorRow {
                secret: r.get(0)?,
                pending: r.get(1)?,
                enabled_at: r.get(2)?,
            })
        },
    )
}

/// Keeps a new secret until its first code confirms it.
pub fn set_pending(tx: &Tx<'_>, user_id: &str, sealed: &[u8]) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE users SET totp_pending = ?2 WHERE id = ?1",
        &[&user_id, &sealed.to_vec()],
    )?;
    Ok(())
}

/// Turns the factor on with the secret its first code confirmed, that code's step spent.
pub fn enable(
    tx: &Tx<'_>,
    user_id: &str,
    sealed: &[u8],
    step: i64,
    now: Timestamp,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE users SET totp_secret = ?2, totp_pending = NULL, totp_enabled_at = ?3,
                          totp_last_step = ?4
         WHERE id = ?1",
        &[&user_id, &sealed.to_vec(), &now.0, &step],
    )?;
    Ok(())
}

/// Spends a code's step: `false` when that step or a later one was already accepted, so each
/// code opens at most once, on every node.
pub fn spend_step(tx: &Tx<'_>, user_id: &str, step: i64) -> Result<bool, StoreError> {
    Ok(tx.execute(
        "UPDATE users SET totp_last_step = ?2 WHERE id = ?1 AND totp_last_step < ?2",
        &[&user_id, &step],
    )? == 1)
}

/// Turns the factor off and forgets its recovery codes.
pub fn disable(tx: &Tx<'_>, user_id: &str) -> Result<bool, StoreError> {
    tx.execute("DELETE FROM recovery_codes WHERE user_id = ?1", &[&user_id])?;
    Ok(tx.execute(
        "UPDATE users SET totp_secret = NULL, totp_pending = NULL, totp_enabled_at = NULL,
                          totp_last_step = 0
         WHERE id = ?1 AND (totp_secret IS NOT NULL OR totp_pending IS NOT NULL)",
        &[&user_id],
    )? == 1)
}

/// Replaces the user's recovery codes with these digests.
pub fn replace_recovery_codes(
    tx: &Tx<'_>,
    user_id: &str,
    hashes: &[String],
) -> Result<(), StoreError> {
    tx.execute("DELETE FROM recovery_codes WHERE user_id = ?1", &[&user_id])?;
    for hash in hashes {
        tx.execute(
            "INSERT INTO recovery_codes (user_id, code_hash) VALUES (?1, ?2)",
            &[&user_id, hash],
        )?;
    }
    Ok(())
}

/// Spends a recovery code: `false` when it is unknown or already used.
pub fn spend_recovery_code(
    tx: &Tx<'_>,
    user_id: &str,
    hash: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    Ok(tx.execute(
        "UPDATE recovery_codes SET used_at = ?3
         WHERE user_id = ?1 AND code_hash = ?2 AND used_at IS NULL",
        &[&user_id, &hash, &now.0],
    )? == 1)
}

pub fn recovery_codes_left(tx: &Tx<'_>, user_id: &str) -> Result<i64, StoreError> {
    tx.query_one(
        "SELECT COUNT(*) FROM recovery_codes WHERE user_id = ?1 AND used_at IS NULL",
        &[&user_id],
        |r| r.get(0),
    )
}

const REQUIREMENT: &str = "second_factor_required";

/// Who must have a second factor, as the instance administrator set it (`owners`,
/// `everyone`); none when nobody must.
pub fn requirement(tx: &Tx<'_>) -> Result<Option<String>, StoreError> {
    let value: Option<Vec<u8>> = tx.query_opt(
        "SELECT value FROM settings WHERE name = ?1",
        &[&REQUIREMENT],
        |r| r.get(0),
    )?;
    Ok(value.and_then(|v| String::from_utf8(v).ok()))
}

pub fn set_requirement(tx: &Tx<'_>, value: &str) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO settings (name, value) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        &[&REQUIREMENT, &value.as_bytes()],
    )?;
    Ok(())
}

/// Whether the user is an owner or the primary owner of some workspace.
pub fn owns_a_workspace(tx: &Tx<'_>, user_id: &str) -> Result<bool, StoreError> {
    tx.query_one(
        "SELECT COUNT(*) FROM memberships WHERE user_id = ?1 AND role IN ('owner', 'primary-owner')",
        &[&user_id],
        |r| r.get::<i64>(0),
    )
    .map(|n| n > 0)
}
