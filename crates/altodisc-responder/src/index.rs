//! The zone index: every name of every zone in a hash map keyed by its lowercase wire form, so
//! positive answers, NXDOMAIN, NODATA and empty non-terminals all cost O(number of labels) hash
//! look-ups, independent of zone size.
//!
//! hickory-server's in-memory store decides NXDOMAIN vs NODATA by scanning every name of the zone
//! (6 ms per negative answer at 65k names); RFC 8686 clients ask mostly negative questions (R32
//! misses first, SPEC.md §9.1), so this index is the store and hickory-server only the protocol
//! engine around it.
//!
//! Storage is compact: each RRset keeps its RDATA in uncompressed wire form (one allocation per
//! RRset), checked once at load by decoding it, and turned into hickory records only when it is
//! answered. A zone is built record by record ([`ZoneBuilder`]), so a zone file can be streamed
//! into the index without holding its records twice.
//!
//! Answer semantics (SPEC.md §9.2 step 4), per RFC 1034 §4.3.2:
//!
//! 1. the zone is the most specific loaded origin that is a suffix of QNAME, else REFUSED;
//! 2. a zone cut (NS below the apex) above or at QNAME gives a referral (AA=0, NS + glue);
//! 3. an exact match answers the RRset, or a CNAME (followed within the zone, RFC 2317 §4), or
//!    NODATA; an empty non-terminal is a name that exists without data: NODATA, never NXDOMAIN
//!    (RFC 8020 §2);
//! 4. otherwise the wildcard at the closest encloser answers with QNAME as owner (RFC 4592 §3.3);
//!    a wildcard never matches a name that exists, including empty non-terminals (SPEC.md §8 A13);
//! 5. otherwise NXDOMAIN.
//!
//! Negative answers carry the zone SOA in the authority section with TTL
//! min(SOA TTL, SOA MINIMUM) (RFC 2308 §3 and §5).

use std::borrow::Cow;
use std::collections::HashMap as StdHashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use altodisc_zone::record::{CLASS_IN, Position, Zone, ZoneRecord, rtype};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, Restrict};
use tracing::warn;

use crate::error::IndexError;

/// Hash maps of the index: foldhash, seeded per process (fast on short keys; the seed keeps
/// collision chains unpredictable).
type HashMap<K, V> = StdHashMap<K, V, foldhash::fast::RandomState>;

/// Longest CNAME chain followed inside one answer (loops end here too).
pub const MAX_CNAME_CHAIN: usize = 8;

/// The wire form of a wildcard label `*` (RFC 4592 §2.1.1).
const WILDCARD_LABEL: [u8; 2] = [1, b'*'];

/// One RRset at one owner: RDATA in wire form, each prefixed by its 16-bit length.
#[derive(Debug)]
struct RrSet {
    rtype: u16,
    ttl: u32,
    count: u16,
    rdata: Vec<u8>,
}

impl RrSet {
    /// The RDATA of each record.
    fn rdatas(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut at = 0usize;
        std::iter::from_fn(move || {
            let len = self.rdata.get(at..at + 2)?;
            let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
            let data = self.rdata.get(at + 2..at + 2 + len)?;
            at += 2 + len;
            Some(data)
        })
    }

    /// For an RRSIG set: the type its signatures cover (RFC 4034 §3.1.1). RRSIGs are stored one
    /// set per covered type, each record keeping its own TTL (the covered RRset's).
    fn covered(&self) -> Option<u16> {
        if self.rtype != rtype::RRSIG {
            return None;
        }
        self.rdata
            .get(2..4)
            .and_then(|b| <[u8; 2]>::try_from(b).ok())
            .map(u16::from_be_bytes)
    }

    /// Octets of RDATA alone (for the response size bound).
    fn rdata_len(&self) -> usize {
        self.rdata.len() - 2 * usize::from(self.count)
    }

    /// The records with `owner` as owner name. RDATA was checked at load, so a decode failure
    /// here is a bug; the record is skipped and logged rather than panicking.
    fn records(&self, owner: &Name) -> impl Iterator<Item = Record> + '_ {
        let owner = owner.clone();
        let t = RecordType::from(self.rtype);
        self.rdatas()
            .filter_map(move |data| match decode_rdata(t, data) {
                Ok(rd) => Some(Record::from_rdata(owner.clone(), self.ttl, rd)),
                Err(reason) => {
                    warn!(%owner, %t, reason, "stored RDATA does not decode");
                    None
                }
            })
    }
}

/// One name in a zone; `rrsets` is empty for an empty non-terminal.
#[derive(Debug, Default)]
struct Node {
    rrsets: Vec<RrSet>,
    /// NS at a name below the apex: a delegation point (RFC 1034 §4.2.1).
    is_cut: bool,
    /// A `*` child exists: the source of synthesis when this node is the closest encloser.
    has_wildcard_child: bool,
}

impl Node {
    fn rrset(&self, t: RecordType) -> Option<&RrSet> {
        let t = u16::from(t);
        self.rrsets.iter().find(|s| s.rtype == t)
    }

    /// The RRSIG set covering type `t` (signed zones only).
    fn rrsigs(&self, t: u16) -> Option<&RrSet> {
        self.rrsets.iter().find(|s| s.covered() == Some(t))
    }
}

/// DNSSEC record types (RFC 4034): they are served only with DO=1 or when asked for by type.
fn is_dnssec_type(t: u16) -> bool {
    matches!(
        t,
        rtype::RRSIG | rtype::NSEC | rtype::NSEC3 | rtype::NSEC3PARAM | rtype::DNSKEY
    )
}

/// DNSSEC canonical order of two lowercase wire-form names (RFC 4034 §6.1): compare label by
/// label from the root end, each label as an octet string; a proper suffix sorts first.
fn canonical_cmp(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    fn labels(w: &[u8]) -> Vec<&[u8]> {
        let mut out = Vec::new();
        let mut at = 0usize;
        while let Some(&len) = w.get(at) {
            if len == 0 {
                break;
            }
            let start = at + 1;
            let end = start + usize::from(len);
            let Some(label) = w.get(start..end) else {
                break;
            };
            out.push(label);
            at = end;
        }
        out.reverse();
        out
    }
    labels(a).cmp(&labels(b))
}

/// Builds one [`ZoneData`] record by record.
#[derive(Debug)]
pub struct ZoneBuilder {
    origin: Name,
    origin_text: String,
    origin_key: Box<[u8]>,
    nodes: HashMap<Box<[u8]>, Node>,
    soa: Option<(Record, u32)>,
    /// Where each owner's CNAME was written, for the CNAME-and-other-data diagnostic.
    cname_at: HashMap<Box<[u8]>, Option<Position>>,
    record_count: usize,
    /// DNSKEY, RRSIG or NSEC records were added (a signed or pre-signed zone).
    signed: bool,
}

impl ZoneBuilder {
    /// A builder for the zone at `origin`.
    ///
    /// # Errors
    /// [`IndexError::BadName`] if hickory cannot represent the origin.
    pub fn new(origin: &altodisc_proto::DomainName) -> Result<Self, IndexError> {
        let name = name_from_wire(origin.as_wire()).map_err(|reason| IndexError::BadName {
            name: origin.to_string(),
            reason,
        })?;
        let origin_key: Box<[u8]> = origin.as_wire().to_ascii_lowercase().into();
        let mut nodes = HashMap::default();
        nodes.insert(origin_key.clone(), Node::default());
        Ok(Self {
            origin: name,
            origin_text: origin.to_string(),
            origin_key,
            nodes,
            soa: None,
            cname_at: HashMap::default(),
            record_count: 0,
            signed: false,
        })
    }

