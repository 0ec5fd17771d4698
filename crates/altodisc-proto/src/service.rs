//! U-NAPTR service parameters (RFC 4848 §4.5, the SERVICES field of a NAPTR record).
//!
//! ```text
//! service-parms = [ [app-service] *(":" app-protocol)]
//! app-service   = experimental-service / iana-registered-service
//! app-protocol  = experimental-protocol / iana-registered-protocol
//! experimental-service  = "x-" 1*30ALPHANUMSYM
//! iana-registered-service = ALPHA *31ALPHANUMSYM
//! ALPHANUMSYM   = ALPHA / DIGIT / "+" / "-" / "."
//! ```
//!
//! So every tag is 1–32 characters, starts with a letter and continues with letters, digits, `+`, `-`
//! or `.`; the `x-` form is a special case of the same shape. RFC 3958 §6.5 limits registered
//! *protocol* tags to letters and digits; we follow RFC 4848's wider grammar (docs/decisions.md, A9).
//! The whole field is case-insensitive (RFC 4848 §4.5): [`ServiceParameter::matches`] compares
//! ASCII case-insensitively and keeps the original spelling for display.

use std::fmt;
use std::str::FromStr;

/// Longest service or protocol tag (RFC 4848 §4.5).
pub const MAX_TAG_LEN: usize = 32;

/// Why a service field does not follow RFC 4848 §4.5.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceParamError {
    /// A protocol tag is empty, e.g. `ALTO:` or `ALTO::https`.
    #[error("empty protocol tag at offset {offset} (RFC 4848 §4.5)")]
    EmptyProtocol {
        /// Byte offset where the tag should start.
        offset: usize,
    },
    /// A tag longer than 32 characters.
    #[error("tag of {len} characters at offset {offset}; the limit is 32 (RFC 4848 §4.5)")]
    TagTooLong {
        /// Byte offset of the tag.
        offset: usize,
        /// Its length.
        len: usize,
    },
    /// A tag that does not start with a letter, e.g. `1ALTO`.
    #[error(
        "tag at offset {offset} starts with {found:?}; tags start with a letter (RFC 4848 §4.5)"
    )]
    TagMustStartWithLetter {
        /// Byte offset of the tag.
        offset: usize,
        /// The first character found.
        found: char,
    },
    /// A character outside letters, digits, `+`, `-`, `.` and the `:` separator.
    #[error(
        "character {found:?} at offset {offset} is not allowed in a service field (RFC 4848 §4.5)"
    )]
    InvalidCharacter {
        /// Byte offset of the character.
        offset: usize,
        /// The character (U+FFFD for a byte that is not UTF-8).
        found: char,
    },
}

/// A parsed SERVICES field: an optional application service tag and zero or more protocol tags.
#[derive(Debug, Clone, Eq)]
pub struct ServiceParameter {
    service: Option<String>,
    protocols: Vec<String>,
}

impl ServiceParameter {
    /// `ALTO:https`, the default of RFC 7286 §3.2 and RFC 8686 §3.1.
    #[must_use]
    pub fn alto_https() -> Self {
        Self {
            service: Some("ALTO".to_owned()),
            protocols: vec!["https".to_owned()],
        }
    }

    /// Parses a SERVICES field given as raw octets from the wire.
    ///
    /// # Errors
    /// [`ServiceParamError`] naming the first offending offset.
    pub fn parse_bytes(field: &[u8]) -> Result<Self, ServiceParamError> {
        let mut tags: Vec<(usize, &[u8])> = Vec::new();
        let mut start = 0usize;
        for (i, &b) in field.iter().enumerate() {
            if b == b':' {
                tags.push((start, &field[start..i]));
                start = i + 1;
            }
        }
        tags.push((start, &field[start..]));

        // An entirely empty field is valid (RFC 4848 §4.5: "may consist of an empty string").
        if field.is_empty() {
            return Ok(Self {
                service: None,
                protocols: Vec::new(),
            });
        }
        let mut iter = tags.into_iter();
        let service = match iter.next() {
            Some((_, [])) => None,
            Some((offset, t)) => Some(check_tag(offset, t)?),
            None => None,
        };
        let mut protocols = Vec::new();
        for (offset, t) in iter {
            if t.is_empty() {
                return Err(ServiceParamError::EmptyProtocol { offset });
            }
            protocols.push(check_tag(offset, t)?);
        }
        Ok(Self { service, protocols })
    }

    /// The application service tag, e.g. `ALTO`; `None` for a field such as `:https`.
    #[must_use]
    pub fn service(&self) -> Option<&str> {
        self.service.as_deref()
    }

