//! Instance settings, among them the per-install secret that keys IP hashes.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use crate::domain::random::os_random_bytes;

const INSTALL_SECRET: &str = "install_secret";

/// Returns the per-install secret, creating it on first use (safe against a concurrent creator).
pub fn install_secret(conn: &Connection) -> Result<Vec<u8>, StoreError> {
    let existing: Option<Vec<u8>> = conn
        .query_row(
            "SELECT value FROM settings WHERE name = ?1",
            [INSTALL_SECRET],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(secret) = existing {
        return Ok(secret);
    }
    let mut fresh = [0u8; 32];
    os_random_bytes(&mut fresh)?;
    conn.execute(
        "INSERT OR IGNORE INTO settings (name, value) VALUES (?1, ?2)",
        params![INSTALL_SECRET, fresh.to_vec()],
    )?;
    Ok(conn.query_row(
        "SELECT value FROM settings WHERE name = ?1",
        [INSTALL_SECRET],
        |r| r.get(0),
    )?)
}