    /// Adds one record. Records of one RRset share the first record's TTL (RFC 2181 §5.2, as
    /// NSD and Knot do); a duplicate record is dropped (RFC 2181 §5).
    ///
    /// # Errors
    /// [`IndexError`] (with the record's position) for a record outside the origin, a class other
    /// than IN, undecodable RDATA, or an SOA that is repeated or not at the apex.
    pub fn add(&mut self, rec: &ZoneRecord) -> Result<(), IndexError> {
        let at = || rec.position.clone();
        if rec.class != CLASS_IN {
            return Err(IndexError::Class {
                class: rec.class,
                at: at(),
            });
        }
        let key: Box<[u8]> = rec.owner.as_wire().to_ascii_lowercase().into();
        if !is_suffix(&key, &self.origin_key) {
            return Err(IndexError::OutOfZone {
                owner: rec.owner.to_string(),
                origin: self.origin_text.clone(),
                at: at(),
            });
        }
        let len = u16::try_from(rec.rdata.len()).map_err(|_| IndexError::RdataTooLong {
            len: rec.rdata.len(),
            at: at(),
        })?;
        // Decode once now, so a query never meets RDATA that cannot be sent.
        let data = decode_rdata(RecordType::from(rec.rtype), &rec.rdata).map_err(|reason| {
            IndexError::Rdata {
                rtype: rec.rtype,
                reason,
                at: at(),
            }
        })?;
        if rec.rtype == rtype::SOA {
            if key != self.origin_key {
                return Err(IndexError::SoaNotAtApex {
                    owner: rec.owner.to_string(),
                    at: at(),
                });
            }
            if self.soa.is_some() {
                return Err(IndexError::DuplicateSoa { at: at() });
            }
            let record = Record::from_rdata(self.origin.clone(), rec.ttl, data);
            self.soa = Some((record, soa_minimum(&rec.rdata)));
        }
        if rec.rtype == rtype::CNAME {
            self.cname_at.entry(key.clone()).or_insert_with(at);
        }
        if !self.nodes.contains_key(&key) {
            // A new name: its ancestors exist (as empty non-terminals if nothing else,
            // RFC 8020 §2) up to the first one already present.
            self.nodes.insert(key.clone(), Node::default());
            self.add_ancestors(&key);
        }
        self.signed |= is_dnssec_type(rec.rtype);
        // RRSIGs form one set per covered type (RFC 4034 §3: each has the covered RRset's TTL).
        let covered = (rec.rtype == rtype::RRSIG)
            .then(|| rec.rdata.get(0..2))
            .flatten()
            .map(|b| u16::from_be_bytes([b[0], b[1]]));
        let node = self.nodes.entry(key).or_default();
        let set = match node
            .rrsets
            .iter()
            .position(|s| s.rtype == rec.rtype && s.covered() == covered)
        {
            Some(i) => &mut node.rrsets[i],
            None => {
                // Most names have one RRset: grow exactly instead of to Vec's minimum of 4.
                node.rrsets.reserve_exact(1);
                node.rrsets.push(RrSet {
                    rtype: rec.rtype,
                    ttl: rec.ttl,
                    count: 0,
                    rdata: Vec::with_capacity(2 + rec.rdata.len()),
                });
                let last = node.rrsets.len() - 1;
                &mut node.rrsets[last]
            }
        };
        if set.rdatas().any(|d| d == rec.rdata.as_slice()) {
            return Ok(());
        }
        set.count = set.count.checked_add(1).ok_or(IndexError::RdataTooLong {
            len: usize::from(u16::MAX) + 1,
            at: at(),
        })?;
        set.rdata.extend_from_slice(&len.to_be_bytes());
        set.rdata.extend_from_slice(&rec.rdata);
        self.record_count += 1;
        Ok(())
    }

    fn add_ancestors(&mut self, key: &[u8]) {
        let mut suffix = key;
        while suffix.len() > self.origin_key.len() {
            // Every name visited here is new; a new `*` name (owner or empty non-terminal)
            // makes its parent a source of synthesis (RFC 4592 §2.2.1).
            let wildcard = suffix.starts_with(&WILDCARD_LABEL);
            suffix = parent(suffix);
            let (exists, parent_node) = match self.nodes.entry(suffix.into()) {
                Entry::Occupied(o) => (true, o.into_mut()),
                Entry::Vacant(v) => (false, v.insert(Node::default())),
            };
            if wildcard {
                parent_node.has_wildcard_child = true;
            }
            if exists {
                break;
            }
        }
    }

    /// Finishes the zone.
    ///
    /// # Errors
    /// [`IndexError::NoSoa`], or [`IndexError::CnameAndOtherData`].
    pub fn finish(mut self) -> Result<ZoneData, IndexError> {
        let Some((soa_record, minimum)) = self.soa.take() else {
            return Err(IndexError::NoSoa {
                origin: self.origin_text,
            });
        };
        let mut negative_soa = soa_record.clone();
        negative_soa.ttl = negative_soa.ttl.min(minimum);
        let mut has_cuts = false;
        for (key, node) in &mut self.nodes {
            let has_cname = node.rrset(RecordType::CNAME).is_some();
            // RRSIG and NSEC may sit beside a CNAME (RFC 4035 §2.5).
            let others = node
                .rrsets
                .iter()
                .filter(|s| !matches!(s.rtype, rtype::RRSIG | rtype::NSEC))
                .count();
            if has_cname && others > 1 {
                let owner = name_from_wire(key).map_or_else(|_| String::new(), |n| n.to_string());
                let at = self.cname_at.remove(key).flatten();
                return Err(IndexError::CnameAndOtherData { owner, at });
            }
            node.is_cut = **key != *self.origin_key && node.rrset(RecordType::NS).is_some();
            has_cuts |= node.is_cut;
        }
        let serial = match &soa_record.data {
            RData::SOA(soa) => soa.serial,
            _ => 0,
        };
        // The NSEC owners in canonical order, to find the NSEC covering a missing name.
        let mut nsec_order: Vec<Box<[u8]>> = Vec::new();
        if self.signed {
            nsec_order.extend(
                self.nodes
                    .iter()
                    .filter(|(_, n)| n.rrset(RecordType::NSEC).is_some())
                    .map(|(k, _)| k.clone()),
            );
            nsec_order.sort_by(|a, b| canonical_cmp(a, b));
        }
        Ok(ZoneData {
            origin: self.origin,
            origin_key: self.origin_key,
            nodes: self.nodes,
            soa: soa_record,
            serial,
            stats: Arc::default(),
            negative_soa,
            has_cuts,
            record_count: self.record_count,
            signed: self.signed,
            nsec_order,
        })
    }
}

/// One loaded zone.
#[derive(Debug)]
pub struct ZoneData {
    origin: Name,
    /// Lowercase wire form of the origin.
    origin_key: Box<[u8]>,
    nodes: HashMap<Box<[u8]>, Node>,
    /// The SOA as loaded (first and last record of a zone transfer, RFC 5936 §2.2).
    soa: Record,
    /// The SOA serial (RFC 1035 §3.3.13), for NOTIFY decisions and metrics.
    serial: u32,
    /// Query counter, carried over from the previous index on reload (see
    /// [`ZoneIndex::carry_stats_from`]) so Prometheus counters do not reset.
    stats: Arc<ZoneStats>,
    /// The SOA as sent in negative answers: TTL = min(SOA TTL, MINIMUM) (RFC 2308 §3).
    negative_soa: Record,
    has_cuts: bool,
    record_count: usize,
    /// The zone holds DNSSEC records (signed at load or pre-signed).
    signed: bool,
    /// NSEC owners in canonical order (RFC 4034 §6.1), empty for unsigned zones.
    nsec_order: Vec<Box<[u8]>>,
}

impl ZoneData {
    /// Whether the zone holds DNSSEC records (DNSKEY, RRSIG, NSEC…): signed at load or
    /// pre-signed. Answers to DO=1 queries for such a zone carry RRSIGs and NSEC proofs
    /// (RFC 4035 §3.1), so a fast path that does not add them must fall back for this zone.
    #[must_use]
    pub fn is_signed(&self) -> bool {
        self.signed
    }

    /// The zone apex.
    #[must_use]
    pub fn origin(&self) -> &Name {
        &self.origin
    }

    /// Number of records loaded.
    #[must_use]
    pub fn record_count(&self) -> usize {
        self.record_count
    }

    /// The SOA serial.
    #[must_use]
    pub fn serial(&self) -> u32 {
        self.serial
    }

    /// The apex SOA record.
    #[must_use]
    pub fn soa(&self) -> &Record {
        &self.soa
    }

