//! Reading the request log: the searches behind the logs pages, the management API's log
//! listing and its export, and the refusals counted before a key was known. Rows are written by
//! the request-log writer, never here. Every read takes the reader's [`AddressView`]: whoever
//! sees only hashes never gets an address (docs/keys.md, "Request log").

pub use crate::domain::log::{AddressView, LogEntry, RefusalTally};
pub use crate::store::logs::{LogFilter, StatusFilter};

use super::ServiceError;
use crate::domain::name::can_match;
use crate::store::{Tx, logs, refusals};

/// One page of rows matching `filter`, newest first.
pub fn search(
    tx: &Tx<'_>,
    filter: &LogFilter<'_>,
    view: AddressView,
) -> Result<Vec<LogEntry>, ServiceError> {
    let texts = [
        filter.key_id,
        filter.error_code,
        filter.endpoint,
        filter.text,
    ];
    if !texts.into_iter().flatten().all(can_match) {
        return Ok(Vec::new());
    }
    let rows = logs::search_logs(tx, filter)?;
    Ok(rows.into_iter().map(|r| r.seen_as(view)).collect())
}

/// One row of an account's request log; another account's row is not found.
pub fn entry(
    tx: &Tx<'_>,
    account_id: &str,
    id: i64,
    view: AddressView,
) -> Result<LogEntry, ServiceError> {
    logs::log_in_account(tx, account_id, id)?
        .map(|r| r.seen_as(view))
        .ok_or(ServiceError::NotFound("request-log row"))
}

/// How many request-log rows a key has (deleting the key removes them).
pub fn count_for_key(tx: &Tx<'_>, key_id: &str) -> Result<i64, ServiceError> {
    Ok(logs::count_key_rows(tx, key_id)?)
}

/// How many requests a key made at or after `since` (a unix time).
pub fn requests_since(tx: &Tx<'_>, key_id: &str, since: i64) -> Result<i64, ServiceError> {
    Ok(logs::key_requests_since(tx, key_id, since)?)
}

/// The addresses refused most before a key was known, per reason, from `since_day`
/// (`YYYY-MM-DD`) on: at most `limit`, most requests first.
pub fn refusals_since(
    tx: &Tx<'_>,
    since_day: &str,
    limit: i64,
    view: AddressView,
) -> Result<Vec<RefusalTally>, ServiceError> {
    let found = refusals::refusals_since(tx, since_day, limit)?;
    Ok(found.into_iter().map(|r| r.seen_as(view)).collect())
}
