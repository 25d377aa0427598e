//! One group's transaction: its rows inserted many to a statement, the hourly and daily
//! roll-ups, each key's `last_used_at` and the refusal tallies, all in one commit.

use std::collections::{BTreeMap, HashMap};

use super::rollups::Rollups;
use super::{LogEntry, Refusal, Reply, Written};
use crate::store::engine::Param;
use crate::store::{Db, StoreError};

/// `last_used_at` may lag by up to a second (docs/keys.md, "What is stored"), so each key's is
/// written at most once a second instead of in every commit.
#[derive(Default)]
pub(super) struct LastUsed {
    written: HashMap<String, i64>,
}

impl LastUsed {
    const EVERY_MS: i64 = 1_000;

    fn due(&self, key: &str, at: i64) -> bool {
        self.written
            .get(key)
            .is_none_or(|&w| at - w >= Self::EVERY_MS)
    }

    fn record(&mut self, written: Vec<(String, i64)>) {
        if self.written.len() > 100_000 {
            self.written.clear();
        }
        self.written.extend(written);
    }
}

/// Roll-up keys count days as whole days since the epoch; the date text is made once per
/// roll-up row rather than once per log row.
type UsageKey<'a> = (&'a str, i64, &'a str, &'a str, i64);
type ErrorKey<'a> = (&'a str, i64, &'a str, &'a str, &'static str);

fn day_text(day: i64) -> String {
    crate::domain::Timestamp(day * crate::domain::Timestamp::MS_PER_DAY).day()
}

/// Whether a row was written, given the key generation its batch committed at.
pub(super) fn outcome(entry: &LogEntry, generation: Option<i64>) -> Written {
    match entry.decided_at {
        Some(decided) if Some(decided) != generation => Written::Stale,
        _ => Written::Committed,
    }
}

/// The most rows one `INSERT` writes.
const ROWS_PER_INSERT: usize = 32;

/// The placeholders of one row of `insert_rows`.
const COLUMNS: usize = 18;

/// `INSERT INTO request_logs … VALUES (…), (…)` for `n` rows (1 to `ROWS_PER_INSERT`) of
/// `COLUMNS` placeholders each, built once rather than for every group.
fn insert_rows(n: usize) -> &'static str {
    static SQL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let all = SQL.get_or_init(|| {
        use std::fmt::Write;
        (1..=ROWS_PER_INSERT)
            .map(|n| {
                let mut sql = String::from(
                    "INSERT INTO request_logs (request_id, key_id, account_id, key_prefix,
                         environment, method, endpoint, route, query, status_code, error_code,
                         idempotency_replayed, ip_hash, user_agent, region, latency_us,
                         created_at, client_ip) VALUES ",
                );
                for row in 0..n {
                    sql.push_str(if row == 0 { "(" } else { ", (" });
                    for column in 0..COLUMNS {
                        let sep = if column == 0 { "" } else { ", " };
                        let _ = write!(sql, "{sep}?{}", row * COLUMNS + column + 1);
                    }
                    sql.push(')');
                }
                sql
            })
            .collect()
    });
    &all[n.clamp(1, ROWS_PER_INSERT) - 1]
}

