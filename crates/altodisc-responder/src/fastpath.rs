//! The UDP fast path: the common queries (NAPTR hits, NXDOMAIN, NODATA, REFUSED) are parsed and
//! answered here straight from the [`ZoneIndex`] into a reused buffer, with no hickory `Request`,
//! no `Record` objects and no allocation per query. Everything else returns `None` and goes
//! through the hickory path in [`crate::handler`] unchanged.
//!
//! The output is meant to be **byte-identical** to what the hickory path sends for the same query:
//! the header flags follow `Metadata::response_from_request` (RD and CD copied, RA=AD=0) and the
//! handler (AA from the index, RFC 1034 §4.3.2), the question is the request's octets, names are
//! compressed the way [`crate::handler::encode_response`] does it (hickory-proto's `Message`
//! encoder: the first earlier name, the question's included, in emission order, whose label
//! sequence equals the remaining labels octet for octet, case-sensitively, RFC 1035 §4.1.4; so
//! the answer's owner and a negative answer's SOA owner point into the question as NSD's do),
//! and the OPT record is the
//! handler's (payload 1232, version 0, no options, RFC 6891 §6.1.2). The integration test
//! `fastpath` compares both paths on the differential query list and on random queries.
//!
//! Handled here, and only here:
//! * header: QR=0, OPCODE=QUERY, AA=TC=Z=0, RCODE=0; QDCOUNT=1, ANCOUNT=NSCOUNT=0, ARCOUNT 0 or 1;
//! * the question uncompressed, class IN, QTYPE not 0, OPT, or a meta type (128–255: AXFR, IXFR,
//!   ANY, …);
//! * no EDNS, or one OPT with owner root, version 0, DO=0, no flags and no options, as the last
//!   octets of the message;
//! * zones without cuts and unsigned ([`ZoneData::is_signed`]); answers that are an exact-match RRset
//!   of A, AAAA, TXT or NAPTR with root replacement (RDATA without names to compress or
//!   lowercase), NODATA, NXDOMAIN (SOA in authority, RFC 2308 §3), or REFUSED;
//! * responses that fit the UDP limit (512 without EDNS, else the offer clamped to 512–1232);
//!   truncation is left to the hickory path.

use std::sync::{Arc, Weak};

use arc_swap::ArcSwap;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};
use hickory_proto::serialize::binary::BinEncodable;

use crate::handler::{CLASSIC_UDP_PAYLOAD, MAX_UDP_PAYLOAD};
use crate::index::{FastLookup, ZoneData, ZoneIndex};

const HEADER_LEN: usize = 12;
/// hickory's `COMPRESSION_CANDIDATE_LIMIT`: at most this many label sequences are remembered.
const MAX_CANDIDATES: usize = 64;
/// hickory's `COMPRESSED_NAME_LIMIT`: later names are written uncompressed; we fall back instead.
const MAX_COMPRESSED_NAMES: usize = 120;
const TYPE_A: u16 = 1;
const TYPE_SOA: u16 = 6;
const TYPE_TXT: u16 = 16;
const TYPE_AAAA: u16 = 28;
const TYPE_NAPTR: u16 = 35;
const TYPE_OPT: u16 = 41;
const CLASS_IN: u16 = 1;

/// What the fast path answered (for the metrics the hickory path would have counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastAnswer {
    /// QTYPE of the question.
    pub qtype: RecordType,
    /// RCODE of the response.
    pub rcode: ResponseCode,
}

/// Per-zone data the encoder needs, in wire form, derived once per served index.
#[derive(Debug)]
struct ZoneWire {
    /// Address of the [`ZoneData`] (identity only; the index is pinned by the caller's guard).
    addr: usize,
    /// The origin as hickory emits it (case as loaded), with the terminating root label.
    origin: Vec<u8>,
    negative_ttl: u32,
    mname: Vec<u8>,
    rname: Vec<u8>,
    /// SERIAL, REFRESH, RETRY, EXPIRE, MINIMUM.
    soa_tail: [u8; 20],
    /// Signed zones go through the hickory path (DO, RRSIG, NSEC are not encoded here).
    dnssec: bool,
}

