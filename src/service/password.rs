//! Dashboard passwords: argon2id hashes, random one-time passwords.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};

use crate::domain::random::{RandomError, base62_string};

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct PasswordError;

pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|_| PasswordError)
}

pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Fewest characters a chosen password may have.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// The password "hash" of someone who signs in through single sign-on only: no password
/// verifies against it.
pub const NO_PASSWORD: &str = "!single-sign-on";

/// Whether the user has a password of their own (people created at their first single sign-on
/// have none until the administrator gives them one).
pub fn has_password(db: &mut crate::store::Db, user_id: &str) -> Result<bool, super::ServiceError> {
    Ok(
        crate::store::members::password_hash(&db.read(), user_id)?
            .is_some_and(|h| h != NO_PASSWORD),
    )
}
/// Most characters a password may have (hashing a longer one would only cost time).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// The rule every password a person chooses meets: 12 to 256 characters, not only spaces.
pub fn check_strength(password: &str) -> Result<(), &'static str> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        Err("must be at least 12 characters")
    } else if chars > MAX_PASSWORD_CHARS {
        Err("must be at most 256 characters")
    } else if password.trim().is_empty() {
        Err("must not be only spaces")
    } else {
        Ok(())
    }
}

pub fn generate_password() -> Result<String, RandomError> {
    base62_string(20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn chosen_passwords_have_12_to_256_characters() {
        assert!(check_strength("short").is_err());
        assert!(check_strength(&" ".repeat(20)).is_err());
        assert!(check_strength(&"x".repeat(257)).is_err());
        assert!(check_strength("twelve chars").is_ok());
        assert!(check_strength("ééééééééééééé").is_ok());
    }
}
