//! What the HTTP provider adapters share: the client, URLs under a provider's base URL, upstream
//! refusals mapped to `ProviderError`, and capped downloads of the files a provider produced.

use std::error::Error as _;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use reqwest::header::LOCATION;
use reqwest::{Client, RequestBuilder, Response, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::job::{OutputFile, ProviderError, sniff_extension};
use super::outbound::AddressPolicy;
use super::spec::ProviderSpec;

/// Largest single produced file.
pub const MAX_FILE_BYTES: usize = 50 * 1024 * 1024;
/// Largest total of one generation's files, and largest JSON answer.
pub const MAX_TOTAL_BYTES: usize = 256 * 1024 * 1024;
/// Most of an error answer read to find its message.
const MAX_ERROR_BYTES: usize = 64 * 1024;
/// Longest excerpt of an upstream message kept in an error.
const EXCERPT_CHARS: usize = 200;
/// Redirects followed when downloading a produced file (API calls follow none).
const MAX_FILE_REDIRECTS: usize = 3;
/// Error codes with which OpenAI-style upstreams say the account has no credit left.
const OUT_OF_CREDIT_CODES: [&str; 2] = ["insufficient_quota", "billing_hard_limit_reached"];

/// Upstreams may pad base64 or not.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Where providers may be called: their servers usually run on the same network (a local
/// inference server), never on link-local or metadata addresses.
pub const PROVIDER_POLICY: AddressPolicy = AddressPolicy {
    allow_private: true,
};

/// The HTTP client every adapter shares (see `outbound`). Fails only if TLS cannot be set up (no
/// usable root certificates); build it once at start-up.
pub fn client() -> Result<Client, reqwest::Error> {
    super::outbound::client(PROVIDER_POLICY)
}

/// One provider's base URL, secret and per-request timeout.
pub(crate) struct Upstream {
    client: Client,
    base: Url,
    secret: Option<String>,
    request_timeout: Duration,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("base", &self.base.as_str())
            .field("secret", &self.secret.as_ref().map(|_| "[set]"))
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

impl Upstream {
    /// Each request may take the provider's `timeout_seconds`, but never more than `longest`.
    pub(crate) fn new(
        spec: &ProviderSpec,
        client: Client,
        longest: Duration,
    ) -> Result<Self, String> {
        let mut base = spec
            .base_url
            .as_deref()
            .and_then(|raw| Url::parse(raw).ok())
            .filter(|url| is_web(url) && !url.cannot_be_a_base())
            .ok_or_else(|| format!("providers.{}.base_url: must be an http(s) URL", spec.id))?;
        PROVIDER_POLICY
            .check_url(&base)
            .map_err(|refused| format!("providers.{}.base_url: {refused}", spec.id))?;
        base.set_query(None);
        base.set_fragment(None);
        let timeout = Duration::try_from_secs_f64(spec.timeout_seconds)
            .ok()
            .filter(|t| !t.is_zero())
            .unwrap_or(longest);
        Ok(Upstream {
            client,
            base,
            secret: spec.secret.clone().filter(|s| !s.is_empty()),
            request_timeout: timeout.min(longest),
        })
    }

    /// `{base_url}/a/b/...`, each segment percent-encoded (an upstream's id cannot add a path).
    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    pub(crate) fn post(&self, url: Url) -> RequestBuilder {
        self.authorized(self.client.post(url))
    }

    pub(crate) fn get(&self, url: Url) -> RequestBuilder {
        self.authorized(self.client.get(url))
    }

    fn authorized(&self, request: RequestBuilder) -> RequestBuilder {
        let request = request.timeout(self.request_timeout);
        match &self.secret {
            Some(secret) => request.bearer_auth(secret),
            None => request,
        }
    }

    /// Sends `request`; anything but a 2xx answer is an error.
    pub(crate) async fn send(&self, request: RequestBuilder) -> Result<Response, ProviderError> {
        let response = request.send().await.map_err(transport)?;
        self.accept(response).await
    }

    async fn accept(&self, response: Response) -> Result<Response, ProviderError> {
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let body = read_capped(response, MAX_ERROR_BYTES)
            .await
            .unwrap_or_default();
        let error = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
        if status == StatusCode::PAYMENT_REQUIRED || says_out_of_credit(&error) {
            return Err(ProviderError::CreditsExhausted);
        }
        let message = error_message(&error)
            .map(|m| self.excerpt(m))
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("no reason").to_owned());
        Err(ProviderError::Status {
            status: status.as_u16(),
            message,
        })
    }

    /// Up to 200 characters of an upstream's message, on one line, without our secret in it.
    pub(crate) fn excerpt(&self, message: &str) -> String {
        let redacted = match &self.secret {
            Some(secret) => message.replace(secret.as_str(), "[redacted]"),
            None => message.to_owned(),
        };
        let one_line = redacted
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c });
        let mut out: String = one_line.clone().take(EXCERPT_CHARS).collect();
        if one_line.count() > EXCERPT_CHARS {
            out.pop();
            out.push('…');
        }
        out.trim().to_owned()
    }

    /// A produced file sent inline as base64.
    pub(crate) fn file_from_base64(
        &self,
        data: &str,
        budget: &mut Budget,
    ) -> Result<OutputFile, ProviderError> {
        let bytes = decode_base64(data)?;
        budget.take(bytes.len())?;
        file_from_bytes(bytes)
    }

    /// A produced file given as a `data:<mime>;base64,...` URL or as an http(s) URL to download
    /// (relative URLs are resolved against the base URL).
    pub(crate) async fn file_from_reference(
        &self,
        reference: &str,
        budget: &mut Budget,
    ) -> Result<OutputFile, ProviderError> {
        if let Some(data) = reference.strip_prefix("data:") {
            let (_, payload) = data
                .split_once(";base64,")
                .ok_or_else(|| garbage("a data URL output is not base64"))?;
            return self.file_from_base64(payload, budget);
        }
        let url = self
            .base
            .join(reference)
            .map_err(|_| garbage("an output URL is not a URL"))?;
        let bytes = self.download(url, budget.cap()).await?;
        budget.take(bytes.len())?;
        file_from_bytes(bytes)
    }

    async fn download(&self, mut url: Url, cap: usize) -> Result<Vec<u8>, ProviderError> {
        for _ in 0..=MAX_FILE_REDIRECTS {
            if !is_web(&url) {
                return Err(garbage("an output URL is not http or https"));
            }
            PROVIDER_POLICY
                .check_url(&url)
                .map_err(|refused| garbage(&format!("an output URL is refused: {refused}")))?;
            let response = self.file_request(&url).send().await.map_err(transport)?;
            if !response.status().is_redirection() {
                return read_capped(self.accept(response).await?, cap).await;
            }
            url = response
                .headers()
                .get(LOCATION)
                .and_then(|location| location.to_str().ok())
                .and_then(|location| url.join(location).ok())
                .ok_or_else(|| garbage("an output URL redirects nowhere"))?;
        }
        Err(garbage("an output URL redirects too often"))
    }

    /// The secret goes only to the provider's own origin, never to a storage host it links to.
    fn file_request(&self, url: &Url) -> RequestBuilder {
        if url.origin() == self.base.origin() {
            self.get(url.clone())
        } else {
            self.client.get(url.clone()).timeout(self.request_timeout)
        }
    }
}

