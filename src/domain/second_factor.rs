//! The dashboard's second factor (docs/admin.md, "Second factor"): RFC 6238 codes (SHA-1, six
//! digits, 30-second steps, one step of drift either way), ten single-use recovery codes, and the
//! sealing of the secret under a key derived from the install secret.

use hmac::{KeyInit, Mac};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sha2::{Digest, Sha256};
use totp_rs::{Builder, Totp};

use super::random::{RandomError, hex, os_random_bytes};

/// The name authenticator apps show above the code.
pub const ISSUER: &str = "Tidegate";
pub const RECOVERY_CODES: usize = 10;
const SECRET_BYTES: usize = 20;
/// Lowercase letters and digits without the look-alikes (0/o, 1/l/i).
const RECOVERY_ALPHABET: &[u8; 31] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// Who must have a second factor before any page opens, as the instance administrator sets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Requirement {
    #[default]
    Nobody,
    /// Owners and primary owners of any workspace, and the instance administrator.
    Owners,
    Everyone,
}

impl Requirement {
    pub const ALL: [Requirement; 3] = [
        Requirement::Nobody,
        Requirement::Owners,
        Requirement::Everyone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Requirement::Nobody => "nobody",
            Requirement::Owners => "owners",
            Requirement::Everyone => "everyone",
        }
    }

    pub fn parse(value: &str) -> Option<Requirement> {
        Requirement::ALL.into_iter().find(|r| r.as_str() == value)
    }

    /// What the instance page says of each choice.
    pub fn label(self) -> &'static str {
        match self {
            Requirement::Nobody => "Nobody (each person chooses)",
            Requirement::Owners => "Owners and the instance administrator",
            Requirement::Everyone => "Everyone",
        }
    }
}

/// What a person typed in the code field.
#[derive(Debug, PartialEq, Eq)]
pub enum Code {
    /// Six digits from the authenticator app.
    Totp(String),
    /// A recovery code, normalised (lowercase, no dash or spaces).
    Recovery(String),
}

/// Reads a code as typed: six digits (spaces allowed, "123 456"), or a recovery code
/// ("abcde-fghjk", any case); anything else is not a code.
pub fn parse_code(typed: &str) -> Option<Code> {
    let plain: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_ascii_lowercase();
    if plain.len() == 6 && plain.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Code::Totp(plain));
    }
    let recovery = plain.len() == 10 && plain.bytes().all(|b| RECOVERY_ALPHABET.contains(&b));
    recovery.then_some(Code::Recovery(plain))
}

/// A fresh secret: 160 random bits, as RFC 4226 recommends.
pub fn new_secret() -> Result<Vec<u8>, RandomError> {
    let mut secret = vec![0u8; SECRET_BYTES];
    os_random_bytes(&mut secret)?;
    Ok(secret)
}

fn totp(secret: &[u8], account: &str) -> Option<Totp> {
    Builder::new()
        .with_secret(secret.to_vec())
        .with_issuer(Some(ISSUER))
        .with_account_name(account.replace(':', " "))
        .build()
        .ok()
}

/// The step a six-digit code belongs to, if it is right at `unix_seconds` (one step of drift
/// either way).
pub fn code_step(secret: &[u8], code: &str, unix_seconds: u64) -> Option<i64> {
    let step = totp(secret, "")?.check(code, unix_seconds)?;
    i64::try_from(step).ok()
}

/// The code of `unix_seconds` for a secret as the set-up page shows it (base32, in groups):
/// what an authenticator app computes.
pub fn code_for(secret_text: &str, unix_seconds: u64) -> Option<String> {
    let plain: String = secret_text.split_whitespace().collect();
    let secret = totp_rs::Secret::try_from_base32(plain).ok()?;
    code_at(secret.as_bytes(), unix_seconds)
}

fn code_at(secret: &[u8], unix_seconds: u64) -> Option<String> {
    Some(totp(secret, "")?.generate(unix_seconds).to_string())
}

