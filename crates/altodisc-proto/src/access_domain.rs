//! The access-domain DHCP options of RFC 5986 and the DHCP plumbing around them.
//!
//! * DHCPv4 option 213 (`OPTION_V4_ACCESS_DOMAIN`, RFC 5986 §3.2) and DHCPv6 option 57
//!   (`OPTION_V6_ACCESS_DOMAIN`, RFC 5986 §3.3) carry **exactly one** domain name in uncompressed
//!   RFC 1035 wire form (RFC 5986 §3.1; RFC 8415 §10 forbids compression in DHCPv6).
//!   [`decode_access_domain`] enforces that, and treats a root-only name as absent (`[interp]`, docs/decisions.md).
//! * DHCPv4 options may be split into several instances that the receiver MUST concatenate, in the
//!   order options field, `file`, `sname` when option overload (52) is present (RFC 3396 §5–§6):
//!   [`v4_option`] does this over the raw option areas.
//! * DHCPv6 options are (code u16, length u16, data) triples (RFC 8415 §21.1): [`v6_options`].
//! * DHCPv4 option 15 (Domain Name, RFC 2132 §3.17) is an ASCII string, not wire format:
//!   [`parse_domain_name_option`].
//!
//! Everything here reads hostile bytes: every length is checked, nothing panics, and the error says
//! where the problem is.

use crate::name::{DomainName, MAX_NAME_LEN, NameError};

/// DHCPv4 option code of the access-domain option (RFC 5986 §6.1).
pub const DHCPV4_ACCESS_DOMAIN: u8 = 213;
/// DHCPv6 option code of the access-domain option (RFC 5986 §6.1).
pub const DHCPV6_ACCESS_DOMAIN: u16 = 57;
/// DHCPv4 Domain Name option (RFC 2132 §3.17), RFC 7286 §3.1.2's IPv4 fallback.
pub const DHCPV4_DOMAIN_NAME: u8 = 15;
/// DHCPv4 option overload (RFC 2132 §9.3).
pub const DHCPV4_OPTION_OVERLOAD: u8 = 52;
/// DHCPv6 Information Refresh Time (RFC 8415 §21.23).
pub const DHCPV6_INFORMATION_REFRESH_TIME: u16 = 32;

/// Why an access-domain option payload was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AccessDomainError {
    /// The option carried no data at all.
    #[error("empty access-domain option (RFC 5986 §3.1 requires one encoded name)")]
    Empty,
    /// A compression pointer: forbidden in these options (RFC 5986 §3.1, RFC 8415 §10).
    #[error("compression pointer at offset {offset}; RFC 5986 §3.1 forbids compression")]
    CompressionPointer {
        /// Offset of the pointer octet in the payload.
        offset: usize,
    },
    /// A length octet above 63 (top bits `01` or `10`).
    #[error("label length {len} at offset {offset} exceeds 63 (RFC 1035 §2.3.4)")]
    LabelTooLong {
        /// Offset of the length octet.
        offset: usize,
        /// The value read.
        len: u8,
    },
    /// The encoded name is longer than 255 octets.
    #[error("encoded name of {len} octets exceeds 255 (RFC 5986 §3.1)")]
    NameTooLong {
        /// Encoded length reached.
        len: usize,
    },
    /// The payload ends inside the name.
    #[error("name truncated at offset {offset}")]
    Truncated {
        /// Offset where more data was expected.
        offset: usize,
    },
    /// A second complete name follows the first (RFC 5986 §3.2: exactly one name).
    #[error(
        "a second domain name starts at offset {offset}; the option carries exactly one (RFC 5986 §3.2)"
    )]
    MultipleNames {
        /// Offset where the second name starts.
        offset: usize,
    },
    /// Bytes follow the name that are not a name either.
    #[error("{count} trailing byte(s) after the name at offset {offset}")]
    TrailingBytes {
        /// Offset of the first trailing byte.
        offset: usize,
        /// Number of trailing bytes.
        count: usize,
    },
    /// Option 15 contained a byte that is not printable ASCII.
    #[error(
        "option 15 has a non-ASCII or control byte 0x{byte:02x} at offset {offset} (RFC 2132 §3.17)"
    )]
    NotAscii {
        /// Offset of the byte.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// Option 15 text that is not a valid domain name.
    #[error("option 15 is not a valid domain name: {0}")]
    InvalidText(NameError),
}

