//! The key format (docs/keys.md, "Key format"): `bye_` + 32 random base62 + 6 base62 of the CRC32
//! of the random part. Test keys carry `test_` after the brand. Only the SHA-256 of the whole
//! string is stored.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::Timestamp;
use crate::domain::random::{BASE62, RandomError, base62_string, hex};

pub mod budget;
mod find;
pub mod leak;
pub mod policy;
pub mod quota;
mod record;

pub use record::ApiKey;

pub const RANDOM_LEN: usize = 32;
pub const CHECKSUM_LEN: usize = 6;
const PREFIX_RANDOM_CHARS: usize = 5;
const TEST_MARKER: &str = "test_";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Live,
    Test,
}

impl Environment {
    pub const ALL: [Environment; 2] = [Environment::Live, Environment::Test];

    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Live => "live",
            Environment::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Option<Environment> {
        match s {
            "live" => Some(Environment::Live),
            "test" => Some(Environment::Test),
            _ => None,
        }
    }
}

/// The brand prefix in force (`keys.prefix`), which knows how to mint and recognise keys.
#[derive(Clone, Debug)]
pub struct KeyFormat {
    brand: String,
}

impl KeyFormat {
    /// A brand is 1–16 characters of `[a-z0-9]` ending in `_`.
    pub fn new(brand: &str) -> Result<KeyFormat, String> {
        let body = brand.strip_suffix('_').unwrap_or("");
        if body.is_empty()
            || body.len() > 15
            || !body
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return Err(format!(
                "{brand:?} is not a key prefix (1-15 lowercase letters or digits followed by '_')"
            ));
        }
        Ok(KeyFormat {
            brand: brand.to_owned(),
        })
    }

    pub fn generate(&self, environment: Environment) -> Result<KeySecret, RandomError> {
        let random = base62_string(RANDOM_LEN)?;
        let marker = match environment {
            Environment::Live => "",
            Environment::Test => TEST_MARKER,
        };
        let sum = checksum(&random);
        let sum = std::str::from_utf8(&sum).unwrap_or_default();
        let secret = format!("{}{marker}{random}{sum}", self.brand);
        let prefix = format!("{}{marker}{}", self.brand, &random[..PREFIX_RANDOM_CHARS]);
        Ok(KeySecret {
            secret,
            prefix,
            environment,
        })
    }

    /// Recognises a well-formed key offline (shape and checksum), with no database lookup.
    pub fn parse(&self, token: &str) -> Option<ParsedKey> {
        let rest = token.strip_prefix(self.brand.as_str())?;
        let (environment, body) = match rest.strip_prefix(TEST_MARKER) {
            Some(body) => (Environment::Test, body),
            None => (Environment::Live, rest),
        };
        if body.len() != RANDOM_LEN + CHECKSUM_LEN
            || !body.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return None;
        }
        let (random, sum) = body.split_at(RANDOM_LEN);
        if checksum(random) != sum.as_bytes() {
            return None;
        }
        Some(ParsedKey {
            digest: KeyDigest::of(token),
            environment,
        })
    }
}

/// The base62 CRC32 of the random part, as the key's last characters (ASCII).
fn checksum(random: &str) -> [u8; CHECKSUM_LEN] {
    let mut n = crc32fast::hash(random.as_bytes());
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out
}

#[derive(Debug)]
pub struct ParsedKey {
    pub digest: KeyDigest,
    pub environment: Environment,
}

/// A freshly minted key. The secret never reaches `Debug`, logs or the store.
pub struct KeySecret {
    secret: String,
    prefix: String,
    environment: Environment,
}

impl KeySecret {
    /// The raw key, for the one response that creates it.
    pub fn expose(&self) -> &str {
        &self.secret
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn environment(&self) -> Environment {
        self.environment
    }

    pub fn digest(&self) -> KeyDigest {
        KeyDigest::of(&self.secret)
    }
}

impl fmt::Debug for KeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeySecret({}…)", self.prefix)
    }
}

/// SHA-256 of a whole key string.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyDigest([u8; 32]);

impl KeyDigest {
    pub fn of(token: &str) -> KeyDigest {
        KeyDigest(Sha256::digest(token.as_bytes()).into())
    }

    pub fn to_hex(self) -> String {
        hex(&self.0)
    }

    /// Constant-time comparison with a stored hex digest (decoded in place, no allocation).
    pub fn matches_hex(&self, stored: &str) -> bool {
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let mut theirs = [0u8; 32];
        let decoded = stored.len() == 64
            && stored
                .as_bytes()
                .chunks_exact(2)
                .zip(theirs.iter_mut())
                .all(|(pair, out)| match (nibble(pair[0]), nibble(pair[1])) {
                    (Some(high), Some(low)) => {
                        *out = high << 4 | low;
                        true
                    }
                    _ => false,
                });
        decoded && bool::from(self.0.ct_eq(&theirs))
    }
}

impl fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyDigest(…)")
    }
}

/// Switching a key off for good (revoke), or off and on again.
#[derive(Clone, Copy, Debug)]
pub enum Switch {
    Revoke,
    Disable,
    Enable,
}