    /// Per-zone counters (shared with the metrics endpoint).
    #[must_use]
    pub fn stats(&self) -> &ZoneStats {
        &self.stats
    }

    /// Every record of the zone except the apex SOA, in no particular order, owner names in
    /// lowercase (DNS names compare case-insensitively, RFC 4343 §3): the body of a zone
    /// transfer (RFC 5936 §2.2), whose first and last record is [`Self::soa`].
    pub fn transfer_records(&self) -> impl Iterator<Item = Record> + '_ {
        self.nodes.iter().flat_map(|(key, node)| {
            let owner = name_from_wire(key).ok();
            node.rrsets
                .iter()
                .filter(|set| set.rtype != rtype::SOA)
                .flat_map(move |set| {
                    owner
                        .as_ref()
                        .map(|o| set.records(o).collect::<Vec<_>>())
                        .unwrap_or_default()
                })
        })
    }

    /// Number of names, empty non-terminals included.
    #[must_use]
    pub fn name_count(&self) -> usize {
        self.nodes.len()
    }

    /// The negative TTL the zone's negative answers carry (RFC 2308 §5).
    #[must_use]
    pub fn negative_ttl(&self) -> u32 {
        self.negative_soa.ttl
    }

    /// Builds the index of one zone held in memory.
    ///
    /// # Errors
    /// The first [`IndexError`] (see [`ZoneBuilder::add`] and [`ZoneBuilder::finish`]).
    pub fn build(zone: &Zone) -> Result<Self, IndexError> {
        let mut builder = ZoneBuilder::new(&zone.origin)?;
        for rec in &zone.records {
            builder.add(rec)?;
        }
        builder.finish()
    }
}

/// Counters of one zone, updated lock-free on the query path.
#[derive(Debug, Default)]
pub struct ZoneStats {
    /// Queries answered from this zone.
    pub queries: std::sync::atomic::AtomicU64,
}

/// All loaded zones; immutable once built (a reload builds a new one and swaps it in).
#[derive(Debug, Default)]
pub struct ZoneIndex {
    zones: HashMap<Box<[u8]>, Arc<ZoneData>>,
}

/// What kind of answer a look-up produced (for logs, tests and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnswerKind {
    /// Data for QNAME/QTYPE (possibly after a CNAME chain or from a wildcard).
    Positive,
    /// The name exists (or a CNAME chain ends at a name that exists) without the type.
    NoData,
    /// The name does not exist.
    NxDomain,
    /// A delegation below the apex (AA=0, NS in authority).
    Referral,
    /// QNAME is in no loaded zone.
    Refused,
    /// A CNAME chain left the zone or hit the chain cap: the chain so far, NOERROR.
    PartialChain,
}

/// The result of a look-up: the sections to send.
#[derive(Debug)]
pub struct Answer<'z> {
    /// RCODE.
    pub rcode: ResponseCode,
    /// Whether AA is set.
    pub authoritative: bool,
    /// The kind of answer.
    pub kind: AnswerKind,
    /// Whether a wildcard synthesized (part of) the answer.
    pub wildcard: bool,
    /// Answer section.
    pub answers: Vec<Record>,
    /// Authority section (the zone's SOA in negative answers, or the NS of a referral).
    pub authorities: Vec<Cow<'z, Record>>,
    /// Additional section (referral glue).
    pub additionals: Vec<Record>,
    /// Upper bound on the octets the three sections take uncompressed.
    pub size_bound: usize,
    /// The zone that answered (`None` for REFUSED).
    pub zone: Option<&'z ZoneData>,
    /// The query had DO=1 (RFC 3225): add RRSIGs and NSEC proofs from signed zones.
    dnssec_ok: bool,
}

impl Answer<'_> {
    fn new(rcode: ResponseCode, authoritative: bool, kind: AnswerKind) -> Self {
        Self {
            rcode,
            authoritative,
            kind,
            wildcard: false,
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
            size_bound: 0,
            zone: None,
            dnssec_ok: false,
        }
    }
}

/// Fixed part of an RR on the wire: TYPE, CLASS, TTL, RDLENGTH (RFC 1035 §4.1.3).
const RR_FIXED: usize = 10;

impl ZoneIndex {
    /// Builds the index of all `zones`.
    ///
    /// # Errors
    /// The first [`IndexError`] of any zone, or [`IndexError::DuplicateZone`]: nothing is
    /// half-loaded.
    pub fn build(zones: &[Zone]) -> Result<Self, IndexError> {
        let data = zones
            .iter()
            .map(ZoneData::build)
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_zones(data)
    }

    /// An index of zones already built (e.g. streamed through [`ZoneBuilder`]).
    ///
    /// # Errors
    /// [`IndexError::DuplicateZone`].
    pub fn from_zones(zones: Vec<ZoneData>) -> Result<Self, IndexError> {
        let mut map = HashMap::default();
        for data in zones {
            let key = data.origin_key.clone();
            let origin = data.origin.to_string();
            if map.insert(key, Arc::new(data)).is_some() {
                return Err(IndexError::DuplicateZone { origin });
            }
        }
        Ok(Self { zones: map })
    }

    /// The zone whose apex is exactly `name`.
    #[must_use]
    pub fn zone(&self, name: &Name) -> Option<&ZoneData> {
        self.zones
            .get(lower_key(name).as_slice())
            .map(AsRef::as_ref)
    }

    /// Keeps the counters of zones that `old` also serves, so metrics survive a reload.
    pub fn carry_stats_from(&mut self, old: &Self) {
        for (key, zone) in &mut self.zones {
            if let (Some(prev), Some(new)) = (old.zones.get(key), Arc::get_mut(zone)) {
                new.stats = prev.stats.clone();
            }
        }
    }

    /// The loaded zones.
    pub fn zones(&self) -> impl Iterator<Item = &ZoneData> + '_ {
        self.zones.values().map(AsRef::as_ref)
    }

    /// Total records over all zones.
    #[must_use]
    pub fn record_count(&self) -> usize {
        self.zones.values().map(|z| z.record_count).sum()
    }

    /// The most specific zone containing the name with lowercase wire form `key`.
    fn find_zone(&self, key: &[u8]) -> Option<&ZoneData> {
        let mut suffix = key;
        loop {
            if let Some(z) = self.zones.get(suffix) {
                return Some(z);
            }
            if suffix.len() <= 1 {
                return None;
            }
            suffix = parent(suffix);
        }
    }

    /// Answers `qname`/`qtype` (class IN) authoritatively, without DNSSEC records (DO=0).
    #[must_use]
    pub fn lookup(&self, qname: &Name, qtype: RecordType) -> Answer<'_> {
        self.lookup_dnssec(qname, qtype, false)
    }

    /// Answers `qname`/`qtype` (class IN) authoritatively. With `dnssec_ok` (the query's DO
    /// bit, RFC 3225) and a signed zone, the answer follows RFC 4035 §3.1: the RRSIGs of every
    /// RRset in the answer and authority sections, the NSEC proofs of NXDOMAIN, NODATA and
    /// wildcard answers, and DS or its NSEC absence proof with a referral.
    #[must_use]
    pub fn lookup_dnssec(&self, qname: &Name, qtype: RecordType, dnssec_ok: bool) -> Answer<'_> {
        let key = lower_key(qname);
        let Some(zone) = self.find_zone(&key) else {
            return Answer::new(ResponseCode::Refused, false, AnswerKind::Refused);
        };
        let mut answer = Answer::new(ResponseCode::NoError, true, AnswerKind::Positive);
        answer.zone = Some(zone);
        answer.dnssec_ok = dnssec_ok && zone.signed;
        let mut owner_key = key;
        let mut owner_name = qname.clone();
        for _ in 0..=MAX_CNAME_CHAIN {
            match zone.step(&owner_key, &owner_name, qtype, &mut answer) {
                Step::Done => return answer,
                Step::Follow(target) => {
                    let target_key = lower_key(&target);
                    // Follow only inside this zone (RFC 1034 §4.3.2 step 3a restarts at the
                    // zone choice; NSD and Knot stop at the zone boundary, and so do we).
                    if self.find_zone(&target_key).map(|z| &*z.origin_key)
                        != Some(&*zone.origin_key)
                    {
                        answer.kind = AnswerKind::PartialChain;
                        return answer;
                    }
                    owner_key = target_key;
                    owner_name = target;
                }
            }
        }
        answer.kind = AnswerKind::PartialChain;
        answer
    }
}