/// Decodes the payload of option 213 or 57 (RFC 5986 §3.1–§3.3).
///
/// Returns `Ok(None)` for a root-only name, which names no access network (`[interp]`, docs/decisions.md).
///
/// # Errors
/// An [`AccessDomainError`] for an empty payload, a compression pointer, a label over 63 octets,
/// a name over 255 octets, a truncated name, a second name, or trailing bytes.
pub fn decode_access_domain(payload: &[u8]) -> Result<Option<DomainName>, AccessDomainError> {
    if payload.is_empty() {
        return Err(AccessDomainError::Empty);
    }
    let (name, used) = DomainName::from_wire(payload).map_err(|e| wire_error(payload, e))?;
    if used < payload.len() {
        let rest = &payload[used..];
        return Err(match DomainName::from_wire(rest) {
            Ok((_, n)) if n == rest.len() => AccessDomainError::MultipleNames { offset: used },
            _ => AccessDomainError::TrailingBytes {
                offset: used,
                count: rest.len(),
            },
        });
    }
    Ok((!name.is_root()).then_some(name))
}

fn wire_error(payload: &[u8], e: NameError) -> AccessDomainError {
    match e {
        NameError::CompressionPointer { offset } => {
            AccessDomainError::CompressionPointer { offset }
        }
        NameError::ReservedLabelType { offset, octet } => {
            AccessDomainError::LabelTooLong { offset, len: octet }
        }
        NameError::NameTooLong { len } => AccessDomainError::NameTooLong { len },
        NameError::Truncated { offset } => AccessDomainError::Truncated { offset },
        _ => AccessDomainError::Truncated {
            offset: payload.len(),
        },
    }
}

/// Encodes a name as the payload of option 213 or 57: the uncompressed wire form (RFC 5986 §3.1).
#[must_use]
pub fn encode_access_domain(name: &DomainName) -> Vec<u8> {
    name.as_wire().to_vec()
}

/// Encodes a complete DHCPv4 option 213 (code, length, payload). A name is at most 255 octets, so one
/// instance always suffices.
#[must_use]
pub fn encode_v4_access_domain_option(name: &DomainName) -> Vec<u8> {
    let payload = encode_access_domain(name);
    let mut out = Vec::with_capacity(payload.len() + 2);
    out.push(DHCPV4_ACCESS_DOMAIN);
    // A DomainName is at most 255 octets, so this never saturates.
    out.push(u8::try_from(payload.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(&payload);
    out
}

/// Encodes a complete DHCPv6 option 57 (code u16, length u16, payload).
#[must_use]
pub fn encode_v6_access_domain_option(name: &DomainName) -> Vec<u8> {
    let payload = encode_access_domain(name);
    let mut out = Vec::with_capacity(payload.len() + 4);
    out.extend_from_slice(&DHCPV6_ACCESS_DOMAIN.to_be_bytes());
    out.extend_from_slice(
        &u16::try_from(payload.len())
            .unwrap_or(u16::MAX)
            .to_be_bytes(),
    );
    out.extend_from_slice(&payload);
    out
}

/// Why a DHCP options area could not be walked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DhcpOptionsError {
    /// An option's length runs past the end of the area it is in.
    #[error(
        "option {code} at offset {offset} declares {declared} octets but only {remaining} remain"
    )]
    LengthExceedsData {
        /// The option code.
        code: u16,
        /// Offset of the option's code field.
        offset: usize,
        /// Length the option declares.
        declared: usize,
        /// Octets actually left.
        remaining: usize,
    },
    /// The area ends in the middle of an option header.
    #[error("options area truncated at offset {offset}")]
    Truncated {
        /// Offset of the incomplete header.
        offset: usize,
    },
    /// Option overload (52) with a value other than 1, 2 or 3 (RFC 2132 §9.3).
    #[error("option overload value {0} is not 1, 2 or 3 (RFC 2132 §9.3)")]
    BadOverload(u8),
}