    /// The protocol tags in field order, e.g. `["http", "https"]`.
    #[must_use]
    pub fn protocols(&self) -> &[String] {
        &self.protocols
    }

    /// Whether this field offers `service` over `protocol` (RFC 3958 §2.2.2), case-insensitively.
    #[must_use]
    pub fn matches(&self, service: &str, protocol: &str) -> bool {
        self.offers_service(service)
            && self
                .protocols
                .iter()
                .any(|p| p.eq_ignore_ascii_case(protocol))
    }

    /// Whether the service tag equals `service`, case-insensitively, whatever the protocols.
    #[must_use]
    pub fn offers_service(&self, service: &str) -> bool {
        self.service
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(service))
    }

    /// One wanted (service, protocol) pair per protocol tag, in field order: a client resolves each
    /// protocol separately, never mixing them within a chain (RFC 3958 §2.2.5).
    #[must_use]
    pub fn wanted(&self) -> Vec<WantedService> {
        let Some(service) = &self.service else {
            return Vec::new();
        };
        self.protocols
            .iter()
            .map(|p| WantedService {
                service: service.clone(),
                protocol: p.clone(),
            })
            .collect()
    }
}

fn check_tag(offset: usize, tag: &[u8]) -> Result<String, ServiceParamError> {
    let first = tag[0];
    if !first.is_ascii_alphabetic() {
        return Err(bad_char(offset, tag, true));
    }
    if let Some(i) = tag
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
    {
        return Err(bad_char(offset + i, &tag[i..], false));
    }
    if tag.len() > MAX_TAG_LEN {
        return Err(ServiceParamError::TagTooLong {
            offset,
            len: tag.len(),
        });
    }
    // All bytes are ASCII here.
    Ok(tag.iter().map(|&b| char::from(b)).collect())
}

fn bad_char(offset: usize, rest: &[u8], at_start: bool) -> ServiceParamError {
    let found = String::from_utf8_lossy(rest)
        .chars()
        .next()
        .unwrap_or(char::REPLACEMENT_CHARACTER);
    if at_start && (found.is_ascii_alphanumeric() || matches!(found, '+' | '-' | '.')) {
        ServiceParamError::TagMustStartWithLetter { offset, found }
    } else {
        ServiceParamError::InvalidCharacter { offset, found }
    }
}

impl FromStr for ServiceParameter {
    type Err = ServiceParamError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_bytes(s.as_bytes())
    }
}

impl PartialEq for ServiceParameter {
    fn eq(&self, other: &Self) -> bool {
        let same_service = match (&self.service, &other.service) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            (None, None) => true,
            _ => false,
        };
        same_service
            && self.protocols.len() == other.protocols.len()
            && self
                .protocols
                .iter()
                .zip(&other.protocols)
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
    }
}

impl fmt::Display for ServiceParameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = &self.service {
            f.write_str(s)?;
        }
        for p in &self.protocols {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

/// One (application service, protocol) pair a client is looking for, e.g. (`ALTO`, `https`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WantedService {
    /// Application service tag, e.g. `ALTO`.
    pub service: String,
    /// Application protocol tag, e.g. `https`.
    pub protocol: String,
}

impl WantedService {
    /// `ALTO` over `https` (RFC 7286 §3.2).
    #[must_use]
    pub fn alto_https() -> Self {
        Self {
            service: "ALTO".to_owned(),
            protocol: "https".to_owned(),
        }
    }

    /// `ALTO` over `http` (RFC 7286 §3.2; for debugging per RFC 8686 §3.1).
    #[must_use]
    pub fn alto_http() -> Self {
        Self {
            service: "ALTO".to_owned(),
            protocol: "http".to_owned(),
        }
    }
}

impl fmt::Display for WantedService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.service, self.protocol)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn experimental_tags_share_the_registered_shape() {
        let sp: ServiceParameter = "x-foo:x-bar".parse().unwrap();
        assert_eq!(sp.service(), Some("x-foo"));
        assert!(sp.matches("X-FOO", "x-BAR"));
    }

    #[test]
    fn wanted_splits_protocols_in_order() {
        let sp: ServiceParameter = "ALTO:http:https".parse().unwrap();
        assert_eq!(
            sp.wanted(),
            vec![WantedService::alto_http(), WantedService::alto_https()]
        );
        let bare: ServiceParameter = "ALTO".parse().unwrap();
        assert!(bare.wanted().is_empty());
    }

    #[test]
    fn non_utf8_is_reported_as_replacement_char() {
        assert_eq!(
            ServiceParameter::parse_bytes(b"AL\xffTO"),
            Err(ServiceParamError::InvalidCharacter {
                offset: 2,
                found: char::REPLACEMENT_CHARACTER
            })
        );
    }
}
