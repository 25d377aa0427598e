//! One attempt at a delivery: the body and its two signatures, the POST through the outbound
//! guard (no redirects, a timeout, the answer read up to a cap) and what the receiver answered.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, LOCATION, RETRY_AFTER};
use reqwest::{Client, StatusCode, Url};

use crate::domain::webhook::WebhookSecret;
use crate::domain::{Clock, Timestamp};
use crate::providers::outbound::{self, AddressPolicy};
use crate::store::webhooks::Due;

/// Most of an answer read (the rest is dropped); its start goes into the delivery log.
const MAX_ANSWER_BYTES: usize = 4096;
const EXCERPT_CHARS: usize = 200;

/// What the receiver answered.
pub(super) struct Answer {
    pub(super) succeeded: bool,
    pub(super) status: Option<u16>,
    pub(super) error: Option<String>,
    pub(super) retry_after: Option<Duration>,
}

impl Answer {
    fn failed(error: String) -> Answer {
        Answer {
            succeeded: false,
            status: None,
            error: Some(error),
            retry_after: None,
        }
    }
}

/// The body every delivery of an event carries: the same for each attempt, fresh for a replay.
pub fn body(due: &Due) -> String {
    let text = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    format!(
        r#"{{"webhook_event":{},"webhook_timestamp":{},"webhook_delivery_id":{},"webhook_data":{}}}"#,
        text(&due.event),
        text(&due.created_at.to_rfc3339()),
        text(&due.id),
        due.data
    )
}

/// The headers of both signature schemes, signed at `now`.
pub fn signed_headers(due: &Due, body: &str, now: Timestamp) -> HeaderMap {
    let secret = WebhookSecret::from_stored(due.secret.clone());
    let t = now.millis().div_euclid(1000);
    let mut headers = HeaderMap::new();
    let pairs = [
        (
            "x-babysea-signature",
            secret.babysea_signature(t, body.as_bytes()),
        ),
        ("x-babysea-event", due.event.clone()),
        ("x-babysea-timestamp", now.to_rfc3339()),
        ("x-babysea-delivery-id", due.id.clone()),
        ("webhook-id", due.id.clone()),
        ("webhook-timestamp", t.to_string()),
        (
            "webhook-signature",
            secret.standard_signature(&due.id, t, body.as_bytes()),
        ),
    ];
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers
}

pub(super) async fn send(
    client: &Client,
    policy: AddressPolicy,
    clock: &Clock,
    timeout: Duration,
    due: &Due,
) -> Answer {
    let url = match Url::parse(&due.url) {
        Ok(url) => url,
        Err(_) => return Answer::failed("the endpoint URL is not a URL".into()),
    };
    if let Err(refused) = policy.check_url(&url) {
        return Answer::failed(format!("refused: {refused}"));
    }
    let body = body(due);
    let headers = signed_headers(due, &body, clock.now());
    let sent = client
        .post(url)
        .timeout(timeout)
        .headers(headers)
        .body(body)
        .send()
        .await;
    let mut response = match sent {
        Ok(response) => response,
        Err(e) => return Answer::failed(transport_error(e, timeout)),
    };
    let status = response.status();
    let retry_after = match status {
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
            .map(Duration::from_secs),
        _ => None,
    };
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(crate::domain::webhook::redact_url);
    let mut answer = Vec::new();
    while answer.len() < MAX_ANSWER_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => answer.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    if status.is_success() {
        return Answer {
            succeeded: true,
            status: Some(status.as_u16()),
            error: None,
            retry_after: None,
        };
    }
    let error = if status.is_redirection() {
        format!(
            "HTTP {}: redirects are not followed (to {})",
            status.as_u16(),
            location.unwrap_or_else(|| "nowhere".into())
        )
    } else {
        let excerpt: String = String::from_utf8_lossy(&answer)
            .chars()
            .take(EXCERPT_CHARS)
            .collect();
        format!("HTTP {}: {}", status.as_u16(), excerpt.trim())
    };
    Answer {
        succeeded: false,
        status: Some(status.as_u16()),
        error: Some(error.trim_end_matches(": ").to_owned()),
        retry_after,
    }
}

/// Why no answer came, without the URL (it may hold credentials).
fn transport_error(e: reqwest::Error, timeout: Duration) -> String {
    if let Some(refused) = outbound::was_refused(&e) {
        return format!("refused: {refused}");
    }
    if e.is_timeout() {
        return format!("no answer within {} s", timeout.as_secs_f64());
    }
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message.chars().take(EXCERPT_CHARS).collect()
}
