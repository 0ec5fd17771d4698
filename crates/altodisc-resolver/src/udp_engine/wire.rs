//! In-place decoding of the responses the UDP engine decides itself (RFC 1035 §4.1).
//!
//! The engine used to decode every response into hickory's `Message` (a `Vec` per section, a
//! `Record` and a `Name` per record, the NAPTR fields copied twice) only to look at a few fields:
//! about a fifth of the instructions of an engine lookup. This reader walks the wire bytes once
//! and copies only what the outcome keeps (the owner, the NAPTR fields).
//!
//! It decides only messages hickory's decoder would also accept, and decides them the same way;
//! for anything else it returns `None` and the full client (the fallback) decides, as before. So
//! it is at least as strict as hickory: names follow hickory's compression rules (a pointer
//! points before the start of the name part that holds it, RFC 1035 §4.1.4, and the part it
//! leads to ends before that start) as well as `DomainName::from_message`'s; NAPTR FLAGS must be
//! alphanumeric (RFC 3403 §4.1); no RDATA may be empty; records must use exactly their RDLENGTH;
//! only the record types a plain answer carries are accepted (NAPTR in the answer section, SOA
//! and NS in the authority section, A, AAAA and one option-less OPT in the additional section);
//! no octet may follow the last record.

use altodisc_proto::name::{DomainName, MAX_NAME_LEN};
use altodisc_proto::naptr::NaptrRecord;

/// NAPTR (RFC 3403 §4).
pub(super) const TYPE_NAPTR: u16 = 35;
/// OPT (RFC 6891 §6.1.1).
pub(super) const TYPE_OPT: u16 = 41;
const TYPE_A: u16 = 1;
const TYPE_NS: u16 = 2;
const TYPE_SOA: u16 = 6;
const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;
/// Pointers followed in one name at most (as `DomainName::from_message`).
const MAX_POINTERS: usize = 64;

/// A name read from a message, uncompressed, in a fixed buffer (no allocation).
pub(super) struct NameBuf {
    buf: [u8; MAX_NAME_LEN],
    len: usize,
}

