//! Reads of the request log, newest first, with a cursor on the row id.
//!
//! The log's indexes hold only the last 8 characters of the key and account ids (migration
//! 0007): a query names its index and matches the id twice, by tag through the index and in full
//! on the row. `INDEXED BY` makes a query that cannot use its index fail rather than scan every
//! row.

use super::StoreError;
use super::Tx;
use super::engine::{Engine, Param, Row, Value};
use crate::domain::log::LogEntry;
use crate::domain::{Environment, Region, Timestamp};

fn from_row(r: &Row<'_>) -> Result<LogEntry, StoreError> {
    let environment: String = r.get(4)?;
    let region: String = r.get(14)?;
    Ok(LogEntry {
        id: r.get(0)?,
        request_id: r.get(1)?,
        key_id: r.get(2)?,
        key_prefix: r.get(3)?,
        environment: Environment::parse(&environment).unwrap_or(Environment::Live),
        method: r.get(5)?,
        endpoint: r.get(6)?,
        route: r.get(7)?,
        query: r.get(8)?,
        status_code: r.get(9)?,
        error_code: r.get(10)?,
        idempotency_replayed: r.get(11)?,
        ip_hash: r.get(12)?,
        user_agent: r.get(13)?,
        region: Region::parse(&region).unwrap_or(Region::Us),
        latency_us: r.get(15)?,
        created_at: Timestamp(r.get(16)?),
        client_ip: r.get(17)?,
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

#[derive(Default, Clone)]
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

/// The rows whose `column` (`key_id` or `account_id`) is `?1`, through its tag index.
/// PostgreSQL has no `INDEXED BY`; its planner picks the index by itself.
fn rows_of(engine: Engine, column: &str) -> String {
    let tag = engine.tail8(column);
    let param = engine.tail8("?1");
    let table = match engine {
        Engine::Sqlite => format!(
            "request_logs INDEXED BY request_logs_by_{}",
            &column[..column.len() - 3]
        ),
        Engine::Postgres => "request_logs".to_owned(),
    };
    format!("{table} WHERE {tag} = {param} AND {column} = ?1")
}

/// The rows of key `?1`.
fn by_key(engine: Engine) -> String {
    rows_of(engine, "key_id")
}

/// The rows of account `?1`.
fn by_account(engine: Engine) -> String {
    rows_of(engine, "account_id")
}

/// Request-log rows of key `key_id`.
pub fn count_key_rows(tx: &Tx<'_>, key_id: &str) -> Result<i64, StoreError> {
    let sql = format!("SELECT count(*) FROM {}", by_key(tx.engine()));
    tx.query_one(&sql, &[&key_id], |r| r.get(0))
}

/// Requests a key made at or after `since` (for a rotated key's grace period).
pub fn key_requests_since(tx: &Tx<'_>, key_id: &str, since: i64) -> Result<i64, StoreError> {
    let sql = format!(
        "SELECT count(*) FROM {} AND created_at >= ?2",
        by_key(tx.engine())
    );
    tx.query_one(&sql, &[&key_id, &since], |r| r.get(0))
}

/// Deletes the request-log rows of key `key_id`; returns how many went.
pub fn delete_key_rows(tx: &Tx<'_>, key_id: &str) -> Result<i64, StoreError> {
    let sql = format!("DELETE FROM {}", by_key(tx.engine()));
    let n = tx.execute(&sql, &[&key_id])?;
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

/// One row of an account's request log, by its id.
pub fn log_in_account(
    tx: &Tx<'_>,
    account_id: &str,
    id: i64,
) -> Result<Option<LogEntry>, StoreError> {
    tx.query_opt(
        "SELECT id, request_id, key_id, key_prefix, environment, method, endpoint, route, query,
                status_code, error_code, idempotency_replayed, ip_hash, user_agent, region,
                latency_us, created_at, client_ip
         FROM request_logs WHERE id = ?1 AND account_id = ?2",
        &[&id, &account_id],
        from_row,
    )
}

/// Rows are logged in about the order their requests arrived: a request is logged when it is
/// answered, and none is answered this long after it arrived, so a row's `created_at` is never
/// this much earlier than that of a row logged before it.
const ARRIVAL_SKEW_MS: i64 = 15 * 60 * 1000;

/// The highest row id that can hold a request that arrived before `until`, found by a binary
/// search over ids (a few point reads) rather than a walk back through every newer row; `None`
/// when no row can. Correct as long as rows are logged within `ARRIVAL_SKEW_MS` of arrival:
/// the search stops at a row that arrived before `until + skew` whose next row arrived after
/// it, and every row logged after that one arrived after `until`.
pub(crate) fn last_id_before(tx: &Tx<'_>, until: i64) -> Result<Option<i64>, StoreError> {
    let bound = until.saturating_add(ARRIVAL_SKEW_MS);
    let (first, last): (Option<i64>, Option<i64>) =
        // Two subqueries: each is then one step along the primary key, where `min(id), max(id)`
        // in one query reads the whole table on SQLite.
        tx.query_one(
            "SELECT (SELECT min(id) FROM request_logs), (SELECT max(id) FROM request_logs)",
            &[],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
    let (Some(mut low), Some(mut high)) = (first, last) else {
        return Ok(None);
    };
    let mut best = None;
    while low <= high {
        let probe = low + (high - low) / 2;
        let row: Option<(i64, i64)> = tx.query_opt(
            "SELECT id, created_at FROM request_logs WHERE id >= ?1 ORDER BY id LIMIT 1",
            &[&probe],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        match row {
            Some((id, created)) if created < bound => {
                best = Some(id);
                low = id + 1;
            }
            _ => high = probe - 1,
        }
    }
    Ok(best)
}

pub fn search_logs(tx: &Tx<'_>, f: &LogFilter<'_>) -> Result<Vec<LogEntry>, StoreError> {
    let bounded;
    let f = match f.until {
        Some(until) => match last_id_before(tx, until.0)? {
            None => return Ok(Vec::new()),
            Some(last) => {
                bounded = LogFilter {
                    before_id: Some(f.before_id.map_or(last + 1, |b| b.min(last + 1))),
                    ..f.clone()
                };
                &bounded
            }
        },
        None => f,
    };
    let (sql, args) = search_query(tx.engine(), f);
    let params: Vec<&dyn Param> = args.iter().map(|a| a as &dyn Param).collect();
    tx.query_all(&sql, &params, from_row)
}

fn search_query(engine: Engine, f: &LogFilter<'_>) -> (String, Vec<Value<'static>>) {
    let mut sql = String::from(
        "SELECT id, request_id, key_id, key_prefix, environment, method, endpoint, route, query,
                status_code, error_code, idempotency_replayed, ip_hash, user_agent, region,
                latency_us, created_at, client_ip
         FROM ",
    );
    let mut args: Vec<Value<'static>> = Vec::new();
    // A key's rows are fewer than its account's: that index, when there is a key.
    match f.key_id {
        Some(key) => {
            sql.push_str(&by_key(engine));
            sql.push_str(" AND account_id = ?2");
            args.push(text(key));
        }
        None => sql.push_str(&by_account(engine)),
    }
    args.push(text(f.account_id));
    let like = engine.like();
    let mut add = |clause: &str, value: Value<'static>| {
        sql.push_str(clause);
        args.push(value);
    };
    match f.status {
        Some(StatusFilter::Class(c)) => {
            add(" AND status_code >= ?", Value::Int(c * 100));
            add(" AND status_code < ?", Value::Int(c * 100 + 100));
        }
        Some(StatusFilter::Exact(code)) => add(" AND status_code = ?", Value::Int(code)),
        None => {}
    }
    if let Some(code) = f.error_code {
        add(" AND error_code = ?", text(code));
    }
    if let Some(since) = f.since {
        add(" AND created_at >= ?", Value::Int(since.0));
    }
    if let Some(until) = f.until {
        add(" AND created_at < ?", Value::Int(until.0));
    }
    if let Some(endpoint) = f.endpoint {
        add(
            &format!(" AND endpoint {like} ? ESCAPE '\\'"),
            Value::Text(format!("{}%", like_escape(endpoint)).into()),
        );
    }
    if let Some(t) = f.text {
        let fragment = like_escape(t);
        add(" AND (request_id = ?", text(t));
        add(
            &format!(" OR endpoint {like} ? ESCAPE '\\'"),
            Value::Text(format!("%{fragment}%").into()),
        );
        add(
            &format!(" OR key_prefix {like} ? ESCAPE '\\'"),
            Value::Text(format!("{fragment}%").into()),
        );
        add(" OR error_code = ?", text(t));
        add(
            &format!(" OR ip_hash {like} ? ESCAPE '\\')"),
            Value::Text(format!("{fragment}%").into()),
        );
    }
    if let Some(before) = f.before_id {
        add(" AND id < ?", Value::Int(before));
    }
    sql.push_str(" ORDER BY id DESC LIMIT ?");
    args.push(Value::Int(f.limit));
    (sql, args)
}

fn text(s: &str) -> Value<'static> {
    Value::Text(s.to_owned().into())
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
        tx.execute(
            "INSERT INTO request_logs (request_id, key_id, account_id, key_prefix, environment,
                 method, endpoint, route, status_code, ip_hash, region, latency_us, created_at)
             VALUES ('req_1', ?1, ?2, 'bs_live_x', 'live', 'GET', '/v1/status', '/v1/status',
                 ?3, 'ab', 'us', 1, 1)",
            &[&key_id, &account_id, &status],
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
        let mut db = store.db().unwrap();
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
    fn a_time_bound_finds_the_same_rows_as_a_walk_through_them() {
        let (_dir, store) = Store::temporary();
        let mut db = store.db().unwrap();
        let conn = db.read();
        // Rows a minute apart, logged a little out of arrival order, some deleted.
        let minute = 60_000;
        for (i, arrived) in [0, 2, 1, 3, 5, 4, 6, 7, 9, 8].into_iter().enumerate() {
            add_row(&conn, KEY_A, ACCOUNT_A, 200);
            conn.execute(
                "UPDATE request_logs SET created_at = ?1 WHERE id = ?2",
                &[&(1_000_000 + arrived * minute), &(i as i64 + 1)],
            )
            .unwrap();
        }
        conn.execute("DELETE FROM request_logs WHERE id IN (4, 5)", &[])
            .unwrap();
        let ids = |until: i64| -> Vec<i64> {
            let filter = LogFilter {
                account_id: ACCOUNT_A,
                until: Some(Timestamp(until)),
                limit: 100,
                ..LogFilter::default()
            };
            search_logs(&conn, &filter)
                .unwrap()
                .into_iter()
                .map(|e| e.id)
                .collect()
        };
        for minutes in -1..12 {
            let until = 1_000_000 + minutes * minute;
            let walked: Vec<i64> = conn
                .query_all(
                    "SELECT id FROM request_logs WHERE created_at < ?1 ORDER BY id DESC",
                    &[&until],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(ids(until), walked, "until minute {minutes}");
        }
        // Far in the past: nothing, without walking the log.
        assert!(ids(0).is_empty());
        assert_eq!(last_id_before(&conn, 0).unwrap(), None);
    }

    #[test]
    fn every_log_query_reads_its_index_newest_first() {
        let (_dir, store) = Store::temporary();
        let mut db = store.db().unwrap();
        let conn = db.read();
        let plan = |sql: &str, args: &[&dyn Param]| -> String {
            conn.query_all(&format!("EXPLAIN QUERY PLAN {sql}"), args, |r| {
                r.get::<String>(3)
            })
            .unwrap()
            .join("; ")
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
                let (sql, args) = search_query(Engine::Sqlite, &filter);
                let args: Vec<&dyn Param> = args.iter().map(|a| a as &dyn Param).collect();
                let plan = plan(&sql, &args);
                assert!(plan.contains(index), "{plan}");
                assert!(!plan.contains("TEMP B-TREE"), "{plan}");
            }
        }
        for sql in [
            format!("SELECT count(*) FROM {}", by_key(Engine::Sqlite)),
            format!("DELETE FROM {}", by_key(Engine::Sqlite)),
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
