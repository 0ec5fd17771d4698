//! The NAPTR record (RFC 3403 §4.1): fields, RDATA wire codec and presentation format.
//!
//! ```text
//! ORDER (u16) | PREFERENCE (u16) | FLAGS <character-string> | SERVICES <character-string>
//!            | REGEXP <character-string> | REPLACEMENT <domain-name, never compressed>
//! ```
//!
//! Senders must not compress REPLACEMENT (RFC 3597 §4); receivers should decompress it anyway, so
//! [`NaptrRecord::from_message_rdata`] follows pointers inside a whole message, while
//! [`NaptrRecord::from_rdata`] reads standalone RDATA and refuses them.

use std::fmt;

use crate::name::{DomainName, NameError};

/// A NAPTR record's RDATA, with the fields as octets (FLAGS, SERVICES and REGEXP are opaque on the
/// wire; their grammars are checked where they are used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NaptrRecord {
    /// ORDER: lower first (RFC 3403 §4.1).
    pub order: u16,
    /// PREFERENCE: lower first among equal ORDER.
    pub preference: u16,
    /// FLAGS, e.g. `u`; empty for a non-terminal record.
    pub flags: Vec<u8>,
    /// SERVICES, e.g. `ALTO:https`.
    pub services: Vec<u8>,
    /// REGEXP, e.g. `!.*!https://alto.example.net/ird!`.
    pub regexp: Vec<u8>,
    /// REPLACEMENT; the root name means "none".
    pub replacement: DomainName,
}

/// Why NAPTR RDATA could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NaptrWireError {
    /// The RDATA ends before a field does.
    #[error("NAPTR RDATA truncated in {field} at offset {offset}")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Offset in the RDATA.
        offset: usize,
    },
    /// The REPLACEMENT name is malformed.
    #[error("NAPTR REPLACEMENT: {0}")]
    Replacement(NameError),
    /// Octets remain after REPLACEMENT.
    #[error("{count} octet(s) after REPLACEMENT")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// A character-string longer than 255 octets cannot be encoded (RFC 1035 §3.3).
    #[error("{field} is {len} octets; a character-string holds at most 255 (RFC 1035 §3.3)")]
    StringTooLong {
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
    },
}

impl NaptrRecord {
    /// A terminal ALTO-style record: flag `u`, `regexp` as given, replacement root.
    #[must_use]
    pub fn terminal(order: u16, preference: u16, services: &str, regexp: &str) -> Self {
        Self {
            order,
            preference,
            flags: b"u".to_vec(),
            services: services.as_bytes().to_vec(),
            regexp: regexp.as_bytes().to_vec(),
            replacement: DomainName::root(),
        }
    }

    /// A non-terminal record: empty flags and regexp, `target` as replacement (RFC 3958 §2.2.3).
    #[must_use]
    pub fn non_terminal(order: u16, preference: u16, services: &str, target: DomainName) -> Self {
        Self {
            order,
            preference,
            flags: Vec::new(),
            services: services.as_bytes().to_vec(),
            regexp: Vec::new(),
            replacement: target,
        }
    }

    /// Decodes standalone RDATA. A compressed REPLACEMENT is refused (there is no message to
    /// resolve it against); use [`Self::from_message_rdata`] for RDATA inside a message.
    ///
    /// # Errors
    /// [`NaptrWireError`] for truncation, a bad name or trailing octets.
    pub fn from_rdata(rdata: &[u8]) -> Result<Self, NaptrWireError> {
        let (mut rec, at) = Self::read_fixed(rdata)?;
        // `read_fixed` returns an offset inside `rdata`, and `used` counts octets of its tail.
        let tail = rdata.get(at..).unwrap_or_default();
        let (name, used) = DomainName::from_wire(tail).map_err(NaptrWireError::Replacement)?;
        if used != tail.len() {
            return Err(NaptrWireError::TrailingBytes {
                count: tail.len().saturating_sub(used),
            });
        }
        rec.replacement = name;
        Ok(rec)
    }

    /// Decodes RDATA found at `message[start..start + len]`, following compression pointers in
    /// REPLACEMENT (RFC 3597 §4: receivers SHOULD decompress).
    ///
    /// # Errors
    /// [`NaptrWireError`] for truncation, a bad name or trailing octets.
    pub fn from_message_rdata(
        message: &[u8],
        start: usize,
        len: usize,
    ) -> Result<Self, NaptrWireError> {
        let truncated = NaptrWireError::Truncated {
            field: "RDATA",
            offset: message.len().saturating_sub(start),
        };
        // `start` and `len` come from a message (RDLENGTH, offsets): no sum may wrap.
        let end = start.checked_add(len).ok_or(truncated.clone())?;
        let (upto, rdata) = message
            .get(..end)
            .zip(message.get(start..end))
            .ok_or(truncated)?;
        let (mut rec, at) = Self::read_fixed(rdata)?;
        // `at` <= `len`, so `start + at` <= `end`, which did not wrap.
        let (name, used) =
            DomainName::from_message(upto, start + at).map_err(NaptrWireError::Replacement)?;
        let read = at.saturating_add(used);
        if read != len {
            return Err(NaptrWireError::TrailingBytes {
                count: len.saturating_sub(read),
            });
        }
        rec.replacement = name;
        Ok(rec)
    }

