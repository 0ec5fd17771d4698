//! Network interfaces and their addresses, as the DHCP clients need them.
//!
//! Read with `getifaddrs(3)` (netlink underneath), which reports the network namespace of the
//! calling thread; `/sys/class/net` would show the namespace of whoever mounted `/sys`
//! (DHCP-LAB-NOTES §8.5), so it is not used.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use nix::net::if_::InterfaceFlags;

/// One network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Kernel name, e.g. `eth0`.
    pub name: String,
    /// Interface index (the IPv6 scope id of its link-local addresses).
    pub index: u32,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    /// Loopback (`IFF_LOOPBACK`).
    pub loopback: bool,
    /// Link-layer address, when it is a 6-octet (Ethernet-like) one.
    pub mac: Option<[u8; 6]>,
    /// IPv4 addresses, in kernel order.
    pub ipv4: Vec<Ipv4Addr>,
    /// IPv6 addresses (all scopes), in kernel order.
    pub ipv6: Vec<Ipv6Addr>,
}

impl Interface {
    /// The first IPv4 address: the `ciaddr` of a DHCPINFORM (RFC 2131 §4.4.3).
    #[must_use]
    pub fn primary_ipv4(&self) -> Option<Ipv4Addr> {
        self.ipv4.first().copied()
    }

    /// The first link-local IPv6 address: the source of an Information-request (RFC 8415 §13.1).
    #[must_use]
    pub fn link_local_v6(&self) -> Option<Ipv6Addr> {
        self.ipv6.iter().copied().find(is_link_local)
    }

    /// Whether the interface has any IPv6 address at all (the family is "configured", RFC 7286 §3.1).
    #[must_use]
    pub fn has_ipv6(&self) -> bool {
        !self.ipv6.is_empty()
    }
}

/// `fe80::/10`.
#[must_use]
pub fn is_link_local(a: &Ipv6Addr) -> bool {
    (a.segments()[0] & 0xffc0) == 0xfe80
}

/// Lists the interfaces of the calling thread's network namespace, sorted by name.
///
/// # Errors
/// The OS error of `getifaddrs`.
pub fn list() -> std::io::Result<Vec<Interface>> {
    let mut by_name: BTreeMap<String, Interface> = BTreeMap::new();
    let addrs = nix::ifaddrs::getifaddrs().map_err(std::io::Error::from)?;
    for a in addrs {
        let entry = by_name
            .entry(a.interface_name.clone())
            .or_insert_with(|| Interface {
                name: a.interface_name.clone(),
                index: 0,
                up: false,
                loopback: false,
                mac: None,
                ipv4: Vec::new(),
                ipv6: Vec::new(),
            });
        entry.up |= a.flags.contains(InterfaceFlags::IFF_UP);
        entry.loopback |= a.flags.contains(InterfaceFlags::IFF_LOOPBACK);
        let Some(addr) = a.address else { continue };
        if let Some(v4) = addr.as_sockaddr_in() {
            entry.ipv4.push(v4.ip());
        } else if let Some(v6) = addr.as_sockaddr_in6() {
            entry.ipv6.push(v6.ip());
        } else if let Some(link) = addr.as_link_addr() {
            if entry.index == 0 {
                entry.index = u32::try_from(link.ifindex()).unwrap_or(0);
            }
            entry.mac = link.addr().filter(|m| m.iter().any(|&b| b != 0));
        }
    }
    for iface in by_name.values_mut() {
        if iface.index == 0 {
            // No AF_PACKET entry (unusual): ask the kernel by name.
            iface.index = nix::net::if_::if_nametoindex(iface.name.as_str()).unwrap_or(0);
        }
    }
    Ok(by_name.into_values().collect())
}

/// Finds one interface by name.
///
/// # Errors
/// The OS error of `getifaddrs`, or `NotFound`.
pub fn by_name(name: &str) -> std::io::Result<Interface> {
    list()?.into_iter().find(|i| i.name == name).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no interface named {name:?} in this network namespace"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_listed() {
        // Every network namespace has `lo`, even a fresh one.
        let all = list().unwrap();
        let lo = all.iter().find(|i| i.name == "lo").unwrap();
        assert!(lo.loopback);
        assert!(lo.index > 0);
    }

    #[test]
    fn link_local_detection() {
        assert!(is_link_local(&"fe80::1".parse().unwrap()));
        assert!(is_link_local(&"febf::1".parse().unwrap()));
        assert!(!is_link_local(&"fec0::1".parse().unwrap()));
        assert!(!is_link_local(&"2001:db8::1".parse().unwrap()));
    }
}
