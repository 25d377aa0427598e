//! Webhooks (docs/generation.md, "Webhooks"): the events an endpoint can listen to, its URL and
//! signing secret, and the two signatures every delivery carries.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};
use sha2::Sha256;

use super::random::{RandomError, hex, os_random_bytes};

mod endpoint;
pub(crate) mod payload;

pub use endpoint::{
    Delivery, DeliveryStatus, DisabledReason, Endpoint, EndpointSummary, LastDelivery,
};

type HmacSha256 = hmac::Hmac<Sha256>;

/// What an endpoint can be sent. `webhook.test` is sent only by "Send test event".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WebhookEvent {
    GenerationStarted,
    GenerationCompleted,
    GenerationFailed,
    GenerationCanceled,
    CreditsLowBalance,
    ApiKeyCreated,
    ApiKeyRotated,
    ApiKeyRevoked,
    ApiKeyDeleted,
    ApiKeyExpiring,
    ApiKeyExpired,
    ApiKeyUnused,
    ApiKeyGraceEnding,
    ApiKeyLeaked,
    ApiKeyBudgetReached,
    RateLimitExceeded,
    WebhookDisabled,
    Test,
}

impl WebhookEvent {
    /// The events an endpoint may choose, in the order pages list them.
    pub const SUBSCRIBABLE: [WebhookEvent; 17] = [
        WebhookEvent::GenerationStarted,
        WebhookEvent::GenerationCompleted,
        WebhookEvent::GenerationFailed,
        WebhookEvent::GenerationCanceled,
        WebhookEvent::CreditsLowBalance,
        WebhookEvent::ApiKeyCreated,
        WebhookEvent::ApiKeyRotated,
        WebhookEvent::ApiKeyRevoked,
        WebhookEvent::ApiKeyDeleted,
        WebhookEvent::ApiKeyExpiring,
        WebhookEvent::ApiKeyExpired,
        WebhookEvent::ApiKeyUnused,
        WebhookEvent::ApiKeyGraceEnding,
        WebhookEvent::ApiKeyLeaked,
        WebhookEvent::ApiKeyBudgetReached,
        WebhookEvent::RateLimitExceeded,
        WebhookEvent::WebhookDisabled,
    ];

    /// The events that are notices (docs/notifications.md): sent by the one notification place,
    /// and e-mailed to the members an account chooses. In the order pages list them.
    pub const NOTICES: [WebhookEvent; 9] = [
        WebhookEvent::ApiKeyExpiring,
        WebhookEvent::ApiKeyExpired,
        WebhookEvent::ApiKeyGraceEnding,
        WebhookEvent::ApiKeyLeaked,
        WebhookEvent::ApiKeyBudgetReached,
        WebhookEvent::ApiKeyUnused,
        WebhookEvent::RateLimitExceeded,
        WebhookEvent::WebhookDisabled,
        WebhookEvent::CreditsLowBalance,
    ];

    /// What a notice tells, for the pages that list them.
    pub fn describe(self) -> &'static str {
        match self {
            WebhookEvent::ApiKeyExpiring => "A key expires within a week, and again within a day",
            WebhookEvent::ApiKeyExpired => "A key expired",
            WebhookEvent::ApiKeyGraceEnding => {
                "A rotated key still receives requests and its grace period ends within a day"
            }
            WebhookEvent::ApiKeyLeaked => "A key was found where it should not be",
            WebhookEvent::ApiKeyBudgetReached => {
                "A key's generations spent 80 %, then all, of its credit budget for the period"
            }
            WebhookEvent::ApiKeyUnused => "A key has had no request for a month",
            WebhookEvent::RateLimitExceeded => {
                "A key is refused for its rate limit again and again within an hour"
            }
            WebhookEvent::WebhookDisabled => "A webhook endpoint was disabled after failing",
            WebhookEvent::CreditsLowBalance => "The credit balance fell below an alert threshold",
            _ => "",
        }
    }

    /// A notice by its event name.
    pub fn parse_notice(name: &str) -> Option<WebhookEvent> {
        WebhookEvent::NOTICES
            .into_iter()
            .find(|e| e.as_str() == name)
    }

    /// What a new endpoint listens to when it names no events.
    pub const DEFAULT: [WebhookEvent; 4] = [
        WebhookEvent::GenerationStarted,
        WebhookEvent::GenerationCompleted,
        WebhookEvent::GenerationFailed,
        WebhookEvent::GenerationCanceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::GenerationStarted => "generation.started",
            WebhookEvent::GenerationCompleted => "generation.completed",
            WebhookEvent::GenerationFailed => "generation.failed",
            WebhookEvent::GenerationCanceled => "generation.canceled",
            WebhookEvent::CreditsLowBalance => "credits.low_balance",
            WebhookEvent::ApiKeyCreated => "apikey.created",
            WebhookEvent::ApiKeyRotated => "apikey.rotated",
            WebhookEvent::ApiKeyRevoked => "apikey.revoked",
            WebhookEvent::ApiKeyDeleted => "apikey.deleted",
            WebhookEvent::ApiKeyExpiring => "apikey.expiring",
            WebhookEvent::ApiKeyExpired => "apikey.expired",
            WebhookEvent::ApiKeyUnused => "apikey.unused",
            WebhookEvent::ApiKeyGraceEnding => "apikey.grace_ending",
            WebhookEvent::ApiKeyLeaked => "apikey.leaked",
            WebhookEvent::ApiKeyBudgetReached => "apikey.budget_reached",
            WebhookEvent::RateLimitExceeded => "ratelimit.exceeded",
            WebhookEvent::WebhookDisabled => "webhook.disabled",
            WebhookEvent::Test => "webhook.test",
        }
    }

    /// An event an endpoint may listen to.
    pub fn parse(name: &str) -> Option<WebhookEvent> {
        WebhookEvent::SUBSCRIBABLE
            .into_iter()
            .find(|e| e.as_str() == name)
    }
}

