//! RFC 8686 cross-domain discovery: from an address or prefix to the ordered reverse names a
//! client queries (XDOMDISC steps 1–3, RFC 8686 §3.2–§3.4).
//!
//! ```text
//! 198.51.100.3     ──R32──▶ 3.100.51.198.in-addr.arpa.
//!                  ──R24──▶ 100.51.198.in-addr.arpa.      (skip(R32, 1))
//!                  ──R16──▶ 51.198.in-addr.arpa.          (skip(R32, 2))
//!                  ──R8───▶ 198.in-addr.arpa.             (skip(R32, 3))
//! ```
//!
//! Table 1 of RFC 8686 §3.4: a prefix of length L starts at the nearest supported boundary at or
//! above it (IPv4 /32 /24 /16 /8; IPv6 /128 /64 /56 /48 /40 /32) and continues with the shorter ones.
//! There is no nibble rounding: a /60 starts at R56, a /127 at R64, a /25 at R24. IPv4 below /8 and
//! IPv6 below /32 are unsupported (§3.2).
//!
//! Decisions where RFC 8686 is silent (docs/decisions.md, A10 and A11):
//! * an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, prefix length ≥ 96) is treated as the IPv4
//!   address (prefix length − 96); taken literally it would only reach all-zero `ip6.arpa` names;
//! * link-local addresses (IPv6 `fe80::/10`, IPv4 `169.254.0.0/16`) and zone IDs (`%eth0`) are
//!   rejected: they mean nothing outside one link;
//! * host bits below the prefix length are accepted and ignored (reported as a warning);
//! * RFC 1918 / unique-local addresses are accepted with a warning (RFC 8686 §5.1.3).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::name::DomainName;

/// Supported IPv4 lengths, longest first (RFC 8686 §3.3).
pub const IPV4_LADDER: [u8; 4] = [32, 24, 16, 8];
/// Supported IPv6 lengths, longest first (RFC 8686 §3.3).
pub const IPV6_LADDER: [u8; 6] = [128, 64, 56, 48, 40, 32];

/// IPv4 or IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressFamily {
    /// IPv4, `in-addr.arpa.`
    Ipv4,
    /// IPv6, `ip6.arpa.`
    Ipv6,
}

impl fmt::Display for AddressFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ipv4 => "IPv4",
            Self::Ipv6 => "IPv6",
        })
    }
}

/// Why an input cannot be used for XDOMDISC.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LadderError {
    /// Not an address or `address/length` (RFC 8686 §3.1).
    #[error("invalid syntax: not an IPv4/IPv6 address or CIDR prefix (RFC 8686 §3.1)")]
    InvalidSyntax,
    /// A prefix length beyond the address size, e.g. `/33` for IPv4.
    #[error("invalid syntax: prefix length /{len} exceeds /{max} for {family} (RFC 8686 §3.1)")]
    PrefixLengthOutOfRange {
        /// Address family.
        family: AddressFamily,
        /// Length given.
        len: u32,
        /// Maximum for the family.
        max: u8,
    },
    /// IPv4 below /8 or IPv6 below /32 (RFC 8686 §3.2 step 1).
    #[error("unsupported prefix length /{len}: {family} needs /{min} or longer (RFC 8686 §3.2)")]
    UnsupportedPrefixLength {
        /// Address family.
        family: AddressFamily,
        /// Length given (after IPv4-mapped conversion).
        len: u8,
        /// Shortest supported.
        min: u8,
    },
    /// A zone ID such as `%eth0` (docs/decisions.md, A10).
    #[error(
        "address has a zone ID; zone IDs are local to a host and have no reverse DNS (docs/decisions.md, A10)"
    )]
    ZoneId,
    /// A link-local address (docs/decisions.md, A10).
    #[error("link-local address; it has no meaning beyond one link (docs/decisions.md, A10)")]
    LinkLocal,
}

