//! IP allowlists (addresses and CIDR blocks) and client-address resolution behind trusted proxies.

use std::net::IpAddr;

use hmac::{KeyInit, Mac};
use ipnet::IpNet;
use sha2::Sha256;

use super::random::hex;

pub const MAX_ENTRIES: usize = 50;
pub const MAX_ENTRY_LEN: usize = 45;

#[derive(Debug, PartialEq, Eq)]
pub struct AllowlistError {
    pub index: Option<usize>,
    pub message: String,
}

/// Parses an address or a CIDR block; a bare address is a one-address block. IPv4-mapped IPv6
/// addresses are folded to IPv4 so that both spellings of one client match.
pub fn parse_net(entry: &str) -> Option<IpNet> {
    let entry = entry.trim();
    if let Ok(addr) = entry.parse::<IpAddr>() {
        return Some(IpNet::from(addr.to_canonical()));
    }
    let net = entry.parse::<IpNet>().ok()?;
    Some(net.trunc())
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpAllowlist(Vec<IpNet>);

impl IpAllowlist {
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<IpAllowlist, AllowlistError> {
        if entries.len() > MAX_ENTRIES {
            return Err(AllowlistError {
                index: None,
                message: format!("at most {MAX_ENTRIES} entries are allowed"),
            });
        }
        let mut nets = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            let entry = entry.as_ref();
            if entry.len() > MAX_ENTRY_LEN {
                return Err(AllowlistError {
                    index: Some(index),
                    message: format!("entry {index} is longer than {MAX_ENTRY_LEN} characters"),
                });
            }
            let net = parse_net(entry).ok_or_else(|| AllowlistError {
                index: Some(index),
                message: format!("entry {index} ({entry:?}) is not an IP address or CIDR block"),
            })?;
            if !nets.contains(&net) {
                nets.push(net);
            }
        }
        Ok(IpAllowlist(nets))
    }

    /// Reads the stored form written by `to_stored` (a comma-separated list).
    pub fn from_stored(s: &str) -> IpAllowlist {
        IpAllowlist(s.split(',').filter_map(parse_net).collect())
    }

    pub fn to_stored(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| self.entries().join(","))
    }

    /// Canonical spelling: a single address without its `/32` or `/128`.
    pub fn entries(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|n| {
                if n.prefix_len() == n.max_prefix_len() {
                    n.addr().to_string()
                } else {
                    n.to_string()
                }
            })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// An empty list allows every address.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.is_empty() || self.0.iter().any(|n| n.contains(&ip))
    }
}

/// `server.trusted_proxies`: peers whose `X-Forwarded-For` is believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>) -> TrustedProxies {
        TrustedProxies(nets)
    }

    /// Addresses or CIDR blocks; the first entry that is neither is refused.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<TrustedProxies, String> {
        entries
            .iter()
            .map(|p| {
                let p = p.as_ref();
                parse_net(p).ok_or_else(|| format!("{p:?} is not an IP address or CIDR block"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The socket peer, or when the peer is a trusted proxy, the right-most address of
    /// `X-Forwarded-For` that is not itself a trusted proxy.
    pub fn client_ip(&self, peer: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        let Some(header) = forwarded_for else {
            return client;
        };
        for hop in header.rsplit(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(addr) => {
                    client = addr.to_canonical();
                    if !self.trusts(client) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        client
    }
}

/// Keyed HMAC-SHA256 of client IPs: a plain hash of an IPv4 address is reversible by brute force.
#[derive(Clone)]
pub struct IpHasher {
    mac: Hmac,
}

type Hmac = hmac::Hmac<Sha256>;

impl IpHasher {
    pub fn new(secret: &[u8]) -> IpHasher {
        // HMAC accepts keys of any length, so this cannot fail.
        let mac = <Hmac as KeyInit>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
        IpHasher { mac }
    }

    pub fn hash(&self, ip: IpAddr) -> String {
        let mut mac = self.mac.clone();
        mac.update(ip.to_canonical().to_string().as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    /// The same keyed hash of other personal text (an e-mail address someone typed).
    pub fn hash_text(&self, text: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(text.as_bytes());
        hex(&mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_and_blocks_are_matched() {
        let list = IpAllowlist::parse(&["203.0.113.7", "10.0.0.0/8", "2001:db8::/32"]).unwrap();
        assert!(list.allows(ip("203.0.113.7")));
        assert!(list.allows(ip("10.200.1.1")));
        assert!(list.allows(ip("2001:db8:0:0:0:0:0:1")));
        assert!(list.allows(ip("::ffff:10.1.2.3")));
        assert!(!list.allows(ip("203.0.113.8")));
        assert!(!list.allows(ip("2001:db9::1")));
    }

    #[test]
    fn ipv6_is_stored_in_canonical_form() {
        let list = IpAllowlist::parse(&["2001:0DB8:0000::0001", "::ffff:192.0.2.1"]).unwrap();
        assert_eq!(list.entries(), ["2001:db8::1", "192.0.2.1"]);
        assert_eq!(IpAllowlist::from_stored(&list.to_stored().unwrap()), list);
    }

    #[test]
    fn an_empty_list_allows_everyone() {
        assert!(IpAllowlist::default().allows(ip("198.51.100.1")));
    }

    #[test]
    fn bad_entries_are_refused_with_their_index() {
        for (entries, index) in [
            (vec!["10.0.0.0/33"], Some(0)),
            (vec!["1.2.3.4", "::ffff:1.2.3.4/129"], Some(1)),
            (vec!["1.2.3.4", "not-an-ip"], Some(1)),
            (vec!["1".repeat(46).as_str()], Some(0)),
        ] {
            assert_eq!(
                IpAllowlist::parse(&entries).unwrap_err().index,
                index,
                "{entries:?}"
            );
        }
        let many: Vec<String> = (0..51).map(|i| format!("10.0.0.{i}")).collect();
        assert_eq!(IpAllowlist::parse(&many).unwrap_err().index, None);
    }

    #[test]
    fn forwarded_for_is_only_believed_from_trusted_proxies() {
        let proxies = TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap()]);
        let xff = Some("198.51.100.9, 203.0.113.5, 10.0.0.2");
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), xff), ip("203.0.113.5"));
        assert_eq!(proxies.client_ip(ip("192.0.2.1"), xff), ip("192.0.2.1"));
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), None), ip("10.0.0.1"));
        assert_eq!(
            proxies.client_ip(ip("10.0.0.1"), Some("garbage")),
            ip("10.0.0.1")
        );
    }
}
