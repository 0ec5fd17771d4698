//! Checks on the URI a terminal U-NAPTR record yields.
//!
//! * It must be an absolute URI (RFC 3986 §4.3): `scheme ":" hier-part ["?" query] ["#" fragment]`,
//!   built only from unreserved, reserved and percent-encoded characters (RFC 3986 §2).
//! * Its scheme must be `http` or `https` (RFC 7286 §3.2), with an authority and a non-empty host.
//! * Its scheme must equal the protocol tag of the record (`ALTO:https` ⇒ `https:`). No RFC says so;
//!   it is our decision, docs/decisions.md, A2.
//! * It must not contain `!`, the U-NAPTR delimiter, which has no escape in RFC 4848 (docs/decisions.md, A3).

/// Why a URI is not usable as an ALTO server URI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UriError {
    /// Nothing at all.
    #[error("empty URI")]
    Empty,
    /// No `scheme:` prefix: a relative reference, not an absolute URI (RFC 3986 §4.3).
    #[error("not an absolute URI: no scheme (RFC 3986 §4.3)")]
    NotAbsolute,
    /// The scheme has characters RFC 3986 §3.1 does not allow.
    #[error("invalid scheme {0:?} (RFC 3986 §3.1)")]
    InvalidScheme(String),
    /// A scheme other than `http` or `https` (RFC 7286 §3.2).
    #[error("scheme {0:?} is not http or https (RFC 7286 §3.2)")]
    UnsupportedScheme(String),
    /// The scheme differs from the record's protocol tag (docs/decisions.md, A2).
    #[error("scheme {scheme:?} does not match protocol tag {protocol:?} (docs/decisions.md, A2)")]
    SchemeMismatch {
        /// The URI's scheme.
        scheme: String,
        /// The protocol tag.
        protocol: String,
    },
    /// No `//authority` or an empty host (RFC 9110 §4.2: http(s) URIs need a host).
    #[error("no host: an http(s) URI needs \"//host\" (RFC 9110 §4.2)")]
    MissingHost,
    /// The port is not a number in 0–65535.
    #[error("invalid port {0:?}")]
    InvalidPort(String),
    /// A character that may not appear in a URI (RFC 3986 §2).
    #[error("character {found:?} at offset {offset} is not allowed in a URI (RFC 3986 §2)")]
    InvalidCharacter {
        /// Byte offset.
        offset: usize,
        /// The character.
        found: char,
    },
    /// A `%` not followed by two hex digits (RFC 3986 §2.1).
    #[error("bad percent-encoding at offset {offset} (RFC 3986 §2.1)")]
    BadPercentEncoding {
        /// Offset of the `%`.
        offset: usize,
    },
    /// A `!`, which cannot be written inside `!.*!URI!` (docs/decisions.md, A3).
    #[error(
        "'!' at offset {offset}: the U-NAPTR delimiter cannot appear in the URI (docs/decisions.md, A3)"
    )]
    ContainsDelimiter {
        /// Offset of the `!`.
        offset: usize,
    },
}

/// Parts of a URI that passed [`check_uri`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedUri<'a> {
    /// The scheme, lowercased (`http` or `https`).
    pub scheme: String,
    /// The host as written (IPv6 literals keep their brackets).
    pub host: &'a str,
    /// The port, if written.
    pub port: Option<u16>,
}

/// The ASCII characters a URI may hold: unreserved, gen-delims, sub-delims and `%`
/// (RFC 3986 §2); `!` is a sub-delim but the U-NAPTR delimiter, refused before this is asked.
const URI_CHARS: [bool; 128] = {
    let mut t = [false; 128];
    let mut b: u8 = 0;
    while b < 128 {
        t[b as usize] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'_' | b'~' // unreserved
                | b':' | b'/' | b'?' | b'#' | b'[' | b']' | b'@' // gen-delims
                | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' // sub-delims
                | b'%'
            );
        b += 1;
    }
    t
};