/// Something about a valid input worth telling the user.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LadderWarning {
    /// An IPv4-mapped IPv6 input was converted to IPv4 (docs/decisions.md, A10).
    MappedToIpv4 {
        /// The original IPv6 address.
        original: Ipv6Addr,
    },
    /// Bits below the prefix length were set and are ignored (docs/decisions.md, A11).
    HostBitsSet,
    /// A private or unique-local address: only useful with split-horizon DNS (RFC 8686 §5.1.3).
    PrivateAddress,
}

impl LadderWarning {
    /// The [`Display`](fmt::Display) text of the warnings that name nothing but themselves
    /// (all but [`Self::MappedToIpv4`]): for writers that copy it instead of formatting it.
    #[must_use]
    pub fn fixed_text(&self) -> Option<&'static str> {
        match self {
            Self::MappedToIpv4 { .. } => None,
            Self::HostBitsSet => {
                Some("host bits below the prefix length are ignored (docs/decisions.md, A11)")
            }
            Self::PrivateAddress => Some(
                "private address: works only with split-horizon DNS and DNSSEC anchors (RFC 8686 §5.1.3)",
            ),
        }
    }
}

impl fmt::Display for LadderWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MappedToIpv4 { original } => write!(
                f,
                "IPv4-mapped address {original} treated as IPv4 (RFC 8686 is silent; docs/decisions.md, A10)"
            ),
            // Every other warning has its fixed text (`fixed_text` matches them all).
            _ => f.write_str(self.fixed_text().unwrap_or_default()),
        }
    }
}

/// A parsed address or prefix: `address/prefix_len`, IPv4-mapped input already converted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpPrefix {
    /// The address as given (host bits kept; they are dropped when names are built).
    pub address: IpAddr,
    /// The prefix length (32 / 128 for a bare address).
    pub prefix_len: u8,
    /// Notes about the input.
    pub warnings: Vec<LadderWarning>,
}

impl IpPrefix {
    /// Parses `ADDR` or `ADDR/LEN` (RFC 8686 §3.1), applying the decisions A10 and A11 of docs/decisions.md.
    ///
    /// # Errors
    /// [`LadderError::InvalidSyntax`], [`LadderError::PrefixLengthOutOfRange`],
    /// [`LadderError::ZoneId`] or [`LadderError::LinkLocal`].
    pub fn parse(input: &str) -> Result<Self, LadderError> {
        let input = input.trim();
        let (addr_text, len_text) = match input.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (input, None),
        };
        if addr_text.contains('%') {
            return Err(LadderError::ZoneId);
        }
        let address: IpAddr = addr_text.parse().map_err(|_| LadderError::InvalidSyntax)?;
        let (family, max) = match address {
            IpAddr::V4(_) => (AddressFamily::Ipv4, 32u8),
            IpAddr::V6(_) => (AddressFamily::Ipv6, 128u8),
        };
        let prefix_len = match len_text {
            None => max,
            Some(l) => {
                if l.is_empty() || l.len() > 3 || !l.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(LadderError::InvalidSyntax);
                }
                let len: u32 = l.parse().map_err(|_| LadderError::InvalidSyntax)?;
                u8::try_from(len)
                    .ok()
                    .filter(|&n| n <= max)
                    .ok_or(LadderError::PrefixLengthOutOfRange { family, len, max })?
            }
        };
        let mut warnings = Vec::new();
        let (address, prefix_len) = match address {
            IpAddr::V6(v6) if prefix_len >= 96 => match v6.to_ipv4_mapped() {
                Some(v4) => {
                    warnings.push(LadderWarning::MappedToIpv4 { original: v6 });
                    (IpAddr::V4(v4), prefix_len - 96)
                }
                None => (address, prefix_len),
            },
            other => (other, prefix_len),
        };
        if is_link_local(address) {
            return Err(LadderError::LinkLocal);
        }
        if network_address(address, prefix_len) != address {
            warnings.push(LadderWarning::HostBitsSet);
        }
        if is_private(address) {
            warnings.push(LadderWarning::PrivateAddress);
        }
        Ok(Self {
            address,
            prefix_len,
            warnings,
        })
    }

    /// The address family.
    #[must_use]
    pub fn family(&self) -> AddressFamily {
        match self.address {
            IpAddr::V4(_) => AddressFamily::Ipv4,
            IpAddr::V6(_) => AddressFamily::Ipv6,
        }
    }

    /// The network address (host bits cleared).
    #[must_use]
    pub fn network(&self) -> IpAddr {
        network_address(self.address, self.prefix_len)
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network(), self.prefix_len)
    }
}

