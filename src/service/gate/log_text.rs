//! What the log keeps of a request's own text: its query string with unknown parameters masked
//! and values shortened, and text cut to a length at a character boundary.

const MAX_QUERY_LOG: usize = 512;
const MAX_LOGGED_VALUE: usize = 100;

/// Known query parameters keep their (shortened) values in the log; anything else is masked.
pub fn sanitised_query(
    pairs: &[(String, String)],
    is_known: impl Fn(&str) -> bool,
) -> Option<String> {
    if pairs.is_empty() {
        return None;
    }
    let shown: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(name, value)| {
            let keep = is_known(name);
            (
                name.as_str(),
                if keep {
                    truncate(value, MAX_LOGGED_VALUE)
                } else {
                    "[masked]"
                },
            )
        })
        .collect();
    let encoded = serde_urlencoded::to_string(shown).ok()?;
    Some(truncate(&encoded, MAX_QUERY_LOG).to_owned())
}

pub(super) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 5), "abc");
    }

    #[test]
    fn unknown_query_parameters_are_masked() {
        let pairs = vec![
            ("days".to_owned(), "7".to_owned()),
            ("token".to_owned(), "s3cret".to_owned()),
        ];
        assert_eq!(
            sanitised_query(&pairs, |n| n == "days").as_deref(),
            Some("days=7&token=%5Bmasked%5D")
        );
        assert_eq!(sanitised_query(&[], |n| n == "days"), None);
    }
}
