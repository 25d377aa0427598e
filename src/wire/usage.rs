//! `GET /v1/usage`: an account's requests, generations and provider attempts over its last days.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use super::{Credits, count};
use crate::service::usage::{MAX_DAYS, ProviderUsage, RouteUsage, UsageReport};

#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "UsageData")]
pub struct UsageData {
    #[schemars(extend("format" = "uuid"))]
    pub account_id: String,
    #[schemars(range(min = 1, max = MAX_DAYS))]
    pub usage_period_days: i64,
    pub usage_credit_balance: Credits,
    pub usage_total_requests: u64,
    pub usage_total_success: u64,
    pub usage_total_client_errors: u64,
    pub usage_total_server_errors: u64,
    pub usage_total_generations: u64,
    pub usage_total_provider_submissions: u64,
    #[schemars(range(min = 0))]
    pub usage_total_estimated_cost: Credits,
    pub usage_endpoints: Vec<EndpointUsage>,
    pub usage_providers: Vec<ProviderUsageOut>,
}

/// One route template's requests.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "UsageEndpoint", inline)]
pub struct EndpointUsage {
    /// The route template, e.g. `/v1/content/{generation_id}`.
    pub endpoint: String,
    pub total_requests: u64,
    pub success_count: u64,
    pub client_error_count: u64,
    pub server_error_count: u64,
    /// Each error code answered, with how often.
    pub error_codes: BTreeMap<String, u64>,
}

/// One provider's attempts.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(rename = "UsageProvider", inline)]
pub struct ProviderUsageOut {
    pub provider: String,
    pub total_submissions: u64,
    pub used_count: u64,
    pub cancelled_count: u64,
    pub discarded_count: u64,
    pub failed_count: u64,
    #[schemars(range(min = 0))]
    pub total_estimated_cost: Credits,
    #[schemars(range(min = 0))]
    pub wasted_estimated_cost: Credits,
}

impl UsageData {
    pub fn of(report: &UsageReport) -> UsageData {
        let sum = |f: fn(&RouteUsage) -> i64| report.routes.iter().map(|r| count(f(r))).sum();
        UsageData {
            account_id: report.account_id.clone(),
            usage_period_days: report.days,
            usage_credit_balance: Credits(report.credit_balance),
            usage_total_requests: sum(|r| r.total),
            usage_total_success: sum(|r| r.success),
            usage_total_client_errors: sum(|r| r.client_errors),
            usage_total_server_errors: sum(|r| r.server_errors),
            usage_total_generations: count(report.generations),
            usage_total_provider_submissions: report
                .providers
                .iter()
                .map(|p| count(p.submissions))
                .sum(),
            usage_total_estimated_cost: Credits(report.estimated_cost),
            usage_endpoints: report.routes.iter().map(EndpointUsage::of).collect(),
            usage_providers: report.providers.iter().map(ProviderUsageOut::of).collect(),
        }
    }
}

impl EndpointUsage {
    fn of(r: &RouteUsage) -> EndpointUsage {
        EndpointUsage {
            endpoint: r.route.clone(),
            total_requests: count(r.total),
            success_count: count(r.success),
            client_error_count: count(r.client_errors),
            server_error_count: count(r.server_errors),
            error_codes: r
                .error_codes
                .iter()
                .map(|(code, n)| (code.clone(), count(*n)))
                .collect(),
        }
    }
}

impl ProviderUsageOut {
    fn of(p: &ProviderUsage) -> ProviderUsageOut {
        ProviderUsageOut {
            provider: p.provider.clone(),
            total_submissions: count(p.submissions),
            used_count: count(p.used),
            cancelled_count: count(p.cancelled),
            discarded_count: count(p.discarded),
            failed_count: count(p.failed),
            total_estimated_cost: Credits(p.estimated_cost),
            wasted_estimated_cost: Credits(p.wasted_cost),
        }
    }
}
