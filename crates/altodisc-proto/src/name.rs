//! Domain names in RFC 1035 form, without a DNS library.
//!
//! [`DomainName`] keeps a name as its uncompressed wire encoding (RFC 1035 §3.1: length-prefixed labels
//! ending in the root label), preserves case, and compares case-insensitively (RFC 4343 §2). It parses
//! the presentation format of RFC 1035 §5.1, including `\X` and `\DDD` escapes, and prints it back with
//! the escapes needed to round-trip.
//!
//! Limits enforced everywhere (RFC 1035 §2.3.4): a label is at most 63 octets and the whole encoded
//! name at most 255 octets.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// Longest label, in octets (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;
/// Longest encoded name, in octets, including length octets and the root label (RFC 1035 §2.3.4).
pub const MAX_NAME_LEN: usize = 255;

/// Why a name could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The text was empty (use `.` for the root).
    #[error("empty domain name (write the root as \".\")")]
    Empty,
    /// Two dots in a row, or a leading dot, in presentation format.
    #[error("empty label at offset {offset}")]
    EmptyLabel {
        /// Byte offset of the empty label in the input.
        offset: usize,
    },
    /// A label longer than 63 octets.
    #[error("label of {len} octets at offset {offset}; the limit is 63 (RFC 1035 §2.3.4)")]
    LabelTooLong {
        /// Byte offset of the label (or of its length octet in wire form).
        offset: usize,
        /// The label's length.
        len: usize,
    },
    /// The encoded name exceeds 255 octets.
    #[error("name of {len} octets; the limit is 255 (RFC 1035 §2.3.4)")]
    NameTooLong {
        /// Encoded length reached.
        len: usize,
    },
    /// A `\` escape that is not `\X` or a valid `\DDD` (000–255).
    #[error("invalid escape at offset {offset}")]
    InvalidEscape {
        /// Byte offset of the backslash.
        offset: usize,
    },
    /// A compression pointer (top two bits `11`) where none is allowed.
    #[error("compression pointer at offset {offset} where an uncompressed name is required")]
    CompressionPointer {
        /// Offset of the pointer octet.
        offset: usize,
    },
    /// A label type with top bits `01` or `10` (RFC 6891 §5 / obsolete), which no name uses.
    #[error("reserved label type 0x{octet:02x} at offset {offset}")]
    ReservedLabelType {
        /// Offset of the octet.
        offset: usize,
        /// The octet read.
        octet: u8,
    },
    /// The wire data ended inside the name.
    #[error("name truncated at offset {offset}")]
    Truncated {
        /// Offset where more data was expected.
        offset: usize,
    },
    /// A compression pointer chain that loops or is too long.
    #[error("compression pointer loop at offset {offset}")]
    PointerLoop {
        /// Offset of the pointer that was not followed.
        offset: usize,
    },
}

/// An absolute domain name, stored in uncompressed wire form; compared case-insensitively.
#[derive(Clone)]
pub struct DomainName {
    wire: Vec<u8>,
}

impl DomainName {
    /// The root name, `.`.
    #[must_use]
    pub fn root() -> Self {
        Self { wire: vec![0] }
    }

