//! Regions and how a request's `Host` selects one (v1-api.md §3).

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    Us,
    Eu,
    Jp,
}

impl Region {
    pub const ALL: [Region; 3] = [Region::Us, Region::Eu, Region::Jp];

    pub fn as_str(self) -> &'static str {
        match self {
            Region::Us => "us",
            Region::Eu => "eu",
            Region::Jp => "jp",
        }
    }

    pub fn parse(s: &str) -> Option<Region> {
        Region::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// `api.<region>.<anything>` selects a served region; every other host gets the default.
    pub fn from_host(host: &str, served: &[Region], default: Region) -> Region {
        let host = host.split(':').next().unwrap_or("").to_ascii_lowercase();
        let mut labels = host.split('.');
        if labels.next() == Some("api")
            && let (Some(label), Some(_)) = (labels.next(), labels.next())
            && let Some(region) = Region::parse(label).filter(|r| served.contains(r))
        {
            return region;
        }
        default
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_select_served_regions_and_fall_back_to_the_default() {
        let served = Region::ALL;
        let cases = [
            ("api.eu.example.com", Region::Eu),
            ("API.JP.example.com:8443", Region::Jp),
            ("api.us.internal", Region::Us),
            ("localhost:8080", Region::Us),
            ("127.0.0.1", Region::Us),
            ("api.fr.example.com", Region::Us),
            ("api.eu", Region::Us),
            ("www.eu.example.com", Region::Us),
        ];
        for (host, want) in cases {
            assert_eq!(Region::from_host(host, &served, Region::Us), want, "{host}");
        }
        assert_eq!(
            Region::from_host("api.jp.x", &[Region::Us], Region::Us),
            Region::Us
        );
    }
}