fn is_link_local(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

fn is_private(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v4) => v4.is_private(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

/// Clears the bits below `len`.
#[must_use]
pub fn network_address(a: IpAddr, len: u8) -> IpAddr {
    match a {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

/// The reverse name of `address` truncated to `len` bits, which must be a multiple of 8 (IPv4) or
/// 4 (IPv6). Lowercase, with a trailing dot (RFC 1035 §3.5, RFC 3596 §2.5).
#[must_use]
pub fn reverse_name(address: IpAddr, len: u8) -> String {
    reverse_domain_name(address, len).to_string()
}

/// [`reverse_name`] in wire form (RFC 1035 §3.1), built without a text round trip: a batch
/// builds four to six of these per address, and formatting each as text only to parse it back
/// into a [`DomainName`] was a visible share of its work. [`reverse_name`] is its text.
#[must_use]
pub fn reverse_domain_name(address: IpAddr, len: u8) -> DomainName {
    match address {
        IpAddr::V4(v4) => {
            let octets = v4.octets();
            let n = usize::from(len / 8).min(octets.len());
            // At most 4 labels of 1 + 3 octets, then the 14-octet suffix.
            let mut wire = Vec::with_capacity(4 * n + IN_ADDR_ARPA.len());
            for &o in octets[..n].iter().rev() {
                let (hundreds, tens, ones) = (o / 100, o / 10 % 10, o % 10);
                if hundreds > 0 {
                    wire.extend_from_slice(&[3, b'0' + hundreds, b'0' + tens, b'0' + ones]);
                } else if tens > 0 {
                    wire.extend_from_slice(&[2, b'0' + tens, b'0' + ones]);
                } else {
                    wire.extend_from_slice(&[1, b'0' + ones]);
                }
            }
            wire.extend_from_slice(IN_ADDR_ARPA);
            DomainName::from_trusted_wire(wire)
        }
        IpAddr::V6(v6) => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let nibbles = usize::from(len / 4).min(32);
            let value = u128::from(v6);
            // At most 32 one-nibble labels (64 octets), then the 10-octet suffix.
            let mut wire = Vec::with_capacity(2 * nibbles + IP6_ARPA.len());
            for i in (0..nibbles).rev() {
                // `i` < 32, so the shift stays below 128; the mask keeps the index below 16.
                let nibble = (value >> (124 - 4 * i)) & 0xf;
                let digit = HEX[usize::try_from(nibble).unwrap_or(0) & 0xf];
                wire.extend_from_slice(&[1, digit]);
            }
            wire.extend_from_slice(IP6_ARPA);
            DomainName::from_trusted_wire(wire)
        }
    }
}

/// `in-addr.arpa.` in wire form (RFC 1035 §3.5).
const IN_ADDR_ARPA: &[u8] = b"\x07in-addr\x04arpa\x00";
/// `ip6.arpa.` in wire form (RFC 3596 §2.5).
const IP6_ARPA: &[u8] = b"\x03ip6\x04arpa\x00";

/// One name on the ladder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LadderStep {
    /// The reverse name to query, lowercase, absolute.
    pub name: String,
    /// The prefix length it stands for (32 for R32, 64 for R64, …).
    pub prefix_len: u8,
}

impl LadderStep {
    /// RFC 8686's label for the step, e.g. `R24`.
    #[must_use]
    pub fn label(&self) -> String {
        format!("R{}", self.prefix_len)
    }
}

/// The ordered names XDOMDISC queries for one input (RFC 8686 §3.4 Table 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReverseLadder {
    /// The parsed input.
    pub input: IpPrefix,
    /// The names, in query order: the first is the MUST lookup, the rest the SHOULD lookups.
    pub steps: Vec<LadderStep>,
}

impl ReverseLadder {
    /// Builds the ladder for a parsed prefix.
    ///
    /// # Errors
    /// [`LadderError::UnsupportedPrefixLength`] for IPv4 below /8 or IPv6 below /32.
    pub fn new(input: IpPrefix) -> Result<Self, LadderError> {
        let steps = ladder_lengths(&input)?
            .iter()
            .map(|&len| LadderStep {
                name: reverse_name(input.address, len),
                prefix_len: len,
            })
            .collect();
        Ok(Self { input, steps })
    }

    /// Parses `input` and builds its ladder.
    ///
    /// # Errors
    /// Any [`LadderError`].
    pub fn parse(input: &str) -> Result<Self, LadderError> {
        Self::new(IpPrefix::parse(input)?)
    }
}

/// The prefix lengths of the ladder of `input`, in query order (RFC 8686 §3.4 Table 1): the
/// supported lengths at or above its own, longest first. [`ReverseLadder::new`] names them;
/// with [`reverse_domain_name`] a caller gets the same names in wire form.
///
/// # Errors
/// [`LadderError::UnsupportedPrefixLength`] for IPv4 below /8 or IPv6 below /32 (§3.2).
pub fn ladder_lengths(input: &IpPrefix) -> Result<&'static [u8], LadderError> {
    let family = input.family();
    let supported = ladder_of(family);
    let min = supported[supported.len() - 1];
    if input.prefix_len < min {
        return Err(LadderError::UnsupportedPrefixLength {
            family,
            len: input.prefix_len,
            min,
        });
    }
    // Longest first, so the lengths at or above the input's are a tail of the list.
    let first = supported
        .iter()
        .position(|&len| len <= input.prefix_len)
        .unwrap_or(supported.len());
    Ok(&supported[first..])
}