/// The DHCPv4 option areas of one message, as RFC 3396 reads them.
#[derive(Debug, Clone, Copy, Default)]
pub struct V4OptionAreas<'a> {
    /// The `options` field after the magic cookie.
    pub options: &'a [u8],
    /// The BOOTP `file` field (128 octets), consulted only under overload 1 or 3.
    pub file: &'a [u8],
    /// The BOOTP `sname` field (64 octets), consulted only under overload 2 or 3.
    pub sname: &'a [u8],
}

/// Collects every instance of DHCPv4 option `code` and concatenates their payloads (RFC 3396 §6),
/// honouring option overload (52) so that `file` and then `sname` are read after `options`.
/// Returns `Ok(None)` if the option does not occur.
///
/// # Errors
/// [`DhcpOptionsError`] if an area is malformed.
pub fn v4_option(areas: &V4OptionAreas<'_>, code: u8) -> Result<Option<Vec<u8>>, DhcpOptionsError> {
    let mut found: Option<Vec<u8>> = None;
    let mut overload = 0u8;
    walk_v4(areas.options, |c, data| {
        if c == DHCPV4_OPTION_OVERLOAD {
            overload = data.first().copied().unwrap_or(0);
        }
        if c == code {
            found.get_or_insert_with(Vec::new).extend_from_slice(data);
        }
    })?;
    let extra: &[&[u8]] = match overload {
        0 => &[],
        1 => &[areas.file],
        2 => &[areas.sname],
        3 => &[areas.file, areas.sname],
        other => return Err(DhcpOptionsError::BadOverload(other)),
    };
    for area in extra {
        walk_v4(area, |c, data| {
            if c == code {
                found.get_or_insert_with(Vec::new).extend_from_slice(data);
            }
        })?;
    }
    Ok(found)
}

/// Walks DHCPv4 TLVs: 0 is a one-octet pad, 255 ends the area (RFC 2132 §3.1–§3.2).
fn walk_v4(area: &[u8], mut visit: impl FnMut(u8, &[u8])) -> Result<(), DhcpOptionsError> {
    let mut pos = 0usize;
    while let Some(&code) = area.get(pos) {
        match code {
            0 => pos += 1,
            255 => return Ok(()),
            _ => {
                // `pos` < `area.len()` (its octet was read), so `pos + 1` cannot wrap, and once
                // the length octet at `pos + 1` is read, neither can `pos + 2 + len` (<= 255 more).
                let Some(&len) = area.get(pos + 1) else {
                    return Err(DhcpOptionsError::Truncated { offset: pos });
                };
                let start = pos + 2;
                let end = start + usize::from(len);
                let Some(data) = area.get(start..end) else {
                    return Err(DhcpOptionsError::LengthExceedsData {
                        code: u16::from(code),
                        offset: pos,
                        declared: usize::from(len),
                        remaining: area.len().saturating_sub(start),
                    });
                };
                visit(code, data);
                pos = end;
            }
        }
    }
    Ok(())
}