/// One fast path per UDP receive loop: caches the wire form of the zones of the index it last
/// saw, and rebuilds it when a reload swaps the index.
#[derive(Debug, Default)]
pub struct FastPath {
    /// The index `zones` was derived from. A `Weak` keeps the allocation (not the zones) alive,
    /// so a new index can never reuse its address while we compare against it.
    seen: Weak<ZoneIndex>,
    zones: Vec<ZoneWire>,
}

impl FastPath {
    /// A fast path with nothing cached yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers `query` (one UDP datagram) into `out` (cleared first) if it is one of the cases
    /// this module handles exactly; `None` means "use the hickory path" (and `out` is garbage).
    /// Counts the query in the zone's statistics like the handler does.
    pub fn answer(
        &mut self,
        index: &ArcSwap<ZoneIndex>,
        query: &[u8],
        out: &mut Vec<u8>,
    ) -> Option<FastAnswer> {
        self.answer_from(&index.load(), query, out)
    }

    /// [`FastPath::answer`] from an index the caller has loaded already: the batched UDP loop
    /// loads it once per batch of datagrams instead of once per query (a reload then reaches
    /// the next batch, like in-flight queries finishing on the old zones).
    pub fn answer_from(
        &mut self,
        guard: &Arc<ZoneIndex>,
        query: &[u8],
        out: &mut Vec<u8>,
    ) -> Option<FastAnswer> {
        let parsed = parse_query(query)?;
        self.refresh(guard);
        let key = parsed.key.get(..parsed.qname.len())?;
        let found = match zone_of(guard, key) {
            Some(zone) => zone.fast_lookup(key, parsed.qtype),
            None => FastLookup::Refused,
        };
        let rcode = encode(&parsed, found, &self.zones, out)?;
        if let FastLookup::Positive { zone, .. } | FastLookup::Negative { zone, .. } = found {
            zone.stats()
                .queries
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Some(FastAnswer {
            qtype: RecordType::from(parsed.qtype),
            rcode,
        })
    }

    /// Prefetches what the look-ups of the fast-path `queries` (a batch of datagrams) will read:
    /// three passes over the batch, each starting the memory loads of every query (table slot,
    /// then node, then name and RRset; see `index::Frozen`) before the next pass needs them, so
    /// the loads of the batch overlap instead of each query waiting for its own in turn. Only a
    /// hint to the CPU's caches: the answers are the same without it.
    pub fn prefetch(&self, guard: &ZoneIndex, queries: &[&[u8]]) {
        for chunk in queries.chunks(PREFETCH_AT_ONCE) {
            let mut pending: [Option<(&ZoneData, u32)>; PREFETCH_AT_ONCE] =
                [None; PREFETCH_AT_ONCE];
            for (slot, query) in pending.iter_mut().zip(chunk) {
                *slot = parse_query(query).and_then(|parsed| {
                    let key = parsed.key.get(..parsed.qname.len())?;
                    let zone = zone_of(guard, key)?;
                    Some((zone, zone.prefetch_slot(key)?))
                });
            }
            for slot in &mut pending {
                *slot = slot.and_then(|(zone, h)| Some((zone, zone.prefetch_node(h)?)));
            }
            for (zone, n) in pending.iter().flatten() {
                zone.prefetch_data(*n);
            }
        }
    }

    fn refresh(&mut self, current: &Arc<ZoneIndex>) {
        if std::ptr::eq(self.seen.as_ptr(), Arc::as_ptr(current)) {
            return;
        }
        self.seen = Arc::downgrade(current);
        self.zones = current.zones().filter_map(zone_wire).collect();
    }
}

/// Up to this many zones, the zone of a query is found by comparing QNAME's tail with each
/// origin, which is cheaper than hashing every suffix of QNAME (one hash look-up per label until
/// an origin matches); with more zones, the hashed search of the index is used.
const SCAN_ZONES: usize = 8;

/// Queries whose look-ups are prefetched together (a UDP batch is at most this long).
const PREFETCH_AT_ONCE: usize = 64;

/// The zone that answers for `key` (lowercase wire form), if any.
fn zone_of<'z>(index: &'z ZoneIndex, key: &[u8]) -> Option<&'z ZoneData> {
    if index.zone_count() <= SCAN_ZONES {
        closest_zone(index, key)
    } else {
        index.find_zone(key)
    }
}