    /// Builds a name from raw labels (most specific first). Each label must be 1–63 octets.
    ///
    /// # Errors
    /// [`NameError::EmptyLabel`], [`NameError::LabelTooLong`] or [`NameError::NameTooLong`].
    pub fn from_labels<'a, I>(labels: I) -> Result<Self, NameError>
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let mut wire = Vec::with_capacity(32);
        for (i, label) in labels.into_iter().enumerate() {
            if label.is_empty() {
                return Err(NameError::EmptyLabel { offset: i });
            }
            if label.len() > MAX_LABEL_LEN {
                return Err(NameError::LabelTooLong {
                    offset: i,
                    len: label.len(),
                });
            }
            push_label(&mut wire, label)?;
        }
        wire.push(0);
        check_total(wire.len())?;
        Ok(Self { wire })
    }

    /// Parses the presentation format (RFC 1035 §5.1). A trailing dot is optional: the name is
    /// always taken as absolute. `\X` stands for X, `\DDD` for the octet with that decimal value.
    ///
    /// # Errors
    /// Any [`NameError`] describing the first problem found.
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let bytes = text.as_bytes();
        if bytes.is_empty() {
            return Err(NameError::Empty);
        }
        if bytes == b"." {
            return Ok(Self::root());
        }
        let mut wire = Vec::with_capacity(bytes.len() + 2);
        let mut label: Vec<u8> = Vec::with_capacity(MAX_LABEL_LEN);
        let mut label_start = 0usize;
        let mut i = 0usize;
        while i < bytes.len() {
            let b = bytes[i];
            match b {
                b'.' => {
                    if label.is_empty() {
                        return Err(NameError::EmptyLabel { offset: i });
                    }
                    finish_label(&mut wire, &label, label_start)?;
                    label.clear();
                    i += 1;
                    label_start = i;
                }
                b'\\' => {
                    let (octet, used) = read_escape(bytes, i)?;
                    label.push(octet);
                    i += used;
                }
                _ => {
                    label.push(b);
                    i += 1;
                }
            }
        }
        if !label.is_empty() {
            finish_label(&mut wire, &label, label_start)?;
        }
        wire.push(0);
        check_total(wire.len())?;
        Ok(Self { wire })
    }

    /// Reads one uncompressed name at the start of `data` and returns it with the number of octets
    /// it used. Compression pointers are refused (RFC 3597 §4 for new RR types, RFC 5986 §3.1).
    ///
    /// # Errors
    /// [`NameError::CompressionPointer`], [`NameError::ReservedLabelType`],
    /// [`NameError::LabelTooLong`] (never, for 6-bit lengths, but kept for symmetry),
    /// [`NameError::NameTooLong`] or [`NameError::Truncated`].
    pub fn from_wire(data: &[u8]) -> Result<(Self, usize), NameError> {
        let used = uncompressed_len(data)?;
        Ok((
            Self {
                wire: data[..used].to_vec(),
            },
            used,
        ))
    }

    /// Takes ownership of a buffer that holds exactly one uncompressed wire name (no trailing
    /// octets), validating it like [`Self::from_wire`] but without copying: for readers that build
    /// names in a buffer of their own (the zone-file reader, a million owners at a time).
    ///
    /// # Errors
    /// As [`Self::from_wire`]; [`NameError::Truncated`] also when octets follow the root label.
    pub fn from_wire_owned(wire: Vec<u8>) -> Result<Self, NameError> {
        let used = uncompressed_len(&wire)?;
        if used != wire.len() {
            return Err(NameError::Truncated { offset: used });
        }
        Ok(Self { wire })
    }

    /// A name from wire bytes this crate built itself and knows to be valid (the reverse names
    /// of [`crate::ladder::reverse_domain_name`]: digits and fixed suffixes, well under 255
    /// octets), without the validating walk of [`Self::from_wire_owned`].
    pub(crate) fn from_trusted_wire(wire: Vec<u8>) -> Self {
        debug_assert_eq!(uncompressed_len(&wire), Ok(wire.len()));
        Self { wire }
    }

    /// Reads a possibly compressed name at `start` inside a whole DNS message (RFC 1035 §4.1.4).
    /// Returns the name and the number of octets it occupies at `start`. Pointers must point
    /// backwards, and at most 64 are followed, so hostile input cannot loop.
    ///
    /// # Errors
    /// [`NameError::PointerLoop`], [`NameError::ReservedLabelType`], [`NameError::NameTooLong`] or
    /// [`NameError::Truncated`].
    pub fn from_message(message: &[u8], start: usize) -> Result<(Self, usize), NameError> {
        const MAX_POINTERS: usize = 64;
        let mut wire = Vec::with_capacity(32);
        let mut pos = start;
        let mut used: Option<usize> = None;
        let mut pointers = 0usize;
        loop {
            let Some(&len) = message.get(pos) else {
                return Err(NameError::Truncated { offset: pos });
            };
            match len & 0xC0 {
                0x00 => {}
                0xC0 => {
                    let low_at = pos
                        .checked_add(1)
                        .ok_or(NameError::Truncated { offset: pos })?;
                    let Some(&low) = message.get(low_at) else {
                        return Err(NameError::Truncated { offset: low_at });
                    };
                    let target = (usize::from(len & 0x3F) << 8) | usize::from(low);
                    pointers += 1;
                    if pointers > MAX_POINTERS || target >= pos {
                        return Err(NameError::PointerLoop { offset: pos });
                    }
                    // Only the first pointer ends the name at `start`; later ones sit wherever
                    // earlier pointers led, often before `start` (RFC 1035 §4.1.4). Computing
                    // their distance from `start` underflowed (found by fuzzing).
                    if used.is_none() {
                        used = Some(octets_from(start, pos, 2)?);
                    }
                    pos = target;
                    continue;
                }
                _ => {
                    return Err(NameError::ReservedLabelType {
                        offset: pos,
                        octet: len,
                    });
                }
            }
            let Some(label) = pos
                .checked_add(1 + usize::from(len))
                .and_then(|end| message.get(pos..end))
            else {
                return Err(NameError::Truncated {
                    offset: message.len(),
                });
            };
            wire.extend_from_slice(label);
            check_total(wire.len())?;
            pos += label.len();
            if len == 0 {
                let used = match used {
                    Some(used) => used,
                    None => octets_from(start, pos, 0)?,
                };
                return Ok((Self { wire }, used));
            }
        }
    }

    /// The uncompressed wire encoding, root label included.
    #[must_use]
    pub fn as_wire(&self) -> &[u8] {
        &self.wire
    }

    /// Whether this is the root name.
    #[must_use]
    pub fn is_root(&self) -> bool {
        self.wire.len() == 1
    }

    /// Number of labels, not counting the root label.
    #[must_use]
    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    /// The labels, most specific first, without the root label.
    pub fn labels(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut pos = 0usize;
        std::iter::from_fn(move || {
            let len = usize::from(*self.wire.get(pos)?);
            if len == 0 {
                return None;
            }
            let label = &self.wire[pos + 1..pos + 1 + len];
            pos += 1 + len;
            Some(label)
        })
    }

    /// The name in presentation format, lowercased, with a trailing dot: the canonical text key used
    /// in indexes and diagnostics.
    #[must_use]
    pub fn to_lowercase_string(&self) -> String {
        self.to_string().to_ascii_lowercase()
    }

    /// Whether `self` is `other` or lies below it (case-insensitive).
    #[must_use]
    pub fn is_subdomain_of(&self, other: &Self) -> bool {
        let mine: Vec<&[u8]> = self.labels().collect();
        let theirs: Vec<&[u8]> = other.labels().collect();
        if theirs.len() > mine.len() {
            return false;
        }
        mine[mine.len() - theirs.len()..]
            .iter()
            .zip(&theirs)
            .all(|(a, b)| a.eq_ignore_ascii_case(b))
    }
}

