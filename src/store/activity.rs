//! The hash-chained activity table: each row's hash covers its fields and the previous hash, so a
//! deleted or edited row breaks the chain.

use sha2::{Digest, Sha256};

use super::StoreError;
use super::Tx;
use super::engine::Row;
use crate::domain::Timestamp;
use crate::domain::log::{ActivityEntry, ChainBreak};
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
pub fn append(tx: &Tx<'_>, a: &NewActivity<'_>) -> Result<(), StoreError> {
    let prev: String = tx
        .query_opt(
            "SELECT hash FROM activity ORDER BY id DESC LIMIT 1",
            &[],
            |r| r.get(0),
        )?
        .unwrap_or_else(|| GENESIS.to_owned());
    let hash = chain_hash(&prev, a);
    tx.execute(
        "INSERT INTO activity (account_id, actor, category, action, target, description, ip_hash,
                               created_at, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        &[
            &a.account_id,
            &a.actor,
            &a.category,
            &a.action,
            &a.target,
            &a.description,
            &a.ip_hash,
            &a.created_at.0,
            &prev,
            &hash,
        ],
    )?;
    Ok(())
}

const COLUMNS: &str = "id, account_id, actor, category, action, target, description, ip_hash, created_at, prev_hash, hash";

fn from_row(r: &Row<'_>) -> Result<ActivityEntry, StoreError> {
    Ok(ActivityEntry {
        id: r.get(0)?,
        account_id: r.get(1)?,
        actor: r.get(2)?,
        category: r.get(3)?,
        action: r.get(4)?,
        target: r.get(5)?,
        description: r.get(6)?,
        ip_hash: r.get(7)?,
        created_at: Timestamp(r.get(8)?),
        prev_hash: r.get(9)?,
        hash: r.get(10)?,
    })
}

/// Which entries a reading of the activity log covers: one account's or every one, and within
/// them one category, one actor and a time range (`since` included, `until` not).
#[derive(Clone, Copy, Debug, Default)]
pub struct ActivityFilter<'a> {
    pub account_id: Option<&'a str>,
    pub category: Option<&'a str>,
    pub actor: Option<&'a str>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

const FILTER: &str = "(CAST(?1 AS TEXT) IS NULL OR account_id = ?1)
     AND (CAST(?2 AS TEXT) IS NULL OR category = ?2)
     AND (CAST(?3 AS TEXT) IS NULL OR actor = ?3)
     AND (CAST(?4 AS BIGINT) IS NULL OR created_at >= ?4)
     AND (CAST(?5 AS BIGINT) IS NULL OR created_at < ?5)";

/// An account's activity, newest first, before the row id `before` when given, limited to
/// one category (`apikey`, `member`, `credits`, `auth`, …) when given.
pub fn list_in_category(
    tx: &Tx<'_>,
    account_id: &str,
    category: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<ActivityEntry>, StoreError> {
    let filter = ActivityFilter {
        account_id: Some(account_id),
        category,
        ..ActivityFilter::default()
    };
    search(tx, &filter, before, limit)
}

/// The entries `f` covers, newest first, before the row id `before` when given.
pub fn search(
    tx: &Tx<'_>,
    f: &ActivityFilter<'_>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<ActivityEntry>, StoreError> {
    filtered(tx, f, ("id < ?6", "id DESC"), before, limit)
}

/// The entries `f` covers in the chain's order (oldest first), after the row id `after` when
/// given: one batch of an export.
pub fn chain_batch(
    tx: &Tx<'_>,
    f: &ActivityFilter<'_>,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<ActivityEntry>, StoreError> {
    filtered(tx, f, ("id > ?6", "id"), after, limit)
}

/// The entries `f` covers past the row id `bound` (none: from the start): `(past, order)` is
/// `("id < ?6", "id DESC")` to page back, `("id > ?6", "id")` to walk the chain.
fn filtered(
    tx: &Tx<'_>,
    f: &ActivityFilter<'_>,
    (past, order): (&str, &str),
    bound: Option<i64>,
    limit: i64,
) -> Result<Vec<ActivityEntry>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM activity WHERE {FILTER}
         AND (CAST(?6 AS BIGINT) IS NULL OR {past}) ORDER BY {order} LIMIT ?7"
    );
    let (since, until) = (f.since.map(|t| t.0), f.until.map(|t| t.0));
    tx.query_all(
        &sql,
        &[
            &f.account_id,
            &f.category,
            &f.actor,
            &since,
            &until,
            &bound,
            &limit,
        ],
        from_row,
    )
}

/// The hash `entry`'s fields and its recorded previous hash give: equal to its `hash` when the
/// entry is as it was written.
pub fn recomputed_hash(entry: &ActivityEntry) -> String {
    chain_hash(
        &entry.prev_hash,
        &NewActivity {
            account_id: entry.account_id.as_deref(),
            actor: &entry.actor,
            category: &entry.category,
            action: &entry.action,
            target: entry.target.as_deref(),
            description: &entry.description,
            ip_hash: entry.ip_hash.as_deref(),
            created_at: entry.created_at,
        },
    )
}

/// Walks the whole chain in order; returns the rows checked and the first break.
pub fn verify(tx: &Tx<'_>) -> Result<(i64, Option<ChainBreak>), StoreError> {
    let mut prev = GENESIS.to_owned();
    let mut checked = 0;
    let mut found = None;
    let sql = format!("SELECT {COLUMNS} FROM activity ORDER BY id");
    tx.each(&sql, &[], |r| {
        let row = from_row(r)?;
        checked += 1;
        if row.prev_hash != prev {
            found = Some(ChainBreak::Unlinked { id: row.id });
            return Ok(false);
        }
        let expected = chain_hash(
            &prev,
            &NewActivity {
                account_id: row.account_id.as_deref(),
                actor: &row.actor,
                category: &row.category,
                action: &row.action,
                target: row.target.as_deref(),
                description: &row.description,
                ip_hash: row.ip_hash.as_deref(),
                created_at: row.created_at,
            },
        );
        if expected != row.hash {
            found = Some(ChainBreak::Edited { id: row.id });
            return Ok(false);
        }
        prev = row.hash;
        Ok(true)
    })?;
    Ok((checked, found))
}
