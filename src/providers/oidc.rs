//! The OpenID provider of dashboard sign-in (docs/admin.md, "Sign-in"): discovery, the
//! authorization URL with PKCE, state and nonce, the code exchange and the ID token's checks
//! (signature against the provider's keys, issuer, audience, expiry, nonce), done by the
//! `openidconnect` crate over our own HTTP client. That client is the outbound one with its
//! guard (`outbound.rs`): no redirects followed, link-local and metadata addresses never
//! reached, loopback and private networks allowed (a provider often lives on the same network).
//!
//! Nothing secret leaves this file in an error: not the code, the tokens nor the client secret.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreUserInfoClaims,
};
use openidconnect::{
    AsyncHttpClient, AuthorizationCode, ClientId, ClientSecret, CsrfToken, HttpRequest,
    HttpResponse, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse,
};

use super::outbound::{self, AddressPolicy};

/// Longest a provider's answer may take, and be.
const TIMEOUT: Duration = Duration::from_secs(10);
const MAX_BODY_BYTES: usize = 1 << 20;
/// How long the discovery document (with the provider's keys) is used before it is read again.
/// An ID token that fails to verify drops it at once, so new keys are learnt at the next try.
const DISCOVERY_TTL: Duration = Duration::from_secs(300);

/// Where to reach the provider and who this dashboard is to it.
pub struct OidcProvider {
    issuer: String,
    client_id: String,
    client_secret: String,
    scopes: Vec<String>,
    http: GuardedHttp,
    /// The last discovery document read, and when.
    discovered: tokio::sync::Mutex<Option<(std::time::Instant, CoreProviderMetadata)>>,
}

/// What went wrong with the provider, in words that can be shown and logged.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// Discovery or its keys could not be read: the provider is down, misconfigured or refused.
    #[error("the provider's discovery document or keys could not be read: {0}")]
    Discovery(String),
    /// The token endpoint failed or answered something that is no token response.
    #[error("the token endpoint failed: {0}")]
    Token(String),
    /// The ID token is missing or failed a check.
    #[error("the ID token was refused: {0}")]
    IdToken(String),
    #[error("the provider's settings are unusable: {0}")]
    Settings(String),
}

/// The person the provider vouches for.
#[derive(Clone, Debug)]
pub struct Identity {
    pub email: Option<String>,
    pub email_verified: bool,
}

/// A sign-in sent to the provider: where to send the browser, and the PKCE verifier to keep.
pub struct Started {
    pub url: String,
    pub pkce_verifier: String,
}

impl OidcProvider {
    pub fn new(
        issuer: &str,
        client_id: &str,
        client_secret: &str,
        scopes: &[String],
    ) -> Result<OidcProvider, reqwest::Error> {
        let policy = AddressPolicy {
            allow_private: true,
        };
        Ok(OidcProvider {
            issuer: issuer.trim().to_owned(),
            client_id: client_id.trim().to_owned(),
            client_secret: client_secret.to_owned(),
            scopes: scopes.to_vec(),
            http: GuardedHttp {
                client: outbound::unpooled_client(policy)?,
                policy,
            },
            discovered: tokio::sync::Mutex::new(None),
        })
    }