/// Writes and commits the group; returns the key generation it was checked against, if any row
/// asked for the check. The chart roll-ups of its rows join `rollups`, which this commit writes
/// when they are due (`Rollups::due`) or when `flush` asks for them.
pub(super) fn write_batch(
    db: &mut Db,
    rows: &[(Box<LogEntry>, Reply)],
    refusals: &[Refusal],
    touched: &mut LastUsed,
    rollups: &mut Rollups,
    flush: bool,
) -> Result<Option<i64>, StoreError> {
    if rows.is_empty() && refusals.is_empty() && (rollups.is_empty() || !flush) {
        return Ok(None);
    }
    let tx = db.write()?;
    // Read under the write lock: no other writer can bump it before this commit.
    let generation = if rows.iter().any(|(e, _)| e.decided_at.is_some()) {
        Some(crate::store::key_reader::current_generation(&tx)?)
    } else {
        None
    };
    let mut usage: BTreeMap<UsageKey<'_>, i64> = BTreeMap::new();
    let mut errors: BTreeMap<ErrorKey<'_>, i64> = BTreeMap::new();
    let mut last_used: BTreeMap<&str, i64> = BTreeMap::new();
    let mut written: Vec<(String, i64)> = Vec::new();
    // A key deleted while its request was in flight takes its row with it: each distinct key
    // of the group is looked up once, not once per row.
    let mut live: HashMap<&str, bool> = HashMap::new();
    for (e, _) in rows {
        if !live.contains_key(e.key.id.as_str()) {
            let exists = tx
                .query_opt("SELECT 1 FROM api_keys WHERE id = ?1", &[&e.key.id], |_| {
                    Ok(())
                })?
                .is_some();
            live.insert(&e.key.id, exists);
        }
    }
    let kept: Vec<&LogEntry> = rows
        .iter()
        .map(|(e, _)| e.as_ref())
        .filter(|e| {
            live.get(e.key.id.as_str()) == Some(&true)
                && outcome(e, generation) == Written::Committed
        })
        .collect();
    // Many rows to a statement: on PostgreSQL each statement is a round trip to the server.
    for chunk in kept.chunks(ROWS_PER_INSERT) {
        let environments: Vec<&'static str> =
            chunk.iter().map(|e| e.key.environment.as_str()).collect();
        let mut params: Vec<&dyn Param> = Vec::with_capacity(chunk.len() * COLUMNS);
        for (e, environment) in chunk.iter().zip(&environments) {
            params.extend_from_slice(&[
                &e.request_id,
                &e.key.id,
                &e.key.account_id,
                &e.key.key_prefix,
                environment,
                &e.method,
                &e.endpoint,
                &e.route,
                &e.query,
                &e.status_code,
                &e.error_code,
                &e.idempotency_replayed,
                &e.ip_hash,
                &e.user_agent,
                &e.region,
                &e.latency_us,
                &e.created_at,
                &e.client_ip,
            ]);
        }
        tx.execute(insert_rows(chunk.len()), &params)?;
    }
    let mut added = Rollups::default();
    added.add(&kept);
    let write_sums = flush || rollups.due(kept.len());
    if write_sums {
        rollups.write(&tx)?;
        added.write(&tx)?;
    }
    for e in kept {
        let day = e
            .created_at
            .div_euclid(crate::domain::Timestamp::MS_PER_DAY);
        let class = i64::from(e.status_code / 100);
        *usage
            .entry((&e.key.account_id, day, &e.key.id, &e.route, class))
            .or_default() += 1;
        if let Some(code) = e.error_code {
            *errors
                .entry((&e.key.account_id, day, &e.key.id, &e.route, code))
                .or_default() += 1;
        }
        if e.authenticated {
            let at = last_used.entry(&e.key.id).or_default();
            *at = (*at).max(e.created_at);
        }
    }
    for ((account, day, key, route, class), n) in &usage {
        tx.execute(
            "INSERT INTO usage_daily (account_id, day, key_id, route, status_class, requests)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (account_id, day, key_id, route, status_class)
             DO UPDATE SET requests = usage_daily.requests + excluded.requests",
            &[account, &day_text(*day), key, route, class, n],
        )?;
    }
    for ((account, day, key, route, code), n) in &errors {
        tx.execute(
            "INSERT INTO usage_daily_errors (account_id, day, key_id, route, error_code, requests)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (account_id, day, key_id, route, error_code)
             DO UPDATE SET requests = usage_daily_errors.requests + excluded.requests",
            &[account, &day_text(*day), key, route, code, n],
        )?;
    }
    for (key, at) in last_used.iter().filter(|(k, at)| touched.due(k, **at)) {
        tx.execute(
            "UPDATE api_keys SET last_used_at = ?2
             WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)",
            &[key, at],
        )?;
        written.push(((*key).to_owned(), *at));
    }
    let mut tally: BTreeMap<&Refusal, i64> = BTreeMap::new();
    for r in refusals {
        *tally.entry(r).or_default() += 1;
    }
    for (r, n) in tally {
        tx.execute(
            "INSERT INTO refusals_daily (day, ip_hash, reason, requests, client_ip)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (day, ip_hash, reason)
             DO UPDATE SET requests = refusals_daily.requests + excluded.requests,
                 client_ip = excluded.client_ip",
            &[&r.day, &r.ip_hash, &r.reason, &n, &r.client_ip],
        )?;
    }
    tx.commit()?;
    touched.record(written);
    // Only once committed: a group that failed leaves the sums as they were.
    if write_sums {
        rollups.clear();
    } else {
        rollups.merge(added);
    }
    Ok(generation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multi_row_insert_numbers_18_placeholders_a_row() {
        assert!(insert_rows(1).ends_with(
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
             ?18)"
        ));
        let two = insert_rows(2);
        assert!(two.contains("?18), (?19, ?20"), "{two}");
        assert!(two.ends_with("?36)"), "{two}");
        let most = insert_rows(ROWS_PER_INSERT);
        assert_eq!(most.matches('(').count(), ROWS_PER_INSERT + 1);
        assert!(most.ends_with(&format!("?{})", ROWS_PER_INSERT * COLUMNS)));
    }
}
