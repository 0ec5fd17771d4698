//! The zone index: every name of every zone in a hash map keyed by its lowercase wire form, so
//! positive answers, NXDOMAIN, NODATA and empty non-terminals all cost O(number of labels) hash
//! look-ups, independent of zone size.
//!
//! hickory-server's in-memory store decides NXDOMAIN vs NODATA by scanning every name of the zone
//! (6 ms per negative answer at 65k names); RFC 8686 clients ask mostly negative questions (R32
//! misses first, docs/decisions.md, resolver), so this index is the store and hickory-server only the protocol
//! engine around it.
//!
//! Storage is compact: a zone is a few large arrays (names, nodes, RRsets, one arena of RDATA in
//! uncompressed wire form shared by equal RRsets), not a few allocations per name. RDATA is
//! checked once at load by decoding it (each distinct value once) and turned into hickory
//! records only when it is answered. A zone is built record by record ([`ZoneBuilder`]), so a
//! zone file can be streamed into the index without holding its records twice. A finished zone
//! finds names through a flat open-addressing table whose slot follows from the name's hash, so
//! the UDP fast path can prefetch the look-ups of a whole batch of queries
//! ([`ZoneData::prefetch_slot`]).
//!
//! Answer semantics (docs/decisions.md, responder step 4), per RFC 1034 §4.3.2:
//!
//! 1. the zone is the most specific loaded origin that is a suffix of QNAME, else REFUSED;
//! 2. a zone cut (NS below the apex) above or at QNAME gives a referral (AA=0, NS + glue);
//! 3. an exact match answers the RRset, or a CNAME (followed within the zone, RFC 2317 §4, each
//!    CNAME once: a loop ends where it closes, as NSD and Knot do), or NODATA; a CNAME whose
//!    target is below a zone cut ends with that referral's NS and glue (RFC 1034 §4.3.2 step 3b); an empty non-terminal is a name that exists without data: NODATA, never NXDOMAIN
//!    (RFC 8020 §2);
//! 4. otherwise the wildcard at the closest encloser answers with QNAME as owner (RFC 4592 §3.3);
//!    a wildcard never matches a name that exists, including empty non-terminals (docs/decisions.md, A13);
//! 5. otherwise NXDOMAIN.
//!
//! Negative answers carry the zone SOA in the authority section with TTL
//! min(SOA TTL, SOA MINIMUM) (RFC 2308 §3 and §5).

use std::borrow::Cow;
use std::collections::HashMap as StdHashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use altodisc_zone::record::{CLASS_IN, Position, Zone, ZoneRecord, rtype};
use hashbrown::{HashTable, hash_table};
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

/// The end of an owner's RRset list, and "no node".
const NONE: u32 = u32::MAX;

/// Node flag: NS at a name below the apex, a delegation point (RFC 1034 §4.2.1).
const CUT: u8 = 1;
/// Node flag: a `*` child exists, the source of synthesis when this node is the closest encloser
/// (RFC 4592 §2.2.1).
const WILDCARD_CHILD: u8 = 2;

/// One RRset at one owner. Its RDATA is a slice of the zone's RDATA arena ([`Store::rdata`]):
/// each record's RDATA in wire form, prefixed by its 16-bit length.
#[derive(Debug, Clone, Copy)]
struct RrSet {
    rtype: u16,
    count: u16,
    ttl: u32,
    /// Offset of the RDATA in [`Store::rdata`].
    off: u32,
    /// Its length.
    len: u32,
    /// The owner's next RRset ([`NONE`] after the last), in order of first appearance.
    next: u32,
}

/// One name of a zone; without RRsets it is an empty non-terminal.
#[derive(Debug, Clone, Copy)]
struct Node {
    /// Offset of the name in [`Store::names`]: its lowercase wire form without the origin's
    /// (empty for the apex).
    key_off: u32,
    /// Its length (a whole name is at most 255 octets, RFC 1035 §3.1).
    key_len: u8,
    /// [`CUT`] and [`WILDCARD_CHILD`].
    flags: u8,
    /// Its first RRset in [`Store::sets`], or [`NONE`].
    first_set: u32,
}

/// The names and RRsets of one zone in a few large arrays: a hash table of node numbers, the
/// names back to back, the nodes, the RRsets and one arena of RDATA. A name costs no allocation
/// of its own (a name used to cost three: its key, its RRset list and the RRset's RDATA), which
/// is most of the load time and memory of a 1,000,000-name zone; RRsets with the same RDATA share
/// its bytes (a reverse zone repeats one NAPTR over every name).
#[derive(Debug, Default)]
struct Store {
    /// foldhash, seeded per process (fast on short keys; the seed keeps collision chains
    /// unpredictable).
    hasher: foldhash::fast::RandomState,
    /// (hash of the name, node number) while the zone is built; the stored hash lets the table
    /// grow without reading a single name. Emptied by [`Store::freeze`].
    table: HashTable<(u32, u32)>,
    /// The look-up table of the finished zone, built from `table` by [`Store::freeze`].
    frozen: Frozen,
    names: Vec<u8>,
    nodes: Vec<Node>,
    sets: Vec<RrSet>,
    /// Append-only while the zone is built, so the bytes an RRset points to never change and
    /// any number of RRsets can point to the same ones.
    rdata: Vec<u8>,
}

/// The name table of a finished zone: open addressing with linear probing over one flat array
/// of `(hash, node + 1)` slots (`(0, 0)` is empty), at most three quarters full. The slot where
/// the search for a name starts follows from its hash alone, so the UDP fast path can prefetch
/// the slots (then the nodes, names and RRsets) of a whole batch of queries before it looks any
/// of them up: in a 1,000,000-name zone, far bigger than the CPU caches, each look-up otherwise
/// waits for three or four memory loads in a row (`perf`: the look-up was most of the
/// responder's own CPU time at full load). hashbrown's table does not tell where an entry is.
#[derive(Debug, Default)]
struct Frozen {
    slots: Box<[(u32, u32)]>,
    /// `slots.len() - 1`; the length is a power of two.
    mask: usize,
}

impl Frozen {
    /// The table of `len` entries (hash, node); `None` if a node number is [`NONE`].
    fn new(len: usize, entries: impl Iterator<Item = (u32, u32)>) -> Option<Self> {
        // At most 3/4 full, so a search always ends at an empty slot, and one for a missing
        // name (NXDOMAIN) reads a few slots on average, mostly in one cache line.
        let size = len
            .checked_add(len / 3)?
            .checked_add(1)?
            .checked_next_power_of_two()?;
        let mut slots = vec![(0u32, 0u32); size].into_boxed_slice();
        let mask = size - 1;
        for (h, n) in entries {
            let value = n.checked_add(1)?;
            let mut i = ix(h) & mask;
            loop {
                let slot = slots.get_mut(i)?;
                if slot.1 == 0 {
                    *slot = (h, value);
                    break;
                }
                i = (i + 1) & mask;
            }
        }
        Some(Self { slots, mask })
    }

