//! Query-string values shared by every API.

use std::ops::RangeInclusive;

use super::error::ApiError;

/// A whole number within `range`, or `default` when absent; otherwise 400 BSE2001 naming it.
pub fn bounded_int(
    name: &str,
    raw: Option<&str>,
    default: i64,
    range: RangeInclusive<i64>,
) -> Result<i64, ApiError> {
    let Some(raw) = raw else { return Ok(default) };
    raw.parse::<i64>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            ApiError::invalid(
                name,
                format!(
                    "{name} must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            )
        })
}