fn push_label(wire: &mut Vec<u8>, label: &[u8]) -> Result<(), NameError> {
    let len = u8::try_from(label.len()).map_err(|_| NameError::LabelTooLong {
        offset: wire.len(),
        len: label.len(),
    })?;
    wire.push(len);
    wire.extend_from_slice(label);
    check_total(wire.len() + 1)
}

fn finish_label(wire: &mut Vec<u8>, label: &[u8], offset: usize) -> Result<(), NameError> {
    if label.len() > MAX_LABEL_LEN {
        return Err(NameError::LabelTooLong {
            offset,
            len: label.len(),
        });
    }
    push_label(wire, label)
}

/// Validates the uncompressed name at the start of `data` and returns its encoded length: the
/// one label walk behind [`DomainName::from_wire`] and [`DomainName::from_wire_owned`].
fn uncompressed_len(data: &[u8]) -> Result<usize, NameError> {
    let mut pos = 0usize;
    loop {
        let Some(&len) = data.get(pos) else {
            return Err(NameError::Truncated { offset: pos });
        };
        match len & 0xC0 {
            0x00 => {}
            0xC0 => return Err(NameError::CompressionPointer { offset: pos }),
            _ => {
                return Err(NameError::ReservedLabelType {
                    offset: pos,
                    octet: len,
                });
            }
        }
        // `pos` <= 255 here (checked below), so this cannot overflow.
        let end = pos + 1 + usize::from(len);
        check_total(end)?;
        if len == 0 {
            return Ok(end);
        }
        if end > data.len() {
            return Err(NameError::Truncated { offset: data.len() });
        }
        pos = end;
    }
}

/// Octets from `start` to `pos + extra` in a message: the length a name occupies at `start`.
/// `pos` is below `start` only once a pointer has been followed, and callers ask before that, so
/// the error is a guard against a future caller rather than a reachable case.
fn octets_from(start: usize, pos: usize, extra: usize) -> Result<usize, NameError> {
    pos.checked_add(extra)
        .and_then(|end| end.checked_sub(start))
        .ok_or(NameError::PointerLoop { offset: pos })
}

fn check_total(len: usize) -> Result<(), NameError> {
    if len > MAX_NAME_LEN {
        Err(NameError::NameTooLong { len })
    } else {
        Ok(())
    }
}