/// Status derived from the timestamps at the moment of asking (docs/keys.md, "Statuses").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    Active,
    Rotated,
    Expired,
    Disabled,
    Revoked,
}

impl KeyStatus {
    pub const ALL: [KeyStatus; 5] = [
        KeyStatus::Active,
        KeyStatus::Rotated,
        KeyStatus::Expired,
        KeyStatus::Disabled,
        KeyStatus::Revoked,
    ];

    pub fn derive(
        now: Timestamp,
        expires_at: Option<Timestamp>,
        rotated_at: Option<Timestamp>,
        disabled_at: Option<Timestamp>,
        revoked_at: Option<Timestamp>,
    ) -> KeyStatus {
        if revoked_at.is_some() {
            KeyStatus::Revoked
        } else if disabled_at.is_some() {
            KeyStatus::Disabled
        } else if expires_at.is_some_and(|e| e <= now) {
            KeyStatus::Expired
        } else if rotated_at.is_some() {
            KeyStatus::Rotated
        } else {
            KeyStatus::Active
        }
    }

    pub fn authenticates(self) -> bool {
        matches!(self, KeyStatus::Active | KeyStatus::Rotated)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Rotated => "rotated",
            KeyStatus::Expired => "expired",
            KeyStatus::Disabled => "disabled",
            KeyStatus::Revoked => "revoked",
        }
    }

    /// The badge text, e.g. "Active".
    pub fn label(self) -> &'static str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Rotated => "Rotated",
            KeyStatus::Expired => "Expired",
            KeyStatus::Disabled => "Disabled",
            KeyStatus::Revoked => "Revoked",
        }
    }

    pub fn parse(s: &str) -> Option<KeyStatus> {
        KeyStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format() -> KeyFormat {
        KeyFormat::new("bye_").unwrap()
    }

    #[test]
    fn live_keys_are_42_characters_with_a_9_character_prefix() {
        let key = format().generate(Environment::Live).unwrap();
        assert_eq!(key.expose().len(), 42);
        assert!(key.expose().starts_with("bye_"));
        assert_eq!(key.prefix().len(), 9);
        assert!(key.expose().starts_with(key.prefix()));
    }

    #[test]
    fn test_keys_carry_the_test_marker() {
        let key = format().generate(Environment::Test).unwrap();
        assert!(key.expose().starts_with("bye_test_"));
        assert!(key.prefix().starts_with("bye_test_"));
        let parsed = format().parse(key.expose()).unwrap();
        assert_eq!(parsed.environment, Environment::Test);
    }

    #[test]
    fn generated_keys_parse_and_their_digest_matches() {
        let key = format().generate(Environment::Live).unwrap();
        let parsed = format().parse(key.expose()).unwrap();
        assert!(parsed.digest.matches_hex(&key.digest().to_hex()));
        assert_eq!(key.digest().to_hex().len(), 64);
        let other = format().generate(Environment::Live).unwrap();
        assert!(!parsed.digest.matches_hex(&other.digest().to_hex()));
        let stored = key.digest().to_hex();
        assert!(!parsed.digest.matches_hex(&stored[..62]));
        assert!(!parsed.digest.matches_hex(&stored.to_uppercase()));
    }

    #[test]
    fn a_changed_character_breaks_the_checksum() {
        let key = format().generate(Environment::Live).unwrap();
        let mut bytes = key.expose().as_bytes().to_vec();
        bytes[10] = if bytes[10] == b'a' { b'b' } else { b'a' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert!(format().parse(&tampered).is_none());
    }

    #[test]
    fn malformed_tokens_are_refused() {
        for token in [
            "",
            "bye_",
            "sk_live_abc",
            "bye_short",
            &format!("bye_{}", "a".repeat(38)),
        ] {
            assert!(format().parse(token).is_none(), "{token}");
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let key = format().generate(Environment::Live).unwrap();
        assert!(!format!("{key:?}").contains(key.expose()));
    }

    #[test]
    fn brands_are_validated() {
        assert!(KeyFormat::new("tg_").is_ok());
        for bad in ["", "_", "bye", "BYE_", "a b_", "averyveryverylongbrand_"] {
            assert!(KeyFormat::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn status_prefers_revoked_then_disabled_then_expired() {
        let now = Timestamp(1_000);
        let past = Some(Timestamp(500));
        let future = Some(Timestamp(5_000));
        assert_eq!(
            KeyStatus::derive(now, None, None, None, None),
            KeyStatus::Active
        );
        assert_eq!(
            KeyStatus::derive(now, future, past, None, None),
            KeyStatus::Rotated
        );
        assert_eq!(
            KeyStatus::derive(now, past, past, None, None),
            KeyStatus::Expired
        );
        assert_eq!(
            KeyStatus::derive(now, past, None, past, None),
            KeyStatus::Disabled
        );
        assert_eq!(
            KeyStatus::derive(now, past, None, past, past),
            KeyStatus::Revoked
        );
        assert_eq!(
            KeyStatus::derive(now, Some(now), None, None, None),
            KeyStatus::Expired
        );
    }
}
