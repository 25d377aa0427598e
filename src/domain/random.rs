//! Secrets come straight from the operating system's CSPRNG.

use rand::TryRng;
use rand::rngs::SysRng;

#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed")]
pub struct RandomError;

pub fn os_random_bytes(buf: &mut [u8]) -> Result<(), RandomError> {
    SysRng.try_fill_bytes(buf).map_err(|_| RandomError)
}

pub const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `len` uniformly distributed base62 characters (rejection sampling keeps the bias out).
pub fn base62_string(len: usize) -> Result<String, RandomError> {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        os_random_bytes(&mut buf)?;
        for &b in &buf {
            if b < 248 && out.len() < len {
                out.push(BASE62[usize::from(b % 62)] as char);
            }
        }
    }
    Ok(out)
}

pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    push_hex(&mut s, bytes);
    s
}

/// Appends the lowercase hex of `bytes`.
pub fn push_hex(s: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base62_strings_have_the_requested_length_and_alphabet() {
        let s = base62_string(100).unwrap();
        assert_eq!(s.len(), 100);
        assert!(s.bytes().all(|b| BASE62.contains(&b)));
    }

    #[test]
    fn hex_is_lowercase_and_two_digits_per_byte() {
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }
}