/// The longest supported length at or above (i.e. ≤) `len`, if any (RFC 8686 Table 1).
#[must_use]
pub fn query_boundary(family: AddressFamily, len: u8) -> Option<u8> {
    ladder_of(family).iter().copied().find(|&l| l <= len)
}

/// The shortest supported length at or below (i.e. ≥) `len`, if any: where records for a prefix of
/// length `len` must be published so that every address inside it finds them.
#[must_use]
pub fn publish_boundary(family: AddressFamily, len: u8) -> Option<u8> {
    ladder_of(family).iter().rev().copied().find(|&l| l >= len)
}

/// The supported lengths for a family, longest first.
#[must_use]
pub fn ladder_of(family: AddressFamily) -> &'static [u8] {
    match family {
        AddressFamily::Ipv4 => &IPV4_LADDER,
        AddressFamily::Ipv6 => &IPV6_LADDER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_prefix_converts_length() {
        let p = IpPrefix::parse("::ffff:192.0.2.0/120").unwrap();
        assert_eq!(p.address, "192.0.2.0".parse::<IpAddr>().unwrap());
        assert_eq!(p.prefix_len, 24);
        // Below /96 a mapped-looking prefix is just an IPv6 prefix.
        let q = IpPrefix::parse("::ffff:0:0/80").unwrap();
        assert_eq!(q.family(), AddressFamily::Ipv6);
    }

    #[test]
    fn rejects_local_only_inputs() {
        assert_eq!(IpPrefix::parse("fe80::1"), Err(LadderError::LinkLocal));
        assert_eq!(IpPrefix::parse("fe80::1%eth0"), Err(LadderError::ZoneId));
        assert_eq!(IpPrefix::parse("169.254.1.1"), Err(LadderError::LinkLocal));
        assert_eq!(
            IpPrefix::parse("192.0.2.1/"),
            Err(LadderError::InvalidSyntax)
        );
        assert_eq!(
            IpPrefix::parse("192.0.2.1/+3"),
            Err(LadderError::InvalidSyntax)
        );
    }

    #[test]
    fn warns_about_private_and_host_bits() {
        let p = IpPrefix::parse("10.1.2.3/8").unwrap();
        assert_eq!(
            p.warnings,
            vec![LadderWarning::HostBitsSet, LadderWarning::PrivateAddress]
        );
        assert_eq!(p.to_string(), "10.0.0.0/8");
    }

    /// The wire-form names are the text names, for every length of both ladders and octets
    /// of one, two and three digits (0, 9, 10, 99, 100, 255) and nibbles with hex letters.
    #[test]
    fn wire_names_equal_the_text_names() {
        for a in [
            "198.51.100.3",
            "0.9.10.99",
            "100.255.0.1",
            "255.255.255.255",
            "0.0.0.0",
            "2001:db8:1:2:227:eff:fe6a:de42",
            "ffff:abcd:ef01:2345:6789::f",
            "::",
        ] {
            let address: IpAddr = a.parse().unwrap();
            let lengths: &[u8] = match address {
                IpAddr::V4(_) => &[32, 24, 16, 8, 0],
                IpAddr::V6(_) => &[128, 64, 60, 56, 48, 40, 32, 4, 0],
            };
            for &len in lengths {
                // The text name spelled out label by label, as RFC 1035 §3.5 and RFC 3596 §2.5
                // describe it.
                let text = match address {
                    IpAddr::V4(v4) => {
                        let labels: Vec<String> = v4.octets()[..usize::from(len / 8)]
                            .iter()
                            .rev()
                            .map(u8::to_string)
                            .collect();
                        format!(
                            "{}in-addr.arpa.",
                            labels.iter().map(|l| format!("{l}.")).collect::<String>()
                        )
                    }
                    IpAddr::V6(v6) => {
                        let hex = format!("{:032x}", u128::from(v6));
                        let nibbles: String = hex[..usize::from(len / 4)]
                            .chars()
                            .rev()
                            .map(|c| format!("{c}."))
                            .collect();
                        format!("{nibbles}ip6.arpa.")
                    }
                };
                let wire = reverse_domain_name(address, len);
                assert_eq!(reverse_name(address, len), text, "{a}/{len}");
                assert_eq!(wire.as_wire(), DomainName::parse(&text).unwrap().as_wire());
            }
        }
    }

    /// The lengths are those of the ladder's steps, and the same inputs are refused.
    #[test]
    fn ladder_lengths_are_the_steps() {
        for input in [
            "198.51.100.3",
            "198.51.100.0/25",
            "10.0.0.0/8",
            "2001:db8::/60",
            "2001:db8::1",
        ] {
            let p = IpPrefix::parse(input).unwrap();
            let ladder = ReverseLadder::new(p.clone()).unwrap();
            let lens: Vec<u8> = ladder.steps.iter().map(|s| s.prefix_len).collect();
            assert_eq!(ladder_lengths(&p).unwrap(), lens.as_slice(), "{input}");
        }
        for input in ["10.0.0.0/7", "2001:db8::/31"] {
            let p = IpPrefix::parse(input).unwrap();
            assert_eq!(ladder_lengths(&p), ReverseLadder::new(p).map(|_| &[][..]));
        }
    }

    #[test]
    fn boundaries() {
        assert_eq!(query_boundary(AddressFamily::Ipv4, 22), Some(16));
        assert_eq!(publish_boundary(AddressFamily::Ipv4, 22), Some(24));
        assert_eq!(query_boundary(AddressFamily::Ipv6, 60), Some(56));
        assert_eq!(publish_boundary(AddressFamily::Ipv6, 60), Some(64));
        assert_eq!(publish_boundary(AddressFamily::Ipv6, 20), Some(32));
        assert_eq!(query_boundary(AddressFamily::Ipv4, 7), None);
    }
}