    /// The first node in the probe sequence of hash `h` for which `is` holds.
    fn find(&self, h: u32, mut is: impl FnMut(u32) -> bool) -> Option<u32> {
        let mut i = ix(h) & self.mask;
        loop {
            let &(eh, value) = self.slots.get(i)?;
            let n = value.checked_sub(1)?;
            if eh == h && is(n) {
                return Some(n);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Starts loading the slot where the search for hash `h` begins.
    fn prefetch(&self, h: u32) {
        prefetch_index::prefetch_index(&self.slots, ix(h) & self.mask);
    }
}

/// The hash hashbrown gets for a 32-bit hash: it takes the bucket from the low bits and a 7-bit
/// tag from the top ones, so both halves carry all 32 bits.
fn table_hash(h: u32) -> u64 {
    (u64::from(h) << 32) | u64::from(h)
}

/// A `u32` offset or count as an index (lossless: the index is built only where `usize` has at
/// least 32 bits).
fn ix(at: u32) -> usize {
    usize::try_from(at).unwrap_or(usize::MAX)
}

/// The name minus its first label, for names relative to the origin: the apex is empty.
fn rel_parent(rel: &[u8]) -> &[u8] {
    match rel.first() {
        Some(&len) => rel.get(1 + usize::from(len)..).unwrap_or_default(),
        None => rel,
    }
}

impl Store {
    /// The 32-bit hash of `bytes` (a relative name, or RDATA).
    fn hash(&self, bytes: &[u8]) -> u32 {
        let h = self.hasher.hash_one(bytes);
        u32::try_from(h >> 32).unwrap_or_default()
    }

    fn key(&self, node: &Node) -> &[u8] {
        self.names
            .get(ix(node.key_off)..ix(node.key_off) + usize::from(node.key_len))
            .unwrap_or_default()
    }

    fn key_of(&self, n: u32) -> &[u8] {
        self.nodes.get(ix(n)).map_or(&[], |node| self.key(node))
    }

    /// The node of the relative name `rel` in the finished zone.
    fn find(&self, rel: &[u8]) -> Option<u32> {
        let h = self.hash(rel);
        self.frozen.find(h, |n| self.key_of(n) == rel)
    }

    /// The node of `rel`, added if new (then `true`); `None` if the zone outgrows 32-bit offsets.
    fn find_or_insert(&mut self, rel: &[u8]) -> Option<(u32, bool)> {
        let h = self.hash(rel);
        let Self {
            table,
            names,
            nodes,
            ..
        } = self;
        let key_of = |n: u32| {
            nodes
                .get(ix(n))
                .and_then(|node| {
                    names.get(ix(node.key_off)..ix(node.key_off) + usize::from(node.key_len))
                })
                .unwrap_or_default()
        };
        match table.entry(
            table_hash(h),
            |&(eh, n)| eh == h && key_of(n) == rel,
            |&(eh, _)| table_hash(eh),
        ) {
            hash_table::Entry::Occupied(o) => Some((o.get().1, false)),
            hash_table::Entry::Vacant(v) => {
                let n = u32::try_from(nodes.len()).ok().filter(|&n| n != NONE)?;
                let key_off = u32::try_from(names.len()).ok()?;
                let key_len = u8::try_from(rel.len()).ok()?;
                names.extend_from_slice(rel);
                nodes.push(Node {
                    key_off,
                    key_len,
                    flags: 0,
                    first_set: NONE,
                });
                v.insert((h, n));
                Some((n, true))
            }
        }
    }

    fn node_mut(&mut self, n: u32) -> Option<&mut Node> {
        self.nodes.get_mut(ix(n))
    }

    fn set_ref(&self, set: &RrSet) -> SetRef<'_> {
        SetRef {
            rtype: set.rtype,
            ttl: set.ttl,
            count: set.count,
            rdata: self
                .rdata
                .get(ix(set.off)..ix(set.off) + ix(set.len))
                .unwrap_or_default(),
        }
    }

    fn node_ref<'z>(&'z self, node: &'z Node) -> NodeRef<'z> {
        NodeRef { store: self, node }
    }

    /// Copies the RDATA that RRsets use to a new arena, once each (RRsets sharing bytes keep
    /// sharing them), dropping what moved RRsets left behind. Kept as it is if that would not
    /// make the arena smaller.
    fn compact_rdata(&mut self) {
        let mut arena = Vec::new();
        let mut copied: StdHashMap<(u32, u32), u32, foldhash::fast::RandomState> =
            StdHashMap::default();
        let mut offsets = Vec::with_capacity(self.sets.len());
        for set in &self.sets {
            let off = match copied.entry((set.off, set.len)) {
                std::collections::hash_map::Entry::Occupied(o) => *o.get(),
                std::collections::hash_map::Entry::Vacant(v) => {
                    let Some(bytes) = self.rdata.get(ix(set.off)..ix(set.off) + ix(set.len)) else {
                        return;
                    };
                    let Ok(off) = u32::try_from(arena.len()) else {
                        return;
                    };
                    arena.extend_from_slice(bytes);
                    if arena.len() >= self.rdata.len() {
                        return;
                    }
                    *v.insert(off)
                }
            };
            offsets.push(off);
        }
        for (set, off) in self.sets.iter_mut().zip(offsets) {
            set.off = off;
        }
        self.rdata = arena;
    }

    /// Frees what building reserved beyond the zone's size and replaces the builder's name
    /// table with the finished zone's ([`Frozen`]); `None` if that cannot be built.
    fn freeze(&mut self) -> Option<()> {
        self.names.shrink_to_fit();
        self.nodes.shrink_to_fit();
        self.sets.shrink_to_fit();
        self.rdata.shrink_to_fit();
        self.frozen = Frozen::new(self.table.len(), self.table.iter().copied())?;
        self.table = HashTable::new();
        Some(())
    }
}

/// One RRset as answers read it.
#[derive(Debug, Clone, Copy)]
struct SetRef<'z> {
    rtype: u16,
    ttl: u32,
    count: u16,
    /// The RDATA of each record, each prefixed by its 16-bit length.
    rdata: &'z [u8],
}

impl<'z> SetRef<'z> {
    /// The RDATA of each record.
    fn rdatas(self) -> impl Iterator<Item = &'z [u8]> {
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
    fn covered(self) -> Option<u16> {
        if self.rtype != rtype::RRSIG {
            return None;
        }
        rrsig_covered(self.rdata.get(2..).unwrap_or_default())
    }

    /// Octets of RDATA alone (for the response size bound).
    fn rdata_len(self) -> usize {
        self.rdata.len() - 2 * usize::from(self.count)
    }

    /// The records with `owner` as owner name. RDATA was checked at load, so a decode failure
    /// here is a bug; the record is skipped and logged rather than panicking.
    fn records(self, owner: &Name) -> impl Iterator<Item = Record> + 'z {
        let owner = owner.clone();
        let t = RecordType::from(self.rtype);
        let ttl = self.ttl;
        self.rdatas()
            .filter_map(move |data| match decode_rdata(t, data) {
                Ok(rd) => Some(Record::from_rdata(owner.clone(), ttl, rd)),
                Err(reason) => {
                    warn!(%owner, %t, reason, "stored RDATA does not decode");
                    None
                }
            })
    }
}

/// The type covered by an RRSIG record with RDATA `rdata` (RFC 4034 §3.1.1).
fn rrsig_covered(rdata: &[u8]) -> Option<u16> {
    rdata
        .get(0..2)
        .and_then(|b| <[u8; 2]>::try_from(b).ok())
        .map(u16::from_be_bytes)
}

/// One name of a zone as answers read it.
#[derive(Debug, Clone, Copy)]
struct NodeRef<'z> {
    store: &'z Store,
    node: &'z Node,
}

impl<'z> NodeRef<'z> {
    /// The RRsets, in order of first appearance.
    fn rrsets(self) -> impl Iterator<Item = SetRef<'z>> + 'z {
        let store = self.store;
        let mut at = self.node.first_set;
        std::iter::from_fn(move || {
            let set = store.sets.get(ix(at))?;
            at = set.next;
            Some(store.set_ref(set))
        })
    }

