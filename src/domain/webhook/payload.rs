//! What each event tells its receivers: the `webhook_data` of a delivery, written with the
//! change it reports. Fields that are not known are left out, as the SDK declares them optional.

use serde::Serialize;

/// `apikey.*`: the key, and what the event adds about it.
#[derive(Clone, Debug, Serialize)]
pub struct KeyEventData {
    pub account_id: String,
    pub apikey_id: String,
    pub apikey_name: String,
    pub apikey_prefix: String,
    /// Created, revoked, deleted: its expiry; expired, expiring: when it expires or expired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Option<String>>,
    /// Rotated: the key that replaces it, and when it stops working.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grace_ends_at: Option<String>,
    /// Expiring: the warning this is, in days before the expiry (`jobs.expiry_warning_days`,
    /// or 1 for the last day's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning_days: Option<u32>,
    /// Unused: its last request (`null` for never), and the days without one that made it so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unused_days: Option<u32>,
    /// Rate limit exceeded: the hour (its start), the requests refused with 429 in it so far, and
    /// the count it went over (`jobs.ratelimit_refusals_per_hour`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hour_start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusals: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusals_threshold: Option<u32>,
    /// Leaked: where it was found (a URL, or a file and line) and what was done (`revoked`,
    /// `disabled`, `notified`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leak_source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leak_action: Option<&'static str>,
    /// Budget reached: the budget (credits a period), what was spent in the period, the
    /// percentage reached (80 or 100) and when the period began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_credits: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_period: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_spent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_percent: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_start: Option<String>,
}

/// `generation.*` and `webhook.test`: the generation as it now is.
#[derive(Clone, Debug, Serialize)]
pub struct GenerationEventData {
    pub account_id: String,
    pub model_identifier: String,
    pub generation_id: String,
    pub generation_status: &'static str,
    /// Started: the first provider it will try.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_provider_initialize: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_provider_used: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_prediction_id: Option<String>,
    /// Completed: the files' absolute URLs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_output_file: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_error_code: Option<String>,
    /// Failed, canceled: whether credits went back to the balance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credits_refunded: Option<bool>,
}

impl GenerationEventData {
    /// The fields every generation event has; the rest are added by what happened.
    pub fn new(
        account_id: &str,
        model_identifier: &str,
        generation_id: &str,
        generation_status: &'static str,
    ) -> GenerationEventData {
        GenerationEventData {
            account_id: account_id.to_owned(),
            model_identifier: model_identifier.to_owned(),
            generation_id: generation_id.to_owned(),
            generation_status,
            generation_provider_initialize: None,
            generation_provider_used: None,
            generation_prediction_id: None,
            generation_output_file: None,
            generation_error: None,
            generation_error_code: None,
            credits_refunded: None,
        }
    }
}

/// `credits.low_balance`: the balance fell below the thresholds in `thresholds_crossed`.
#[derive(Clone, Debug, Serialize)]
pub struct LowBalanceData {
    pub account_id: String,
    pub current_balance: f64,
    pub thresholds_crossed: Vec<ThresholdCrossed>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ThresholdCrossed {
    pub threshold: f64,
    pub balance_at: f64,
}

/// `webhook.disabled`: an endpoint of the account was disabled after failing.
#[derive(Clone, Debug, Serialize)]
pub struct EndpointDisabledData {
    pub account_id: String,
    pub endpoint_id: String,
    /// Its URL with any credentials, query and fragment left out.
    pub endpoint_url: String,
    /// `failures` (that many deliveries in a row failed) or `gone` (it answered 410).
    pub reason: &'static str,
    pub consecutive_failures: i64,
    pub disabled_at: String,
}
