//! The hash-chained activity table: each row's hash covers its fields and the previous hash, so a
//! deleted or edited row breaks the chain.

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::StoreError;
use crate::domain::Timestamp;
use crate::domain::random::hex;

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub struct NewActivity<'a> {
    pub account_id: Option<&'a str>,
    pub actor: &'a str,
    pub category: &'a str,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub description: &'a str,
    pub ip_hash: Option<&'a str>,
    pub created_at: Timestamp,
}

pub fn chain_hash(prev: &str, a: &NewActivity<'_>) -> String {
    let mut h = Sha256::new();
    for field in [
        prev,
        a.account_id.unwrap_or(""),
        a.actor,
        a.category,
        a.action,
        a.target.unwrap_or(""),
        a.description,
        a.ip_hash.unwrap_or(""),
        &a.created_at.0.to_string(),
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex(&h.finalize())
}

/// Appends one row. Call inside the transaction that makes the change it records, so the change
/// and its audit row commit together.
pub fn append(conn: &Connection, a: &NewActivity<'_>) -> Result<(), StoreError> {
    let prev: String = conn
        .query_row(
            "SELECT hash FROM activity ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or_else(|| GENESIS.to_owned());
    let hash = chain_hash(&prev, a);
    conn.execute(
        "INSERT INTO activity (account_id, actor, category, action, target, description, ip_hash,
                               created_at, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            a.account_id,
            a.actor,
            a.category,
            a.action,
            a.target,
            a.description,
            a.ip_hash,
            a.created_at.0,
            prev,
            hash
        ],
    )?;
    Ok(())
}