/// What [`ZoneIndex::fast_lookup`] found: only the answer classes the UDP fast path
/// ([`crate::fastpath`]) encodes itself; everything else is [`FastLookup::Other`] and goes through
/// [`ZoneIndex::lookup`] and the hickory path.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum FastLookup<'z> {
    /// QNAME is in no loaded zone (REFUSED, AA=0, no records).
    Refused,
    /// An exact match of QNAME with an RRset of QTYPE (no CNAME, no wildcard, no cut).
    Positive {
        /// The answering zone.
        zone: &'z ZoneData,
        /// TYPE of the RRset.
        rtype: u16,
        /// TTL of the RRset.
        ttl: u32,
        /// Number of records.
        count: u16,
        /// The RDATA of each record, each prefixed by its 16-bit length (RDLENGTH + RDATA, the
        /// wire layout of the record's tail).
        rdata: &'z [u8],
    },
    /// NODATA (`nxdomain == false`, including empty non-terminals) or NXDOMAIN: the zone's
    /// negative SOA goes into the authority section.
    Negative {
        /// The answering zone.
        zone: &'z ZoneData,
        /// NXDOMAIN rather than NODATA.
        nxdomain: bool,
    },
    /// Anything else (referrals, CNAMEs, wildcards, DNSSEC data): use [`ZoneIndex::lookup`].
    Other,
}

impl ZoneIndex {
    /// A read-only, allocation-free look-up for the UDP fast path. `key` is the lowercase wire
    /// form of QNAME; `qtype` must not be ANY, AXFR, IXFR or OPT. The result agrees with
    /// [`Self::lookup`] for every case it does not report as [`FastLookup::Other`] (same
    /// decision steps, RFC 1034 §4.3.2; tested in `fastpath`).
    #[must_use]
    pub fn fast_lookup(&self, key: &[u8], qtype: u16) -> FastLookup<'_> {
        match self.find_zone(key) {
            Some(zone) => zone.fast_lookup(key, qtype),
            None => FastLookup::Refused,
        }
    }

    /// Number of zones served.
    #[must_use]
    pub fn zone_count(&self) -> usize {
        self.zones.len()
    }
}

impl ZoneData {
    /// Lowercase wire form of the origin (the index key of the zone).
    #[must_use]
    pub fn origin_key(&self) -> &[u8] {
        &self.origin_key
    }

    /// [`ZoneIndex::fast_lookup`] once the zone is known: `self` must be the most specific zone
    /// containing `key` (the caller found it, e.g. by comparing origins).
    #[must_use]
    pub fn fast_lookup(&self, key: &[u8], qtype: u16) -> FastLookup<'_> {
        let zone = self;
        // Signed zones: RRSIGs and NSEC proofs are the hickory path's (RFC 4035 §3.1).
        if zone.has_cuts || zone.signed || qtype == u16::from(RecordType::ANY) {
            return FastLookup::Other;
        }
        if let Some(node) = zone.nodes.get(key) {
            if let Some(set) = node.rrsets.iter().find(|s| s.rtype == qtype) {
                return FastLookup::Positive {
                    zone,
                    rtype: set.rtype,
                    ttl: set.ttl,
                    count: set.count,
                    rdata: &set.rdata,
                };
            }
            if qtype != rtype::CNAME && node.rrset(RecordType::CNAME).is_some() {
                return FastLookup::Other;
            }
            return FastLookup::Negative {
                zone,
                nxdomain: false,
            };
        }
        // The closest encloser walk of `ZoneData::step`; a wildcard source means synthesis.
        let mut encloser = parent(key);
        loop {
            if let Some(node) = zone.nodes.get(encloser) {
                if node.has_wildcard_child {
                    return FastLookup::Other;
                }
                break;
            }
            if encloser.len() <= zone.origin_key.len() {
                break;
            }
            encloser = parent(encloser);
        }
        FastLookup::Negative {
            zone,
            nxdomain: true,
        }
    }
}

impl ZoneData {
    /// The SOA sent in negative answers (TTL = min(SOA TTL, MINIMUM), RFC 2308 §3).
    #[must_use]
    pub fn negative_soa(&self) -> &Record {
        &self.negative_soa
    }
}

enum Step {
    Done,
    Follow(Name),
}

