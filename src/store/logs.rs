//! Reads of the request log, newest first, with a cursor on the row id.

use rusqlite::{Connection, Row, ToSql};

use super::StoreError;
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

pub fn search_logs(conn: &Connection, f: &LogFilter<'_>) -> Result<Vec<LogRow>, StoreError> {
    let mut sql = String::from(
        "SELECT id, request_id, key_id, key_prefix, environment, method, endpoint, route, query,
                status_code, error_code, idempotency_replayed, ip_hash, user_agent, region,
                latency_us, created_at
         FROM request_logs WHERE account_id = ?",
    );
    let mut args: Vec<Box<dyn ToSql>> = vec![Box::new(f.account_id.to_owned())];
    let mut add = |clause: &str, value: Box<dyn ToSql>| {
        sql.push_str(clause);
        args.push(value);
    };
    if let Some(key) = f.key_id {
        add(" AND key_id = ?", Box::new(key.to_owned()));
    }
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
    let mut stmt = conn.prepare(&sql)?;
    let params: Vec<&dyn ToSql> = args.iter().map(|a| a.as_ref()).collect();
    let rows = stmt.query_map(params.as_slice(), from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
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

    #[test]
    fn status_filters_accept_classes_and_codes() {
        assert_eq!(StatusFilter::parse("4xx"), Some(StatusFilter::Class(4)));
        assert_eq!(StatusFilter::parse("404"), Some(StatusFilter::Exact(404)));
        for bad in ["", "6xx", "abc", "42", "1000"] {
            assert_eq!(StatusFilter::parse(bad), None, "{bad}");
        }
    }
}
