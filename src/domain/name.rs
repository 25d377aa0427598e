//! Human-given names (keys, accounts): trimmed, 1–100 characters, no control characters.

use std::fmt;

pub const MAX_NAME_CHARS: usize = 100;

/// Whether a text given to look something up can match what is stored: no stored text holds a
/// NUL character (PostgreSQL's cannot, and nothing Tidegate writes does), so one that does
/// names nothing.
pub fn can_match(text: &str) -> bool {
    !text.contains('\0')
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    pub fn parse(raw: &str) -> Result<Name, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("must not be empty".into());
        }
        if trimmed.chars().count() > MAX_NAME_CHARS {
            return Err(format!("must be at most {MAX_NAME_CHARS} characters"));
        }
        if trimmed.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(Name(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(Name::parse("  ci key ").unwrap().as_str(), "ci key");
        assert!(Name::parse(&"é".repeat(100)).is_ok());
        for bad in ["", "   ", &"x".repeat(101), "tab\there", "nul\0"] {
            assert!(Name::parse(bad).is_err(), "{bad:?}");
        }
    }
}