impl ZoneData {
    /// One pass of RFC 1034 §4.3.2 steps 3a–3c for one owner inside this zone.
    fn step<'z>(
        &'z self,
        key: &[u8],
        qname: &Name,
        qtype: RecordType,
        answer: &mut Answer<'z>,
    ) -> Step {
        if self.has_cuts
            && let Some((cut_key, cut)) = self.cut_above(key, qtype)
        {
            if answer.answers.is_empty() {
                // A referral only for the original QNAME; a CNAME into a delegated child
                // stops at the CNAME (the client follows it).
                answer.authoritative = false;
                answer.kind = AnswerKind::Referral;
                if let (Some(ns), Ok(cut_name)) =
                    (cut.rrset(RecordType::NS), name_from_wire(cut_key))
                {
                    answer.size_bound += ns.rdata_len();
                    for r in ns.records(&cut_name) {
                        answer.size_bound += cut_name.len() + RR_FIXED;
                        answer.authorities.push(Cow::Owned(r));
                    }
                    self.add_glue(answer);
                    if answer.dnssec_ok {
                        // RFC 4035 §3.1.4: the DS RRset and its RRSIG, or the NSEC of the cut
                        // proving there is no DS (an unsigned delegation).
                        match cut.rrset(RecordType::DS) {
                            Some(ds) => self.push_authority_set(cut, ds, &cut_name, answer),
                            None => self.push_nsec_of(cut_key, answer),
                        }
                    }
                }
            } else {
                answer.kind = AnswerKind::PartialChain;
            }
            return Step::Done;
        }
        if let Some(node) = self.nodes.get(key) {
            return self.answer_node(node, qname, qtype, answer);
        }
        // Closest encloser (RFC 4592 §3.3.1): the longest existing ancestor.
        let mut encloser = parent(key);
        loop {
            if let Some(node) = self.nodes.get(encloser) {
                if node.has_wildcard_child {
                    let mut wkey = Vec::with_capacity(encloser.len() + 2);
                    wkey.extend_from_slice(&WILDCARD_LABEL);
                    wkey.extend_from_slice(encloser);
                    if let Some(wild) = self.nodes.get(wkey.as_slice()) {
                        answer.wildcard = true;
                        if answer.dnssec_ok {
                            // RFC 4035 §3.1.3.3/§3.1.3.4: prove QNAME itself does not exist;
                            // a wildcard NODATA also gets the wildcard's NSEC (below).
                            self.push_covering_nsec(key, answer);
                            if wild.rrset(qtype).is_none()
                                && wild.rrset(RecordType::CNAME).is_none()
                            {
                                self.push_nsec_of(&wkey, answer);
                            }
                        }
                        return self.answer_node(wild, qname, qtype, answer);
                    }
                }
                break;
            }
            if encloser.len() <= self.origin_key.len() {
                break;
            }
            encloser = parent(encloser);
        }
        answer.rcode = ResponseCode::NXDomain;
        answer.kind = AnswerKind::NxDomain;
        self.push_negative_soa(answer);
        if answer.dnssec_ok {
            // RFC 4035 §3.1.3.2: the NSEC covering QNAME and the NSEC covering the wildcard at
            // the closest encloser (`encloser`, the longest existing ancestor).
            self.push_covering_nsec(key, answer);
            let mut wkey = Vec::with_capacity(encloser.len() + 2);
            wkey.extend_from_slice(&WILDCARD_LABEL);
            wkey.extend_from_slice(encloser);
            self.push_covering_nsec(&wkey, answer);
        }
        Step::Done
    }

    /// Answers from `node` with `owner` as owner name (QNAME for a wildcard, RFC 4592 §3.4.3).
    fn answer_node<'z>(
        &'z self,
        node: &'z Node,
        owner: &Name,
        qtype: RecordType,
        answer: &mut Answer<'z>,
    ) -> Step {
        let push_one = |set: &RrSet, answer: &mut Answer<'z>| {
            answer.size_bound +=
                set.rdata_len() + usize::from(set.count) * (owner.len() + RR_FIXED);
            answer.answers.extend(set.records(owner));
        };
        // With DO=1 each RRset brings its RRSIGs (RFC 4035 §3.1.1); a wildcard's RRSIGs keep
        // their label count, which tells the validator the answer was synthesized.
        let push = |set: &RrSet, answer: &mut Answer<'z>| {
            push_one(set, answer);
            if answer.dnssec_ok
                && set.rtype != rtype::RRSIG
                && let Some(sigs) = node.rrsigs(set.rtype)
            {
                push_one(sigs, answer);
            }
        };
        // ANY gets a minimal answer (RFC 8482 §4.2): one RRset, the one with the lowest type
        // code, with its RRSIGs only for DO=1 — as Knot 3.x does (NSD 4.x also answers with one
        // RRset, picking SOA at the apex). Never a bare RRSIG or NSEC for DO=0 (RFC 4035 §3.1).
        if qtype == RecordType::ANY && !node.rrsets.is_empty() {
            let lowest = |dnssec: bool| {
                node.rrsets
                    .iter()
                    .filter(|s| s.rtype != rtype::RRSIG && is_dnssec_type(s.rtype) == dnssec)
                    .min_by_key(|s| s.rtype)
            };
            if let Some(set) = lowest(false).or_else(|| lowest(true)) {
                push(set, answer);
            }
            return Step::Done;
        }
        if qtype == RecordType::RRSIG && node.rrset(qtype).is_some() {
            // Every covered type's signatures (they are stored one set per covered type).
            for set in node.rrsets.iter().filter(|s| s.rtype == rtype::RRSIG) {
                push_one(set, answer);
            }
            return Step::Done;
        }
        if let Some(set) = node.rrset(qtype) {
            push(set, answer);
            return Step::Done;
        }
        if qtype != RecordType::CNAME
            && let Some(cname) = node.rrset(RecordType::CNAME)
        {
            push(cname, answer);
            // The CNAME pushed last (its RRSIG, with DO=1, comes after it).
            let target = answer.answers.iter().rev().find_map(|r| match &r.data {
                RData::CNAME(t) => Some(t.0.clone()),
                _ => None,
            });
            if let Some(target) = target {
                return Step::Follow(target);
            }
            return Step::Done;
        }
        answer.kind = AnswerKind::NoData;
        self.push_negative_soa(answer);
        if answer.dnssec_ok && !answer.wildcard {
            // RFC 4035 §3.1.3.1: the NSEC at QNAME shows the type is absent; an empty
            // non-terminal has no NSEC, and the NSEC covering it shows nothing is there.
            let key = lower_key(owner);
            if node.rrset(RecordType::NSEC).is_some() {
                self.push_nsec_of(&key, answer);
            } else {
                self.push_covering_nsec(&key, answer);
            }
        }
        Step::Done
    }

    fn push_negative_soa<'z>(&'z self, answer: &mut Answer<'z>) {
        let soa = &self.negative_soa;
        answer.size_bound += soa.name.len() + RR_FIXED + 22 + 2 * 255;
        answer.authorities.push(Cow::Borrowed(soa));
        if answer.dnssec_ok
            && let Some(apex) = self.nodes.get(&self.origin_key)
            && let Some(sigs) = apex.rrsigs(rtype::SOA)
        {
            // The SOA's RRSIG (RFC 4035 §3.1.3); it keeps the SOA's original TTL field, and
            // is sent with the negative TTL like the SOA itself (as NSD and Knot do).
            let ttl = soa.ttl;
            answer.size_bound +=
                sigs.rdata_len() + usize::from(sigs.count) * (soa.name.len() + RR_FIXED);
            answer
                .authorities
                .extend(sigs.records(&self.origin).map(|mut r| {
                    r.ttl = r.ttl.min(ttl);
                    Cow::Owned(r)
                }));
        }
    }

    /// An RRset and its RRSIGs into the authority section.
    fn push_authority_set(&self, node: &Node, set: &RrSet, owner: &Name, answer: &mut Answer<'_>) {
        for s in std::iter::once(set).chain(node.rrsigs(set.rtype)) {
            answer.size_bound += s.rdata_len() + usize::from(s.count) * (owner.len() + RR_FIXED);
            answer.authorities.extend(s.records(owner).map(Cow::Owned));
        }
    }

    /// The NSEC RRset at `key` and its RRSIG into the authority section, once.
    fn push_nsec_of(&self, key: &[u8], answer: &mut Answer<'_>) {
        let Some(node) = self.nodes.get(key) else {
            return;
        };
        let Some(nsec) = node.rrset(RecordType::NSEC) else {
            return;
        };
        let Ok(owner) = name_from_wire(key) else {
            return;
        };
        let seen = answer
            .authorities
            .iter()
            .any(|r| r.record_type() == RecordType::NSEC && r.name == owner);
        if !seen {
            self.push_authority_set(node, nsec, &owner, answer);
        }
    }

    /// The NSEC whose owner is the last one at or before `key` in canonical order, wrapping
    /// round to the last (RFC 4034 §4.1.1): it proves `key` does not exist when its owner is
    /// not `key`.
    fn push_covering_nsec(&self, key: &[u8], answer: &mut Answer<'_>) {
        let at = self
            .nsec_order
            .partition_point(|k| canonical_cmp(k, key) != std::cmp::Ordering::Greater);
        let cover = match at.checked_sub(1) {
            Some(i) => self.nsec_order.get(i),
            None => self.nsec_order.last(),
        };
        if let Some(cover) = cover {
            self.push_nsec_of(cover, answer);
        }
    }

    /// The highest zone cut between the apex (exclusive) and `key` (inclusive), with its key. At
    /// the cut itself a DS query belongs to the parent (RFC 4035 §3.1.4.1): no referral.
    fn cut_above<'k>(&self, key: &'k [u8], qtype: RecordType) -> Option<(&'k [u8], &Node)> {
        let mut offsets = Vec::with_capacity(8);
        let mut at = 0usize;
        while key.len() - at > self.origin_key.len() {
            offsets.push(at);
            at += 1 + usize::from(key[at]);
        }
        for (i, &off) in offsets.iter().enumerate().rev() {
            // No deeper name exists under a missing one (ancestors are always present).
            let node = self.nodes.get(&key[off..])?;
            if node.is_cut {
                if i == 0 && qtype == RecordType::DS {
                    return None;
                }
                return Some((&key[off..], node));
            }
        }
        None
    }

    /// Glue: address records of in-zone NS targets (RFC 1034 §4.3.2 step 3b).
    fn add_glue(&self, answer: &mut Answer<'_>) {
        let targets: Vec<Name> = answer
            .authorities
            .iter()
            .filter_map(|r| match &r.data {
                RData::NS(t) => Some(t.0.clone()),
                _ => None,
            })
            .collect();
        for target in targets {
            let key = lower_key(&target);
            if !is_suffix(&key, &self.origin_key) {
                continue;
            }
            if let Some(node) = self.nodes.get(key.as_slice()) {
                for t in [RecordType::A, RecordType::AAAA] {
                    if let Some(set) = node.rrset(t) {
                        answer.size_bound +=
                            set.rdata_len() + usize::from(set.count) * (target.len() + RR_FIXED);
                        answer.additionals.extend(set.records(&target));
                    }
                }
            }
        }
    }
}

/// The lowercase wire form of `name` (the index key).
#[must_use]
pub fn lower_key(name: &Name) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len());
    for label in name {
        // A label is at most 63 octets (RFC 1035 §2.3.4), which hickory enforces.
        key.push(u8::try_from(label.len()).unwrap_or(63));
        key.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    key.push(0);
    key
}

