//! The query parameters of the management API, with their defaults, ranges and values: the
//! handlers read them through these, and the document describes them from these.

use super::operation::{QueryParam, Value, param, whole};
use crate::domain::key::KeyStatus;
use crate::domain::log::Category;
use crate::domain::webhook::DeliveryStatus;
use crate::service::usage::MAX_DAYS;

fn key_statuses() -> Vec<&'static str> {
    let mut names: Vec<&str> = KeyStatus::ALL.iter().map(|s| s.as_str()).collect();
    names.push("all");
    names
}

fn delivery_statuses() -> Vec<&'static str> {
    DeliveryStatus::ALL.iter().map(|s| s.as_str()).collect()
}

fn activity_categories() -> Vec<&'static str> {
    Category::ALL.iter().map(|c| c.as_str()).collect()
}

fn log_formats() -> Vec<&'static str> {
    vec!["json", "csv"]
}

pub const KEY_STATUS: QueryParam = param(
    "status",
    Value::OneOf(key_statuses, Some("all")),
    "Only keys with this status",
);
pub const KEY_SEARCH: QueryParam = param(
    "search",
    Value::Text,
    "Only keys whose name contains this, or whose prefix starts with it",
);
pub const KEY_LIMIT: QueryParam = whole("limit", (50, 1, 500), "Keys per page");
pub const KEY_OFFSET: QueryParam = whole("offset", (0, 0, i64::MAX), "Keys to skip");
pub const USAGE_DAYS: QueryParam =
    whole("days", (30, 1, MAX_DAYS), "Days to cover, today included");

pub const LOG_KEY: QueryParam = param("key_id", Value::Text, "Only requests of this key");
pub const LOG_STATUS: QueryParam = param(
    "status",
    Value::Pattern("^(?:[1-5][xX][xX]|[1-5][0-9][0-9])$"),
    "Only answers of this status (`404`) or class (`4xx`)",
);
pub const LOG_ERROR_CODE: QueryParam = param(
    "error_code",
    Value::Text,
    "Only answers with this error code, e.g. `BSE1005`",
);
pub const LOG_SINCE: QueryParam = param("since", Value::Time, "Only requests from this time on");
pub const LOG_UNTIL: QueryParam = param("until", Value::Time, "Only requests before this time");
pub const LOG_LIMIT: QueryParam = whole("limit", (100, 1, 1000), "Requests per page");
pub const LOG_CURSOR: QueryParam = param("cursor", Value::Cursor, "Only requests older than this");
pub const LOG_FORMAT: QueryParam = param(
    "format",
    Value::OneOf(log_formats, Some("json")),
    "`csv`: the page as a CSV file (`text/csv`), its cursor in `X-Next-Cursor`",
);
pub const ACTIVITY_LIMIT: QueryParam = whole("limit", (50, 1, 500), "Entries per page");
pub const ACTIVITY_CURSOR: QueryParam =
    param("cursor", Value::Cursor, "Only entries older than this");
pub const ACTIVITY_CATEGORY: QueryParam = param(
    "category",
    Value::OneOf(activity_categories, None),
    "Only entries of this category",
);
pub const ACTIVITY_ACTOR: QueryParam = param(
    "actor",
    Value::Text,
    "Only entries made by this actor, e.g. `user:ada@example.com` or `key:bye_AbCd1`",
);
pub const ACTIVITY_SINCE: QueryParam =
    param("since", Value::Time, "Only entries from this time on");
pub const ACTIVITY_UNTIL: QueryParam = param("until", Value::Time, "Only entries before this time");
pub const DELIVERY_STATUS: QueryParam = param(
    "status",
    Value::OneOf(delivery_statuses, None),
    "Only deliveries with this status",
);
pub const DELIVERY_LIMIT: QueryParam = whole("limit", (50, 1, 500), "Deliveries per page");
pub const DELIVERY_CURSOR: QueryParam =
    param("cursor", Value::Cursor, "Only deliveries older than this");

pub const LIST_KEYS: &[QueryParam] = &[KEY_STATUS, KEY_SEARCH, KEY_LIMIT, KEY_OFFSET];
pub const KEY_USAGE: &[QueryParam] = &[USAGE_DAYS];
pub const LOGS: &[QueryParam] = &[
    LOG_KEY,
    LOG_STATUS,
    LOG_ERROR_CODE,
    LOG_SINCE,
    LOG_UNTIL,
    LOG_LIMIT,
    LOG_CURSOR,
    LOG_FORMAT,
];
pub const ACTIVITY: &[QueryParam] = &[
    ACTIVITY_CATEGORY,
    ACTIVITY_ACTOR,
    ACTIVITY_SINCE,
    ACTIVITY_UNTIL,
    ACTIVITY_LIMIT,
    ACTIVITY_CURSOR,
];
pub const DELIVERIES: &[QueryParam] = &[DELIVERY_STATUS, DELIVERY_LIMIT, DELIVERY_CURSOR];