/// Walks a DHCPv6 options area (RFC 8415 §21.1) and returns the payloads of every instance of
/// `code`, in order. For a whole message, pass the bytes after the 4-octet type + transaction-id.
///
/// # Errors
/// [`DhcpOptionsError`] if an option header is cut short or a length runs past the end.
pub fn v6_options(area: &[u8], code: u16) -> Result<Vec<&[u8]>, DhcpOptionsError> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    // `pos` < `area.len()` in the loop; the header (4) and the length (< 65536) added to an
    // in-bounds offset cannot wrap a usize of at least 32 bits.
    while pos < area.len() {
        let Some(header) = area.get(pos..pos + 4) else {
            return Err(DhcpOptionsError::Truncated { offset: pos });
        };
        let this = u16::from_be_bytes([header[0], header[1]]);
        let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
        let start = pos + 4;
        let Some(data) = area.get(start..start + len) else {
            return Err(DhcpOptionsError::LengthExceedsData {
                code: this,
                offset: pos,
                declared: len,
                remaining: area.len().saturating_sub(start),
            });
        };
        if this == code {
            out.push(data);
        }
        pos = start + len;
    }
    Ok(out)
}

/// Parses DHCPv4 option 15 (RFC 2132 §3.17): an ASCII domain name, not wire format. Trailing NUL
/// octets (some servers send them) and one trailing dot are stripped (`[interp]`, docs/decisions.md, resolver).
/// Returns `Ok(None)` when nothing remains.
///
/// # Errors
/// [`AccessDomainError::NotAscii`] for a control or non-ASCII byte, [`AccessDomainError::InvalidText`]
/// for text that is not a valid name.
pub fn parse_domain_name_option(payload: &[u8]) -> Result<Option<DomainName>, AccessDomainError> {
    let end = payload.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    let text = &payload[..end];
    if let Some(offset) = text.iter().position(|&b| !(0x21..=0x7E).contains(&b)) {
        return Err(AccessDomainError::NotAscii {
            offset,
            byte: text[offset],
        });
    }
    let text = text.strip_suffix(b".").unwrap_or(text);
    if text.is_empty() {
        return Ok(None);
    }
    // Every byte is printable ASCII here, so this conversion cannot fail.
    let text =
        std::str::from_utf8(text).map_err(|_| AccessDomainError::InvalidText(NameError::Empty))?;
    let name = DomainName::parse(text).map_err(AccessDomainError::InvalidText)?;
    debug_assert!(name.as_wire().len() <= MAX_NAME_LEN);
    Ok(Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_example_net() {
        let n = DomainName::parse("example.net").unwrap();
        assert_eq!(
            encode_v4_access_domain_option(&n),
            [
                0xd5, 0x0d, 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'n', b'e', b't', 0
            ]
        );
        assert_eq!(&encode_v6_access_domain_option(&n)[..4], [0, 0x39, 0, 0x0d]);
    }

    #[test]
    fn root_only_is_absent() {
        assert_eq!(decode_access_domain(&[0]), Ok(None));
    }

    #[test]
    fn overload_reads_file_then_sname() {
        // options: 52=3 and the first part; file: the second part; sname: the third.
        let options = [52, 1, 3, 213, 2, 1, b'a', 255];
        let file = [213, 2, 1, b'b', 255];
        let sname = [213, 1, 0, 255];
        let areas = V4OptionAreas {
            options: &options,
            file: &file,
            sname: &sname,
        };
        let payload = v4_option(&areas, 213).unwrap().unwrap();
        assert_eq!(payload, [1, b'a', 1, b'b', 0]);
        assert_eq!(
            decode_access_domain(&payload).unwrap().unwrap().to_string(),
            "a.b."
        );
        let bad = [52, 1, 9, 255];
        assert_eq!(
            v4_option(
                &V4OptionAreas {
                    options: &bad,
                    ..Default::default()
                },
                213
            ),
            Err(DhcpOptionsError::BadOverload(9))
        );
    }

    #[test]
    fn option_15_is_ascii() {
        assert_eq!(
            parse_domain_name_option(b"example.net.\0")
                .unwrap()
                .unwrap()
                .to_string(),
            "example.net."
        );
        assert_eq!(parse_domain_name_option(b"\0\0"), Ok(None));
        assert_eq!(
            parse_domain_name_option(b"exa mple"),
            Err(AccessDomainError::NotAscii {
                offset: 3,
                byte: b' '
            })
        );
    }
}
