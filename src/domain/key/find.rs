//! Finding keys in text (docs/keys.md, "Leaked keys"): every string shaped like a key of this
//! brand whose checksum holds. The checksum makes a look-alike (a changed character, a
//! placeholder) a non-key, so what is found is a key this format minted.

use super::{CHECKSUM_LEN, KeyFormat, RANDOM_LEN, TEST_MARKER};

/// A key found in a text: where it starts (a byte offset) and the key itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found<'t> {
    pub offset: usize,
    pub token: &'t str,
}

fn is_key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl KeyFormat {
    /// The display prefix of a well-formed key (`bye_` + 5 characters, `bye_test_` + 5 for a
    /// test key), as pages and lists show it.
    pub fn display_prefix<'t>(&self, token: &'t str) -> &'t str {
        let marker = token[self.brand.len().min(token.len())..].starts_with(TEST_MARKER);
        let end = self.brand.len() + if marker { TEST_MARKER.len() } else { 0 } + 5;
        token.get(..end).unwrap_or(token)
    }

    /// Every well-formed key in `text`, in order. A key must stand alone: the characters around
    /// it are not letters, digits or `_`.
    pub fn find_all<'t>(&self, text: &'t str) -> Vec<Found<'t>> {
        let bytes = text.as_bytes();
        let brand = self.brand.as_str();
        let mut found = Vec::new();
        let mut from = 0;
        while let Some(at) = text[from..].find(brand).map(|i| i + from) {
            from = at + brand.len();
            if at > 0 && is_key_char(bytes[at - 1]) {
                continue;
            }
            let body = RANDOM_LEN + CHECKSUM_LEN;
            for length in [brand.len() + body, brand.len() + TEST_MARKER.len() + body] {
                let end = at + length;
                if end > bytes.len() || bytes.get(end).is_some_and(|b| is_key_char(*b)) {
                    continue;
                }
                let Some(token) = text.get(at..end) else {
                    continue;
                };
                if self.parse(token).is_some() {
                    found.push(Found { offset: at, token });
                    from = end;
                    break;
                }
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::key::Environment;

    #[test]
    fn keys_are_found_where_they_stand_alone_and_look_alikes_are_not() {
        let format = KeyFormat::new("bye_").unwrap();
        let live = format.generate(Environment::Live).unwrap();
        let test = format.generate(Environment::Test).unwrap();
        let (live, test) = (live.expose().to_owned(), test.expose().to_owned());
        let mut broken = live.clone();
        let last = broken.pop().unwrap();
        broken.push(if last == 'a' { 'b' } else { 'a' });
        let text = format!(
            "KEY={live}\n\"token\": \"{test}\"\nold: {broken}\nglued: x{live}\ntail {live}9\n"
        );
        let found: Vec<&str> = format.find_all(&text).iter().map(|f| f.token).collect();
        assert_eq!(found, vec![live.as_str(), test.as_str()]);
        assert_eq!(format.find_all(&text)[0].offset, 4);
        assert!(format.find_all("bye_ bye_short").is_empty());
    }
}