/// Checks that `uri` is an absolute http(s) URI usable as an ALTO IRD URI.
///
/// # Errors
/// The first [`UriError`] found.
pub fn check_uri(uri: &str) -> Result<CheckedUri<'_>, UriError> {
    if uri.is_empty() {
        return Err(UriError::Empty);
    }
    let bytes = uri.as_bytes();
    // Octet by octet through a table: every allowed character is ASCII, so the first non-ASCII
    // octet starts the first character refused (decoded only then, for the message).
    for (offset, &b) in bytes.iter().enumerate() {
        if b == b'!' {
            return Err(UriError::ContainsDelimiter { offset });
        }
        if !URI_CHARS.get(usize::from(b)).copied().unwrap_or(false) {
            let found = uri
                .get(offset..)
                .and_then(|rest| rest.chars().next())
                .unwrap_or('\u{FFFD}');
            return Err(UriError::InvalidCharacter { offset, found });
        }
        if b == b'%'
            && !(bytes.get(offset + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(offset + 2).is_some_and(u8::is_ascii_hexdigit))
        {
            return Err(UriError::BadPercentEncoding { offset });
        }
    }
    let Some(colon) = uri.find(':') else {
        return Err(UriError::NotAbsolute);
    };
    let scheme = &uri[..colon];
    let delimiter = |b: &u8| matches!(b, b'/' | b'?' | b'#');
    if scheme.is_empty() || scheme.bytes().any(|b| delimiter(&b)) {
        return Err(UriError::NotAbsolute);
    }
    let valid_scheme = scheme.as_bytes()[0].is_ascii_alphabetic()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !valid_scheme {
        return Err(UriError::InvalidScheme(scheme.to_owned()));
    }
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(UriError::UnsupportedScheme(scheme));
    }
    let Some(rest) = uri[colon + 1..].strip_prefix("//") else {
        return Err(UriError::MissingHost);
    };
    let authority_end = rest
        .bytes()
        .position(|b| delimiter(&b))
        .unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    // Drop userinfo (deprecated for http, RFC 9110 §4.2.4, but syntactically allowed).
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host, port) = split_host_port(host_port)?;
    if host.is_empty() || host == "[]" {
        return Err(UriError::MissingHost);
    }
    Ok(CheckedUri { scheme, host, port })
}

fn split_host_port(host_port: &str) -> Result<(&str, Option<u16>), UriError> {
    let (host, port_text) = if host_port.starts_with('[') {
        match host_port.find(']') {
            Some(close) => {
                let after = &host_port[close + 1..];
                match after.strip_prefix(':') {
                    Some(p) => (&host_port[..=close], Some(p)),
                    None if after.is_empty() => (&host_port[..=close], None),
                    None => return Err(UriError::InvalidPort(after.to_owned())),
                }
            }
            None => return Err(UriError::MissingHost),
        }
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    let port = match port_text {
        None | Some("") => None,
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|_| p.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| UriError::InvalidPort(p.to_owned()))?,
        ),
    };
    Ok((host, port))
}

/// [`check_uri`], then requires the scheme to equal `protocol` (case-insensitive; docs/decisions.md, A2).
///
/// # Errors
/// The first [`UriError`] found, or [`UriError::SchemeMismatch`].
pub fn check_uri_for_protocol<'a>(
    uri: &'a str,
    protocol: &str,
) -> Result<CheckedUri<'a>, UriError> {
    let checked = check_uri(uri)?;
    if !checked.scheme.eq_ignore_ascii_case(protocol) {
        return Err(UriError::SchemeMismatch {
            scheme: checked.scheme,
            protocol: protocol.to_owned(),
        });
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_ascii_is_reported_as_the_whole_character() {
        assert_eq!(
            check_uri("https://a/é"),
            Err(UriError::InvalidCharacter {
                offset: 10,
                found: 'é'
            })
        );
        assert_eq!(
            check_uri("https://ü/!"),
            Err(UriError::InvalidCharacter {
                offset: 8,
                found: 'ü'
            })
        );
    }

    #[test]
    fn accepts_common_forms() {
        let c = check_uri("https://alto1.example.net/ird").unwrap();
        assert_eq!(
            (c.scheme.as_str(), c.host, c.port),
            ("https", "alto1.example.net", None)
        );
        let c = check_uri("HTTPS://[2001:db8::1]:8443/a?b=c#d").unwrap();
        assert_eq!(
            (c.scheme.as_str(), c.host, c.port),
            ("https", "[2001:db8::1]", Some(8443))
        );
        assert!(check_uri("http://user@a.example:80").is_ok());
        assert!(check_uri("https://a.example/%41").is_ok());
    }

    #[test]
    fn rejects() {
        assert_eq!(check_uri(""), Err(UriError::Empty));
        assert_eq!(check_uri("/ird"), Err(UriError::NotAbsolute));
        assert_eq!(
            check_uri("ftp://a/"),
            Err(UriError::UnsupportedScheme("ftp".into()))
        );
        assert_eq!(
            check_uri("1x://a/"),
            Err(UriError::InvalidScheme("1x".into()))
        );
        assert_eq!(check_uri("https:/a"), Err(UriError::MissingHost));
        assert_eq!(check_uri("https:///a"), Err(UriError::MissingHost));
        assert_eq!(
            check_uri("https://a:99999/"),
            Err(UriError::InvalidPort("99999".into()))
        );
        assert_eq!(
            check_uri("https://a/ b"),
            Err(UriError::InvalidCharacter {
                offset: 10,
                found: ' '
            })
        );
        assert_eq!(
            check_uri("https://a/%4"),
            Err(UriError::BadPercentEncoding { offset: 10 })
        );
        assert_eq!(
            check_uri("https://a/!"),
            Err(UriError::ContainsDelimiter { offset: 10 })
        );
        assert_eq!(
            check_uri_for_protocol("http://a/", "https"),
            Err(UriError::SchemeMismatch {
                scheme: "http".into(),
                protocol: "https".into()
            })
        );
    }
}