    async fn client(
        &self,
        redirect_uri: &str,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        OidcError,
    > {
        let metadata = self.metadata().await?;
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| OidcError::Settings(e.to_string()))?;
        let secret =
            (!self.client_secret.is_empty()).then(|| ClientSecret::new(self.client_secret.clone()));
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.client_id.clone()),
            secret,
        )
        .set_redirect_uri(redirect))
    }

    /// The discovery document: the one read within `DISCOVERY_TTL`, or a new reading.
    async fn metadata(&self) -> Result<CoreProviderMetadata, OidcError> {
        let mut discovered = self.discovered.lock().await;
        if let Some((at, metadata)) = discovered.as_ref()
            && at.elapsed() < DISCOVERY_TTL
        {
            return Ok(metadata.clone());
        }
        let issuer =
            IssuerUrl::new(self.issuer.clone()).map_err(|e| OidcError::Settings(e.to_string()))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| OidcError::Discovery(chain(&e)))?;
        *discovered = Some((std::time::Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    /// Reads the provider's discovery document and builds the authorization URL for this
    /// state and nonce, with a new PKCE challenge.
    pub async fn start(
        &self,
        redirect_uri: &str,
        state: &str,
        nonce: &str,
    ) -> Result<Started, OidcError> {
        let client = self.client(redirect_uri).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (state, nonce) = (state.to_owned(), nonce.to_owned());
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            move || CsrfToken::new(state),
            move || Nonce::new(nonce),
        );
        for scope in self.scopes.iter().filter(|s| s.as_str() != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, _, _) = request.set_pkce_challenge(challenge).url();
        Ok(Started {
            url: url.to_string(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges the code (with the PKCE verifier) and checks the ID token: its signature with
    /// the provider's published keys, its issuer, that it is meant for this client, that it has
    /// not expired, and that it carries the nonce this sign-in sent.
    pub async fn finish(
        &self,
        redirect_uri: &str,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<Identity, OidcError> {
        let client = self.client(redirect_uri).await?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::Settings(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| OidcError::Token(token_error(&e)))?;
        let id_token = response
            .id_token()
            .ok_or_else(|| OidcError::IdToken("the token response has no ID token".into()))?;
        let verifier = client.id_token_verifier().set_allowed_algs([
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
            CoreJwsSigningAlgorithm::RsaSsaPssSha256,
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            CoreJwsSigningAlgorithm::EcdsaP384Sha384,
            CoreJwsSigningAlgorithm::EdDsa,
        ]);
        let claims = match id_token.claims(&verifier, &Nonce::new(nonce.to_owned())) {
            Ok(claims) => claims,
            Err(e) => {
                // Perhaps the provider's keys changed: read them again next time.
                *self.discovered.lock().await = None;
                return Err(OidcError::IdToken(e.to_string()));
            }
        };
        if let Some(email) = claims.email() {
            return Ok(Identity {
                email: Some(email.to_string()),
                email_verified: claims.email_verified() == Some(true),
            });
        }
        // A provider that keeps the e-mail out of the ID token serves it from its userinfo
        // endpoint, for the access token just issued and the same subject.
        let Ok(request) = client.user_info(
            response.access_token().clone(),
            Some(claims.subject().clone()),
        ) else {
            return Ok(Identity {
                email: None,
                email_verified: false,
            });
        };
        let info: CoreUserInfoClaims = request.request_async(&self.http).await.map_err(|e| {
            OidcError::Token(format!("the userinfo endpoint failed: {}", chain(&e)))
        })?;
        Ok(Identity {
            email: info.email().map(|e| e.to_string()),
            email_verified: info.email_verified() == Some(true),
        })
    }
}

/// A token endpoint's failure without what it sent back: a body may quote the code.
fn token_error<RE: std::error::Error + 'static, T: openidconnect::ErrorResponse + 'static>(
    e: &openidconnect::RequestTokenError<RE, T>,
) -> String {
    use openidconnect::RequestTokenError as E;
    match e {
        E::ServerResponse(response) => format!("the provider refused the code ({response})"),
        E::Request(e) => chain(e),
        E::Parse(_, _) => "the answer is not a token response".to_owned(),
        E::Other(message) => message.clone(),
    }
}

/// An error and its causes, each once.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

/// The outbound client, as `openidconnect` calls it: an address named in a URL is checked
/// before the request (names are checked as they resolve), redirects are answers, not
/// followed, and a body over 1 MiB is refused.
struct GuardedHttp {
    client: reqwest::Client,
    policy: AddressPolicy,
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error(transparent)]
    Refused(#[from] outbound::Refused),
    #[error("{0}")]
    Request(String),
    #[error("the answer is larger than 1 MiB")]
    TooLarge,
}

impl<'c> AsyncHttpClient<'c> for GuardedHttp {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request)
                .map_err(|e| HttpError::Request(request_error(&e)))?;
            self.policy.check_url(request.url())?;
            let mut response = tokio::time::timeout(TIMEOUT, self.client.execute(request))
                .await
                .map_err(|_| HttpError::Request("no answer within 10 seconds".into()))?
                .map_err(|e| match outbound::was_refused(&e) {
                    Some(refused) => HttpError::Request(refused),
                    None => HttpError::Request(request_error(&e)),
                })?;
            let mut answer = openidconnect::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                answer = answer.header(name, value);
            }
            let mut body = Vec::new();
            loop {
                let chunk = tokio::time::timeout(TIMEOUT, response.chunk())
                    .await
                    .map_err(|_| HttpError::Request("the answer took too long".into()))?
                    .map_err(|e| HttpError::Request(request_error(&e)))?;
                let Some(chunk) = chunk else { break };
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(HttpError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            answer
                .body(body)
                .map_err(|e| HttpError::Request(e.to_string()))
        })
    }
}

/// A request's failure by its kind and host, without the URL (it may carry a query).
fn request_error(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the answer could not be read"
    } else {
        "the request failed"
    };
    match e.url().and_then(|u| u.host_str()) {
        Some(host) => format!("{host}: {kind}"),
        None => kind.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http() -> GuardedHttp {
        let policy = AddressPolicy {
            allow_private: true,
        };
        GuardedHttp {
            client: outbound::unpooled_client(policy).unwrap(),
            policy,
        }
    }

    #[tokio::test]
    async fn metadata_and_link_local_addresses_are_never_called() {
        for url in [
            "http://169.254.169.254/.well-known/openid-configuration",
            "http://[fe80::1]/jwks",
            "http://[fd00:ec2::254]/token",
        ] {
            let request = openidconnect::http::Request::builder()
                .uri(url)
                .body(Vec::new())
                .unwrap();
            let err = http().call(request).await.unwrap_err();
            assert!(matches!(err, HttpError::Refused(_)), "{url}: {err}");
        }
    }

    #[tokio::test]
    async fn a_provider_that_is_down_is_a_discovery_error_without_secrets() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let scopes = ["openid".to_owned()];
        let provider =
            OidcProvider::new(&format!("http://127.0.0.1:{port}"), "c", "s3cret", &scopes).unwrap();
        let err = provider
            .start("http://127.0.0.1/login/oidc/callback", "st", "no")
            .await
            .err()
            .unwrap();
        assert!(matches!(err, OidcError::Discovery(_)), "{err}");
        assert!(!err.to_string().contains("s3cret"));
    }
}
