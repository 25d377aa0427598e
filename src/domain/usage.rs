//! Usage figures: requests per route or per day, and a provider's attempts, summed from the
//! daily roll-ups.

use std::collections::BTreeMap;

use super::Money;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteUsage {
    pub route: String,
    pub total: i64,
    pub success: i64,
    pub client_errors: i64,
    pub server_errors: i64,
    pub error_codes: BTreeMap<String, i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DayUsage {
    pub day: String,
    pub total: i64,
    pub success: i64,
    pub client_errors: i64,
    pub server_errors: i64,
}

/// One provider's attempts over a period (`usage_providers` of `GET /v1/usage`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProviderUsage {
    pub provider: String,
    pub submissions: i64,
    pub used: i64,
    pub cancelled: i64,
    pub discarded: i64,
    pub failed: i64,
    pub estimated_cost: Money,
    pub wasted_cost: Money,
}