    /// Reads ORDER, PREFERENCE and the three character-strings; returns the offset of REPLACEMENT.
    fn read_fixed(rdata: &[u8]) -> Result<(Self, usize), NaptrWireError> {
        // Offsets here stay below 4 + 3 * 256 (three length-prefixed strings), far from wrapping.
        let u16_at = |at: usize, field| {
            rdata
                .get(at..at + 2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .ok_or(NaptrWireError::Truncated { field, offset: at })
        };
        let order = u16_at(0, "ORDER")?;
        let preference = u16_at(2, "PREFERENCE")?;
        let mut at = 4usize;
        let mut strings: [Vec<u8>; 3] = Default::default();
        for (slot, field) in strings.iter_mut().zip(["FLAGS", "SERVICES", "REGEXP"]) {
            let len = usize::from(
                *rdata
                    .get(at)
                    .ok_or(NaptrWireError::Truncated { field, offset: at })?,
            );
            let data = rdata
                .get(at + 1..at + 1 + len)
                .ok_or(NaptrWireError::Truncated { field, offset: at })?;
            *slot = data.to_vec();
            at += 1 + len;
        }
        let [flags, services, regexp] = strings;
        Ok((
            Self {
                order,
                preference,
                flags,
                services,
                regexp,
                replacement: DomainName::root(),
            },
            at,
        ))
    }

    /// Encodes the RDATA, REPLACEMENT uncompressed (RFC 3403 §4.1, RFC 3597 §4).
    ///
    /// # Errors
    /// [`NaptrWireError::StringTooLong`] if a field exceeds 255 octets.
    pub fn to_rdata(&self) -> Result<Vec<u8>, NaptrWireError> {
        let mut out = Vec::with_capacity(
            7 + self.flags.len()
                + self.services.len()
                + self.regexp.len()
                + self.replacement.as_wire().len(),
        );
        out.extend_from_slice(&self.order.to_be_bytes());
        out.extend_from_slice(&self.preference.to_be_bytes());
        for (field, data) in [
            ("FLAGS", &self.flags),
            ("SERVICES", &self.services),
            ("REGEXP", &self.regexp),
        ] {
            let len = u8::try_from(data.len()).map_err(|_| NaptrWireError::StringTooLong {
                field,
                len: data.len(),
            })?;
            out.push(len);
            out.extend_from_slice(data);
        }
        out.extend_from_slice(self.replacement.as_wire());
        Ok(out)
    }

    /// Whether the REPLACEMENT is the root name ("no replacement").
    #[must_use]
    pub fn has_root_replacement(&self) -> bool {
        self.replacement.is_root()
    }
}

/// Writes a character-string in master-file form: quoted, with `"` and `\` escaped and octets
/// outside printable ASCII as `\DDD` (RFC 1035 §5.1).
#[must_use]
pub fn quote_character_string(data: &[u8]) -> String {
    let mut s = String::with_capacity(data.len() + 2);
    s.push('"');
    for &b in data {
        match b {
            b'"' | b'\\' => {
                s.push('\\');
                s.push(char::from(b));
            }
            0x20..=0x7E => s.push(char::from(b)),
            _ => s.push_str(&format!("\\{b:03}")),
        }
    }
    s.push('"');
    s
}

impl fmt::Display for NaptrRecord {
    /// Master-file RDATA: `100 10 "u" "ALTO:https" "!.*!https://a/!" .`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {}",
            self.order,
            self.preference,
            quote_character_string(&self.flags),
            quote_character_string(&self.services),
            quote_character_string(&self.regexp),
            self.replacement
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presentation_escapes_backslashes() {
        let r = NaptrRecord::terminal(100, 10, "ALTO:https", r"!.*!https://x.example/a\!b!");
        assert_eq!(
            r.to_string(),
            r#"100 10 "u" "ALTO:https" "!.*!https://x.example/a\\!b!" ."#
        );
    }

    #[test]
    fn decompresses_inside_a_message_only() {
        // Message: "example.org." at offset 0, then NAPTR RDATA whose replacement is
        // "alto." + pointer to 0.
        let mut msg = DomainName::parse("example.org.")
            .unwrap()
            .as_wire()
            .to_vec();
        let start = msg.len();
        msg.extend_from_slice(&[0, 50, 0, 10, 0, 10]);
        msg.extend_from_slice(b"ALTO:https");
        msg.push(0);
        msg.extend_from_slice(&[4, b'a', b'l', b't', b'o', 0xC0, 0x00]);
        let len = msg.len() - start;
        let rec = NaptrRecord::from_message_rdata(&msg, start, len).unwrap();
        assert_eq!(rec.replacement.to_string(), "alto.example.org.");
        assert_eq!(
            NaptrRecord::from_rdata(&msg[start..]),
            Err(NaptrWireError::Replacement(NameError::CompressionPointer {
                offset: 5
            }))
        );
    }

    #[test]
    fn truncation_names_the_field() {
        assert_eq!(
            NaptrRecord::from_rdata(&[0, 1, 0]),
            Err(NaptrWireError::Truncated {
                field: "PREFERENCE",
                offset: 2
            })
        );
        assert_eq!(
            NaptrRecord::from_rdata(&[0, 1, 0, 1, 5, b'u']),
            Err(NaptrWireError::Truncated {
                field: "FLAGS",
                offset: 4
            })
        );
    }
}