/// The most specific zone whose origin is `key` or an ancestor of it (lowercase wire forms).
fn closest_zone<'z>(index: &'z ZoneIndex, key: &[u8]) -> Option<&'z ZoneData> {
    let mut best: Option<&ZoneData> = None;
    for zone in index.zones() {
        let origin = zone.origin_key();
        if best.is_some_and(|b| b.origin_key().len() >= origin.len()) || !key.ends_with(origin) {
            continue;
        }
        // The tail must start at a label boundary: walk the labels from the front.
        let start = key.len() - origin.len();
        let mut at = 0usize;
        while at < start {
            at += 1 + usize::from(key.get(at).copied().unwrap_or(0));
        }
        if at == start {
            best = Some(zone);
        }
    }
    best
}

fn zone_wire(zone: &ZoneData) -> Option<ZoneWire> {
    let soa = zone.negative_soa();
    let RData::SOA(data) = &soa.data else {
        return None;
    };
    let mut soa_tail = [0u8; 20];
    let fields = [
        data.serial,
        data.refresh.cast_unsigned(),
        data.retry.cast_unsigned(),
        data.expire.cast_unsigned(),
        data.minimum,
    ];
    for (slot, v) in soa_tail.chunks_exact_mut(4).zip(fields) {
        slot.copy_from_slice(&v.to_be_bytes());
    }
    Some(ZoneWire {
        addr: std::ptr::from_ref(zone).addr(),
        origin: soa.name.to_bytes().ok()?,
        negative_ttl: soa.ttl,
        mname: data.mname.to_bytes().ok()?,
        rname: data.rname.to_bytes().ok()?,
        soa_tail,
        dnssec: zone.is_signed(),
    })
}

/// The parts of a query the fast path reads.
struct Parsed<'q> {
    id: [u8; 2],
    /// RD (octet 2, bit 0) and CD (octet 3, 0x10), copied into the response.
    rd: u8,
    cd: u8,
    /// QNAME in wire form as sent (case preserved), root label included.
    qname: &'q [u8],
    /// QNAME lowercased: the index key.
    key: [u8; 255],
    qtype: u16,
    /// `None` without EDNS, else the offered payload size.
    edns: Option<u16>,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_be_bytes([*s.first()?, *s.get(1)?]))
}

fn parse_query(q: &[u8]) -> Option<Parsed<'_>> {
    let id = [*q.first()?, *q.get(1)?];
    let (b2, b3) = (*q.get(2)?, *q.get(3)?);
    // QR=0, OPCODE=0, AA=0, TC=0 (RD may be set); Z=0 and RCODE=0 (AD and CD may be set).
    if b2 & 0xFE != 0 || b3 & !0x30 != 0 {
        return None;
    }
    let arcount = be16(q, 10)?;
    if be16(q, 4)? != 1 || be16(q, 6)? != 0 || be16(q, 8)? != 0 || arcount > 1 {
        return None;
    }
    let mut key = [0u8; 255];
    let mut at = HEADER_LEN;
    loop {
        let len = usize::from(*q.get(at)?);
        // A label over 63 octets or a compression pointer (RFC 1035 §4.1.4): not here.
        if len > 63 {
            return None;
        }
        let name_at = at - HEADER_LEN;
        if name_at + 1 + len > key.len() {
            return None;
        }
        *key.get_mut(name_at)? = u8::try_from(len).ok()?;
        let label = q.get(at + 1..at + 1 + len)?;
        for (k, b) in key
            .get_mut(name_at + 1..name_at + 1 + len)?
            .iter_mut()
            .zip(label)
        {
            *k = b.to_ascii_lowercase();
        }
        at += 1 + len;
        if len == 0 {
            break;
        }
    }
    let qname = q.get(HEADER_LEN..at)?;
    let qtype = be16(q, at)?;
    if be16(q, at + 2)? != CLASS_IN || qtype == 0 || qtype == TYPE_OPT {
        return None;
    }
    // Meta types (RFC 6895 §3.1): AXFR, IXFR, ANY, MAILA, MAILB, TSIG, TKEY, ...
    if (128..=255).contains(&qtype) {
        return None;
    }
    at += 4;
    let edns = if arcount == 1 {
        // OPT: root owner, TYPE 41, CLASS = payload, TTL = ext-RCODE/version/DO/Z all zero,
        // RDLENGTH 0, and nothing after it (RFC 6891 §6.1.2–§6.1.3).
        if *q.get(at)? != 0 || be16(q, at + 1)? != TYPE_OPT {
            return None;
        }
        let payload = be16(q, at + 3)?;
        if q.get(at + 5..at + 9)? != [0, 0, 0, 0] || be16(q, at + 9)? != 0 {
            return None;
        }
        at += 11;
        Some(payload)
    } else {
        None
    };
    if at != q.len() {
        return None;
    }
    Some(Parsed {
        id,
        rd: b2 & 0x01,
        cd: b3 & 0x10,
        qname,
        key,
        qtype,
        edns,
    })
}