/// The wire form minus its first label. The root stays the root.
fn parent(wire: &[u8]) -> &[u8] {
    match wire.first() {
        Some(&len) if len > 0 => wire.get(1 + usize::from(len)..).unwrap_or(&[0]),
        _ => wire,
    }
}

/// Whether `suffix` is `name` or an ancestor of it (both lowercase wire forms).
fn is_suffix(name: &[u8], suffix: &[u8]) -> bool {
    let mut at = name;
    loop {
        if at == suffix {
            return true;
        }
        if at.len() <= 1 {
            return false;
        }
        at = parent(at);
    }
}

/// A hickory [`Name`] from uncompressed wire form.
fn name_from_wire(wire: &[u8]) -> Result<Name, String> {
    let mut decoder = BinDecoder::new(wire);
    Name::read(&mut decoder).map_err(|e| e.to_string())
}

/// Decodes standalone RDATA; all of it must be used.
fn decode_rdata(t: RecordType, data: &[u8]) -> Result<RData, String> {
    let len = u16::try_from(data.len()).map_err(|_| "RDATA over 65535 octets".to_owned())?;
    let mut decoder = BinDecoder::new(data);
    let rd = RData::read(&mut decoder, t, Restrict::new(len)).map_err(|e| e.to_string())?;
    if decoder.is_empty() {
        Ok(rd)
    } else {
        Err("trailing octets".to_owned())
    }
}

/// SOA MINIMUM: the last 32-bit field of the RDATA (RFC 1035 §3.3.13).
fn soa_minimum(rdata: &[u8]) -> u32 {
    rdata
        .len()
        .checked_sub(4)
        .and_then(|at| rdata.get(at..))
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, u32::from_be_bytes)
}

/// Formats an optional position as `file:line: ` for diagnostics.
#[must_use]
pub fn position_prefix(at: Option<&Position>) -> String {
    at.map_or_else(String::new, |p| format!("{}:{}: ", p.file, p.line))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::str::FromStr;

    use altodisc_proto::DomainName;
    use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};
    use hickory_proto::serialize::txt::Parser;

    use super::*;

    /// Test-only: zone text → [`Zone`] through hickory's parser (the product loads zone files
    /// through the altodisc-zone reader; this only builds fixtures).
    pub(crate) fn zone_from_text(origin: &str, text: &str) -> Zone {
        let (_, sets) = Parser::new(text, None, Some(Name::from_str(origin).unwrap()))
            .parse()
            .unwrap();
        let mut records = Vec::new();
        for set in sets.values() {
            for r in set.records_without_rrsigs() {
                let mut rdata = Vec::new();
                let mut enc = BinEncoder::new(&mut rdata);
                enc.set_name_encoding(NameEncoding::Uncompressed);
                r.data.emit(&mut enc).unwrap();
                records.push(ZoneRecord {
                    owner: DomainName::parse(&r.name.to_ascii()).unwrap(),
                    ttl: r.ttl,
                    class: CLASS_IN,
                    rtype: u16::from(r.record_type()),
                    rdata,
                    position: None,
                    rdata_positions: Vec::new(),
                });
            }
        }
        Zone {
            origin: DomainName::parse(origin).unwrap(),
            records,
        }
    }

    pub(crate) const REVERSE: &str = r#"