    fn rrset(self, t: RecordType) -> Option<SetRef<'z>> {
        let t = u16::from(t);
        self.rrsets().find(|s| s.rtype == t)
    }

    /// The RRSIG set covering type `t` (signed zones only).
    fn rrsigs(self, t: u16) -> Option<SetRef<'z>> {
        self.rrsets().find(|s| s.covered() == Some(t))
    }

    /// An empty non-terminal.
    fn is_empty(self) -> bool {
        self.node.first_set == NONE
    }

    fn is_cut(self) -> bool {
        self.node.flags & CUT != 0
    }

    fn has_wildcard_child(self) -> bool {
        self.node.flags & WILDCARD_CHILD != 0
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

/// Most RDATA values the builder remembers as checked (a bounded cache: 16,384 entries of 12
/// octets and their hash-table slots).
const CHECKED_RDATA_MAX: usize = 1 << 14;

/// RDATA that decoded at load: where its bytes are in the arena (after their length prefix).
#[derive(Debug, Clone, Copy)]
struct CheckedRdata {
    hash: u32,
    off: u32,
    len: u16,
    rtype: u16,
}

/// Builds one [`ZoneData`] record by record.
#[derive(Debug)]
pub struct ZoneBuilder {
    origin: Name,
    origin_text: String,
    origin_key: Box<[u8]>,
    store: Store,
    soa: Option<(Record, u32)>,
    /// Every node with a CNAME and where its first CNAME was written, for the
    /// CNAME-and-other-data check in [`Self::finish`].
    cnames: Vec<(u32, Option<Position>)>,
    /// A zone cut was added.
    has_cuts: bool,
    record_count: usize,
    /// DNSKEY, RRSIG or NSEC records were added (a signed or pre-signed zone).
    signed: bool,
    /// RDATA already decoded, by (type, octets): a big zone repeats a few RDATA over millions of
    /// names, and a hit skips the decode and lets the new RRset share the bytes. Cleared when
    /// full.
    checked: HashTable<CheckedRdata>,
    /// The owner being added, lowercase (reused: adding a record allocates nothing).
    owner: Vec<u8>,
    /// The node of the last record, and the parent of the last new name: zone files list an
    /// owner's records together and siblings one after another, so most records find their
    /// owner, and most new names their parent, without a hash look-up.
    last_node: u32,
    last_parent: u32,
    /// Octets of RDATA left behind by RRsets that moved to the end of the arena to grow.
    moved: usize,
    /// The NSEC3 chain, kept apart from the names (RFC 5155 §7.2.8).
    nsec3: crate::dnssec::Nsec3Index,
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
        let mut store = Store::default();
        let apex = store.find_or_insert(&[]).map_or(NONE, |(n, _)| n);
        Ok(Self {
            origin: name,
            origin_text: origin.to_string(),
            origin_key,
            store,
            soa: None,
            cnames: Vec::new(),
            has_cuts: false,
            record_count: 0,
            signed: false,
            checked: HashTable::new(),
            owner: Vec::with_capacity(256),
            last_node: apex,
            last_parent: NONE,
            moved: 0,
            nsec3: crate::dnssec::Nsec3Index::default(),
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
        self.owner.clear();
        self.owner
            .extend(rec.owner.as_wire().iter().map(u8::to_ascii_lowercase));
        if !is_suffix(&self.owner, &self.origin_key) {
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
        if matches!(rec.rtype, rtype::NSEC3 | rtype::RRSIG | rtype::NSEC3PARAM)
            && self
                .nsec3
                .offer(&self.owner, &self.origin_key, rec)
                .map_err(|reason| IndexError::Rdata {
                    rtype: rec.rtype,
                    reason,
                    at: at(),
                })?
        {
            self.signed = true;
            self.record_count += 1;
            return Ok(());
        }
        // Decode once now, so a query never meets RDATA that cannot be sent; RDATA decoded before
        // is not decoded again. The SOA is always decoded: its record is kept.
        let rdata_hash = self.store.hash(&rec.rdata);
        let checked = if rec.rtype == rtype::SOA {
            None
        } else {
            self.checked_rdata(rec.rtype, &rec.rdata, rdata_hash)
        };
        if checked.is_none() {
            let data = decode_rdata(RecordType::from(rec.rtype), &rec.rdata).map_err(|reason| {
                IndexError::Rdata {
                    rtype: rec.rtype,
                    reason,
                    at: at(),
                }
            })?;
            if rec.rtype == rtype::SOA {
                if self.owner.len() != self.origin_key.len() {
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
        }
        let rel_len = self.owner.len() - self.origin_key.len();
        let node = self.owner_node(rel_len);
        let too_large = || IndexError::TooLarge {
            origin: self.origin_text.clone(),
            at: at(),
        };
        let node = node.ok_or_else(too_large)?;
        self.signed |= is_dnssec_type(rec.rtype);
        // RRSIGs form one set per covered type (RFC 4034 §3: each has the covered RRset's TTL).
        let covered = (rec.rtype == rtype::RRSIG)
            .then(|| rrsig_covered(&rec.rdata))
            .flatten();
        let mut last = NONE;
        let mut at_set = self.store.node_mut(node).map_or(NONE, |n| n.first_set);
        while let Some(set) = self.store.sets.get(ix(at_set)) {
            if set.rtype == rec.rtype && self.store.set_ref(set).covered() == covered {
                break;
            }
            last = at_set;
            at_set = set.next;
        }
        let store = &mut self.store;
        let rdata_off = if let Some(set) = store.sets.get(ix(at_set)).copied() {
            if store
                .set_ref(&set)
                .rdatas()
                .any(|d| d == rec.rdata.as_slice())
            {
                return Ok(());
            }
            let count = set.count.checked_add(1).ok_or(IndexError::RdataTooLong {
                len: usize::from(u16::MAX) + 1,
                at: at(),
            })?;
            // Append in place when the set ends the arena, else move it to the end first (the
            // old bytes stay: other sets may share them).
            let mut off = set.off;
            let set_end = ix(set.off) + ix(set.len);
            if set_end != store.rdata.len() {
                off = u32::try_from(store.rdata.len()).map_err(|_| too_large())?;
                store.rdata.extend_from_within(ix(set.off)..set_end);
                self.moved += ix(set.len);
            }
            let new_len = set.len + 2 + u32::from(len);
            let rdata_off =
                arena_append(&mut store.rdata, len, &rec.rdata).ok_or_else(too_large)?;
            if let Some(s) = store.sets.get_mut(ix(at_set)) {
                s.off = off;
                s.len = new_len;
                s.count = count;
            }
            rdata_off
        } else {
            // A new RRset: its first record's RDATA, shared if it is already in the arena.
            let rdata_off = match checked {
                Some(off) => off,
                None => arena_append(&mut store.rdata, len, &rec.rdata).ok_or_else(too_large)?,
            };
            let n = u32::try_from(store.sets.len())
                .ok()
                .filter(|&n| n != NONE)
                .ok_or_else(too_large)?;
            store.sets.push(RrSet {
                rtype: rec.rtype,
                count: 1,
                ttl: rec.ttl,
                off: rdata_off - 2,
                len: 2 + u32::from(len),
                next: NONE,
            });
            match store.sets.get_mut(ix(last)) {
                Some(prev) => prev.next = n,
                None => {
                    if let Some(owner) = store.node_mut(node) {
                        owner.first_set = n;
                    }
                }
            }
            if rec.rtype == rtype::NS && rel_len > 0 {
                if let Some(owner) = store.node_mut(node) {
                    owner.flags |= CUT;
                }
                self.has_cuts = true;
            }
            if rec.rtype == rtype::CNAME {
                self.cnames.push((node, at()));
            }
            rdata_off
        };
        if checked.is_none() && rec.rtype != rtype::SOA {
            self.remember_checked(rec.rtype, rdata_off, len, rdata_hash);
        }
        self.record_count += 1;
        Ok(())
    }

    /// The offset of RDATA of type `rtype` already decoded and in the arena.
    fn checked_rdata(&self, rtype: u16, rdata: &[u8], hash: u32) -> Option<u32> {
        let arena = &self.store.rdata;
        self.checked
            .find(table_hash(hash), |c| {
                c.hash == hash
                    && c.rtype == rtype
                    && arena.get(ix(c.off)..ix(c.off) + usize::from(c.len)) == Some(rdata)
            })
            .map(|c| c.off)
    }

    fn remember_checked(&mut self, rtype: u16, off: u32, len: u16, hash: u32) {
        if self.checked.len() >= CHECKED_RDATA_MAX {
            self.checked.clear();
        }
        self.checked.insert_unique(
            table_hash(hash),
            CheckedRdata {
                hash,
                off,
                len,
                rtype,
            },
            |c| table_hash(c.hash),
        );
    }

    /// The node of the owner in `self.owner` (its first `rel_len` octets are the name relative to
    /// the origin), added with its missing ancestors if new. `None`: the zone outgrew the index.
    fn owner_node(&mut self, rel_len: usize) -> Option<u32> {
        let rel = self.owner.get(..rel_len)?;
        if self.last_node != NONE && self.store.key_of(self.last_node) == rel {
            return Some(self.last_node);
        }
        let (node, new) = self.store.find_or_insert(rel)?;
        self.last_node = node;
        if new {
            self.add_ancestors(rel_len)?;
        }
        Some(node)
    }

    /// Adds the ancestors of the new name `self.owner[..rel_len]` up to the first one present
    /// (as empty non-terminals if nothing else, RFC 8020 §2).
    fn add_ancestors(&mut self, rel_len: usize) -> Option<()> {
        let Self {
            store,
            owner,
            last_parent,
            ..
        } = self;
        let mut name = owner.get(..rel_len)?;
        let mut first = true;
        while !name.is_empty() {
            // Every name visited here is new; a new `*` name (owner or empty non-terminal)
            // makes its parent a source of synthesis (RFC 4592 §2.2.1).
            let wildcard = name.starts_with(&WILDCARD_LABEL);
            name = rel_parent(name);
            let (parent, new) =
                if first && *last_parent != NONE && store.key_of(*last_parent) == name {
                    (*last_parent, false)
                } else {
                    store.find_or_insert(name)?
                };
            if first {
                *last_parent = parent;
                first = false;
            }
            if wildcard && let Some(p) = store.node_mut(parent) {
                p.flags |= WILDCARD_CHILD;
            }
            if !new {
                break;
            }
        }
        Some(())
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
        let full_key = |store: &Store, node: &Node| {
            let mut key = store.key(node).to_vec();
            key.extend_from_slice(&self.origin_key);
            key
        };
        for (n, at) in &self.cnames {
            let Some(node) = self.store.nodes.get(ix(*n)) else {
                continue;
            };
            // RRSIG and NSEC may sit beside a CNAME (RFC 4035 §2.5).
            let others = self
                .store
                .node_ref(node)
                .rrsets()
                .filter(|s| !matches!(s.rtype, rtype::RRSIG | rtype::NSEC))
                .count();
            if others > 1 {
                let owner = name_from_wire(&full_key(&self.store, node))
                    .map_or_else(|_| String::new(), |n| n.to_string());
                return Err(IndexError::CnameAndOtherData {
                    owner,
                    at: at.clone(),
                });
            }
        }
        let serial = match &soa_record.data {
            RData::SOA(soa) => soa.serial,
            _ => 0,
        };
        // The NSEC owners in canonical order, to find the NSEC covering a missing name.
        let mut nsec_order: Vec<Box<[u8]>> = Vec::new();
        if self.signed {
            nsec_order.extend(
                self.store
                    .nodes
                    .iter()
                    .filter(|n| self.store.node_ref(n).rrset(RecordType::NSEC).is_some())
                    .map(|n| full_key(&self.store, n).into_boxed_slice()),
            );
            nsec_order.sort_by(|a, b| canonical_cmp(a, b));
        }
        // RRsets growing in turn (records of two owners interleaved) move again and again; the
        // copies they leave behind would stay for the life of the zone.
        if self.moved > self.store.rdata.len() / 2 {
            self.store.compact_rdata();
        }
        if self.store.freeze().is_none() {
            return Err(IndexError::TooLarge {
                origin: self.origin_text,
                at: None,
            });
        }
        Ok(ZoneData {
            origin: self.origin,
            origin_key: self.origin_key,
            store: self.store,
            soa: soa_record,
            serial,
            stats: Arc::default(),
            negative_soa,
            has_cuts: self.has_cuts,
            record_count: self.record_count,
            signed: self.signed,
            nsec_order,
            nsec3: self.nsec3.finish(),
        })
    }
}

/// Appends one record's RDATA with its 16-bit length prefix to the arena; the offset of the
/// RDATA itself, or `None` past 32-bit offsets.
fn arena_append(arena: &mut Vec<u8>, len: u16, rdata: &[u8]) -> Option<u32> {
    let off = u32::try_from(arena.len() + 2).ok()?;
    u32::try_from(arena.len() + 2 + rdata.len()).ok()?;
    arena.extend_from_slice(&len.to_be_bytes());
    arena.extend_from_slice(rdata);
    Some(off)
}

/// One loaded zone.
#[derive(Debug)]
pub struct ZoneData {
    origin: Name,
    /// Lowercase wire form of the origin.
    origin_key: Box<[u8]>,
    store: Store,
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
    /// The NSEC3 chain of an NSEC3-signed zone (empty otherwise).
    nsec3: crate::dnssec::Nsec3Index,
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
        let nsec3 = self.nsec3.records().cloned();
        self.store
            .nodes
            .iter()
            .flat_map(|node| {
                let owner = name_from_wire(&self.full_key(node)).ok();
                self.store
                    .node_ref(node)
                    .rrsets()
                    .filter(|set| set.rtype != rtype::SOA)
                    .flat_map(move |set| {
                        owner
                            .as_ref()
                            .map(|o| set.records(o).collect::<Vec<_>>())
                            .unwrap_or_default()
                    })
            })
            .chain(nsec3)
    }

    /// Number of names, empty non-terminals included.
    #[must_use]
    pub fn name_count(&self) -> usize {
        self.store.nodes.len()
    }

    /// The lowercase wire form of a node's name.
    fn full_key(&self, node: &Node) -> Vec<u8> {
        let mut key = self.store.key(node).to_vec();
        key.extend_from_slice(&self.origin_key);
        key
    }

    /// The node of the name with lowercase wire form `key`.
    fn node(&self, key: &[u8]) -> Option<NodeRef<'_>> {
        // Names are stored relative to the origin. A stored name is whole labels, so matching
        // it and then the origin octet for octet matches the name label for label.
        let n = self.store.find(self.relative(key)?)?;
        let node = self.store.nodes.get(ix(n))?;
        Some(self.store.node_ref(node))
    }

    /// The name `key` (lowercase wire form) relative to the origin, if it is in this zone.
    fn relative<'k>(&self, key: &'k [u8]) -> Option<&'k [u8]> {
        let rel_len = key.len().checked_sub(self.origin_key.len())?;
        let (rel, origin) = key.split_at(rel_len);
        (origin == &*self.origin_key).then_some(rel)
    }

    /// Batched look-ups, first of three prefetch steps (the flat table of the module notes):
    /// starts loading the table slot of the name `key` (lowercase wire form) and returns its
    /// hash for [`Self::prefetch_node`]; `None` when [`Self::fast_lookup`] will not search this
    /// zone. Only a hint to the CPU's caches: no answer depends on it.
    #[must_use]
    pub fn prefetch_slot(&self, key: &[u8]) -> Option<u32> {
        if self.has_cuts || self.signed {
            return None;
        }
        let h = self.store.hash(self.relative(key)?);
        self.store.frozen.prefetch(h);
        Some(h)
    }

    /// Second step, once the slot is loaded: starts loading the first node whose hash is `h`
    /// (not compared with the name: a hint) and returns its number for [`Self::prefetch_data`];
    /// `None` when no node has that hash (a name that does not exist).
    #[must_use]
    pub fn prefetch_node(&self, h: u32) -> Option<u32> {
        let n = self.store.frozen.find(h, |_| true)?;
        prefetch_index::prefetch_index(&self.store.nodes, ix(n));
        Some(n)
    }

    /// Third step, once the node is loaded: starts loading its name and its first RRset.
    pub fn prefetch_data(&self, n: u32) {
        if let Some(node) = self.store.nodes.get(ix(n)) {
            prefetch_index::prefetch_index(&self.store.names, ix(node.key_off));
            if node.first_set != NONE {
                prefetch_index::prefetch_index(&self.store.sets, ix(node.first_set));
            }
        }
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

    /// An index of zones already built (e.g. streamed through [`ZoneBuilder`]), or shared with
    /// the index served now (a reload keeps a zone whose new version failed).
    ///
    /// # Errors
    /// [`IndexError::DuplicateZone`].
    pub fn from_zones<Z: Into<Arc<ZoneData>>>(
        zones: impl IntoIterator<Item = Z>,
    ) -> Result<Self, IndexError> {
        let mut map = HashMap::default();
        for data in zones {
            let data: Arc<ZoneData> = data.into();
            let key = data.origin_key.clone();
            let origin = data.origin.to_string();
            if map.insert(key, data).is_some() {
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

    /// The zone whose lowercase wire-form apex is `origin_key`, shared: a reload keeps serving
    /// it when its new version fails or (signed zones) did not change.
    #[must_use]
    pub fn zone_shared(&self, origin_key: &[u8]) -> Option<Arc<ZoneData>> {
        self.zones.get(origin_key).cloned()
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
    #[must_use]
    pub fn find_zone(&self, key: &[u8]) -> Option<&ZoneData> {
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
        // The owners answered so far: a CNAME back to one of them closes a loop, which ends the
        // chain there with each CNAME once (NSD, Knot and BIND send each once too; RFC 1034
        // §3.6.2 forbids loops, so repeating them helps nobody).
        let mut visited: Vec<Vec<u8>> = Vec::new();
        for _ in 0..=MAX_CNAME_CHAIN {
            let step = zone.step(&owner_key, &owner_name, qtype, &mut answer);
            visited.push(owner_key);
            match step {
                Step::Done => return answer,
                Step::Follow(target) => {
                    let target_key = lower_key(&target);
                    if visited.contains(&target_key) {
                        answer.kind = AnswerKind::PartialChain;
                        return answer;
                    }
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
        if let Some(node) = zone.node(key) {
            if let Some(set) = node.rrsets().find(|s| s.rtype == qtype) {
                return FastLookup::Positive {
                    zone,
                    rtype: set.rtype,
                    ttl: set.ttl,
                    count: set.count,
                    rdata: set.rdata,
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
            if let Some(node) = zone.node(encloser) {
                if node.has_wildcard_child() {
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
                // QNAME itself is at or below the cut: a referral (AA=0).
                answer.authoritative = false;
                answer.kind = AnswerKind::Referral;
            } else {
                // A CNAME (authoritative data, so AA stays set) led below a cut: RFC 1034
                // §4.3.2 step 3b after step 3a's restart, the CNAME chain plus the referral's NS
                // and glue (as NSD, Knot and BIND answer), so the client need not ask again.
                answer.kind = AnswerKind::PartialChain;
            }
            if let (Some(ns), Ok(cut_name)) = (cut.rrset(RecordType::NS), name_from_wire(cut_key)) {
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
                        // RFC 5155 §7.2.7: the NSEC3 of the cut, or with opt-out the closest
                        // provable encloser proof.
                        None if self.nsec3.is_active() => self.push_nsec3_nodata(cut_key, answer),
                        None => self.push_nsec_of(cut_key, answer),
                    }
                }
            }
            return Step::Done;
        }
        if let Some(node) = self.node(key) {
            return self.answer_node(node, qname, qtype, answer, false);
        }
        // Closest encloser (RFC 4592 §3.3.1): the longest existing ancestor.
        let mut encloser = parent(key);
        loop {
            if let Some(node) = self.node(encloser) {
                if node.has_wildcard_child() {
                    let mut wkey = Vec::with_capacity(encloser.len() + 2);
                    wkey.extend_from_slice(&WILDCARD_LABEL);
                    wkey.extend_from_slice(encloser);
                    if let Some(wild) = self.node(wkey.as_slice()) {
                        answer.wildcard = true;
                        if answer.dnssec_ok && self.nsec3.is_active() {
                            // RFC 5155 §7.2.6: the NSEC3 covering the next closer name; a
                            // wildcard NODATA (§7.2.5) also the NSEC3 of the closest encloser
                            // and that of the wildcard.
                            let next_closer = next_closer(key, encloser);
                            self.push_nsec3(self.nsec3.covering(next_closer), answer);
                            if wild.rrset(qtype).is_none()
                                && wild.rrset(RecordType::CNAME).is_none()
                            {
                                self.push_nsec3(self.nsec3.matching(encloser), answer);
                                self.push_nsec3(self.nsec3.matching(&wkey), answer);
                            }
                        } else if answer.dnssec_ok {
                            // RFC 4035 §3.1.3.3/§3.1.3.4: prove QNAME itself does not exist;
                            // a wildcard NODATA also gets the wildcard's NSEC (below).
                            self.push_covering_nsec(key, answer);
                            if wild.rrset(qtype).is_none()
                                && wild.rrset(RecordType::CNAME).is_none()
                            {
                                self.push_nsec_of(&wkey, answer);
                            }
                        }
                        return self.answer_node(wild, qname, qtype, answer, true);
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
        if answer.dnssec_ok && self.nsec3.is_active() {
            // RFC 5155 §7.2.2: the closest encloser proof and the NSEC3 covering the wildcard
            // at the closest encloser.
            let ce = self.push_nsec3_encloser_proof(key, answer);
            let mut wkey = Vec::with_capacity(ce.len() + 2);
            wkey.extend_from_slice(&WILDCARD_LABEL);
            wkey.extend_from_slice(ce);
            self.push_nsec3(self.nsec3.covering(&wkey), answer);
        } else if answer.dnssec_ok {
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

    /// Answers from `node` with `owner` as owner name (QNAME for a wildcard, RFC 4592 §3.4.3);
    /// `synthesized`: `node` is the wildcard that matched `owner` in this step (not an earlier
    /// step of a CNAME chain).
    fn answer_node<'z>(
        &'z self,
        node: NodeRef<'z>,
        owner: &Name,
        qtype: RecordType,
        answer: &mut Answer<'z>,
        synthesized: bool,
    ) -> Step {
        let push_one = |set: SetRef<'z>, answer: &mut Answer<'z>| {
            answer.size_bound +=
                set.rdata_len() + usize::from(set.count) * (owner.len() + RR_FIXED);
            answer.answers.extend(set.records(owner));
        };
        // With DO=1 each RRset brings its RRSIGs (RFC 4035 §3.1.1); a wildcard's RRSIGs keep
        // their label count, which tells the validator the answer was synthesized.
        let push = |set: SetRef<'z>, answer: &mut Answer<'z>| {
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
        if qtype == RecordType::ANY && !node.is_empty() {
            let lowest = |dnssec: bool| {
                node.rrsets()
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
            for set in node.rrsets().filter(|s| s.rtype == rtype::RRSIG) {
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
        // A wildcard NODATA got the wildcard's NSEC in `step` (RFC 4035 §3.1.3.4). A NODATA at
        // the target of a CNAME needs the target's own NSEC even when a wildcard synthesized the
        // CNAME (RFC 4035 §3.1.3.1 with §3.1.3.3: each proof for the name it concerns).
        if answer.dnssec_ok && !synthesized {
            // RFC 4035 §3.1.3.1: the NSEC at QNAME shows the type is absent; an empty
            // non-terminal has no NSEC, and the NSEC covering it shows nothing is there.
            let key = lower_key(owner);
            if self.nsec3.is_active() {
                // RFC 5155 §7.2.3/§7.2.4: the NSEC3 of QNAME (an empty non-terminal has one
                // too), or for DS at an opt-out delegation the closest provable encloser proof.
                self.push_nsec3_nodata(&key, answer);
            } else if node.rrset(RecordType::NSEC).is_some() {
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
            && let Some(apex) = self.node(&self.origin_key)
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
    fn push_authority_set(
        &self,
        node: NodeRef<'_>,
        set: SetRef<'_>,
        owner: &Name,
        answer: &mut Answer<'_>,
    ) {
        for s in std::iter::once(set).chain(node.rrsigs(set.rtype)) {
            answer.size_bound += s.rdata_len() + usize::from(s.count) * (owner.len() + RR_FIXED);
            answer.authorities.extend(s.records(owner).map(Cow::Owned));
        }
    }

    /// The NSEC RRset at `key` and its RRSIG into the authority section, once.
    fn push_nsec_of(&self, key: &[u8], answer: &mut Answer<'_>) {
        let Some(node) = self.node(key) else {
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

    /// An NSEC3 with its RRSIGs into the authority section, once.
    fn push_nsec3<'z>(&'z self, found: Option<(&'z [Record], usize)>, answer: &mut Answer<'z>) {
        let Some((records, size)) = found else {
            return;
        };
        let Some(first) = records.first() else {
            return;
        };
        if answer
            .authorities
            .iter()
            .any(|r| r.name == first.name && r.record_type() == first.record_type())
        {
            return;
        }
        answer.size_bound += size;
        answer.authorities.extend(records.iter().map(Cow::Borrowed));
    }

    /// The NSEC3 matching `key`, or when there is none (a delegation left out by opt-out) the
    /// closest provable encloser proof (RFC 5155 §7.2.3, §7.2.4, §7.2.7).
    fn push_nsec3_nodata<'z>(&'z self, key: &[u8], answer: &mut Answer<'z>) {
        match self.nsec3.matching(key) {
            Some(found) => self.push_nsec3(Some(found), answer),
            None => {
                self.push_nsec3_encloser_proof(key, answer);
            }
        }
    }

    /// The closest (provable) encloser proof of `key` (RFC 5155 §7.2.1): the NSEC3 of the
    /// longest ancestor that has one, and the NSEC3 covering the next closer name. Returns the
    /// encloser (the apex when nothing closer has an NSEC3).
    fn push_nsec3_encloser_proof<'z, 'k>(
        &'z self,
        key: &'k [u8],
        answer: &mut Answer<'z>,
    ) -> &'k [u8] {
        let mut child = key;
        while child.len() > self.origin_key.len() {
            let up = parent(child);
            if let Some(found) = self.nsec3.matching(up) {
                self.push_nsec3(Some(found), answer);
                self.push_nsec3(self.nsec3.covering(child), answer);
                return up;
            }
            child = up;
        }
        child
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
    fn cut_above<'k>(&self, key: &'k [u8], qtype: RecordType) -> Option<(&'k [u8], NodeRef<'_>)> {
        let mut offsets = Vec::with_capacity(8);
        let mut at = 0usize;
        while key.len() - at > self.origin_key.len() {
            offsets.push(at);
            at += 1 + usize::from(key[at]);
        }
        for (i, &off) in offsets.iter().enumerate().rev() {
            // No deeper name exists under a missing one (ancestors are always present).
            let node = self.node(&key[off..])?;
            if node.is_cut() {
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
            if let Some(node) = self.node(key.as_slice()) {
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

/// The next closer name of `key` (RFC 5155 §1.3): its ancestor one label longer than the
/// closest encloser `encloser` (a suffix of `key`).
fn next_closer<'k>(key: &'k [u8], encloser: &[u8]) -> &'k [u8] {
    let mut at = key;
    while at.len() > encloser.len() {
        let up = parent(at);
        if up.len() <= encloser.len() {
            return at;
        }
        at = up;
    }
    at
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
    // hickory reads type 65305 as its ANAME draft, but the number is in the private-use range
    // (65280-65534, RFC 6895 §3.1): its RDATA is opaque, read as unknown data like its
    // neighbours (BIND's test zones carry `TYPE65305 \# 0`, which peers load).
    let t = match t {
        RecordType::ANAME => RecordType::Unknown(u16::from(t)),
        t => t,
    };
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
        // x.w exists (PTR): NODATA, not the wildcard NAPTR (docs/decisions.md, A13, RFC 4592 §2.2.1).
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
        // Each CNAME of the loop once, in chain order (as NSD, Knot and BIND answer).
        assert_eq!(
            owners(&a),
            [
                ("13.2.0.192.in-addr.arpa.".to_owned(), RecordType::CNAME),
                ("14.2.0.192.in-addr.arpa.".to_owned(), RecordType::CNAME),
            ]
        );
        let a = idx.lookup(&n("16.2.0.192.in-addr.arpa."), RecordType::NAPTR);
        assert_eq!((a.kind, a.answers.len()), (AnswerKind::PartialChain, 1));
        // A CNAME to itself, and a longer chain that ends in a loop (17 -> 18 -> 19 -> 18).
        let text = format!("{REVERSE}self CNAME self\n17 CNAME 18\n18 CNAME 19\n19 CNAME 18\n");
        let idx = ZoneIndex::build(&[zone_from_text("2.0.192.in-addr.arpa.", &text)]).unwrap();
        let a = idx.lookup(&n("self.2.0.192.in-addr.arpa."), RecordType::A);
        assert_eq!((a.kind, a.answers.len()), (AnswerKind::PartialChain, 1));
        let a = idx.lookup(&n("17.2.0.192.in-addr.arpa."), RecordType::A);
        let names: Vec<String> = owners(&a).into_iter().map(|(o, _)| o).collect();
        assert_eq!(
            names,
            [
                "17.2.0.192.in-addr.arpa.",
                "18.2.0.192.in-addr.arpa.",
                "19.2.0.192.in-addr.arpa."
            ]
        );
    }

    #[test]
    fn cname_into_a_delegation_adds_the_referral() {
        // RFC 1034 §4.3.2 step 3b after a CNAME: the CNAME (AA=1, it is our data), the child's
        // NS in authority and its glue in additional.
        let text = format!("{REVERSE}17 CNAME www.sub\n");
        let idx = ZoneIndex::build(&[zone_from_text("2.0.192.in-addr.arpa.", &text)]).unwrap();
        let a = idx.lookup(&n("17.2.0.192.in-addr.arpa."), RecordType::A);
        assert_eq!(
            (a.rcode, a.authoritative, a.kind),
            (ResponseCode::NoError, true, AnswerKind::PartialChain)
        );
        assert_eq!(
            owners(&a),
            [("17.2.0.192.in-addr.arpa.".to_owned(), RecordType::CNAME)]
        );
        let auth: Vec<_> = a
            .authorities
            .iter()
            .map(|r| (r.name.to_ascii(), r.record_type()))
            .collect();
        assert_eq!(
            auth,
            [("sub.2.0.192.in-addr.arpa.".to_owned(), RecordType::NS)]
        );
        assert_eq!(a.additionals.len(), 1);
        assert_eq!(a.additionals[0].name, n("ns.sub.2.0.192.in-addr.arpa."));
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

    fn nsec3_index(opt_out: bool) -> ZoneIndex {
        use crate::dnssec::{Denial, Nsec3Params, SigningPolicy, ZoneKeys, sign_zone_with};
        let zone = zone_from_text("2.0.192.in-addr.arpa.", REVERSE);
        let denial = Denial::Nsec3(Nsec3Params {
            opt_out,
            ..Nsec3Params::default()
        });
        let signed = sign_zone_with(
            &zone,
            &ZoneKeys::generate().unwrap(),
            &SigningPolicy::default(),
            &denial,
            std::time::SystemTime::now(),
        )
        .unwrap();
        ZoneIndex::build(&[signed]).unwrap()
    }

    /// The NSEC3 records of the authority section, checked against hashes computed by hickory
    /// (independent of the signer's and the index's hashing): which names each one matches or
    /// covers (RFC 5155 §1.3, §3.1.7).
    struct Nsec3Proof(Vec<(Vec<u8>, hickory_proto::dnssec::rdata::NSEC3)>);
    impl Nsec3Proof {
        fn of(a: &Answer<'_>) -> Self {
            use hickory_proto::dnssec::rdata::DNSSECRData;
            let mut v = Vec::new();
            for r in &a.authorities {
                if let RData::DNSSEC(DNSSECRData::NSEC3(n3)) = &r.data {
                    let label = r.name.iter().next().unwrap().to_ascii_lowercase();
                    let hash = data_encoding::BASE32_DNSSEC.decode(&label).unwrap();
                    // Each NSEC3 comes with its RRSIG.
                    assert!(
                        a.authorities
                            .iter()
                            .any(|s| s.name == r.name && s.record_type() == RecordType::RRSIG),
                        "{}",
                        r.name
                    );
                    v.push((hash, n3.clone()));
                }
            }
            Self(v)
        }
        fn hash(name: &str) -> Vec<u8> {
            hickory_proto::dnssec::Nsec3HashAlgorithm::SHA1
                .hash(&[], &n(name), 0)
                .unwrap()
                .as_ref()
                .to_vec()
        }
        fn matching(&self, name: &str) -> Option<&hickory_proto::dnssec::rdata::NSEC3> {
            let h = Self::hash(name);
            self.0.iter().find(|(o, _)| *o == h).map(|(_, r)| r)
        }
        fn covers(&self, name: &str) -> bool {
            let h = Self::hash(name);
            self.0.iter().any(|(o, r)| {
                let next = r.next_hashed_owner_name();
                if o.as_slice() < next {
                    o < &h && h.as_slice() < next
                } else {
                    o < &h || h.as_slice() < next
                }
            })
        }
    }

    #[test]
    fn nsec3_negative_answers_carry_rfc5155_proofs() {
        let idx = nsec3_index(false);
        let z = ".2.0.192.in-addr.arpa.";
        let apex = "2.0.192.in-addr.arpa.";
        // NXDOMAIN (RFC 5155 §7.2.2): closest encloser (apex) matched, next closer and the
        // wildcard at the closest encloser covered; no NSEC.
        let a = idx.lookup_dnssec(&n(&format!("11{z}")), RecordType::NAPTR, true);
        assert_eq!(a.rcode, ResponseCode::NXDomain);
        let p = Nsec3Proof::of(&a);
        assert!(p.matching(apex).is_some());
        assert!(p.covers(&format!("11{z}")));
        assert!(p.covers(&format!("*{z}")));
        assert!(p.0.len() <= 3);
        assert!(
            a.authorities
                .iter()
                .all(|r| r.record_type() != RecordType::NSEC)
        );
        // Deeper: closest encloser x.w, next closer y.x.w.
        let a = idx.lookup_dnssec(&n(&format!("z.y.x.w{z}")), RecordType::NAPTR, true);
        assert_eq!(a.rcode, ResponseCode::NXDomain);
        let p = Nsec3Proof::of(&a);
        assert!(p.matching(&format!("x.w{z}")).is_some());
        assert!(p.covers(&format!("y.x.w{z}")));
        assert!(p.covers(&format!("*.x.w{z}")));
        // NODATA (§7.2.3): the NSEC3 of QNAME, whose bitmap lacks the type.
        let a = idx.lookup_dnssec(&n(&format!("10{z}")), RecordType::TXT, true);
        assert_eq!(a.kind, AnswerKind::NoData);
        let p = Nsec3Proof::of(&a);
        let m = p.matching(&format!("10{z}")).unwrap();
        let types: Vec<RecordType> = m.type_bit_maps().collect();
        assert!(types.contains(&RecordType::NAPTR) && !types.contains(&RecordType::TXT));
        assert_eq!(p.0.len(), 1);
        // Empty non-terminal: its own NSEC3, with an empty bitmap (RFC 5155 §7.1).
        let a = idx.lookup_dnssec(&n(&format!("b.c{z}")), RecordType::NAPTR, true);
        assert_eq!(a.kind, AnswerKind::NoData);
        let p = Nsec3Proof::of(&a);
        let m = p.matching(&format!("b.c{z}")).unwrap();
        assert_eq!(m.type_bit_maps().count(), 0);
        // Wildcard answer (§7.2.6): the NSEC3 covering the next closer name only.
        let a = idx.lookup_dnssec(&n(&format!("y.w{z}")), RecordType::NAPTR, true);
        assert_eq!((a.kind, a.wildcard), (AnswerKind::Positive, true));
        let p = Nsec3Proof::of(&a);
        assert!(p.covers(&format!("y.w{z}")));
        assert_eq!(p.0.len(), 1);
        // Wildcard NODATA (§7.2.5): closest encloser w matched, next closer covered, the
        // wildcard matched.
        let a = idx.lookup_dnssec(&n(&format!("q.y.w{z}")), RecordType::TXT, true);
        assert_eq!(a.kind, AnswerKind::NoData);
        let p = Nsec3Proof::of(&a);
        assert!(p.matching(&format!("w{z}")).is_some());
        assert!(p.covers(&format!("y.w{z}")));
        assert!(p.matching(&format!("*.w{z}")).is_some());
        // Referral to an unsigned delegation (§7.2.7): the NSEC3 of the cut, NS without DS.
        let a = idx.lookup_dnssec(&n(&format!("h.sub{z}")), RecordType::NAPTR, true);
        assert_eq!(a.kind, AnswerKind::Referral);
        let p = Nsec3Proof::of(&a);
        let m = p.matching(&format!("sub{z}")).unwrap();
        let types: Vec<RecordType> = m.type_bit_maps().collect();
        assert!(types.contains(&RecordType::NS) && !types.contains(&RecordType::DS));
        assert!(!m.opt_out());
        // An NSEC3 owner name is no name of the zone (RFC 5155 §7.2.8).
        let owner = p.0[0].0.clone();
        let hashed = format!("{}{z}", data_encoding::BASE32_DNSSEC.encode(&owner));
        let a = idx.lookup_dnssec(&n(&hashed), RecordType::NSEC3, true);
        assert_eq!(a.rcode, ResponseCode::NXDomain);
        // Without DO nothing of it.
        let a = idx.lookup(&n(&format!("11{z}")), RecordType::NAPTR);
        assert!(Nsec3Proof::of(&a).0.is_empty());
        // A zone transfer carries the whole chain: one NSEC3 per name.
        let zone = idx.zones().next().unwrap();
        let count = zone
            .transfer_records()
            .filter(|r| r.record_type() == RecordType::NSEC3)
            .count();
        // apex 10 a.b.c b.c c *.w w x.w 12 12.0-25 0-25 13 14 15 16 sub: 16 names.
        assert_eq!(count, 16);
    }

    #[test]
    fn nsec3_opt_out_proves_unsigned_delegations_by_the_closest_provable_encloser() {
        let idx = nsec3_index(true);
        let z = ".2.0.192.in-addr.arpa.";
        let a = idx.lookup_dnssec(&n(&format!("h.sub{z}")), RecordType::NAPTR, true);
        assert_eq!(a.kind, AnswerKind::Referral);
        let p = Nsec3Proof::of(&a);
        assert!(p.matching(&format!("sub{z}")).is_none());
        assert!(p.matching("2.0.192.in-addr.arpa.").is_some());
        assert!(p.covers(&format!("sub{z}")));
        assert!(p.0.iter().all(|(_, r)| r.opt_out()));
        // DS at the opted-out cut: NODATA by the same proof (§7.2.4).
        let a = idx.lookup_dnssec(&n(&format!("sub{z}")), RecordType::DS, true);
        assert_eq!(a.kind, AnswerKind::NoData);
        assert!(Nsec3Proof::of(&a).covers(&format!("sub{z}")));
        let count = idx
            .zones()
            .next()
            .unwrap()
            .transfer_records()
            .filter(|r| r.record_type() == RecordType::NSEC3)
            .count();
        assert_eq!(count, 15, "no NSEC3 for the unsigned delegation");
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
    fn signed_wildcard_cname_to_nodata_proves_the_target_lacks_the_type() {
        // `*.v` is a CNAME to 10 (NAPTR and PTR, no TXT). y.v TXT: the synthesized CNAME, the NSEC
        // proving y.v does not exist (RFC 4035 §3.1.3.3), and the NSEC at 10 proving TXT is
        // absent there (RFC 4035 §3.1.3.1); NSD, Knot and BIND send both.
        use crate::dnssec::{SigningPolicy, ZoneKeys, sign_zone};
        let text = format!("{REVERSE}*.v CNAME 10\n");
        let zone = zone_from_text("2.0.192.in-addr.arpa.", &text);
        let keys = ZoneKeys::generate().unwrap();
        let signed = sign_zone(
            &zone,
            &keys,
            &SigningPolicy::default(),
            std::time::SystemTime::now(),
        )
        .unwrap();
        let idx = ZoneIndex::build(&[signed]).unwrap();
        let a = idx.lookup_dnssec(&n("y.v.2.0.192.in-addr.arpa."), RecordType::TXT, true);
        assert_eq!(
            (a.rcode, a.kind),
            (ResponseCode::NoError, AnswerKind::NoData)
        );
        assert_eq!(
            ans(&a),
            [o("y.v", RecordType::CNAME), o("y.v", RecordType::RRSIG)]
        );
        let nsecs: Vec<_> = auth(&a)
            .into_iter()
            .filter(|(_, t)| *t == RecordType::NSEC)
            .collect();
        // 10's own NSEC, and the one covering y.v (the NSEC of `*.v`, which sorts before y.v).
        assert_eq!(
            nsecs,
            [o("*.v", RecordType::NSEC), o("10", RecordType::NSEC)]
        );
        // Without the wildcard in between, the same NODATA proof.
        let a = idx.lookup_dnssec(&n("10.2.0.192.in-addr.arpa."), RecordType::TXT, true);
        assert!(auth(&a).contains(&o("10", RecordType::NSEC)));
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

    #[test]
    fn frozen_table_finds_every_entry_through_equal_hashes_and_wraparound() {
        // Every search starts in the last two slots of the table and wraps to its start; half
        // the entries share one hash, so only the node test tells them apart.
        let entries: Vec<(u32, u32)> = (0..12u32)
            .map(|n| (if n % 2 == 0 { 31 } else { 30 | (n << 8) }, n))
            .collect();
        let table = Frozen::new(entries.len(), entries.iter().copied()).unwrap();
        assert_eq!(table.slots.len(), 32, "at most three quarters full");
        for &(h, n) in &entries {
            assert_eq!(table.find(h, |m| m == n), Some(n));
        }
        assert_eq!(
            table.find(31, |_| true),
            Some(0),
            "the first in probe order"
        );
        assert_eq!(table.find(31, |_| false), None);
        assert_eq!(table.find(29, |_| true), None, "a hash no entry has");
        assert_eq!(Frozen::default().find(1, |_| true), None);
        assert_eq!(
            Frozen::new(0, std::iter::empty())
                .unwrap()
                .find(1, |_| true),
            None
        );
        assert!(Frozen::new(1, std::iter::once((1, NONE))).is_none());
    }

    #[test]
    fn prefetch_steps_reach_the_node_of_every_name() {
        let mut text = String::from("@ 60 SOA a. b. 1 2 3 4 60\n");
        for i in 0..64 {
            for j in 0..64 {
                text.push_str(&format!("{j}.{i} 60 TXT \"{i}.{j}\"\n"));
            }
        }
        let idx = ZoneIndex::build(&[zone_from_text("10.in-addr.arpa.", &text)]).unwrap();
        let zone = idx.zones().next().unwrap();
        let key = |name: &str| n(name).to_lowercase().to_bytes().unwrap();
        for i in 0..64 {
            for j in 0..64 {
                let k = key(&format!("{j}.{i}.10.in-addr.arpa."));
                let h = zone.prefetch_slot(&k).unwrap();
                let node = zone.prefetch_node(h).unwrap();
                zone.prefetch_data(node);
                assert!(matches!(
                    zone.fast_lookup(&k, 16),
                    FastLookup::Positive { count: 1, .. }
                ));
            }
        }
        // A name of another zone is not searched here; a missing name has no node (a candidate
        // would be another name with the same 32-bit hash, about one chance in a million).
        assert_eq!(zone.prefetch_slot(&key("1.2.11.in-addr.arpa.")), None);
        let missing = key("99.1.10.in-addr.arpa.");
        let h = zone.prefetch_slot(&missing).unwrap();
        let rel = zone.relative(&missing).unwrap();
        assert!(
            zone.prefetch_node(h)
                .is_none_or(|node| zone.store.key_of(node) != rel)
        );
        assert!(matches!(
            zone.fast_lookup(&missing, 16),
            FastLookup::Negative { nxdomain: true, .. }
        ));
    }

    /// One record from one zone-file line (`origin` for relative names).
    fn one(origin: &str, line: &str) -> ZoneRecord {
        let mut z = zone_from_text(origin, line);
        assert_eq!(z.records.len(), 1, "{line}");
        z.records.remove(0)
    }

    fn answer_text(idx: &ZoneIndex, qname: &str, qtype: RecordType) -> Vec<String> {
        idx.lookup(&n(qname), qtype)
            .answers
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// Records added one by one, in the given order.
    fn build_in_order(origin: &str, records: &[ZoneRecord]) -> Result<ZoneIndex, IndexError> {
        let mut builder = ZoneBuilder::new(&DomainName::parse(origin).unwrap())?;
        for r in records {
            builder.add(r)?;
        }
        ZoneIndex::from_zones(vec![builder.finish()?])
    }

    #[test]
    fn rrsets_sharing_rdata_grow_apart() {
        // RRsets of one RDATA share its bytes; one that grows afterwards moves to the end of the
        // arena and leaves the others as they were. An RRset keeps its first record's TTL and
        // its records' order; a duplicate record is dropped (RFC 2181 §5, §5.2).
        let o = "example.";
        let x = "NAPTR 1 1 \"u\" \"ALTO:https\" \"!.*!https://x.example/!\" .";
        let y = "NAPTR 2 1 \"u\" \"ALTO:https\" \"!.*!https://y.example/!\" .";
        let z = "NAPTR 3 1 \"u\" \"ALTO:https\" \"!.*!https://z.example/!\" .";
        let records = [
            one(o, "@ 60 SOA a. b. 1 2 3 4 5"),
            one(o, &format!("a 60 {x}")),
            one(o, &format!("b 120 {x}")),
            one(o, &format!("a 60 {y}")),
            one(o, &format!("b 120 {x}")),
            one(o, &format!("c 180 {x}")),
            one(o, &format!("b 999 {z}")),
            one(o, "a 60 PTR p.example."),
            one(o, &format!("a 60 {x}")),
        ];
        let idx = build_in_order(o, &records).unwrap();
        assert_eq!(idx.record_count(), 7);
        let a = answer_text(&idx, "a.example.", RecordType::NAPTR);
        assert_eq!(a.len(), 2);
        assert!(
            a[0].contains("x.example") && a[1].contains("y.example"),
            "{a:?}"
        );
        assert!(a.iter().all(|r| r.contains(" 60 ")), "{a:?}");
        let b = answer_text(&idx, "b.example.", RecordType::NAPTR);
        assert_eq!(b.len(), 2);
        assert!(
            b[0].contains("x.example") && b[1].contains("z.example"),
            "{b:?}"
        );
        assert!(b.iter().all(|r| r.contains(" 120 ")), "{b:?}");
        let c = answer_text(&idx, "c.example.", RecordType::NAPTR);
        assert_eq!(c.len(), 1);
        assert!(
            c[0].contains("x.example") && c[0].contains(" 180 "),
            "{c:?}"
        );
        assert_eq!(answer_text(&idx, "a.example.", RecordType::PTR).len(), 1);
        // The fast path reads the same bytes: RDLENGTH + RDATA per record.
        let zone = idx.zones().next().unwrap();
        let FastLookup::Positive { count, rdata, .. } =
            idx.fast_lookup(zone.origin_key(), u16::from(RecordType::SOA))
        else {
            panic!("SOA at the apex");
        };
        assert_eq!((count, rdata.len()), (1, 2 + 3 + 3 + 20));
        let key = lower_key(&n("b.example."));
        let FastLookup::Positive { count, rdata, .. } =
            idx.fast_lookup(&key, u16::from(RecordType::NAPTR))
        else {
            panic!("b has NAPTR");
        };
        assert_eq!(count, 2);
        assert_eq!(
            rdata,
            [records[2].rdata.as_slice(), records[6].rdata.as_slice()]
                .iter()
                .flat_map(|d| {
                    let mut v = u16::try_from(d.len()).unwrap().to_be_bytes().to_vec();
                    v.extend_from_slice(d);
                    v
                })
                .collect::<Vec<u8>>()
        );
    }

    #[test]
    fn record_order_does_not_change_answers() {
        let zone = zone_from_text("2.0.192.in-addr.arpa.", REVERSE);
        let mut reversed = zone.records.clone();
        reversed.reverse();
        let a = ZoneIndex::build(&[zone]).unwrap();
        let b = build_in_order("2.0.192.in-addr.arpa.", &reversed).unwrap();
        assert_eq!(a.record_count(), b.record_count());
        let (za, zb) = (a.zones().next().unwrap(), b.zones().next().unwrap());
        assert_eq!(za.name_count(), zb.name_count());
        for q in [
            "2.0.192.in-addr.arpa.",
            "10.2.0.192.in-addr.arpa.",
            "11.2.0.192.in-addr.arpa.",
            "a.b.c.2.0.192.in-addr.arpa.",
            "b.c.2.0.192.in-addr.arpa.",
            "y.w.2.0.192.in-addr.arpa.",
            "x.w.2.0.192.in-addr.arpa.",
            "12.2.0.192.in-addr.arpa.",
            "13.2.0.192.in-addr.arpa.",
            "h.sub.2.0.192.in-addr.arpa.",
            "sub.2.0.192.in-addr.arpa.",
        ] {
            for t in [
                RecordType::NAPTR,
                RecordType::PTR,
                RecordType::SOA,
                RecordType::NS,
                RecordType::CNAME,
                RecordType::DS,
            ] {
                let (x, y) = (a.lookup(&n(q), t), b.lookup(&n(q), t));
                assert_eq!(
                    (x.rcode, x.kind, x.wildcard, x.authoritative),
                    (y.rcode, y.kind, y.wildcard, y.authoritative),
                    "{q} {t}"
                );
                assert_eq!(answer_text(&a, q, t), answer_text(&b, q, t), "{q} {t}");
            }
        }
    }

    #[test]
    fn checked_rdata_is_remembered_per_type_and_bounded() {
        let o = "example.";
        let mut records = vec![one(o, "@ 60 SOA a. b. 1 2 3 4 5")];
        // More distinct RDATA than the cache holds: it is cleared and refilled on the way.
        for i in 0..CHECKED_RDATA_MAX + 10 {
            records.push(one(o, &format!("n{i} 60 TXT \"t{i}\"")));
        }
        records.push(one(o, "again 60 TXT \"t0\""));
        let idx = build_in_order(o, &records).unwrap();
        assert_eq!(idx.record_count(), CHECKED_RDATA_MAX + 12);
        assert_eq!(
            answer_text(&idx, "again.example.", RecordType::TXT).len(),
            1
        );
        // The same octets are good TXT but bad A (5 octets): the cache does not mix types.
        let txt = one(o, "x 60 TXT \"abcd\"");
        let mut a = txt.clone();
        a.rtype = rtype::A;
        let err = build_in_order(o, &[records[0].clone(), txt, a]).unwrap_err();
        assert!(
            matches!(
                err,
                IndexError::Rdata {
                    rtype: rtype::A,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn flags_and_checks_do_not_depend_on_record_order() {
        let o = "example.";
        let soa = one(o, "@ 60 SOA a. b. 1 2 3 4 5");
        // A wildcard added after a sibling (its parent found without a look-up) still makes
        // its parent a source of synthesis; NS added after a name below it still makes a cut.
        let idx = build_in_order(
            o,
            &[
                soa.clone(),
                one(o, "x.w 60 TXT \"x\""),
                one(o, "*.w 60 TXT \"w\""),
                one(o, "a.sub 60 A 192.0.2.1"),
                one(o, "sub 60 NS a.sub.example."),
            ],
        )
        .unwrap();
        let a = idx.lookup(&n("y.w.example."), RecordType::TXT);
        assert_eq!((a.kind, a.wildcard), (AnswerKind::Positive, true));
        let a = idx.lookup(&n("q.sub.example."), RecordType::TXT);
        assert_eq!(a.kind, AnswerKind::Referral);
        assert_eq!(a.additionals.len(), 1, "glue");
        // CNAME and other data, whichever comes first; the position is the CNAME's.
        let mut cname = one(o, "x 60 CNAME y.example.");
        cname.position = Some(Position {
            file: "z".into(),
            line: 7,
            column: 1,
        });
        let err = build_in_order(o, &[soa, one(o, "x 60 TXT \"t\""), cname]).unwrap_err();
        assert_eq!(
            err,
            IndexError::CnameAndOtherData {
                owner: "x.example.".to_owned(),
                at: Some(Position {
                    file: "z".into(),
                    line: 7,
                    column: 1
                })
            }
        );
    }

    #[test]
    fn interleaved_rrsets_leave_no_copies_behind() {
        // Two owners' records in turn: each RRset moves to the end of the arena to grow, every
        // time; finishing copies back only what the RRsets use.
        let o = "example.";
        let mut records = vec![one(o, "@ 60 SOA a. b. 1 2 3 4 5")];
        for i in 0..300 {
            records.push(one(o, &format!("a 60 TXT \"a{i:03}\"")));
            records.push(one(o, &format!("b 60 TXT \"b{i:03}\"")));
        }
        // A third owner sharing the first record of `a` (whose bytes moved many times since).
        records.push(one(o, "c 60 TXT \"a000\""));
        let idx = build_in_order(o, &records).unwrap();
        let zone = idx.zones().next().unwrap();
        let used: usize = records.iter().map(|r| 2 + r.rdata.len()).sum();
        assert!(
            zone.store.rdata.len() <= used,
            "{} > {used}",
            zone.store.rdata.len()
        );
        for (owner, prefix) in [("a.example.", "a"), ("b.example.", "b")] {
            let got = answer_text(&idx, owner, RecordType::TXT);
            assert_eq!(got.len(), 300);
            for (i, r) in got.iter().enumerate() {
                assert!(r.contains(&format!("{prefix}{i:03}")), "{r}");
            }
        }
        let c = answer_text(&idx, "c.example.", RecordType::TXT);
        assert!(c.len() == 1 && c[0].contains("a000"), "{c:?}");
    }
}
