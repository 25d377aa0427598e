//! Regions and how a request's `Host` selects one (docs/api.md, "Regions and hosts").

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

/// The regions an instance serves, and the one a request gets when its host names none
/// (`server.regions`, `server.default_region`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Regions {
    pub default: Region,
    pub served: Vec<Region>,
}

impl Regions {
    /// At least one known region, the default among them; the refused key and why.
    pub fn parse<S: AsRef<str>>(
        default: &str,
        served: &[S],
    ) -> Result<Regions, (&'static str, String)> {
        let known = |name: &str| {
            Region::parse(name).ok_or_else(|| {
                let names: Vec<&str> = Region::ALL.iter().map(|r| r.as_str()).collect();
                format!(
                    "{name:?} is not a region; the regions are {}",
                    names.join(", ")
                )
            })
        };
        let served = served
            .iter()
            .map(|r| known(r.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| ("server.regions", m))?;
        if served.is_empty() {
            return Err((
                "server.regions",
                "at least one region must be served".into(),
            ));
        }
        let default = known(default).map_err(|m| ("server.default_region", m))?;
        if !served.contains(&default) {
            return Err((
                "server.default_region",
                format!("{default} is not one of server.regions"),
            ));
        }
        Ok(Regions { default, served })
    }

    /// The region of a request to `host`.
    pub fn of_host(&self, host: &str) -> Region {
        Region::from_host(host, &self.served, self.default)
    }

    /// `name`, when this instance serves it.
    pub fn served(&self, name: &str) -> Option<Region> {
        Region::parse(name).filter(|r| self.served.contains(r))
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