/// The label sequences written so far, for compression exactly like hickory's `BinEncoder`.
struct Compressor<'a> {
    seen: [(u16, &'a [u8]); MAX_CANDIDATES],
    len: usize,
    names: usize,
}

impl<'a> Compressor<'a> {
    fn new() -> Self {
        Self {
            seen: [(0, &[]); MAX_CANDIDATES],
            len: 0,
            names: 0,
        }
    }

    /// Writes `name` (uncompressed wire form, root label included): its labels up to the first
    /// suffix written before, then a pointer to it, else the root label.
    fn name(&mut self, out: &mut Vec<u8>, name: &'a [u8]) -> Option<()> {
        self.names += 1;
        if self.names >= MAX_COMPRESSED_NAMES {
            return None;
        }
        let labels = name.get(..name.len().checked_sub(1)?)?;
        let mut at = 0usize;
        while at < labels.len() {
            let rest = labels.get(at..)?;
            let seen = self.seen.get(..self.len)?;
            if let Some(&(offset, _)) = seen.iter().find(|(_, s)| *s == rest) {
                out.extend_from_slice(&(0xC000 | offset).to_be_bytes());
                return Some(());
            }
            let offset = u16::try_from(out.len()).ok().filter(|&o| o < 0x3FFF)?;
            // A full table: hickory stops remembering suffixes too, but its path then keeps
            // whichever of two encodings is shorter (`handler::encode_response`: the question
            // copied raw, or every name compressed), which depends on what was forgotten. Such
            // answers (a question of over 60 labels) are left to the hickory path.
            let slot = self.seen.get_mut(self.len)?;
            *slot = (offset, rest);
            self.len += 1;
            let len = usize::from(*rest.first()?);
            out.extend_from_slice(rest.get(..1 + len)?);
            at += 1 + len;
        }
        out.push(0);
        Some(())
    }
}

/// Whether the stored RDATA of an RRset goes out unchanged: no names inside it (hickory would
/// compress or lowercase them), except the root replacement of a terminal NAPTR (RFC 3403 §4.1).
fn rdata_is_verbatim(rtype: u16, rdata: &[u8]) -> bool {
    match rtype {
        TYPE_A | TYPE_AAAA | TYPE_TXT => true,
        TYPE_NAPTR => {
            let mut at = 0usize;
            while at < rdata.len() {
                let Some(len) = be16(rdata, at).map(usize::from) else {
                    return false;
                };
                let end = at + 2 + len;
                // ORDER, PREFERENCE, FLAGS, SERVICES, REGEXP, then REPLACEMENT must be ".".
                let mut p = at + 2 + 4;
                for _ in 0..3 {
                    match rdata.get(p) {
                        Some(&l) => p += 1 + usize::from(l),
                        None => return false,
                    }
                }
                if p + 1 != end || rdata.get(p) != Some(&0) {
                    return false;
                }
                at = end;
            }
            true
        }
        _ => false,
    }
}

/// Writes the whole response; `None` = leave it to the hickory path.
fn encode(
    q: &Parsed<'_>,
    found: FastLookup<'_>,
    zones: &[ZoneWire],
    out: &mut Vec<u8>,
) -> Option<ResponseCode> {
    let wire_of = |zone: &ZoneData| {
        let addr = std::ptr::from_ref(zone).addr();
        zones.iter().find(|z| z.addr == addr).filter(|z| !z.dnssec)
    };
    // (RCODE, AA, answer RRset, negative SOA of the zone)
    let (rcode, aa, positive, negative) = match found {
        FastLookup::Refused => (ResponseCode::Refused, false, None, None),
        FastLookup::Positive {
            zone,
            rtype,
            ttl,
            count,
            rdata,
        } => {
            wire_of(zone)?;
            if !rdata_is_verbatim(rtype, rdata) {
                return None;
            }
            (
                ResponseCode::NoError,
                true,
                Some((rtype, ttl, count, rdata)),
                None,
            )
        }
        FastLookup::Negative { zone, nxdomain } => {
            let wire = wire_of(zone)?;
            let rcode = if nxdomain {
                ResponseCode::NXDomain
            } else {
                ResponseCode::NoError
            };
            (rcode, true, None, Some(wire))
        }
        _ => return None,
    };
    let rcode_low = u8::try_from(u16::from(rcode) & 0x0F).ok()?;
    out.clear();
    out.extend_from_slice(&q.id);
    out.push(0x80 | if aa { 0x04 } else { 0 } | q.rd);
    out.push(q.cd | rcode_low);
    let ancount = positive.map_or(0, |(_, _, count, _)| count);
    let nscount = u16::from(negative.is_some());
    let arcount = u16::from(q.edns.is_some());
    for count in [1, ancount, nscount, arcount] {
        out.extend_from_slice(&count.to_be_bytes());
    }
    // The question is written like any name, so later names can point into it (RFC 1035
    // §4.1.4); it is the first name, so it is written in full: the request's octets.
    let mut names = Compressor::new();
    names.name(out, q.qname)?;
    out.extend_from_slice(&q.qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    if let Some((rtype, ttl, _, rdata)) = positive {
        // `rdata` is RDLENGTH+RDATA per record already.
        let mut at = 0usize;
        while at < rdata.len() {
            let len = usize::from(be16(rdata, at)?);
            names.name(out, q.qname)?;
            out.extend_from_slice(&rtype.to_be_bytes());
            out.extend_from_slice(&CLASS_IN.to_be_bytes());
            out.extend_from_slice(&ttl.to_be_bytes());
            out.extend_from_slice(rdata.get(at..at + 2 + len)?);
            at += 2 + len;
        }
    }
    if let Some(zone) = negative {
        names.name(out, &zone.origin)?;
        out.extend_from_slice(&TYPE_SOA.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&zone.negative_ttl.to_be_bytes());
        let rdlength_at = out.len();
        out.extend_from_slice(&[0, 0]);
        names.name(out, &zone.mname)?;
        names.name(out, &zone.rname)?;
        out.extend_from_slice(&zone.soa_tail);
        let rdlength = u16::try_from(out.len() - rdlength_at - 2).ok()?;
        out.get_mut(rdlength_at..rdlength_at + 2)?
            .copy_from_slice(&rdlength.to_be_bytes());
    }
    let limit = match q.edns {
        Some(payload) => {
            // OPT: root, TYPE 41, CLASS = our payload size, TTL 0, RDLENGTH 0.
            out.extend_from_slice(&[0, 0, 41]);
            out.extend_from_slice(&MAX_UDP_PAYLOAD.to_be_bytes());
            out.extend_from_slice(&[0; 6]);
            payload.clamp(CLASSIC_UDP_PAYLOAD, MAX_UDP_PAYLOAD)
        }
        None => CLASSIC_UDP_PAYLOAD,
    };
    // Too big: the hickory path sets TC (RFC 2181 §9) or drops additionals.
    if out.len() > usize::from(limit) {
        return None;
    }
    Some(rcode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_what_it_does_not_handle() {
        // Header only, QDCOUNT 0.
        assert!(parse_query(&[0; 12]).is_none());
        // www.example. A IN, then variants.
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(b"\x03www\x07example\x00\x00\x01\x00\x01");
        let p = parse_query(&q).unwrap();
        assert_eq!((p.qtype, p.edns, p.rd), (1, None, 1));
        assert_eq!(&p.key[..13], b"\x03www\x07example\x00");
        let mut opcode = q.clone();
        opcode[2] = 0x28; // UPDATE
        assert!(parse_query(&opcode).is_none());
        let mut trailing = q.clone();
        trailing.push(0);
        assert!(parse_query(&trailing).is_none());
        let mut any = q.clone();
        let n = any.len();
        any[n - 3] = 255;
        assert!(parse_query(&any).is_none());
        let mut chaos = q.clone();
        chaos[n - 1] = 3;
        assert!(parse_query(&chaos).is_none());
        // EDNS with DO, and with an option: hickory path.
        let mut edns = q.clone();
        edns[11] = 1;
        edns.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 0]);
        assert!(parse_query(&edns).is_none());
        let n = edns.len();
        edns[n - 4] = 0;
        assert_eq!(parse_query(&edns).unwrap().edns, Some(4096));
        edns[n - 1] = 4;
        edns.extend_from_slice(&[0, 10, 0, 0]);
        assert!(parse_query(&edns).is_none());
    }

    #[test]
    fn compression_points_at_the_first_equal_suffix() {
        let mut out = vec![0; 12];
        let mut c = Compressor::new();
        c.name(&mut out, b"\x01a\x07example\x00").unwrap();
        c.name(&mut out, b"\x01a\x07example\x00").unwrap();
        c.name(&mut out, b"\x01b\x07example\x00").unwrap();
        // Case matters, like hickory's octet comparison.
        c.name(&mut out, b"\x07EXAMPLE\x00").unwrap();
        c.name(&mut out, b"\x00").unwrap();
        let mut want = vec![0; 12];
        want.extend_from_slice(b"\x01a\x07example\x00");
        want.extend_from_slice(&[0xC0, 12]);
        want.extend_from_slice(b"\x01b\xC0\x0E");
        want.extend_from_slice(b"\x07EXAMPLE\x00\x00");
        assert_eq!(out, want);
    }

    #[test]
    fn a_full_candidate_table_declines_instead_of_writing_names_in_full() {
        // 64 one-octet labels fill the table; the next new suffix cannot be remembered.
        let mut long = Vec::new();
        for _ in 0..MAX_CANDIDATES {
            long.extend_from_slice(b"\x01x");
        }
        long.push(0);
        let mut out = vec![0; 12];
        let mut c = Compressor::new();
        assert!(c.name(&mut out, &long).is_some());
        // A name that points back needs no new entry...
        assert!(c.name(&mut out, &long).is_some());
        // ...one with a new label does, and the fast path gives the query to hickory.
        assert!(c.name(&mut out, b"\x07example\x00").is_none());
    }
}

#[cfg(test)]
mod zone_tests {
    use std::str::FromStr;

    use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
    use hickory_proto::rr::Name;

    use super::*;
    use crate::index::tests::{REVERSE, zone_from_text};

    fn wire(name: &str, t: RecordType) -> Vec<u8> {
        let mut m = Message::new(7, MessageType::Query, OpCode::Query);
        m.add_query(Query::query(Name::from_str(name).unwrap(), t));
        m.set_edns(Edns::new());
        m.to_vec().unwrap()
    }

    fn answer(index: ZoneIndex, name: &str, t: RecordType) -> Option<FastAnswer> {
        let shared = ArcSwap::from_pointee(index);
        FastPath::new().answer(&shared, &wire(name, t), &mut Vec::new())
    }

    #[test]
    fn origin_scan_finds_the_zone_the_index_finds() {
        let parent = zone_from_text(
            "0.192.in-addr.arpa.",
            "@ 60 SOA a. b. 1 2 3 4 5\n@ 60 NS a.\n10.2 60 PTR p.\n",
        );
        let child = zone_from_text("2.0.192.in-addr.arpa.", REVERSE);
        let index = ZoneIndex::build(&[parent, child]).unwrap();
        for name in [
            "10.2.0.192.in-addr.arpa.",
            "2.0.192.in-addr.arpa.",
            "3.0.192.in-addr.arpa.",
            "0.192.in-addr.arpa.",
            "192.in-addr.arpa.",
            "x2.0.192.in-addr.arpa.",
            "example.org.",
            ".",
        ] {
            let key = crate::index::lower_key(&Name::from_str(name).unwrap());
            let by_scan = closest_zone(&index, &key).map(ZoneData::origin_key);
            let by_hash = match index.fast_lookup(&key, 35) {
                FastLookup::Refused => None,
                FastLookup::Positive { zone, .. } | FastLookup::Negative { zone, .. } => {
                    Some(zone.origin_key())
                }
                _ => by_scan,
            };
            assert_eq!(by_scan, by_hash, "{name}");
        }
        // A label whose octets look like the origin's tail is not a boundary.
        let key = b"\x14a\x010\x03192\x07in-addr\x04arpa\x00";
        assert!(key.ends_with(b"\x010\x03192\x07in-addr\x04arpa\x00"));
        assert!(closest_zone(&index, key).is_none());
    }

    #[test]
    fn signed_zones_and_special_answers_go_to_hickory() {
        let plain = || ZoneIndex::build(&[zone_from_text("2.0.192.in-addr.arpa.", REVERSE)]);
        // The fixture has a delegation (`sub`): a zone with cuts is left to hickory entirely.
        let hit = answer(
            plain().unwrap(),
            "10.2.0.192.in-addr.arpa.",
            RecordType::NAPTR,
        );
        assert_eq!(hit, None);
        let text = REVERSE.replace("sub     NS    ns.sub\n", "");
        let uncut = || ZoneIndex::build(&[zone_from_text("2.0.192.in-addr.arpa.", &text)]);
        for (name, t) in [
            ("10.2.0.192.in-addr.arpa.", RecordType::NAPTR),
            ("11.2.0.192.in-addr.arpa.", RecordType::NAPTR),
            ("10.2.0.192.in-addr.arpa.", RecordType::TXT),
        ] {
            let done = answer(uncut().unwrap(), name, t);
            assert_eq!(done.map(|a| a.qtype), Some(t), "{name} {t}");
        }
        for (name, t) in [
            // CNAME, wildcard, PTR (a name in RDATA), ANY.
            ("12.2.0.192.in-addr.arpa.", RecordType::NAPTR),
            ("y.w.2.0.192.in-addr.arpa.", RecordType::NAPTR),
            ("10.2.0.192.in-addr.arpa.", RecordType::PTR),
            ("10.2.0.192.in-addr.arpa.", RecordType::ANY),
        ] {
            assert!(answer(uncut().unwrap(), name, t).is_none(), "{name} {t}");
        }
        // A DNSKEY at the apex (RFC 4034 §2): a signed zone.
        let mut zone = zone_from_text("2.0.192.in-addr.arpa.", &text);
        let mut dnskey = zone.records[0].clone();
        dnskey.owner = zone.origin.clone();
        dnskey.rtype = 48;
        dnskey.rdata = vec![1, 1, 3, 13, 1, 2, 3, 4];
        zone.records.push(dnskey);
        let signed = ZoneIndex::build(&[zone]).unwrap();
        assert!(signed.zones().next().unwrap().is_signed());
        let shared = ArcSwap::from_pointee(signed);
        let mut fast = FastPath::new();
        for name in ["10.2.0.192.in-addr.arpa.", "11.2.0.192.in-addr.arpa."] {
            assert!(
                fast.answer(&shared, &wire(name, RecordType::NAPTR), &mut Vec::new())
                    .is_none()
            );
        }
    }
}
