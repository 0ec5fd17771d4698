//! Publish-side expansion: from a prefix an operator serves to the owner names its NAPTR records
//! must sit at, so that every address inside the prefix finds them (docs/decisions.md, responder).
//!
//! Clients only query the depths of RFC 8686 Table 1 (IPv4 /8 /16 /24 /32; IPv6 /32 /40 /48 /56 /64
//! /128). So:
//!
//! * an **aligned** prefix (its length is one of those) gets one owner, its own reverse name;
//! * an **unaligned** prefix is expanded to the next *longer* supported length: 2^(next − L) owners
//!   (a /22 becomes four /24 names, the RFC 8686 §5.2.1 "/18 → 64 records" example), up to a cap;
//! * or, with [`ExpansionMode::CoverShorter`], one owner at the next *shorter* supported length,
//!   which also claims addresses outside the prefix and so needs an explicit opt-in.
//!
//! Expansion has a trap (docs/decisions.md, A12): a client that runs XDOMDISC for the *prefix itself*
//! (say 198.51.100.0/22) starts at R16 and never sees the /24 names. [`PublishPlan::warnings`] says so.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::ladder::{AddressFamily, IpPrefix, publish_boundary, query_boundary, reverse_name};

/// Default cap on the number of owner names one prefix may expand to (docs/decisions.md, A12).
pub const DEFAULT_MAX_OWNERS: usize = 4096;

/// How an unaligned prefix is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExpansionMode {
    /// One owner per next-longer supported prefix inside it (the default).
    #[default]
    ExpandLonger,
    /// One owner at the next-shorter supported prefix; claims addresses beyond the prefix.
    CoverShorter,
}

/// Limits for [`publish_owners`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpansionPolicy {
    /// How to handle unaligned prefixes.
    pub mode: ExpansionMode,
    /// Most owner names one prefix may produce.
    pub max_owners: usize,
}

impl Default for ExpansionPolicy {
    fn default() -> Self {
        Self {
            mode: ExpansionMode::ExpandLonger,
            max_owners: DEFAULT_MAX_OWNERS,
        }
    }
}

/// Why a prefix cannot be published as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// Expansion would produce more owners than allowed.
    #[error(
        "/{from} expands to {count} /{to} names, over the limit of {max}; publish shorter prefixes or raise the limit"
    )]
    ExpansionTooLarge {
        /// The prefix length.
        from: u8,
        /// The length expanded to.
        to: u8,
        /// Owners it would take (saturated).
        count: u128,
        /// The cap.
        max: usize,
    },
    /// `CoverShorter` for a prefix shorter than every supported length (IPv4 < /8, IPv6 < /32).
    #[error("no supported length at or above /{len} for {family}: nothing to cover it with")]
    NothingShorter {
        /// Family.
        family: AddressFamily,
        /// The prefix length.
        len: u8,
    },
}

/// Something the operator should know about a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishWarning {
    /// Expanded to longer names: a query for the prefix itself will not find them (docs/decisions.md, A12).
    ExpandedBeyondPrefixQuery {
        /// The prefix length.
        prefix_len: u8,
        /// Where the records are published.
        owner_len: u8,
        /// Where a query for the prefix itself starts (`None` if the prefix is unsupported for
        /// queries, e.g. IPv4 /4).
        query_starts_at: Option<u8>,
    },
    /// Covered at a shorter prefix: the records also answer for addresses outside the prefix.
    CoversMoreThanPrefix {
        /// The prefix length.
        prefix_len: u8,
        /// Where the records are published.
        owner_len: u8,
    },
}

impl fmt::Display for PublishWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ExpandedBeyondPrefixQuery {
                prefix_len,
                owner_len,
                query_starts_at: Some(q),
            } => write!(
                f,
                "/{prefix_len} is published at /{owner_len} names: every address inside finds them, but a \
                 query for the /{prefix_len} prefix itself starts at R{q} and will not (docs/decisions.md, A12)"
            ),
            Self::ExpandedBeyondPrefixQuery {
                prefix_len,
                owner_len,
                query_starts_at: None,
            } => write!(
                f,
                "/{prefix_len} is published at /{owner_len} names; clients cannot query a /{prefix_len} prefix itself"
            ),
            Self::CoversMoreThanPrefix {
                prefix_len,
                owner_len,
            } => write!(
                f,
                "/{prefix_len} is published at a /{owner_len} name, which also answers for addresses outside the prefix"
            ),
        }
    }
}

/// Where the records for one prefix go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishPlan {
    /// The prefix.
    pub prefix: IpPrefix,
    /// The length of every owner name (e.g. 24 for R24 names).
    pub owner_len: u8,
    /// The owner names, in address order, lowercase, absolute.
    pub owners: Vec<String>,
    /// Notes for the operator.
    pub warnings: Vec<PublishWarning>,
}

impl PublishPlan {
    /// Whether the prefix needed no expansion.
    #[must_use]
    pub fn is_aligned(&self) -> bool {
        self.owner_len == self.prefix.prefix_len
    }
}