$TTL 300
@       3600 IN SOA ns1.example.net. hostmaster.example.net. 1 7200 900 1209600 60
@       NS    ns1.example.net.
@       NAPTR 100 10 "u" "ALTO:https" "!.*!https://alto24.example.net/ird!" .
10      NAPTR 100 10 "u" "ALTO:https" "!.*!https://alto10.example.net/ird!" .
10      PTR   host10.example.net.
a.b.c   NAPTR 100 10 "u" "ALTO:https" "!.*!https://deep.example.net/ird!" .
*.w     NAPTR 100 10 "u" "ALTO:https" "!.*!https://wild.example.net/ird!" .
x.w     PTR   x.example.net.
12      CNAME 12.0-25
12.0-25 NAPTR 100 10 "u" "ALTO:https" "!.*!https://classless.example.net/ird!" .
13      CNAME 14
14      CNAME 13
15      CNAME nothere
16      CNAME outside.example.org.
sub     NS    ns.sub
ns.sub  A     192.0.2.53
"#;

    fn index() -> ZoneIndex {
        ZoneIndex::build(&[zone_from_text("2.0.192.in-addr.arpa.", REVERSE)]).unwrap()
    }

    fn n(s: &str) -> Name {
        Name::from_str(s).unwrap()
    }

    fn owners(a: &Answer<'_>) -> Vec<(String, RecordType)> {
        a.answers
            .iter()
            .map(|r| (r.name.to_ascii().to_ascii_lowercase(), r.record_type()))
            .collect()
    }

    #[test]
    fn positive_answer_is_authoritative() {
        let idx = index();
        let a = idx.lookup(&n("10.2.0.192.in-addr.arpa."), RecordType::NAPTR);
        assert_eq!(
            (a.rcode, a.authoritative, a.kind),
            (ResponseCode::NoError, true, AnswerKind::Positive)
        );
        assert_eq!(
            owners(&a),
            [("10.2.0.192.in-addr.arpa.".to_owned(), RecordType::NAPTR)]
        );
        assert!(a.authorities.is_empty());
    }

    #[test]
    fn qname_matches_case_insensitively() {
        let idx = index();
        let a = idx.lookup(&n("10.2.0.192.IN-ADDR.Arpa."), RecordType::NAPTR);
        assert_eq!(a.kind, AnswerKind::Positive);
        assert_eq!(a.answers.len(), 1);
    }

    #[test]
    fn nxdomain_carries_soa_with_negative_ttl() {
        let idx = index();
        let a = idx.lookup(&n("11.2.0.192.in-addr.arpa."), RecordType::NAPTR);
        assert_eq!(
            (a.rcode, a.authoritative, a.kind),
            (ResponseCode::NXDomain, true, AnswerKind::NxDomain)
        );
        assert!(a.answers.is_empty());
        assert_eq!(a.authorities.len(), 1);
        assert_eq!(a.authorities[0].record_type(), RecordType::SOA);
        // RFC 2308 §3: min(SOA TTL 3600, MINIMUM 60).
        assert_eq!(a.authorities[0].ttl, 60);
    }

    #[test]
    fn nodata_for_missing_type() {
        let idx = index();
        let a = idx.lookup(&n("10.2.0.192.in-addr.arpa."), RecordType::TXT);
        assert_eq!(
            (a.rcode, a.kind),
            (ResponseCode::NoError, AnswerKind::NoData)
        );
        assert_eq!(a.authorities[0].record_type(), RecordType::SOA);
    }

    #[test]
    fn empty_non_terminals_are_nodata_not_nxdomain() {
        let idx = index();
        for ent in ["c.2.0.192.in-addr.arpa.", "b.c.2.0.192.in-addr.arpa."] {
            let a = idx.lookup(&n(ent), RecordType::NAPTR);
            assert_eq!(
                (a.rcode, a.kind),
                (ResponseCode::NoError, AnswerKind::NoData),
                "{ent}"
            );
            assert_eq!(a.authorities.len(), 1);
        }
        // Below a leaf: NXDOMAIN.
        let a = idx.lookup(&n("z.a.b.c.2.0.192.in-addr.arpa."), RecordType::NAPTR);
        assert_eq!(a.rcode, ResponseCode::NXDomain);
    }

    #[test]
    fn wildcard_synthesizes_with_qname_owner() {
        let idx = index();
        let a = idx.lookup(&n("Y.w.2.0.192.in-addr.arpa."), RecordType::NAPTR);
        assert_eq!(
            (a.rcode, a.kind, a.wildcard),
            (ResponseCode::NoError, AnswerKind::Positive, true)
        );
        assert_eq!(
            owners(&a),
            [("y.w.2.0.192.in-addr.arpa.".to_owned(), RecordType::NAPTR)]
        );
        // Deeper names match the same wildcard (closest encloser is still w).
        let a = idx.lookup(&n("p.q.w.2.0.192.in-addr.arpa."), RecordType::NAPTR);
        assert_eq!(a.kind, AnswerKind::Positive);
        // Wildcard NODATA.
        let a = idx.lookup(&n("y.w.2.0.192.in-addr.arpa."), RecordType::TXT);
        assert_eq!(
            (a.rcode, a.kind),
            (ResponseCode::NoError, AnswerKind::NoData)
        );
    }

    #[test]
    fn wildcard_does_not_match_existing_names() {
        let idx = index();
        // x.w exists (PTR): NODATA, not the wildcard NAPTR (SPEC.md A13, RFC 4592 §2.2.1).
        let a = idx.lookup(&n("x.w.2.0.192.in-addr.arpa."), RecordType::NAPTR);
        assert_eq!(
            (a.rcode, a.kind, a.wildcard),
            (ResponseCode::NoError, AnswerKind::NoData, false)
        );
        // Below x.w the closest encloser is x.w, which has no wildcard child: NXDOMAIN.
        let a = idx.lookup(&n("q.x.w.2.0.192.in-addr.arpa."), RecordType::NAPTR);
        assert_eq!(a.rcode, ResponseCode::NXDomain);
        // The wildcard's parent w itself is an empty non-terminal.
        let a = idx.lookup(&n("w.2.0.192.in-addr.arpa."), RecordType::NAPTR);
        assert_eq!(a.kind, AnswerKind::NoData);
    }

    #[test]
    fn wildcard_that_is_an_empty_non_terminal_still_encloses() {
        // `*.e` exists only as the parent of `a.*.e`: it is still the source of synthesis for
        // names under `e`, and it has no data, so they get NODATA (RFC 4592 §2.2.1, §3.3.3).
        let z = zone_from_text(
            "example.",
            "@ 60 SOA a. b. 1 2 3 4 5\n@ 60 NS a.\na.*.e 60 TXT \"t\"\n",
        );
        let idx = ZoneIndex::build(&[z]).unwrap();
        let a = idx.lookup(&n("q.e.example."), RecordType::NAPTR);
        assert_eq!(
            (a.rcode, a.kind, a.wildcard),
            (ResponseCode::NoError, AnswerKind::NoData, true)
        );
        let a = idx.lookup(&n("q.f.example."), RecordType::NAPTR);
        assert_eq!(a.rcode, ResponseCode::NXDomain);
    }

    #[test]
    fn cname_is_followed_inside_the_zone() {
        let idx = index();
        let a = idx.lookup(&n("12.2.0.192.in-addr.arpa."), RecordType::NAPTR);
        assert_eq!(
            (a.rcode, a.kind),
            (ResponseCode::NoError, AnswerKind::Positive)
        );
        assert_eq!(
            owners(&a),
            [
                ("12.2.0.192.in-addr.arpa.".to_owned(), RecordType::CNAME),
                (
                    "12.0-25.2.0.192.in-addr.arpa.".to_owned(),
                    RecordType::NAPTR
                )
            ]
        );
        // Asking for the CNAME itself does not follow it.
        let a = idx.lookup(&n("12.2.0.192.in-addr.arpa."), RecordType::CNAME);
        assert_eq!(owners(&a).len(), 1);
    }

    #[test]
    fn cname_to_missing_name_is_nxdomain_with_chain() {
        let idx = index();
        let a = idx.lookup(&n("15.2.0.192.in-addr.arpa."), RecordType::NAPTR);
        assert_eq!(a.rcode, ResponseCode::NXDomain);
        assert_eq!(owners(&a).len(), 1);
        assert_eq!(a.authorities[0].record_type(), RecordType::SOA);
    }

    #[test]
    fn cname_loops_and_exits_stop() {
        let idx = index();
        let a = idx.lookup(&n("13.2.0.192.in-addr.arpa."), RecordType::NAPTR);
        assert_eq!(
            (a.rcode, a.kind),
            (ResponseCode::NoError, AnswerKind::PartialChain)
        );
        assert_eq!(a.answers.len(), MAX_CNAME_CHAIN + 1);
        let a = idx.lookup(&n("16.2.0.192.in-addr.arpa."), RecordType::NAPTR);
        assert_eq!((a.kind, a.answers.len()), (AnswerKind::PartialChain, 1));
    }

    #[test]
    fn delegation_gives_referral_with_glue() {
        let idx = index();
        let a = idx.lookup(&n("h.sub.2.0.192.in-addr.arpa."), RecordType::NAPTR);
        assert_eq!(
            (a.rcode, a.authoritative, a.kind),
            (ResponseCode::NoError, false, AnswerKind::Referral)
        );
        assert!(a.answers.is_empty());
        assert_eq!(a.authorities[0].record_type(), RecordType::NS);
        assert_eq!(a.additionals.len(), 1);
        // DS at the cut belongs to the parent: NODATA.
        let idx = index();
        let a = idx.lookup(&n("sub.2.0.192.in-addr.arpa."), RecordType::DS);
        assert_eq!(a.kind, AnswerKind::NoData);
    }

    #[test]
    fn apex_soa_and_ns() {
        let idx = index();
        let a = idx.lookup(&n("2.0.192.in-addr.arpa."), RecordType::SOA);
        assert_eq!(a.answers[0].ttl, 3600);
        let a = idx.lookup(&n("2.0.192.in-addr.arpa."), RecordType::NS);
        assert_eq!(a.answers.len(), 1);
    }

    #[test]
    fn outside_every_zone_is_refused() {
        let idx = index();
        for q in [
            "example.org.",
            "3.0.192.in-addr.arpa.",
            "0.192.in-addr.arpa.",
            ".",
        ] {
            let a = idx.lookup(&n(q), RecordType::NAPTR);
            assert_eq!(
                (a.rcode, a.authoritative),
                (ResponseCode::Refused, false),
                "{q}"
            );
        }
    }

    #[test]
    fn most_specific_zone_wins() {
        let parent = zone_from_text(
            "0.192.in-addr.arpa.",
            "@ 60 SOA a. b. 1 2 3 4 5\n@ 60 NS a.\n10.2 60 PTR p.\n",
        );
        let idx =
            ZoneIndex::build(&[parent, zone_from_text("2.0.192.in-addr.arpa.", REVERSE)]).unwrap();
        let a = idx.lookup(&n("10.2.0.192.in-addr.arpa."), RecordType::NAPTR);
        assert_eq!(a.kind, AnswerKind::Positive);
        let a = idx.lookup(&n("10.3.0.192.in-addr.arpa."), RecordType::NAPTR);
        assert_eq!(a.rcode, ResponseCode::NXDomain);
    }

    #[test]
    fn bad_zones_are_rejected() {
        let no_soa = zone_from_text("example.", "@ 60 NS a.\n");
        assert_eq!(
            ZoneIndex::build(&[no_soa]).unwrap_err(),
            IndexError::NoSoa {
                origin: "example.".to_owned()
            }
        );
        let cname = zone_from_text(
            "example.",
            "@ 60 SOA a. b. 1 2 3 4 5\nx 60 CNAME y.\nx 60 TXT t\n",
        );
        assert_eq!(
            ZoneIndex::build(&[cname]).unwrap_err(),
            IndexError::CnameAndOtherData {
                owner: "x.example.".to_owned(),
                at: None
            }
        );
        let z = zone_from_text("2.0.192.in-addr.arpa.", REVERSE);
        assert!(matches!(
            ZoneIndex::build(&[z.clone(), z]).unwrap_err(),
            IndexError::DuplicateZone { .. }
        ));
    }

    fn signed_index() -> ZoneIndex {
        use crate::dnssec::{SigningPolicy, ZoneKeys, sign_zone};
        let zone = zone_from_text("2.0.192.in-addr.arpa.", REVERSE);
        let keys = ZoneKeys::generate().unwrap();
        let signed = sign_zone(
            &zone,
            &keys,
            &SigningPolicy::default(),
            std::time::SystemTime::now(),
        )
        .unwrap();
        ZoneIndex::build(&[signed]).unwrap()
    }

    fn types(records: impl Iterator<Item = (String, RecordType)>) -> Vec<(String, RecordType)> {
        let mut v: Vec<_> = records
            .map(|(n, t)| (n.trim_end_matches(".2.0.192.in-addr.arpa.").to_owned(), t))
            .collect();
        v.sort();
        v
    }

    fn auth(a: &Answer<'_>) -> Vec<(String, RecordType)> {
        types(
            a.authorities
                .iter()
                .map(|r| (r.name.to_ascii().to_ascii_lowercase(), r.record_type())),
        )
    }

    fn ans(a: &Answer<'_>) -> Vec<(String, RecordType)> {
        types(
            a.answers
                .iter()
                .map(|r| (r.name.to_ascii().to_ascii_lowercase(), r.record_type())),
        )
    }

    fn o(name: &str, t: RecordType) -> (String, RecordType) {
        (name.to_owned(), t)
    }

    #[test]
    fn signed_zone_without_do_has_no_dnssec_records() {
        let idx = signed_index();
        assert!(idx.zones().next().unwrap().is_signed());
        assert!(!index().zones().next().unwrap().is_signed());
        let a = idx.lookup(&n("10.2.0.192.in-addr.arpa."), RecordType::NAPTR);
        assert_eq!(ans(&a), [o("10", RecordType::NAPTR)]);
        let a = idx.lookup(&n("11.2.0.192.in-addr.arpa."), RecordType::NAPTR);
        assert_eq!(auth(&a).len(), 1);
        // Asked for by type, DNSSEC records are data (RFC 4035 §3.1).
        let a = idx.lookup(&n("10.2.0.192.in-addr.arpa."), RecordType::RRSIG);
        assert_eq!(a.answers.len(), 3, "RRSIGs of NAPTR, PTR and NSEC");
        let a = idx.lookup(&n("2.0.192.in-addr.arpa."), RecordType::DNSKEY);
        assert_eq!(a.answers.len(), 2);
    }

    #[test]
    fn signed_positive_answers_carry_rrsigs() {
        let idx = signed_index();
        let a = idx.lookup_dnssec(&n("10.2.0.192.in-addr.arpa."), RecordType::NAPTR, true);
        assert_eq!(
            ans(&a),
            [o("10", RecordType::NAPTR), o("10", RecordType::RRSIG)]
        );
        assert!(a.authorities.is_empty());
        let a = idx.lookup_dnssec(&n("2.0.192.in-addr.arpa."), RecordType::DNSKEY, true);
        assert_eq!(a.answers.len(), 3, "two DNSKEYs and the KSK's RRSIG");
        // A CNAME chain: every RRset with its RRSIG (RFC 4035 §3.1.1).
        let a = idx.lookup_dnssec(&n("12.2.0.192.in-addr.arpa."), RecordType::NAPTR, true);
        assert_eq!(
            ans(&a),
            [
                o("12", RecordType::CNAME),
                o("12", RecordType::RRSIG),
                o("12.0-25", RecordType::NAPTR),
                o("12.0-25", RecordType::RRSIG),
            ]
        );
    }

    #[test]
    fn signed_negative_answers_carry_nsec_proofs() {
        let idx = signed_index();
        // NXDOMAIN: SOA + RRSIG, NSEC covering QNAME (10 < 11 < 12), NSEC covering `*` at the
        // apex (the apex NSEC: `*` sorts before digits).
        let a = idx.lookup_dnssec(&n("11.2.0.192.in-addr.arpa."), RecordType::NAPTR, true);
        assert_eq!(a.rcode, ResponseCode::NXDomain);
        assert_eq!(
            auth(&a),
            [
                o("10", RecordType::RRSIG),
                o("10", RecordType::NSEC),
                o("2.0.192.in-addr.arpa.", RecordType::SOA),
                o("2.0.192.in-addr.arpa.", RecordType::RRSIG),
                o("2.0.192.in-addr.arpa.", RecordType::RRSIG),
                o("2.0.192.in-addr.arpa.", RecordType::NSEC),
            ]
        );
        let soa_sig = a
            .authorities
            .iter()
            .find(|r| r.record_type() == RecordType::RRSIG && r.name == n("2.0.192.in-addr.arpa."))
            .unwrap();
        assert!(soa_sig.ttl <= 60);
        // NODATA: the NSEC of the name itself.
        let a = idx.lookup_dnssec(&n("10.2.0.192.in-addr.arpa."), RecordType::TXT, true);
        assert_eq!(
            auth(&a),
            [
                o("10", RecordType::RRSIG),
                o("10", RecordType::NSEC),
                o("2.0.192.in-addr.arpa.", RecordType::SOA),
                o("2.0.192.in-addr.arpa.", RecordType::RRSIG),
            ]
        );
        // Empty non-terminal: the NSEC covering it (its next name is below it).
        let a = idx.lookup_dnssec(&n("b.c.2.0.192.in-addr.arpa."), RecordType::NAPTR, true);
        assert_eq!(a.kind, AnswerKind::NoData);
        let nsec = a
            .authorities
            .iter()
            .find(|r| r.record_type() == RecordType::NSEC)
            .unwrap();
        assert_eq!(nsec.name, n("16.2.0.192.in-addr.arpa."));
    }

    #[test]
    fn signed_wildcard_answers_prove_qname_absent() {
        let idx = signed_index();
        let a = idx.lookup_dnssec(&n("y.w.2.0.192.in-addr.arpa."), RecordType::NAPTR, true);
        assert_eq!(a.kind, AnswerKind::Positive);
        let sig = a
            .answers
            .iter()
            .find_map(|r| match &r.data {
                RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::RRSIG(s)) => Some(s),
                _ => None,
            })
            .unwrap();
        // Label count of `*.w.2.0.192.in-addr.arpa.` without the `*` (RFC 4034 §3.1.3).
        assert_eq!(sig.input().num_labels, 6);
        assert_eq!(
            auth(&a),
            [o("x.w", RecordType::RRSIG), o("x.w", RecordType::NSEC)]
        );
        // Wildcard NODATA: the covering NSEC and the wildcard's NSEC (RFC 4035 §3.1.3.4).
        let a = idx.lookup_dnssec(&n("y.w.2.0.192.in-addr.arpa."), RecordType::TXT, true);
        assert_eq!(a.kind, AnswerKind::NoData);
        let nsecs: Vec<_> = auth(&a)
            .into_iter()
            .filter(|(_, t)| *t == RecordType::NSEC)
            .collect();
        assert_eq!(
            nsecs,
            [o("*.w", RecordType::NSEC), o("x.w", RecordType::NSEC)]
        );
    }

    #[test]
    fn signed_referral_proves_the_missing_ds() {
        let idx = signed_index();
        let a = idx.lookup_dnssec(&n("h.sub.2.0.192.in-addr.arpa."), RecordType::NAPTR, true);
        assert_eq!(a.kind, AnswerKind::Referral);
        assert_eq!(
            auth(&a),
            [
                o("sub", RecordType::NS),
                o("sub", RecordType::RRSIG),
                o("sub", RecordType::NSEC)
            ]
        );
    }

    #[test]
    fn negative_answers_do_not_scan_the_zone() {
        // A 65,536-name zone must still answer misses through hash look-ups: check the answer
        // classes stay right at size (timing lives in bench/responder).
        let mut text = String::from("@ 60 SOA a. b. 1 2 3 4 60\n");
        for i in 0..256 {
            for j in 0..256 {
                text.push_str(&format!(
                    "{j}.{i} 60 NAPTR 1 1 \"u\" \"ALTO:https\" \"!.*!https://a.example/!\" .\n"
                ));
            }
        }
        let idx = ZoneIndex::build(&[zone_from_text("10.in-addr.arpa.", &text)]).unwrap();
        assert_eq!(idx.zones().next().unwrap().name_count(), 65536 + 256 + 1);
        assert_eq!(
            idx.lookup(&n("1.2.3.10.in-addr.arpa."), RecordType::NAPTR)
                .rcode,
            ResponseCode::NXDomain
        );
        assert_eq!(
            idx.lookup(&n("3.10.in-addr.arpa."), RecordType::NAPTR).kind,
            AnswerKind::NoData
        );
    }
}