impl fmt::Display for WebhookEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The events an endpoint listens to: at least one, each once, in the order of `SUBSCRIBABLE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventSet(Vec<WebhookEvent>);

impl EventSet {
    /// `None` gives the default set; an empty list, an unknown or repeated name is refused with
    /// the index of the offending entry.
    pub fn parse<S: AsRef<str>>(names: Option<&[S]>) -> Result<EventSet, (Option<usize>, String)> {
        let Some(names) = names else {
            return Ok(EventSet(WebhookEvent::DEFAULT.to_vec()));
        };
        if names.is_empty() {
            return Err((None, "name at least one event".into()));
        }
        let mut chosen = Vec::new();
        for (index, name) in names.iter().enumerate() {
            let name = name.as_ref().trim();
            let event = WebhookEvent::parse(name).ok_or_else(|| {
                let known: Vec<&str> = WebhookEvent::SUBSCRIBABLE
                    .iter()
                    .map(|e| e.as_str())
                    .collect();
                (
                    Some(index),
                    format!(
                        "unknown event {name:?}; the events are {}",
                        known.join(", ")
                    ),
                )
            })?;
            if chosen.contains(&event) {
                return Err((Some(index), format!("{name} is listed twice")));
            }
            chosen.push(event);
        }
        chosen.sort_by_key(|e| WebhookEvent::SUBSCRIBABLE.iter().position(|s| s == e));
        Ok(EventSet(chosen))
    }

    /// Reads the stored form; names a newer version wrote are skipped.
    pub fn from_stored(names: &[String]) -> EventSet {
        EventSet(
            names
                .iter()
                .filter_map(|n| WebhookEvent::parse(n))
                .collect(),
        )
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|e| e.as_str()).collect()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = WebhookEvent> + '_ {
        self.0.iter().copied()
    }
}

/// Longest URL an endpoint may have.
pub const MAX_URL_LEN: usize = 2048;

/// An endpoint's URL: absolute http(s), with a host, at most 2,048 characters. Where it may
/// point is checked when a delivery connects (see `providers::outbound`).
#[derive(Clone, PartialEq, Eq)]
pub struct EndpointUrl(reqwest::Url);

impl EndpointUrl {
    pub fn parse(raw: &str) -> Result<EndpointUrl, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("a URL is required".into());
        }
        if raw.len() > MAX_URL_LEN {
            return Err(format!("at most {MAX_URL_LEN} characters"));
        }
        let url = reqwest::Url::parse(raw)
            .map_err(|_| "must be an absolute URL such as https://example.com/hooks".to_owned())?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("must start with http:// or https://".into());
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("must name a host".into());
        }
        if url.fragment().is_some() {
            return Err("must not have a #fragment".into());
        }
        Ok(EndpointUrl(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn url(&self) -> &reqwest::Url {
        &self.0
    }

    /// The URL with any user name and password replaced, for pages, logs and errors.
    pub fn redacted(&self) -> String {
        redact_url(self.0.as_str())
    }
}

impl fmt::Debug for EndpointUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// `raw` with the credentials of its authority, if any, replaced by `***`.
pub fn redact_url(raw: &str) -> String {
    match reqwest::Url::parse(raw) {
        Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
            let _ = url.set_username("***");
            let _ = url.set_password(None);
            url.to_string()
        }
        Ok(url) => url.to_string(),
        Err(_) => "[invalid URL]".into(),
    }
}

/// An endpoint's signing secret: `whsec_` and the base64 of 24 random bytes (32 characters), so
/// that one secret serves the BabySea signature (keyed by the whole string) and the Standard
/// Webhooks one (keyed by the decoded bytes). No `Debug` of its value.
#[derive(Clone)]
pub struct WebhookSecret(String);

pub const SECRET_PREFIX: &str = "whsec_";

impl WebhookSecret {
    pub fn generate() -> Result<WebhookSecret, RandomError> {
        let mut bytes = [0u8; 24];
        os_random_bytes(&mut bytes)?;
        Ok(WebhookSecret(format!(
            "{SECRET_PREFIX}{}",
            STANDARD.encode(bytes)
        )))
    }

    /// A stored secret.
    pub fn from_stored(s: String) -> WebhookSecret {
        WebhookSecret(s)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The Standard Webhooks key: the decoded part after `whsec_` (the whole string's bytes if
    /// it does not decode).
    fn standard_key(&self) -> Vec<u8> {
        let encoded = self.0.strip_prefix(SECRET_PREFIX).unwrap_or(&self.0);
        STANDARD
            .decode(encoded)
            .unwrap_or_else(|_| self.0.as_bytes().to_vec())
    }

    /// `X-BabySea-Signature`: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, keyed by
    /// the whole secret string.
    pub fn babysea_signature(&self, unix_seconds: i64, body: &[u8]) -> String {
        let digest = hmac(
            self.0.as_bytes(),
            &[unix_seconds.to_string().as_bytes(), b".", body],
        );
        format!("t={unix_seconds},v1={}", hex(&digest))
    }

    /// `webhook-signature`: `v1,<base64 HMAC-SHA256 of "<id>.<t>.<body>">`, keyed by the decoded
    /// secret.
    pub fn standard_signature(&self, message_id: &str, unix_seconds: i64, body: &[u8]) -> String {
        let t = unix_seconds.to_string();
        let digest = hmac(
            &self.standard_key(),
            &[message_id.as_bytes(), b".", t.as_bytes(), b".", body],
        );
        format!("v1,{}", STANDARD.encode(digest))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([redacted])")
    }
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC takes keys of any length.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_whsec_and_32_base64_characters_of_24_bytes() {
        let secret = WebhookSecret::generate().unwrap();
        let s = secret.expose();
        assert!(s.starts_with("whsec_") && s.len() == 6 + 32, "{s}");
        assert_eq!(secret.standard_key().len(), 24);
        assert_eq!(format!("{secret:?}"), "WebhookSecret([redacted])");
    }

    #[test]
    fn signatures_follow_both_schemes() {
        // Standard Webhooks' published example: secret, id, timestamp, body and signature.
        let secret = WebhookSecret::from_stored("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into());
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            secret.standard_signature("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let babysea = secret.babysea_signature(1614265330, body);
        let (t, v1) = babysea.split_once(',').unwrap();
        assert_eq!(t, "t=1614265330");
        assert_eq!(v1.len(), 3 + 64);
        assert_eq!(
            v1,
            format!(
                "v1={}",
                hex(&hmac(secret.expose().as_bytes(), &[b"1614265330.", body]))
            )
        );
    }

    #[test]
    fn events_default_to_the_four_generation_events_and_refuse_unknown_or_repeated_names() {
        let none: Option<&[&str]> = None;
        assert_eq!(
            EventSet::parse(none).unwrap().names(),
            [
                "generation.started",
                "generation.completed",
                "generation.failed",
                "generation.canceled"
            ]
        );
        let empty: &[&str] = &[];
        assert_eq!(EventSet::parse(Some(empty)).unwrap_err().0, None);
        let bad = ["apikey.created", "generation.exploded"];
        assert_eq!(EventSet::parse(Some(&bad[..])).unwrap_err().0, Some(1));
        let twice = ["apikey.created", "apikey.created"];
        assert_eq!(EventSet::parse(Some(&twice[..])).unwrap_err().0, Some(1));
        let test = ["webhook.test"];
        assert!(
            EventSet::parse(Some(&test[..])).is_err(),
            "not subscribable"
        );
    }

    #[test]
    fn urls_must_be_absolute_http_and_not_too_long() {
        for bad in [
            "",
            "example.com/hook",
            "ftp://example.com/hook",
            "http://",
            "https://example.com/#x",
        ] {
            assert!(EndpointUrl::parse(bad).is_err(), "{bad}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(EndpointUrl::parse(&long).is_err());
        let url = EndpointUrl::parse("https://user:pass@example.com/hook").unwrap();
        assert_eq!(url.redacted(), "https://***@example.com/hook");
        assert!(!format!("{url:?}").contains("pass"));
    }
}
