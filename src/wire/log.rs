//! The request log and the activity log on the wire: as JSON, and the request log as CSV.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Environment, Region, Time};
use crate::domain::Timestamp;
use crate::domain::log::{ActivityEntry, LogEntry};

/// One request of a key.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "LogEntry")]
pub struct LogOut {
    /// Position in the log; pass the last one as `cursor` for older entries.
    pub id: i64,
    #[schemars(pattern(r"^req_[0-9a-f]{32}$"))]
    pub request_id: String,
    #[schemars(extend("format" = "uuid"))]
    pub key_id: String,
    pub key_prefix: String,
    pub environment: Environment,
    pub method: String,
    /// The path as requested.
    pub endpoint: String,
    /// The route template, e.g. `/v1/content/{generation_id}`.
    pub route: String,
    /// The logged query parameters.
    pub query: Option<String>,
    pub status_code: i64,
    pub error_code: Option<String>,
    pub idempotency_replayed: bool,
    /// A keyed hash of the client's address.
    pub ip_hash: String,
    /// The client's address, kept `logs.client_ip_days` days beside its hash: shown to owners
    /// and to keys, `null` for members, once cleared and when the install keeps none.
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub region: Region,
    pub latency_us: i64,
    pub created_at: Time,
}

impl LogOut {
    pub fn of(r: &LogEntry) -> LogOut {
        LogOut {
            id: r.id,
            request_id: r.request_id.clone(),
            key_id: r.key_id.clone(),
            key_prefix: r.key_prefix.clone(),
            environment: Environment(r.environment),
            method: r.method.clone(),
            endpoint: r.endpoint.clone(),
            route: r.route.clone(),
            query: r.query.clone(),
            status_code: r.status_code,
            error_code: r.error_code.clone(),
            idempotency_replayed: r.idempotency_replayed,
            ip_hash: r.ip_hash.clone(),
            client_ip: r.client_ip.clone(),
            user_agent: r.user_agent.clone(),
            region: Region(r.region),
            latency_us: r.latency_us,
            created_at: Time(r.created_at),
        }
    }
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "LogPage")]
pub struct LogPageOut {
    pub logs: Vec<LogOut>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<i64>,
}

/// One change of the activity log.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "ActivityEntry")]
pub struct ActivityOut {
    /// The entry's sequence number in the activity log (of every account, so a page of one
    /// account's entries has gaps); pass the last one as `cursor` for older entries.
    pub id: i64,
    /// Who made it, e.g. `user:ada@example.com`, `key:bye_AbCd1`, `cli` or `system`.
    pub actor: String,
    pub category: String,
    pub action: String,
    pub target: Option<String>,
    pub description: String,
    pub created_at: Time,
    /// The hash of the entry before it in the activity log (of any account), which this
    /// entry's hash covers; 64 zeros for the first entry.
    #[schemars(pattern(r"^[0-9a-f]{64}$"))]
    pub prev_hash: String,
    /// This entry's link in the activity log's hash chain: SHA-256 over its fields and
    /// `prev_hash`.
    #[schemars(pattern(r"^[0-9a-f]{64}$"))]
    pub hash: String,
}

impl ActivityOut {
    pub fn of(a: &ActivityEntry) -> ActivityOut {
        ActivityOut {
            id: a.id,
            actor: a.actor.clone(),
            category: a.category.clone(),
            action: a.action.clone(),
            target: a.target.clone(),
            description: a.description.clone(),
            created_at: Time(a.created_at),
            prev_hash: a.prev_hash.clone(),
            hash: a.hash.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "ActivityPage")]
pub struct ActivityPageOut {
    pub activity: Vec<ActivityOut>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<i64>,
}

/// One line of an activity export (JSON Lines): every field the entry's hash covers, so that
/// `tidegate audit verify --file` can recompute it offline.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityLine {
    pub id: i64,
    pub account_id: Option<String>,
    pub actor: String,
    pub category: String,
    pub action: String,
    pub target: Option<String>,
    pub description: String,
    /// The keyed hash of the address the change came from.
    pub ip_hash: Option<String>,
    /// RFC 3339 with milliseconds, as the hash covers them.
    pub created_at: String,
    pub prev_hash: String,
    pub hash: String,
}

