//! What the HTTP provider adapters share: the client, URLs under a provider's base URL, upstream
//! refusals mapped to `ProviderError`, and capped downloads of the files a provider produced.

use std::time::Duration;

use reqwest::header::LOCATION;
use reqwest::{Client, RequestBuilder, Response, StatusCode, Url};
use serde_json::Value;

use super::job::{OutputFile, ProviderError};
use super::outbound::AddressPolicy;
pub(crate) use answer::{Budget, check_count, garbage, read_json, with_specific};
use answer::{
    EXCERPT_CHARS, decode_base64, error_message, file_from_bytes, is_web, read_capped,
    says_out_of_credit, transport,
};

mod answer;
use super::ProviderSpec;

/// Most of an error answer read to find its message.
const MAX_ERROR_BYTES: usize = 64 * 1024;
/// Redirects followed when downloading a produced file (API calls follow none).
const MAX_FILE_REDIRECTS: usize = 3;

/// Where providers may be called: their servers usually run on the same network (a local
/// inference server), never on link-local or metadata addresses.
pub const PROVIDER_POLICY: AddressPolicy = AddressPolicy {
    allow_private: true,
};

/// The HTTP client every adapter shares (see `providers::outbound`). Fails only if TLS cannot be set up (no
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

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests;
