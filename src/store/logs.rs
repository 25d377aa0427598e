//! Reads of the request log, newest first, with a cursor on the row id.
//!
//! The log's indexes hold only the last 8 characters of the key and account ids (migration
//! 0007): a query names its index and matches the id twice, by tag through the index and in full
//! on the row. `INDEXED BY` makes a query that cannot use its index fail rather than scan every
//! row.

use rusqlite::{Row, ToSql};

use super::StoreError;
use super::Tx;
use crate::domain::Timestamp;

#[derive(Clone, Debug)]
pub struct LogRow {
    pub id: i64,
    pub request_id: String,
    pub key_id: String,
    pub key_prefix: String,
    pub environment: String,
    pub method: String,
    pub endpoint: String,
    pub route: String,
    pub query: Option<String>,
    pub status_code: i64,
    pub error_code: Option<String>,
    pub idempotency_replayed: bool,
    pub ip_hash: String,
    pub user_agent: Option<String>,
    pub region: String,
    pub latency_us: i64,
    pub created_at: Timestamp,
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<LogRow> {
    Ok(LogRow {
        id: r.get(0)?,
        request_id: r.get(1)?,
        key_id: r.get(2)?,
        key_prefix: r.get(3)?,
        environment: r.get(4)?,
        method: r.get(5)?,
        endpoint: r.get(6)?,
        route: r.get(7)?,
        query: r.get(8)?,
        status_code: r.get(9)?,
        error_code: r.get(10)?,
        idempotency_replayed: r.get(11)?,
        ip_hash: r.get(12)?,
        user_agent: r.get(13)?,
        region: r.get(14)?,
        latency_us: r.get(15)?,
        created_at: Timestamp(r.get(16)?),
    })
}

/// A status filter: a class (`4xx`) or an exact code (`404`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusFilter {
    Class(i64),
    Exact(i64),
}

impl StatusFilter {
    pub fn parse(s: &str) -> Option<StatusFilter> {
        let s = s.trim().to_ascii_lowercase();
        if let Some(class) = s.strip_suffix("xx") {
            return class
                .parse()
                .ok()
                .filter(|c| (1..=5).contains(c))
                .map(StatusFilter::Class);
        }
        s.parse()
            .ok()
            .filter(|c| (100..=599).contains(c))
            .map(StatusFilter::Exact)
    }
}

#[derive(Default)]
pub struct LogFilter<'a> {
    pub account_id: &'a str,
    pub key_id: Option<&'a str>,
    pub status: Option<StatusFilter>,
    pub error_code: Option<&'a str>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub before_id: Option<i64>,
    /// Rows whose endpoint starts with this.
    pub endpoint: Option<&'a str>,
    /// Free text: a request id, an endpoint fragment, a key prefix, an error code or an IP-hash
    /// prefix.
    pub text: Option<&'a str>,
    pub limit: i64,
}

/// The rows of key `?1`.
const BY_KEY: &str = "request_logs INDEXED BY request_logs_by_key
     WHERE substr(key_id, -8) = substr(?1, -8) AND key_id = ?1";

/// The rows of account `?1`.
const BY_ACCOUNT: &str = "request_logs INDEXED BY request_logs_by_account
     WHERE substr(account_id, -8) = substr(?1, -8) AND account_id = ?1";

/// Request-log rows of key `key_id`.
pub fn count_key_rows(tx: &Tx<'_>, key_id: &str) -> Result<i64, StoreError> {
    let conn = tx.sql();
    let sql = format!("SELECT count(*) FROM {BY_KEY}");
    Ok(conn.query_row(&sql, [key_id], |r| r.get(0))?)
}

/// Requests a key made at or after `since` (for a rotated key's grace period).
pub fn key_requests_since(tx: &Tx<'_>, key_id: &str, since: i64) -> Result<i64, StoreError> {
    let conn = tx.sql();
    let sql = format!("SELECT count(*) FROM {BY_KEY} AND created_at >= ?2");
    Ok(conn.query_row(&sql, rusqlite::params![key_id, since], |r| r.get(0))?)
}