/// What is left of one generation's byte allowance.
#[derive(Debug)]
pub(crate) struct Budget(usize);

impl Budget {
    pub(crate) fn new() -> Self {
        Budget(MAX_TOTAL_BYTES)
    }

    /// Largest next file.
    fn cap(&self) -> usize {
        self.0.min(MAX_FILE_BYTES)
    }

    fn take(&mut self, bytes: usize) -> Result<(), ProviderError> {
        if bytes > self.cap() {
            return Err(too_large());
        }
        self.0 -= bytes;
        Ok(())
    }
}

/// A 2xx answer's JSON body as `T`; anything else is garbage.
pub(crate) async fn read_json<T: DeserializeOwned>(response: Response) -> Result<T, ProviderError> {
    let body = read_capped(response, MAX_TOTAL_BYTES).await?;
    serde_json::from_slice(&body).map_err(|e| {
        // serde's message can quote the body: keep it short.
        let reason: String = e.to_string().chars().take(EXCERPT_CHARS).collect();
        garbage(&format!("not the expected JSON ({reason})"))
    })
}

/// Fewer files than asked is a failed attempt; extra ones are dropped.
pub(crate) fn check_count(produced: usize, asked: u32) -> Result<usize, ProviderError> {
    let asked = usize::try_from(asked).unwrap_or(usize::MAX);
    if produced < asked {
        return Err(garbage(&format!("asked for {asked} files, got {produced}")));
    }
    Ok(asked)
}

/// Adds the model-specific fields to a request body; they never replace a field the adapter set.
pub(crate) fn merge_specific(body: &mut Map<String, Value>, specific: &Map<String, Value>) {
    for (name, value) in specific {
        body.entry(name.clone()).or_insert_with(|| value.clone());
    }
}

pub(crate) fn garbage(reason: &str) -> ProviderError {
    ProviderError::Garbage(reason.to_owned())
}

fn too_large() -> ProviderError {
    garbage("the answer is larger than allowed")
}