/// The secret as authenticator apps take it typed: base32, in groups of four.
pub fn secret_text(secret: &[u8]) -> String {
    let plain = totp_rs::Secret::from(secret.to_vec()).to_base32();
    let chars: Vec<char> = plain.chars().collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `otpauth://` URI an app scans, and its QR code as an SVG element.
pub fn enrolment_uri(secret: &[u8], account: &str) -> Option<(String, String)> {
    let uri = totp(secret, account)?.to_url().ok()?;
    let svg = qrcode::QrCode::new(uri.as_bytes())
        .ok()?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build();
    // The renderer writes an XML declaration before the element; the page wants the element.
    let start = svg.find("<svg")?;
    Some((uri, svg[start..].to_owned()))
}

/// Ten recovery codes as shown ("abcde-fghjk"), each with the digest kept of it.
pub fn recovery_codes() -> Result<Vec<(String, String)>, RandomError> {
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    let mut bytes = [0u8; 32];
    for _ in 0..RECOVERY_CODES {
        let mut plain = String::with_capacity(10);
        while plain.len() < 10 {
            os_random_bytes(&mut bytes)?;
            // 248 = 8 × 31: rejecting the rest keeps every character equally likely.
            for &b in bytes.iter().filter(|&&b| b < 248) {
                if plain.len() < 10 {
                    plain.push(RECOVERY_ALPHABET[usize::from(b % 31)] as char);
                }
            }
        }
        let shown = format!("{}-{}", &plain[..5], &plain[5..]);
        codes.push((shown, recovery_hash(&plain)));
    }
    Ok(codes)
}

/// The digest kept of a normalised recovery code.
pub fn recovery_hash(plain: &str) -> String {
    hex(&Sha256::digest(plain.as_bytes()))
}

/// Seals secrets under a key derived from the install secret; the user's id is bound in, so a
/// sealed secret copied to another user does not open.
pub struct Sealer(LessSafeKey);

#[derive(Debug, thiserror::Error)]
#[error("the second factor's secret could not be sealed or opened")]
pub struct SealError;

impl Sealer {
    pub fn new(install_secret: &[u8]) -> Sealer {
        let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(install_secret)
            .unwrap_or_else(|_| unreachable!());
        mac.update(b"tidegate second factor v1");
        let key = mac.finalize().into_bytes();
        let unbound = UnboundKey::new(&AES_256_GCM, &key).unwrap_or_else(|_| unreachable!());
        Sealer(LessSafeKey::new(unbound))
    }

    /// A random nonce, then the ciphertext and its tag.
    pub fn seal(&self, user_id: &str, secret: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        os_random_bytes(&mut nonce).map_err(|_| SealError)?;
        let mut sealed = secret.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(user_id.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| SealError)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub fn open(&self, user_id: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < NONCE_LEN {
            return Err(SealError);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError)?;
        let mut body = body.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(user_id.as_bytes()), &mut body)
            .map_err(|_| SealError)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_as_typed() {
        assert_eq!(parse_code(" 123 456 "), Some(Code::Totp("123456".into())));
        assert_eq!(
            parse_code("ABCDE-FGHJK"),
            Some(Code::Recovery("abcdefghjk".into()))
        );
        assert_eq!(parse_code("12345"), None);
        assert_eq!(parse_code("1234567"), None);
        assert_eq!(parse_code("abcde-fghj!"), None);
        assert_eq!(parse_code(""), None);
    }

    #[test]
    fn the_rfc_6238_vector_for_sha1_matches() {
        // RFC 6238, appendix B: T = 59 s gives 94287082 with eight digits; six digits keep the
        // last six.
        let secret = b"12345678901234567890";
        assert_eq!(code_at(secret, 59).as_deref(), Some("287082"));
        assert_eq!(code_step(secret, "287082", 59), Some(1));
        // One step of drift either way, no more.
        assert_eq!(code_step(secret, "287082", 89), Some(1));
        assert_eq!(code_step(secret, "287082", 120), None);
        assert_eq!(
            code_for(&secret_text(secret), 59).as_deref(),
            Some("287082")
        );
    }

    #[test]
    fn a_sealed_secret_opens_for_its_user_only() {
        let sealer = Sealer::new(b"install secret");
        let sealed = sealer.seal("user-1", b"12345678901234567890").unwrap();
        assert_eq!(
            sealer.open("user-1", &sealed).unwrap(),
            b"12345678901234567890"
        );
        assert!(sealer.open("user-2", &sealed).is_err());
        assert!(Sealer::new(b"other").open("user-1", &sealed).is_err());
        assert!(!sealed.windows(20).any(|w| w == b"12345678901234567890"));
    }

    #[test]
    fn recovery_codes_are_ten_distinct_parseable_codes() {
        let codes = recovery_codes().unwrap();
        assert_eq!(codes.len(), 10);
        for (shown, hash) in &codes {
            let Some(Code::Recovery(plain)) = parse_code(shown) else {
                panic!("{shown} does not parse");
            };
            assert_eq!(&recovery_hash(&plain), hash);
        }
        let mut hashes: Vec<_> = codes.iter().map(|(_, h)| h).collect();
        hashes.dedup();
        assert_eq!(hashes.len(), 10);
    }

    #[test]
    fn the_enrolment_uri_names_the_issuer_and_the_account() {
        let (uri, svg) = enrolment_uri(b"12345678901234567890", "ada@example.com").unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Tidegate:ada%40example.com?"),
            "{uri}"
        );
        assert!(uri.contains("issuer=Tidegate"), "{uri}");
        assert!(svg.starts_with("<svg"), "{svg}");
    }
}