impl NameBuf {
    /// The uncompressed wire form, root label included.
    pub(super) fn as_wire(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

/// Reads a possibly compressed name at `start` (RFC 1035 §4.1.4); returns it and the octets it
/// occupies at `start`. `None` when it does not decode.
///
/// Always: pointers point backwards from where they sit, at most [`MAX_POINTERS`] of them, no
/// label type `01`/`10`, at most 255 octets (the rules of `DomainName::from_message`, which
/// matched responses to queries before). `strict` adds hickory's rules: a pointer points before
/// the start of the name part holding it, and the part it leads to ends before that start.
pub(super) fn read_name(msg: &[u8], start: usize, strict: bool) -> Option<(NameBuf, usize)> {
    let mut out = NameBuf {
        buf: [0; MAX_NAME_LEN],
        len: 0,
    };
    let mut pos = start;
    let mut used = None;
    let mut pointers = 0_usize;
    // Start of the name part being read, and the start of the part before it (hickory's limit).
    let mut part_start = start;
    let mut limit: Option<usize> = None;
    loop {
        if strict && limit.is_some_and(|l| pos >= l) {
            return None;
        }
        let len = *msg.get(pos)?;
        match len & 0xC0 {
            0x00 => {}
            0xC0 => {
                let low = *msg.get(pos.checked_add(1)?)?;
                let target = (usize::from(len & 0x3F) << 8) | usize::from(low);
                pointers += 1;
                if pointers > MAX_POINTERS || target >= pos || (strict && target >= part_start) {
                    return None;
                }
                if used.is_none() {
                    used = Some(pos.checked_add(2)?.checked_sub(start)?);
                }
                limit = Some(part_start);
                part_start = target;
                pos = target;
                continue;
            }
            _ => return None,
        }
        let label = msg.get(pos..pos.checked_add(1 + usize::from(len))?)?;
        let end = out.len.checked_add(label.len())?;
        out.buf.get_mut(out.len..end)?.copy_from_slice(label);
        out.len = end;
        pos = pos.checked_add(label.len())?;
        if len == 0 {
            let used = match used {
                Some(u) => u,
                None => pos.checked_sub(start)?,
            };
            return Some((out, used));
        }
    }
}

/// The question of a response with exactly one: name (as sent, not lower-cased), type, class,
/// and the offset after it. Read with the lenient name rules: a response whose question matches
/// but which does not decode goes to the fallback, not into oblivion.
pub(super) fn question(msg: &[u8]) -> Option<(NameBuf, u16, u16, usize)> {
    if u16_at(msg, 4)? != 1 {
        return None;
    }
    let (name, used) = read_name(msg, 12, false)?;
    let at = used.checked_add(12)?;
    let qtype = u16_at(msg, at)?;
    let qclass = u16_at(msg, at.checked_add(2)?)?;
    Some((name, qtype, qclass, at.checked_add(4)?))
}

fn u16_at(msg: &[u8], at: usize) -> Option<u16> {
    let b = msg.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
}

fn u32_at(msg: &[u8], at: usize) -> Option<u32> {
    let b = msg.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([
        *b.first()?,
        *b.get(1)?,
        *b.get(2)?,
        *b.get(3)?,
    ]))
}

/// A character-string (RFC 1035 §3.3) at `at`: its octets and the offset after it.
fn char_string(msg: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let len = usize::from(*msg.get(at)?);
    let start = at.checked_add(1)?;
    let end = start.checked_add(len)?;
    Some((msg.get(start..end)?, end))
}

/// The fixed part of a resource record after its owner (RFC 1035 §4.1.3).
struct RrHead {
    rtype: u16,
    class: u16,
    ttl: u32,
    /// RDATA offsets.
    rdata: usize,
    end: usize,
}

/// Reads the owner and fixed fields of the record at `at` (strict name rules).
fn rr_head(msg: &[u8], at: usize) -> Option<(NameBuf, RrHead)> {
    let (owner, used) = read_name(msg, at, true)?;
    let at = at.checked_add(used)?;
    let rdlen = usize::from(u16_at(msg, at.checked_add(8)?)?);
    let rdata = at.checked_add(10)?;
    let end = rdata.checked_add(rdlen)?;
    if end > msg.len() {
        return None;
    }
    let head = RrHead {
        rtype: u16_at(msg, at)?,
        class: u16_at(msg, at.checked_add(2)?)?,
        ttl: u32_at(msg, at.checked_add(4)?)?,
        rdata,
        end,
    };
    // Empty RDATA outside OPT is an UPDATE prerequisite (RFC 2136 §2.4), never an answer.
    if rdlen == 0 && head.rtype != TYPE_OPT {
        return None;
    }
    Some((owner, head))
}

/// NAPTR RDATA (RFC 3403 §4.1) filling exactly `msg[h.rdata..h.end]`; REPLACEMENT may be
/// compressed (RFC 3597 §4: receivers decompress).
fn naptr(msg: &[u8], h: &RrHead) -> Option<NaptrRecord> {
    // Only the RDATA may be read: a field running past RDLENGTH is malformed. (Names may point
    // before it.)
    let rdata = msg.get(..h.end)?;
    let order = u16_at(rdata, h.rdata)?;
    let preference = u16_at(rdata, h.rdata.checked_add(2)?)?;
    let (flags, at) = char_string(rdata, h.rdata.checked_add(4)?)?;
    if !flags.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    let (services, at) = char_string(rdata, at)?;
    let (regexp, at) = char_string(rdata, at)?;
    let (replacement, used) = read_name(rdata, at, true)?;
    if at.checked_add(used)? != h.end {
        return None;
    }
    Some(NaptrRecord {
        order,
        preference,
        flags: flags.to_vec(),
        services: services.to_vec(),
        regexp: regexp.to_vec(),
        replacement: DomainName::from_wire(replacement.as_wire()).ok()?.0,
    })
}

/// SOA RDATA (RFC 1035 §3.3.13) filling exactly the record: its MINIMUM.
fn soa_minimum(msg: &[u8], h: &RrHead) -> Option<u32> {
    let rdata = msg.get(..h.end)?;
    let (_, m) = read_name(rdata, h.rdata, true)?;
    let at = h.rdata.checked_add(m)?;
    let (_, r) = read_name(rdata, at, true)?;
    let at = at.checked_add(r)?;
    if at.checked_add(20)? != h.end {
        return None;
    }
    u32_at(rdata, at.checked_add(16)?)
}

/// What a simple response says.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Parsed {
    /// NXDOMAIN (`nxdomain`) or NODATA, with the negative TTL of the first SOA of the
    /// authority section: min(SOA TTL, SOA MINIMUM) (RFC 2308 §5).
    Negative {
        /// NXDOMAIN rather than NOERROR.
        nxdomain: bool,
        /// The negative TTL.
        negative_ttl: u32,
    },
    /// A NAPTR RRset owned by the query name.
    Answer {
        /// The owner as the response spells it.
        owner: DomainName,
        /// The records, in wire order.
        records: Vec<NaptrRecord>,
        /// The smallest TTL.
        ttl: u32,
        /// Records in the answer section.
        count: usize,
    },
}

