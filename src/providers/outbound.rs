//! Outbound HTTP: the one way Tidegate calls out (providers, webhook deliveries), with the guard
//! on where it may connect.
//!
//! Link-local addresses (cloud metadata services live there), the metadata addresses themselves,
//! unspecified, multicast, broadcast and reserved addresses are always refused; loopback and
//! private networks only when the caller's policy says so. The check is made on the addresses a
//! host name resolves to when the connection is made, so a name that later resolves elsewhere
//! is refused then; URLs that name an address are checked with `check_url` before the request.
//! Proxies from the environment are not used: a proxy would make the connection for us.

use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{Client, Url};

/// Where outbound requests of one kind may go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddressPolicy {
    /// Loopback and private networks (on-prem receivers and inference servers live there).
    pub allow_private: bool,
}

/// AWS's IPv6 metadata address, which is not link-local.
const METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);

impl AddressPolicy {
    /// Why `ip` may not be connected to, if it may not.
    pub fn refusal(self, ip: IpAddr) -> Option<&'static str> {
        match ip.to_canonical() {
            IpAddr::V4(v4) => self.refusal_v4(v4),
            IpAddr::V6(v6) => self.refusal_v6(v6),
        }
    }

    fn refusal_v4(self, ip: Ipv4Addr) -> Option<&'static str> {
        let [a, b, ..] = ip.octets();
        if ip.is_link_local() {
            return Some("a link-local or metadata address");
        }
        if ip.is_unspecified() || a == 0 {
            return Some("an unspecified address");
        }
        if ip.is_broadcast() || ip.is_multicast() || a >= 240 {
            return Some("a multicast, broadcast or reserved address");
        }
        let private = ip.is_loopback() || ip.is_private() || (a == 100 && (64..128).contains(&b));
        (private && !self.allow_private).then_some("a loopback or private address")
    }

    fn refusal_v6(self, ip: Ipv6Addr) -> Option<&'static str> {
        let first = ip.segments()[0];
        if ip == METADATA_V6 || (first & 0xffc0) == 0xfe80 {
            return Some("a link-local or metadata address");
        }
        if ip.is_unspecified() {
            return Some("an unspecified address");
        }
        if ip.is_multicast() {
            return Some("a multicast, broadcast or reserved address");
        }
        let private = ip.is_loopback() || (first & 0xfe00) == 0xfc00;
        (private && !self.allow_private).then_some("a loopback or private address")
    }

    /// Refuses a URL whose host is an address the policy forbids (names are checked when they
    /// are resolved).
    pub fn check_url(self, url: &Url) -> Result<(), Refused> {
        let host = url.host_str().unwrap_or("");
        let literal = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
        let Ok(ip) = literal.unwrap_or(host).parse::<IpAddr>() else {
            return Ok(());
        };
        match self.refusal(ip) {
            Some(reason) => Err(Refused {
                host: ip.to_string(),
                reason,
            }),
            None => Ok(()),
        }
    }
}

/// A connection the policy did not allow.
#[derive(Debug)]
pub struct Refused {
    pub host: String,
    pub reason: &'static str,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is {}, which may not be called",
            self.host, self.reason
        )
    }
}

impl StdError for Refused {}

/// Whether a request failed because the guard refused its address.
pub fn was_refused(error: &reqwest::Error) -> Option<String> {
    let mut source = error.source();
    while let Some(e) = source {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return Some(refused.to_string());
        }
        source = e.source();
    }
    None
}

/// Resolves names with the system resolver and keeps only the addresses the policy allows.
struct GuardedResolver(AddressPolicy);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut reason = "unresolvable";
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| match policy.refusal(addr.ip()) {
                    Some(why) => {
                        reason = why;
                        false
                    }
                    None => true,
                })
                .collect();
            if allowed.is_empty() {
                let refused: Box<dyn StdError + Send + Sync> = Box::new(Refused { host, reason });
                return Err(refused);
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// A client under `policy`: no redirects followed, no proxies, a 5 s connect timeout, our user
/// agent. Fails only if TLS cannot be set up; build it once at start-up.
pub fn client(policy: AddressPolicy) -> Result<Client, reqwest::Error> {
    builder(policy).build()
}

/// The same client without a connection pool, for callers on several runtimes (the HTTP
/// workers each run their own): a pooled connection belongs to the runtime that opened it.
pub fn unpooled_client(policy: AddressPolicy) -> Result<Client, reqwest::Error> {
    builder(policy).pool_max_idle_per_host(0).build()
}

fn builder(policy: AddressPolicy) -> reqwest::ClientBuilder {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver(policy)))
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("tidegate/", env!("CARGO_PKG_VERSION")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: AddressPolicy = AddressPolicy {
        allow_private: true,
    };
    const PUBLIC_ONLY: AddressPolicy = AddressPolicy {
        allow_private: false,
    };

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn metadata_link_local_and_unspecified_addresses_are_always_refused() {
        for refused in [
            "169.254.169.254",
            "169.254.0.1",
            "fe80::1",
            "fd00:ec2::254",
            "0.0.0.0",
            "::",
            "224.0.0.1",
            "ff02::1",
            "255.255.255.255",
            "::ffff:169.254.169.254",
        ] {
            assert!(OPEN.refusal(ip(refused)).is_some(), "{refused}");
        }
        assert_eq!(OPEN.refusal(ip("93.184.216.34")), None);
    }

    #[test]
    fn loopback_and_private_networks_follow_the_policy() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "::1",
            "fd12::1",
            "::ffff:127.0.0.1",
        ] {
            assert_eq!(OPEN.refusal(ip(private)), None, "{private}");
            assert!(PUBLIC_ONLY.refusal(ip(private)).is_some(), "{private}");
        }
        assert_eq!(PUBLIC_ONLY.refusal(ip("2606:4700::1111")), None);
    }

    #[test]
    fn urls_naming_a_refused_address_are_refused_before_any_request() {
        let url = Url::parse("http://[fe80::1]:8080/hook").unwrap();
        assert!(OPEN.check_url(&url).is_err());
        let url = Url::parse("http://169.254.169.254/latest/meta-data").unwrap();
        let refused = OPEN.check_url(&url).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "169.254.169.254 is a link-local or metadata address, which may not be called"
        );
        assert!(
            OPEN.check_url(&Url::parse("http://example.com/").unwrap())
                .is_ok()
        );
    }
}
