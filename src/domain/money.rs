//! Money: integer thousandths, shown with three decimals.

use std::fmt;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Money(pub i64);

impl Money {
    pub fn thousandths(self) -> i64 {
        self.0
    }

    /// Parses a decimal amount with at most three decimals, e.g. `12.5` or `-0.125`.
    pub fn parse(s: &str) -> Option<Money> {
        let s = s.trim();
        let (neg, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty() || frac.len() > 3 || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let whole: i64 = whole.parse().ok()?;
        let frac: i64 = format!("{frac:0<3}").parse().ok()?;
        let n = whole.checked_mul(1000)?.checked_add(frac)?;
        Some(Money(if neg { -n } else { n }))
    }

    /// The JSON number the API sends (three decimals at most).
    pub fn to_json(self) -> serde_json::Value {
        serde_json::Number::from_f64(self.0 as f64 / 1000.0)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:03}", abs / 1000, abs % 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays_three_decimals() {
        assert_eq!(Money::parse("12.5"), Some(Money(12_500)));
        assert_eq!(Money::parse("0.001"), Some(Money(1)));
        assert_eq!(Money::parse("-3"), Some(Money(-3_000)));
        assert_eq!(Money(12_500).to_string(), "12.500");
        assert_eq!(Money(-1).to_string(), "-0.001");
        for bad in ["", "1.2345", "abc", "1e3", ".5"] {
            assert_eq!(Money::parse(bad), None, "{bad}");
        }
    }
}