/// Decides the response `msg` to `qname IN NAPTR` (its ID and question already matched), or
/// `None` when the full client must: TC (RFC 7766 §5, the TCP retry), an RCODE other than
/// NOERROR and NXDOMAIN (extended RCODE included, RFC 6891 §6.1.3), a CNAME or any record but a
/// NAPTR of `qname` in the answer, NXDOMAIN with answers, a negative answer without SOA, or a
/// message that does not decode (see the module documentation).
pub(super) fn parse(msg: &[u8], qname: &[u8]) -> Option<Parsed> {
    let flags = u16_at(msg, 2)?;
    // QR set, OPCODE QUERY (RFC 1035 §4.1.1), TC clear.
    if flags & 0x8000 == 0 || flags & 0x7800 != 0 || flags & 0x0200 != 0 {
        return None;
    }
    let rcode = flags & 0x000F;
    if rcode != 0 && rcode != 3 {
        return None;
    }
    let nxdomain = rcode == 3;
    let ancount = usize::from(u16_at(msg, 6)?);
    let nscount = u16_at(msg, 8)?;
    let arcount = u16_at(msg, 10)?;
    if u16_at(msg, 4)? != 1 {
        return None;
    }
    let (_, qused) = read_name(msg, 12, true)?;
    let mut at = qused.checked_add(12 + 4)?;
    if at > msg.len() {
        return None;
    }
    if nxdomain && ancount > 0 {
        return None; // NXDOMAIN after a CNAME: the full client follows the chain
    }

    let mut owner = None;
    let mut records = Vec::with_capacity(ancount);
    let mut ttl = u32::MAX;
    for _ in 0..ancount {
        let (name, h) = rr_head(msg, at)?;
        if h.rtype != TYPE_NAPTR
            || h.class != CLASS_IN
            || !name.as_wire().eq_ignore_ascii_case(qname)
        {
            return None; // a CNAME or anything else: the full client's job
        }
        records.push(naptr(msg, &h)?);
        ttl = ttl.min(h.ttl);
        if owner.is_none() {
            owner = Some(DomainName::from_wire(name.as_wire()).ok()?.0);
        }
        at = h.end;
    }

    let mut negative_ttl = None;
    for _ in 0..nscount {
        let (_, h) = rr_head(msg, at)?;
        match h.rtype {
            TYPE_SOA => {
                let minimum = soa_minimum(msg, &h)?;
                negative_ttl = negative_ttl.or(Some(h.ttl.min(minimum)));
            }
            TYPE_NS => {
                let (_, used) = read_name(msg.get(..h.end)?, h.rdata, true)?;
                if h.rdata.checked_add(used)? != h.end {
                    return None;
                }
            }
            _ => return None,
        }
        at = h.end;
    }

    let mut opt = false;
    for _ in 0..arcount {
        let (name, h) = rr_head(msg, at)?;
        let rdlen = h.end.checked_sub(h.rdata)?;
        let ok = match h.rtype {
            TYPE_A => rdlen == 4,
            TYPE_AAAA => rdlen == 16,
            // One OPT (RFC 6891 §6.1.1), owned by the root, version 0, no extended RCODE bits
            // (the TTL field, §6.1.3), no options.
            TYPE_OPT => {
                !std::mem::replace(&mut opt, true)
                    && name.as_wire() == [0]
                    && h.ttl >> 16 == 0
                    && rdlen == 0
            }
            _ => false,
        };
        if !ok {
            return None;
        }
        at = h.end;
    }
    if at != msg.len() {
        return None;
    }

    match owner {
        None => Some(Parsed::Negative {
            nxdomain,
            negative_ttl: negative_ttl?,
        }),
        Some(owner) => Some(Parsed::Answer {
            owner,
            records,
            ttl,
            count: ancount,
        }),
    }
}