/// Decodes the escape starting at `bytes[at] == b'\\'`: `\DDD` or `\X`. Returns the octet and the
/// number of input bytes used (RFC 1035 §5.1).
fn read_escape(bytes: &[u8], at: usize) -> Result<(u8, usize), NameError> {
    let Some(&next) = bytes.get(at + 1) else {
        return Err(NameError::InvalidEscape { offset: at });
    };
    if next.is_ascii_digit() {
        let digits = bytes
            .get(at + 1..at + 4)
            .filter(|d| d.iter().all(u8::is_ascii_digit))
            .ok_or(NameError::InvalidEscape { offset: at })?;
        let value = digits
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
        let octet = u8::try_from(value).map_err(|_| NameError::InvalidEscape { offset: at })?;
        Ok((octet, 4))
    } else {
        Ok((next, 2))
    }
}

impl FromStr for DomainName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl PartialEq for DomainName {
    fn eq(&self, other: &Self) -> bool {
        self.wire.eq_ignore_ascii_case(&other.wire)
    }
}

impl Eq for DomainName {}

impl Hash for DomainName {
    /// The lower-case wire form (names compare case-insensitively), handed to the hasher in one
    /// piece: a byte at a time cost a SipHash round per byte, a visible share of a large batch.
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut buf = [0_u8; 255];
        match buf.get_mut(..self.wire.len()) {
            Some(dst) => {
                for (d, s) in dst.iter_mut().zip(&self.wire) {
                    *d = s.to_ascii_lowercase();
                }
                state.write(dst);
            }
            None => state.write(&self.wire.to_ascii_lowercase()),
        }
    }
}

/// RFC 4034 §6.1 canonical name order: label by label from the right, each label compared as
/// lowercase octets, absent labels sorting first. The order of NSEC/NSEC3 chains and of
/// canonical RRset sorting.
#[must_use]
pub fn canonical_cmp(a: &DomainName, b: &DomainName) -> Ordering {
    let la: Vec<Vec<u8>> = a.labels().map(<[u8]>::to_ascii_lowercase).collect();
    let lb: Vec<Vec<u8>> = b.labels().map(<[u8]>::to_ascii_lowercase).collect();
    la.iter().rev().cmp(lb.iter().rev())
}

/// A name ordered by [`canonical_cmp`], as a key of ordered maps and sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalName(pub DomainName);

impl PartialOrd for CanonicalName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for CanonicalName {
    fn cmp(&self, other: &Self) -> Ordering {
        canonical_cmp(&self.0, &other.0)
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            return f.write_str(".");
        }
        for label in self.labels() {
            // Runs of plain octets are written whole (one write per byte was most of the cost of
            // a million-record zone's findings).
            let mut rest = label;
            while !rest.is_empty() {
                let plain = rest
                    .iter()
                    .position(|&b| {
                        matches!(b, b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$')
                            || !(0x21..=0x7E).contains(&b)
                    })
                    .unwrap_or(rest.len());
                let (run, tail) = rest.split_at(plain);
                // 0x21..=0x7E is ASCII, so valid UTF-8.
                f.write_str(std::str::from_utf8(run).map_err(|_| fmt::Error)?)?;
                let Some((&b, after)) = tail.split_first() else {
                    break;
                };
                match b {
                    b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                        write!(f, "\\{}", char::from(b))?;
                    }
                    _ => write!(f, "\\{b:03}")?,
                }
                rest = after;
            }
            f.write_str(".")?;
        }
        Ok(())
    }
}

