//! The public keys GitHub signs its secret scanning reports with (docs/keys.md, "Leaked keys"):
//! read from a file in GitHub's format, or fetched from GitHub's URL when a report names a key
//! not known yet (at most once a minute), and the ECDSA P-256 SHA-256 check of a report.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
use serde::Deserialize;

use super::outbound::{self, AddressPolicy};
use crate::config::SecretScanningConfig;

/// How often the URL may be fetched again for an unknown key.
const REFETCH: Duration = Duration::from_secs(60);

/// The DER start of a P-256 public key (SubjectPublicKeyInfo, id-ecPublicKey, prime256v1, a
/// 66-byte bit string): what follows is the uncompressed point ring verifies with.
const P256_SPKI_START: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

#[derive(Deserialize)]
struct Published {
    public_keys: Vec<PublishedKey>,
}

#[derive(Deserialize)]
struct PublishedKey {
    key_identifier: String,
    key: String,
}

/// GitHub's keys by identifier, each as its uncompressed P-256 point; a key that is not P-256
/// is left out, an unreadable document is an error.
pub fn parse_keys(json: &str) -> Result<HashMap<String, Vec<u8>>, String> {
    let published: Published =
        serde_json::from_str(json).map_err(|e| format!("not GitHub's public keys: {e}"))?;
    Ok(published
        .public_keys
        .into_iter()
        .filter_map(|k| point_of(&k.key).map(|p| (k.key_identifier, p)))
        .collect())
}

/// The point of a PEM P-256 public key.
fn point_of(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = STANDARD.decode(body).ok()?;
    let point = der.strip_prefix(&P256_SPKI_START)?;
    (point.len() == 65 && point[0] == 4).then(|| point.to_vec())
}

/// Whether `signature` (base64 of a DER ECDSA signature) signs `body` with `point`.
pub fn verify(point: &[u8], body: &[u8], signature: &str) -> bool {
    let Ok(signature) = STANDARD.decode(signature.trim()) else {
        return false;
    };
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point)
        .verify(body, &signature)
        .is_ok()
}

struct Cache {
    keys: HashMap<String, Vec<u8>>,
    fetched_at: Option<Instant>,
}

/// The keys reports are checked with.
pub struct PublicKeys {
    /// From `public_keys_file`: these and no others.
    fixed: Option<HashMap<String, Vec<u8>>>,
    url: String,
    client: reqwest::Client,
    cache: tokio::sync::Mutex<Cache>,
}

impl PublicKeys {
    /// Reads the file now, so a wrong one stops start-up naming the setting.
    pub fn new(config: &SecretScanningConfig) -> Result<PublicKeys, String> {
        let file = config.public_keys_file.trim();
        let fixed = if file.is_empty() {
            None
        } else {
            let text = std::fs::read_to_string(file)
                .map_err(|e| format!("secret_scanning.public_keys_file: {file}: {e}"))?;
            Some(
                parse_keys(&text)
                    .map_err(|e| format!("secret_scanning.public_keys_file: {file}: {e}"))?,
            )
        };
        let client = outbound::unpooled_client(AddressPolicy {
            allow_private: false,
        })
        .map_err(|e| format!("secret_scanning: {e}"))?;
        Ok(PublicKeys {
            fixed,
            url: config.public_keys_url.trim().to_owned(),
            client,
            cache: tokio::sync::Mutex::new(Cache {
                keys: HashMap::new(),
                fetched_at: None,
            }),
        })
    }

    /// The point of the key `id`: known, or fetched if the URL was not fetched in the last
    /// minute. `None` when GitHub does not publish it.
    pub async fn key(&self, id: &str) -> Option<Vec<u8>> {
        if let Some(fixed) = &self.fixed {
            return fixed.get(id).cloned();
        }
        let mut cache = self.cache.lock().await;
        if let Some(point) = cache.keys.get(id) {
            return Some(point.clone());
        }
        if self.url.is_empty() || cache.fetched_at.is_some_and(|t| t.elapsed() < REFETCH) {
            return None;
        }
        cache.fetched_at = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => cache.keys = keys,
            Err(error) => {
                tracing::warn!(url = %self.url, error = %error, "cannot fetch GitHub's secret scanning keys");
            }
        }
        cache.keys.get(id).cloned()
    }

    async fn fetch(&self) -> Result<HashMap<String, Vec<u8>>, String> {
        let res = self
            .client
            .get(&self.url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !res.status().is_success() {
            return Err(format!("answered {}", res.status()));
        }
        parse_keys(&res.text().await.map_err(|e| e.to_string())?)
    }
}