fn is_web(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

async fn read_capped(mut response: Response, cap: usize) -> Result<Vec<u8>, ProviderError> {
    if response
        .content_length()
        .is_some_and(|length| length > cap as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A request that got no answer: timed out, or could not connect or finish. The URL is left out
/// of the message (it may carry a signed query).
fn transport(error: reqwest::Error) -> ProviderError {
    if error.is_timeout() {
        return ProviderError::Timeout;
    }
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    ProviderError::Transport(message.chars().take(EXCERPT_CHARS).collect())
}

/// `error.message` (OpenAI), or a bare `error`, `message` or `detail` string.
fn error_message(body: &Value) -> Option<&str> {
    ["/error/message", "/error", "/message", "/detail"]
        .iter()
        .find_map(|pointer| body.pointer(pointer).and_then(Value::as_str))
}

fn says_out_of_credit(body: &Value) -> bool {
    ["/error/code", "/error/type", "/code"]
        .iter()
        .any(|pointer| {
            body.pointer(pointer)
                .and_then(Value::as_str)
                .is_some_and(|code| OUT_OF_CREDIT_CODES.contains(&code))
        })
}

fn decode_base64(data: &str) -> Result<Vec<u8>, ProviderError> {
    let result = if data.bytes().any(|b| b.is_ascii_whitespace()) {
        let compact: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        BASE64.decode(compact)
    } else {
        BASE64.decode(data)
    };
    result.map_err(|_| garbage("an output file is not valid base64"))
}

fn file_from_bytes(bytes: Vec<u8>) -> Result<OutputFile, ProviderError> {
    let extension = sniff_extension(&bytes)
        .ok_or_else(|| garbage("an output file is not a known image or video format"))?;
    Ok(OutputFile {
        bytes,
        extension: extension.to_owned(),
    })
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests {
    use super::testing::{spec, tiny_png};
    use super::*;
    use crate::providers::ProviderKind;

    fn upstream(base: &str, secret: Option<&str>) -> Upstream {
        let mut spec = spec(ProviderKind::HttpAsync, base);
        spec.secret = secret.map(str::to_owned);
        Upstream::new(&spec, client().unwrap(), Duration::from_secs(30)).unwrap()
    }

    #[test]
    fn urls_stay_under_the_base_path_whatever_the_id() {
        let u = upstream("http://127.0.0.1:9/api/", None);
        assert_eq!(
            u.url(&["predictions", "../../admin", "cancel"]).as_str(),
            "http://127.0.0.1:9/api/predictions/..%2F..%2Fadmin/cancel"
        );
    }

    #[test]
    fn a_base_url_that_is_not_http_is_refused() {
        for base in ["file:///tmp", "not a url", "mailto:a@b.c"] {
            let err = Upstream::new(
                &spec(ProviderKind::OpenaiImages, base),
                client().unwrap(),
                Duration::from_secs(1),
            )
            .unwrap_err();
            assert!(err.contains("base_url"), "{base}: {err}");
        }
    }

    #[test]
    fn excerpts_are_short_single_line_and_never_carry_the_secret() {
        let u = upstream("http://127.0.0.1:9", Some("sk-live-123"));
        assert_eq!(
            u.excerpt("bad key sk-live-123\nretry"),
            "bad key [redacted] retry"
        );
        let long = u.excerpt(&"é".repeat(500));
        assert_eq!(long.chars().count(), 200);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn base64_and_data_url_files_are_sniffed() {
        let u = upstream("http://127.0.0.1:9", None);
        let encoded = BASE64.encode(tiny_png());
        let file = u.file_from_base64(&encoded, &mut Budget::new()).unwrap();
        assert_eq!(file.extension, "png");
        let unknown = BASE64.encode(b"hello, not an image");
        assert!(matches!(
            u.file_from_base64(&unknown, &mut Budget::new()),
            Err(ProviderError::Garbage(_))
        ));
    }

    #[test]
    fn a_budget_refuses_files_past_the_caps() {
        let mut budget = Budget::new();
        assert!(budget.take(MAX_FILE_BYTES + 1).is_err());
        for _ in 0..5 {
            budget.take(MAX_FILE_BYTES).unwrap();
        }
        assert!(budget.take(MAX_FILE_BYTES).is_err());
    }

    #[test]
    fn out_of_credit_codes_are_recognised_where_openai_puts_them() {
        let quota = serde_json::json!({ "error": { "type": "insufficient_quota" } });
        let billing = serde_json::json!({ "error": { "code": "billing_hard_limit_reached" } });
        let other = serde_json::json!({ "error": { "code": "rate_limit_exceeded" } });
        assert!(says_out_of_credit(&quota) && says_out_of_credit(&billing));
        assert!(!says_out_of_credit(&other));
    }
}