impl fmt::Debug for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DomainName({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_wire_owned_validates_without_copying() {
        let wire = b"\x07example\x03net\x00".to_vec();
        let n = DomainName::from_wire_owned(wire.clone()).unwrap();
        assert_eq!(n, DomainName::parse("example.net.").unwrap());
        assert_eq!(n.as_wire(), wire.as_slice());
        assert_eq!(
            DomainName::from_wire_owned(vec![0]).unwrap(),
            DomainName::root()
        );
        assert!(matches!(
            DomainName::from_wire_owned(b"\x07example\x00\x00".to_vec()),
            Err(NameError::Truncated { offset: 9 })
        ));
        assert!(DomainName::from_wire_owned(b"\x07exam".to_vec()).is_err());
        assert!(DomainName::from_wire_owned(vec![0xC0, 0x0C]).is_err());
        assert!(DomainName::from_wire_owned(Vec::new()).is_err());
    }

    #[test]
    fn parses_and_prints_presentation_format() {
        let n = DomainName::parse("Example.NET").unwrap();
        assert_eq!(n.to_string(), "Example.NET.");
        assert_eq!(n.to_lowercase_string(), "example.net.");
        assert_eq!(n, DomainName::parse("example.net.").unwrap());
        assert_eq!(
            n.as_wire(),
            [
                7, b'E', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'N', b'E', b'T', 0
            ]
        );
        assert!(DomainName::parse(".").unwrap().is_root());
    }

    #[test]
    fn escapes_round_trip() {
        let n = DomainName::parse(r"a\.b\033c.example.").unwrap();
        assert_eq!(n.labels().next().unwrap(), b"a.b!c");
        assert_eq!(n.to_string(), r"a\.b!c.example.");
        let m = DomainName::parse(r"x\000y.").unwrap();
        assert_eq!(m.to_string(), r"x\000y.");
        assert_eq!(DomainName::parse(&m.to_string()).unwrap(), m);
    }

    #[test]
    fn display_escapes_inside_and_at_the_ends_of_plain_runs() {
        let n = DomainName::from_labels([&b"a b\xff"[..], b"(c)", b"plain"]).unwrap();
        assert_eq!(n.to_string(), r"a\032b\255.\(c\).plain.");
        assert_eq!(DomainName::parse(&n.to_string()).unwrap(), n);
    }

    #[test]
    fn rejects_bad_presentation() {
        assert_eq!(DomainName::parse(""), Err(NameError::Empty));
        assert_eq!(
            DomainName::parse("a..b"),
            Err(NameError::EmptyLabel { offset: 2 })
        );
        assert_eq!(
            DomainName::parse(r"a\256.b"),
            Err(NameError::InvalidEscape { offset: 1 })
        );
        assert_eq!(
            DomainName::parse(r"a\"),
            Err(NameError::InvalidEscape { offset: 1 })
        );
        let long = "a".repeat(64);
        assert_eq!(
            DomainName::parse(&long),
            Err(NameError::LabelTooLong { offset: 0, len: 64 })
        );
        let too_long = ["abcdefghi"; 26].join(".");
        assert!(matches!(
            DomainName::parse(&too_long),
            Err(NameError::NameTooLong { .. })
        ));
    }

    #[test]
    fn wire_reading_refuses_pointers_and_follows_them_in_messages() {
        assert_eq!(
            DomainName::from_wire(&[0xC0, 0x0C]),
            Err(NameError::CompressionPointer { offset: 0 })
        );
        assert_eq!(
            DomainName::from_wire(&[3, b'a', b'b']),
            Err(NameError::Truncated { offset: 3 })
        );
        // "example.net." at 0, then "www" + pointer to 0.
        let mut msg = DomainName::parse("example.net.")
            .unwrap()
            .as_wire()
            .to_vec();
        msg.extend_from_slice(&[3, b'w', b'w', b'w', 0xC0, 0x00]);
        let (n, used) = DomainName::from_message(&msg, 13).unwrap();
        assert_eq!(n.to_string(), "www.example.net.");
        assert_eq!(used, 6);
        // A pointer to itself is a loop.
        assert_eq!(
            DomainName::from_message(&[0xC0, 0x00], 0),
            Err(NameError::PointerLoop { offset: 0 })
        );
    }

    /// Two pointers where the second sits before `start`: the second one's distance from
    /// `start` used to be computed (and underflow) although only the first one's counts.
    #[test]
    fn compression_pointer_before_start_does_not_underflow() {
        // 0: root; 1: "a" + pointer to 0; 6 (`start`): pointer to 1. The pointer at 3 lies
        // before `start`.
        let msg = [0, 1, b'a', 0xC0, 0x00, 0xFF, 0xC0, 0x01];
        let (n, used) = DomainName::from_message(&msg, 6).unwrap();
        assert_eq!(n.to_string(), "a.");
        assert_eq!(used, 2);
        // The fuzzer's shape: a chain of backward pointers, each before `start`.
        let msg = [0, 0xC0, 0x00, 0xC0, 0x01, 0xC0, 0x03];
        let (n, used) = DomainName::from_message(&msg, 5).unwrap();
        assert!(n.is_root());
        assert_eq!(used, 2);
    }

    #[test]
    fn subdomain_test_is_case_insensitive() {
        let a = DomainName::parse("x.Example.net").unwrap();
        let b = DomainName::parse("example.NET").unwrap();
        assert!(a.is_subdomain_of(&b));
        assert!(!b.is_subdomain_of(&a));
        assert!(a.is_subdomain_of(&DomainName::root()));
    }
}
