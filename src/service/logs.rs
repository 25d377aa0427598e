//! Reading the request log: the searches behind the logs pages, the management API's log
//! listing and its export. Rows are written by the request-log writer, never here.

pub use crate::domain::log::LogEntry;
pub use crate::store::logs::{LogFilter, StatusFilter};

use super::ServiceError;
use crate::domain::name::can_match;
use crate::store::{Tx, logs};

/// One page of rows matching `filter`, newest first.
pub fn search(tx: &Tx<'_>, filter: &LogFilter<'_>) -> Result<Vec<LogEntry>, ServiceError> {
    let texts = [
        filter.key_id,
        filter.error_code,
        filter.endpoint,
        filter.text,
    ];
    if !texts.into_iter().flatten().all(can_match) {
        return Ok(Vec::new());
    }
    Ok(logs::search_logs(tx, filter)?)
}

/// How many request-log rows a key has (deleting the key removes them).
/// One row of an account's request log; another account's row is not found.
pub fn entry(tx: &Tx<'_>, account_id: &str, id: i64) -> Result<LogEntry, ServiceError> {
    logs::log_in_account(tx, account_id, id)?.ok_or(ServiceError::NotFound("request-log row"))
}

pub fn count_for_key(tx: &Tx<'_>, key_id: &str) -> Result<i64, ServiceError> {
    Ok(logs::count_key_rows(tx, key_id)?)
}

/// How many requests a key made at or after `since` (a unix time).
pub fn requests_since(tx: &Tx<'_>, key_id: &str, since: i64) -> Result<i64, ServiceError> {
    Ok(logs::key_requests_since(tx, key_id, since)?)
}