/// Deletes the request-log rows of key `key_id`; returns how many went.
pub fn delete_key_rows(tx: &Tx<'_>, key_id: &str) -> Result<i64, StoreError> {
    let conn = tx.sql();
    let sql = format!("DELETE FROM {BY_KEY}");
    let n = conn.execute(&sql, [key_id])?;
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

pub fn search_logs(tx: &Tx<'_>, f: &LogFilter<'_>) -> Result<Vec<LogRow>, StoreError> {
    let conn = tx.sql();
    let (sql, args) = search_query(f);
    let mut stmt = conn.prepare(&sql)?;
    let params: Vec<&dyn ToSql> = args.iter().map(|a| a.as_ref()).collect();
    let rows = stmt.query_map(params.as_slice(), from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn search_query(f: &LogFilter<'_>) -> (String, Vec<Box<dyn ToSql>>) {
    let mut sql = String::from(
        "SELECT id, request_id, key_id, key_prefix, environment, method, endpoint, route, query,
                status_code, error_code, idempotency_replayed, ip_hash, user_agent, region,
                latency_us, created_at
         FROM ",
    );
    let mut args: Vec<Box<dyn ToSql>> = Vec::new();
    // A key's rows are fewer than its account's: that index, when there is a key.
    match f.key_id {
        Some(key) => {
            sql.push_str(BY_KEY);
            sql.push_str(" AND account_id = ?2");
            args.push(Box::new(key.to_owned()));
        }
        None => sql.push_str(BY_ACCOUNT),
    }
    args.push(Box::new(f.account_id.to_owned()));
    let mut add = |clause: &str, value: Box<dyn ToSql>| {
        sql.push_str(clause);
        args.push(value);
    };
    match f.status {
        Some(StatusFilter::Class(c)) => {
            add(" AND status_code >= ?", Box::new(c * 100));
            add(" AND status_code < ?", Box::new(c * 100 + 100));
        }
        Some(StatusFilter::Exact(code)) => add(" AND status_code = ?", Box::new(code)),
        None => {}
    }
    if let Some(code) = f.error_code {
        add(" AND error_code = ?", Box::new(code.to_owned()));
    }
    if let Some(since) = f.since {
        add(" AND created_at >= ?", Box::new(since.0));
    }
    if let Some(until) = f.until {
        add(" AND created_at < ?", Box::new(until.0));
    }
    if let Some(endpoint) = f.endpoint {
        add(
            " AND endpoint LIKE ? ESCAPE '\\'",
            Box::new(format!("{}%", like_escape(endpoint))),
        );
    }
    if let Some(text) = f.text {
        let fragment = like_escape(text);
        add(" AND (request_id = ?", Box::new(text.to_owned()));
        add(
            " OR endpoint LIKE ? ESCAPE '\\'",
            Box::new(format!("%{fragment}%")),
        );
        add(
            " OR key_prefix LIKE ? ESCAPE '\\'",
            Box::new(format!("{fragment}%")),
        );
        add(" OR error_code = ?", Box::new(text.to_owned()));
        add(
            " OR ip_hash LIKE ? ESCAPE '\\')",
            Box::new(format!("{fragment}%")),
        );
    }
    if let Some(before) = f.before_id {
        add(" AND id < ?", Box::new(before));
    }
    sql.push_str(" ORDER BY id DESC LIMIT ?");
    args.push(Box::new(f.limit));
    (sql, args)
}

/// Escapes `\\`, `%` and `_` for a `LIKE … ESCAPE '\\'` pattern.
pub(crate) fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::store::Store;

    fn add_row(tx: &Tx<'_>, key_id: &str, account_id: &str, status: i64) {
        tx.sql()
            .execute(
                "INSERT INTO request_logs (request_id, key_id, account_id, key_prefix, environment,
                 method, endpoint, route, status_code, ip_hash, region, latency_us, created_at)
             VALUES ('req_1', ?1, ?2, 'bs_live_x', 'live', 'GET', '/v1/status', '/v1/status',
                 ?3, 'ab', 'us', 1, 1)",
                rusqlite::params![key_id, account_id, status],
            )
            .unwrap();
    }

    // Two ids with the same last 8 characters share index entries.
    const KEY_A: &str = "00000000-0000-4000-8000-0000aaaaaaaa";
    const KEY_B: &str = "11111111-1111-4111-8111-1111aaaaaaaa";
    const ACCOUNT_A: &str = "22222222-2222-4222-8222-2222bbbbbbbb";
    const ACCOUNT_B: &str = "33333333-3333-4333-8333-3333bbbbbbbb";

    #[test]
    fn ids_that_share_a_tag_keep_their_own_rows() {
        let (_dir, store) = Store::temporary();
        let db = store.db().unwrap();
        let conn = db.read();
        add_row(&conn, KEY_A, ACCOUNT_A, 200);
        add_row(&conn, KEY_B, ACCOUNT_B, 200);
        add_row(&conn, KEY_B, ACCOUNT_B, 404);
        assert_eq!(count_key_rows(&conn, KEY_A).unwrap(), 1);
        assert_eq!(count_key_rows(&conn, KEY_B).unwrap(), 2);
        assert_eq!(key_requests_since(&conn, KEY_A, 1).unwrap(), 1);
        assert_eq!(key_requests_since(&conn, KEY_B, 2).unwrap(), 0);
        let filter = |account_id, key_id| LogFilter {
            account_id,
            key_id,
            limit: 10,
            ..LogFilter::default()
        };
        let found = |f: &LogFilter<'_>| search_logs(&conn, f).unwrap().len();
        assert_eq!(found(&filter(ACCOUNT_A, None)), 1);
        assert_eq!(found(&filter(ACCOUNT_B, None)), 2);
        assert_eq!(found(&filter(ACCOUNT_B, Some(KEY_B))), 2);
        assert_eq!(found(&filter(ACCOUNT_A, Some(KEY_B))), 0);
        assert_eq!(delete_key_rows(&conn, KEY_B).unwrap(), 2);
        assert_eq!(count_key_rows(&conn, KEY_A).unwrap(), 1);
    }

    #[test]
    fn every_log_query_reads_its_index_newest_first() {
        let (_dir, store) = Store::temporary();
        let db = store.db().unwrap();
        let conn = db.read();
        let conn = conn.sql();
        let plan = |sql: &str, args: &[&dyn ToSql]| -> String {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let rows = stmt.query_map(args, |r| r.get::<_, String>(3)).unwrap();
            rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
        };
        let every_filter = |key_id| LogFilter {
            account_id: ACCOUNT_A,
            key_id,
            status: Some(StatusFilter::Class(4)),
            error_code: Some("BSE1003"),
            since: Some(Timestamp(1)),
            until: Some(Timestamp(2)),
            before_id: Some(10),
            endpoint: Some("/v1/"),
            text: Some("x"),
            limit: 10,
        };
        for (key_id, index) in [
            (None, "request_logs_by_account"),
            (Some(KEY_A), "request_logs_by_key"),
        ] {
            for filter in [
                LogFilter {
                    account_id: ACCOUNT_A,
                    key_id,
                    limit: 10,
                    ..LogFilter::default()
                },
                every_filter(key_id),
            ] {
                let (sql, args) = search_query(&filter);
                let args: Vec<&dyn ToSql> = args.iter().map(|a| a.as_ref()).collect();
                let plan = plan(&sql, &args);
                assert!(plan.contains(index), "{plan}");
                assert!(!plan.contains("TEMP B-TREE"), "{plan}");
            }
        }
        for sql in [
            format!("SELECT count(*) FROM {BY_KEY}"),
            format!("DELETE FROM {BY_KEY}"),
        ] {
            assert!(plan(&sql, &[&KEY_A]).contains("request_logs_by_key"));
        }
    }

    #[test]
    fn status_filters_accept_classes_and_codes() {
        assert_eq!(StatusFilter::parse("4xx"), Some(StatusFilter::Class(4)));
        assert_eq!(StatusFilter::parse("404"), Some(StatusFilter::Exact(404)));
        for bad in ["", "6xx", "abc", "42", "1000"] {
            assert_eq!(StatusFilter::parse(bad), None, "{bad}");
        }
    }
}