impl ActivityLine {
    pub fn of(a: &ActivityEntry) -> ActivityLine {
        ActivityLine {
            id: a.id,
            account_id: a.account_id.clone(),
            actor: a.actor.clone(),
            category: a.category.clone(),
            action: a.action.clone(),
            target: a.target.clone(),
            description: a.description.clone(),
            ip_hash: a.ip_hash.clone(),
            created_at: a.created_at.to_rfc3339(),
            prev_hash: a.prev_hash.clone(),
            hash: a.hash.clone(),
        }
    }

    /// The line as JSON, with its line end.
    pub fn to_jsonl(a: &ActivityEntry) -> String {
        let mut line = serde_json::to_string(&ActivityLine::of(a)).unwrap_or_default();
        line.push('\n');
        line
    }

    /// Reads one line of an export; `Err` says why it is not an entry.
    pub fn parse(text: &str) -> Result<ActivityEntry, String> {
        let line: ActivityLine = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let created_at = Timestamp::parse(&line.created_at)
            .ok_or_else(|| format!("created_at {:?} is not an RFC 3339 time", line.created_at))?;
        Ok(ActivityEntry {
            id: line.id,
            account_id: line.account_id,
            actor: line.actor,
            category: line.category,
            action: line.action,
            target: line.target,
            description: line.description,
            ip_hash: line.ip_hash,
            created_at,
            prev_hash: line.prev_hash,
            hash: line.hash,
        })
    }
}

const CSV_HEADER: [&str; 17] = [
    "created_at",
    "request_id",
    "key_id",
    "key_prefix",
    "environment",
    "method",
    "endpoint",
    "route",
    "query",
    "status_code",
    "error_code",
    "idempotency_replayed",
    "ip_hash",
    "user_agent",
    "region",
    "latency_us",
    // Last, so that files read by position before it was added still read the same.
    "client_ip",
];

/// The rows as CSV (RFC 4180, CRLF line ends), every cell defused; an address not shown is an
/// empty cell.
pub fn to_csv(rows: &[LogEntry]) -> String {
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::with_capacity(64 + rows.len() * 200));
    // Writing into memory fails only on a cell that is not valid, which no cell is.
    let _ = out.write_record(CSV_HEADER);
    for r in rows {
        let cells = [
            r.created_at.to_rfc3339(),
            r.request_id.clone(),
            r.key_id.clone(),
            r.key_prefix.clone(),
            r.environment.as_str().to_owned(),
            r.method.clone(),
            r.endpoint.clone(),
            r.route.clone(),
            r.query.clone().unwrap_or_default(),
            r.status_code.to_string(),
            r.error_code.clone().unwrap_or_default(),
            u8::from(r.idempotency_replayed).to_string(),
            r.ip_hash.clone(),
            r.user_agent.clone().unwrap_or_default(),
            r.region.as_str().to_owned(),
            r.latency_us.to_string(),
            r.client_ip.clone().unwrap_or_default(),
        ];
        for cell in &cells {
            let _ = out.write_field(defused(cell).as_bytes());
        }
        let _ = out.write_record(None::<&[u8]>);
    }
    let bytes = out.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// A cell a spreadsheet would run as a formula gets a leading quote, so it reads as text.
fn defused(value: &str) -> std::borrow::Cow<'_, str> {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}").into()
    } else {
        value.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(value: &str) -> String {
        let mut out = csv::WriterBuilder::new().from_writer(Vec::new());
        out.write_record([defused(value).as_bytes()]).unwrap();
        let line = String::from_utf8(out.into_inner().unwrap()).unwrap();
        line.trim_end_matches('\n').to_owned()
    }

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=cmd()"), "'=cmd()");
        assert_eq!(cell("-1+1"), "'-1+1");
        assert_eq!(cell("@SUM(A1),x"), "\"'@SUM(A1),x\"");
    }
}