/// Computes the owner names for `prefix` under `policy`.
///
/// # Errors
/// [`PublishError`] when the expansion is over the cap, or there is nothing shorter to cover with.
pub fn publish_owners(
    prefix: &IpPrefix,
    policy: &ExpansionPolicy,
) -> Result<PublishPlan, PublishError> {
    let family = prefix.family();
    let len = prefix.prefix_len;
    let mut warnings = Vec::new();
    let aligned = publish_boundary(family, len) == Some(len);
    let owner_len = if aligned {
        len
    } else {
        match policy.mode {
            ExpansionMode::ExpandLonger => {
                // Every prefix length has a longer-or-equal supported length (/32 or /128).
                let to = publish_boundary(family, len).unwrap_or(len);
                warnings.push(PublishWarning::ExpandedBeyondPrefixQuery {
                    prefix_len: len,
                    owner_len: to,
                    query_starts_at: query_boundary(family, len),
                });
                to
            }
            ExpansionMode::CoverShorter => {
                let to = query_boundary(family, len)
                    .ok_or(PublishError::NothingShorter { family, len })?;
                warnings.push(PublishWarning::CoversMoreThanPrefix {
                    prefix_len: len,
                    owner_len: to,
                });
                to
            }
        }
    };

    let owners = if owner_len <= len {
        vec![reverse_name(prefix.network(), owner_len)]
    } else {
        let shift = u32::from(owner_len - len);
        let count = 1u128.checked_shl(shift).unwrap_or(u128::MAX);
        if count > policy.max_owners as u128 {
            return Err(PublishError::ExpansionTooLarge {
                from: len,
                to: owner_len,
                count,
                max: policy.max_owners,
            });
        }
        enumerate(prefix.network(), owner_len, count)
    };
    Ok(PublishPlan {
        prefix: prefix.clone(),
        owner_len,
        owners,
        warnings,
    })
}

/// The reverse names of the `count` consecutive /`owner_len` prefixes starting at `network`.
fn enumerate(network: IpAddr, owner_len: u8, count: u128) -> Vec<String> {
    let mut out = Vec::new();
    match network {
        IpAddr::V4(v4) => {
            let base = u32::from(v4);
            let step = 1u32.checked_shl(32 - u32::from(owner_len)).unwrap_or(0);
            for i in 0..count {
                let i = u32::try_from(i).unwrap_or(u32::MAX);
                let a = base.wrapping_add(i.wrapping_mul(step));
                out.push(reverse_name(IpAddr::V4(Ipv4Addr::from(a)), owner_len));
            }
        }
        IpAddr::V6(v6) => {
            let base = u128::from(v6);
            let step = 1u128.checked_shl(128 - u32::from(owner_len)).unwrap_or(0);
            for i in 0..count {
                let a = base.wrapping_add(i.wrapping_mul(step));
                out.push(reverse_name(IpAddr::V6(Ipv6Addr::from(a)), owner_len));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(s: &str) -> Result<PublishPlan, PublishError> {
        publish_owners(&IpPrefix::parse(s).unwrap(), &ExpansionPolicy::default())
    }

    #[test]
    fn aligned_prefixes_have_one_owner() {
        let p = plan("198.51.100.0/24").unwrap();
        assert!(p.is_aligned());
        assert_eq!(p.owners, vec!["100.51.198.in-addr.arpa."]);
        assert!(p.warnings.is_empty());
        assert_eq!(
            plan("2001:db8::/32").unwrap().owners,
            vec!["8.b.d.0.1.0.0.2.ip6.arpa."]
        );
    }

    #[test]
    fn unaligned_prefixes_expand_with_a12_warning() {
        let p = plan("198.51.100.0/22").unwrap();
        assert_eq!(
            p.owners,
            vec![
                "100.51.198.in-addr.arpa.",
                "101.51.198.in-addr.arpa.",
                "102.51.198.in-addr.arpa.",
                "103.51.198.in-addr.arpa."
            ]
        );
        assert_eq!(
            p.warnings,
            vec![PublishWarning::ExpandedBeyondPrefixQuery {
                prefix_len: 22,
                owner_len: 24,
                query_starts_at: Some(16)
            }]
        );
        // RFC 8686 §5.2.1: a /18 becomes 64 records, one per /24.
        assert_eq!(plan("192.0.0.0/18").unwrap().owners.len(), 64);
        let v6 = plan("2001:db8:1:2a0::/60").unwrap();
        assert_eq!(v6.owners.len(), 16);
        assert_eq!(v6.owners[0], "0.a.2.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.");
        assert_eq!(v6.owners[15], "f.a.2.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.");
    }

    #[test]
    fn cap_and_cover_shorter() {
        assert_eq!(
            plan("2001:db8::/65"),
            Err(PublishError::ExpansionTooLarge {
                from: 65,
                to: 128,
                count: 1 << 63,
                max: DEFAULT_MAX_OWNERS
            })
        );
        let cover = ExpansionPolicy {
            mode: ExpansionMode::CoverShorter,
            ..Default::default()
        };
        let p = publish_owners(&IpPrefix::parse("198.51.100.0/22").unwrap(), &cover).unwrap();
        assert_eq!(p.owners, vec!["51.198.in-addr.arpa."]);
        assert_eq!(
            publish_owners(&IpPrefix::parse("10.0.0.0/4").unwrap(), &cover),
            Err(PublishError::NothingShorter {
                family: AddressFamily::Ipv4,
                len: 4
            })
        );
        // A /4 expands to sixteen /8 names by default.
        assert_eq!(plan("16.0.0.0/4").unwrap().owners.len(), 16);
    }
}
