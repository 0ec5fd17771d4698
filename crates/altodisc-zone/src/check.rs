//! The checker: docs/checker-rules.md rules over loaded zones, with the exact position of each finding.
//!
//! ```text
//!   load_file / load_zone ──▶ per-record rules (Z3–Z11, Z14, Z23) while streaming
//!                         └─▶ compact ZoneSet: owner names and kept RDATA in arenas
//!                             (crate::store), 32 octets per record
//!   finish ──▶ per-owner / per-zone rules (Z12, Z13, Z15–Z20b, Z22) ──▶ sorted diagnostics
//!   replay (crate::replay) uses the same ZoneSet for Z21 / Z24
//! ```
//!
//! Scope decisions (documented so that findings are predictable):
//! * Z3, Z4 and Z8 apply to every NAPTR record; Z5–Z11, Z12, Z13, Z14, Z19 and Z23 apply to
//!   *ALTO* records (service tag `ALTO`, case-insensitive), because other NAPTR applications
//!   (ENUM, SIP, LIS) legitimately use other REGEXP shapes.
//! * All selection logic is `altodisc_proto::select::classify` / `select` — the same functions the
//!   resolver runs — so "the checker says usable" and "the client uses it" cannot drift apart.
//! * Z20b checks RRSIG presence and validity period over NAPTR RRsets, and for zone files with a
//!   DNSKEY, when asked ([`Checker::set_verify_dnssec`], which `altodisc check` does unless
//!   `--no-verify-dnssec`), verifies every signature and the NSEC/NSEC3 chain
//!   ([`crate::dnssec_verify`]).
//! * Z17 names the first three sibling owners in source order (it used to take them in hash-table
//!   order, which changed with the other zones loaded beside).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use altodisc_proto::regexp::{RegexpMode, UnaptrRegexpError, extract_unaptr_uri};
use altodisc_proto::service::{ServiceParamError, ServiceParameter, WantedService};
use altodisc_proto::uri::{UriError, check_uri, check_uri_for_protocol};
use altodisc_proto::walk::{NameAnswer, UnaptrWalk, WalkOptions, WalkStatus, WalkStep};
use altodisc_proto::{DomainName, NaptrRecord};

use crate::diag::{Diagnostic, Severity};
use crate::reader::{
    ReadOptions, ZoneReadError, stream_zone_file_with, stream_zone_str, type_name,
};
use crate::record::{CLASS_IN, Position, Zone, ZoneRecord, rtype};
use crate::rules::Rule;
use crate::store::{NO_RDATA, NameTable, RdataStore, hash_bytes};

/// Longest non-terminal chain a client follows (docs/decisions.md, resolver): the walk's own cap.
pub const MAX_DEPTH: usize = altodisc_proto::walk::DEFAULT_MAX_DEPTH;
/// Longest CNAME chain followed.
pub const MAX_CNAME_CHAIN: usize = 8;

/// Options for a check run.
#[derive(Debug, Clone, Copy)]
pub struct CheckOptions {
    /// "Now", in seconds since the epoch, for RRSIG validity (Z20b). Passed in, not read from a
    /// clock, so results are reproducible.
    pub now_unix: u64,
}

impl Default for CheckOptions {
    fn default() -> Self {
        let now_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self { now_unix }
    }
}

/// A compact position: file index, line, column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CPos {
    file: u32,
    line: u32,
    column: u32,
}

/// One stored record (compact: the checker keeps a million of them, 32 octets each).
#[derive(Debug)]
pub(crate) struct Rec {
    pub(crate) owner: u32,
    /// Id in the set's [`RdataStore`] ([`NO_RDATA`] for types whose RDATA is not kept).
    rdata: u32,
    pos: CPos,
    /// Columns of the NAPTR ORDER field (for Z19) and of the NAPTR REPLACEMENT field or the
    /// CNAME RDATA (for Z12/Z13/Z16), both on the line of `pos` (the usual case); with
    /// [`REC_FAR`], `order_col` is instead an index into [`ZoneSet::far`].
    order_col: u32,
    target_col: u32,
    pub(crate) rtype: u16,
    flags: u8,
}

/// [`Rec::flags`]: a NAPTR record whose service tag is `ALTO`.
const REC_ALTO: u8 = 1;
/// [`Rec::flags`]: the ORDER or target position is not on the record's first line.
const REC_FAR: u8 = 2;

/// A field position stored as a column on the record's line (0: no position).
fn near_pos(pos: CPos, column: u32) -> CPos {
    if column == 0 {
        return CPos::default();
    }
    CPos { column, ..pos }
}

impl Rec {
    /// Set for NAPTR records whose service tag is `ALTO`.
    fn alto(&self) -> bool {
        self.flags & REC_ALTO != 0
    }
}

/// A loaded zone's apex and summary facts.
#[derive(Debug)]
pub(crate) struct ZoneInfo {
    pub(crate) origin: DomainName,
    first_alto: Option<(CPos, bool)>,
    alto_https: bool,
    /// Position of the zone's first record (for findings about the whole zone, Z28).
    first_pos: Option<CPos>,
    /// The origin was given (by the caller: `--origin`, the file name, the config) rather than
    /// taken from the first `$ORIGIN` or SOA: then the apex must hold the SOA (Z28).
    origin_given: bool,
}

/// Every loaded zone, indexed for lookups (the in-memory "DNS" that replay queries).
#[derive(Debug, Default)]
pub struct ZoneSet {
    files: Vec<Arc<str>>,
    /// Owner names; ids are dense, in order of first appearance.
    owners: NameTable,
    /// The last owner added, if any; records of one owner usually come together.
    last_owner: Option<u32>,
    pub(crate) recs: Vec<Rec>,
    /// RDATA of the records that keep it (see [`Prepared`]).
    rdata: RdataStore,
    /// ORDER and target positions of records with [`REC_FAR`].
    far: Vec<(CPos, CPos)>,
    pub(crate) zones: Vec<ZoneInfo>,
    /// Record indices grouped by owner (filled by `index`); empty when the records already
    /// come grouped by owner in id order (then record `i` is `recs[i]`).
    by_owner: Vec<u32>,
    owner_start: Vec<u32>,
    /// Names that exist because something lies below them (empty non-terminals), only computed
    /// when a zone has a wildcard.
    ents: HashSet<DomainName>,
    has_wildcard: bool,
}

/// What a NAPTR lookup in the loaded zones gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// NAPTR records (RDATA decoded), with the CNAME chain followed to reach them (may be empty).
    Records {
        /// The records.
        records: Vec<NaptrRecord>,
        /// Names walked through CNAMEs, starting with the query name.
        chain: Vec<DomainName>,
    },
    /// The name exists (or is an empty non-terminal) but has no NAPTR.
    NoData {
        /// CNAME chain walked.
        chain: Vec<DomainName>,
    },
    /// The name does not exist in a loaded zone.
    NxDomain {
        /// CNAME chain walked.
        chain: Vec<DomainName>,
    },
    /// The name (or a CNAME target) is outside every loaded zone: nothing can be said offline.
    OutsideZones {
        /// CNAME chain walked (just the query name when it is itself outside).
        chain: Vec<DomainName>,
    },
    /// A CNAME loop or a chain over [`MAX_CNAME_CHAIN`].
    CnameLoop {
        /// CNAME chain walked.
        chain: Vec<DomainName>,
    },
}

/// `name` equals `apex` or lies below it (case-insensitive, on wire form, no allocation).
pub(crate) fn is_below(name: &DomainName, apex: &DomainName) -> bool {
    is_below_wire(name.as_wire(), apex.as_wire())
}

/// [`is_below`] on wire forms.
fn is_below_wire(n: &[u8], a: &[u8]) -> bool {
    if a.len() > n.len() {
        return false;
    }
    // Walk label boundaries of `name` until the remaining suffix has apex's length.
    let mut pos = 0usize;
    while n.len() - pos > a.len() {
        pos += 1 + usize::from(n[pos]);
    }
    n.len() - pos == a.len() && n[pos..].eq_ignore_ascii_case(a)
}

/// The parent of a name (`None` for the root).
fn parent(name: &DomainName) -> Option<DomainName> {
    let w = parent_wire(name.as_wire())?;
    DomainName::from_wire(w).ok().map(|(n, _)| n)
}

/// The parent of a wire name (`None` for the root or a malformed name).
fn parent_wire(w: &[u8]) -> Option<&[u8]> {
    match w.first() {
        None | Some(0) => None,
        Some(&len) => w.get(1 + usize::from(len)..),
    }
}

/// Whether a wire name's first label is `*` (RFC 4592 §2.1.1).
fn is_wildcard_wire(w: &[u8]) -> bool {
    w.starts_with(b"\x01*")
}

/// A name of the owner table as a `DomainName` (owners were valid names when they were added).
fn name_of(wire: &[u8]) -> Option<DomainName> {
    DomainName::from_wire(wire).ok().map(|(n, _)| n)
}

fn wildcard_of(name: &DomainName) -> Option<DomainName> {
    let mut w = vec![1u8, b'*'];
    w.extend_from_slice(name.as_wire());
    DomainName::from_wire(&w).ok().map(|(n, _)| n)
}

/// Reverse-tree kind of an owner name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReverseKind {
    /// Under `in-addr.arpa.`, with this many labels before it.
    V4(usize),
    /// Under `ip6.arpa.`, with this many labels before it.
    V6(usize),
    /// Not a reverse name.
    Forward,
}

pub(crate) fn reverse_kind(name: &DomainName) -> ReverseKind {
    reverse_kind_wire(name.as_wire())
}

/// [`reverse_kind`] on a wire name.
fn reverse_kind_wire(w: &[u8]) -> ReverseKind {
    const V4: &[u8] = b"\x07in-addr\x04arpa\x00";
    const V6: &[u8] = b"\x03ip6\x04arpa\x00";
    let ends = |suffix: &[u8]| {
        w.len() >= suffix.len() && w[w.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    let (suffix_len, v4) = if ends(V4) {
        (V4.len(), true)
    } else if ends(V6) {
        (V6.len(), false)
    } else {
        return ReverseKind::Forward;
    };
    // Count the labels before the suffix, checking that the suffix starts on a label boundary.
    let stop = w.len() - suffix_len;
    let (mut pos, mut count) = (0usize, 0usize);
    while pos < stop {
        pos += 1 + usize::from(w[pos]);
        count += 1;
    }
    match (pos == stop, v4) {
        (false, _) => ReverseKind::Forward,
        (true, true) => ReverseKind::V4(count),
        (true, false) => ReverseKind::V6(count),
    }
}

impl ZoneSet {
    /// The full position of a compact one (`None` for generated records).
    pub(crate) fn position(&self, c: CPos) -> Option<Position> {
        if c.line == 0 {
            return None;
        }
        Some(Position {
            file: Arc::clone(self.files.get(usize::try_from(c.file).ok()?)?),
            line: c.line,
            column: c.column,
        })
    }

    /// The kept RDATA of a record (empty for types whose RDATA is not kept).
    pub(crate) fn rdata(&self, r: &Rec) -> &[u8] {
        self.rdata.get(r.rdata)
    }

    /// Position of a record's NAPTR ORDER field.
    fn order_pos(&self, r: &Rec) -> CPos {
        if r.flags & REC_FAR != 0 {
            return self
                .far
                .get(r.order_col as usize)
                .map(|f| f.0)
                .unwrap_or_default();
        }
        near_pos(r.pos, r.order_col)
    }

    /// Position of a record's NAPTR REPLACEMENT field or CNAME target.
    fn target_pos(&self, r: &Rec) -> CPos {
        if r.flags & REC_FAR != 0 {
            return self
                .far
                .get(r.order_col as usize)
                .map(|f| f.1)
                .unwrap_or_default();
        }
        near_pos(r.pos, r.target_col)
    }

    /// The zone (index) whose apex is the longest suffix of `name`.
    pub(crate) fn zone_of(&self, name: &DomainName) -> Option<usize> {
        self.zone_of_wire(name.as_wire())
    }

    fn zone_of_wire(&self, name: &[u8]) -> Option<usize> {
        self.zones
            .iter()
            .enumerate()
            .filter(|(_, z)| is_below_wire(name, z.origin.as_wire()))
            .max_by_key(|(_, z)| z.origin.as_wire().len())
            .map(|(i, _)| i)
    }

    fn index(&mut self) {
        let n_owners = self.owners.len();
        let mut counts = vec![0u32; n_owners + 1];
        // Records usually come grouped by owner, in id order (ids are given at first sight):
        // then the grouping is the identity and `by_owner` stays empty.
        let mut grouped = true;
        let mut prev = 0u32;
        for r in &self.recs {
            counts[r.owner as usize + 1] += 1;
            grouped &= r.owner >= prev;
            prev = r.owner;
        }
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        self.by_owner = Vec::new();
        if !grouped {
            let mut fill = counts.clone();
            let mut by_owner = vec![0u32; self.recs.len()];
            for (i, r) in self.recs.iter().enumerate() {
                let slot = &mut fill[r.owner as usize];
                by_owner[*slot as usize] = u32::try_from(i).unwrap_or(u32::MAX);
                *slot += 1;
            }
            self.by_owner = by_owner;
        }
        self.owner_start = counts;
        self.has_wildcard = self.owners.iter().any(|(_, w)| is_wildcard_wire(w));
        if self.has_wildcard {
            let mut ents = HashSet::new();
            for (_, wire) in self.owners.iter() {
                let Some(name) = name_of(wire) else {
                    continue;
                };
                let Some(z) = self.zone_of(&name) else {
                    continue;
                };
                let apex = &self.zones[z].origin;
                let mut cur = parent(&name);
                while let Some(p) = cur {
                    if !is_below(&p, apex)
                        || self.owners.get(p.as_wire()).is_some()
                        || !ents.insert(p.clone())
                    {
                        break;
                    }
                    cur = parent(&p);
                }
            }
            self.ents = ents;
        }
    }

    /// Records at an owner id.
    pub(crate) fn records_of(&self, owner: u32) -> impl Iterator<Item = &Rec> + '_ {
        let o = owner as usize;
        let (s, e) = (
            self.owner_start.get(o).copied().unwrap_or(0) as usize,
            self.owner_start.get(o + 1).copied().unwrap_or(0) as usize,
        );
        let (grouped, by_owner) = if self.by_owner.is_empty() {
            (self.recs.get(s..e).unwrap_or_default(), &[][..])
        } else {
            (&[][..], self.by_owner.get(s..e).unwrap_or_default())
        };
        grouped
            .iter()
            .chain(by_owner.iter().map(move |&i| &self.recs[i as usize]))
    }

    fn records_at(&self, name: &DomainName) -> Option<impl Iterator<Item = &Rec> + '_> {
        self.owners
            .get(name.as_wire())
            .map(|id| self.records_of(id))
    }

    fn exists(&self, name: &DomainName) -> bool {
        self.owners.get(name.as_wire()).is_some() || self.ents.contains(name)
    }

    /// NAPTR lookup as an authoritative server would answer it from the loaded zones: CNAMEs
    /// followed (RFC 1034 §3.6.2), wildcards per RFC 4592 (a wildcard does not cover names that
    /// exist, docs/decisions.md, A13).
    #[must_use]
    pub fn lookup_naptr(&self, name: &DomainName) -> Lookup {
        let mut chain = vec![name.clone()];
        let mut current = name.clone();
        loop {
            if self.zone_of(&current).is_none() {
                return Lookup::OutsideZones { chain };
            }
            let owner_recs: Option<Vec<&Rec>> = match self.records_at(&current) {
                Some(it) => Some(it.collect()),
                None if self.has_wildcard && !self.exists(&current) => {
                    // Closest encloser's wildcard (RFC 4592 §3.3.1).
                    let mut p = parent(&current);
                    let mut found = None;
                    while let Some(anc) = p {
                        if self.exists(&anc) || self.zones.iter().any(|z| z.origin == anc) {
                            found = wildcard_of(&anc)
                                .and_then(|w| self.records_at(&w).map(Iterator::collect));
                            break;
                        }
                        p = parent(&anc);
                    }
                    found
                }
                None => None,
            };
            let Some(recs) = owner_recs else {
                return if self.exists(&current) {
                    Lookup::NoData { chain }
                } else {
                    Lookup::NxDomain { chain }
                };
            };
            if let Some(cname) = recs.iter().find(|r| r.rtype == rtype::CNAME) {
                let Ok((target, _)) = DomainName::from_wire(self.rdata(cname)) else {
                    return Lookup::NxDomain { chain };
                };
                if chain.contains(&target) || chain.len() > MAX_CNAME_CHAIN {
                    chain.push(target);
                    return Lookup::CnameLoop { chain };
                }
                chain.push(target.clone());
                current = target;
                continue;
            }
            let records: Vec<NaptrRecord> = recs
                .iter()
                .filter(|r| r.rtype == rtype::NAPTR)
                .filter_map(|r| NaptrRecord::from_rdata(self.rdata(r)).ok())
                .collect();
            return if records.is_empty() {
                Lookup::NoData { chain }
            } else {
                Lookup::Records { records, chain }
            };
        }
    }

    /// Number of records loaded.
    #[must_use]
    pub fn len(&self) -> usize {
        self.recs.len()
    }

    /// Whether nothing is loaded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }
}

/// Result of a U-NAPTR walk in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Walk {
    /// URIs in the order a client tries them (backtracking through every usable record,
    /// docs/decisions.md, A6).
    pub uris: Vec<String>,
    /// Names queried, with what each gave, for diagnostics.
    pub trace: Vec<String>,
    /// A loop, a chain deeper than [`MAX_DEPTH`] or a CNAME loop was met.
    pub looped: bool,
    /// A name outside every loaded zone was needed.
    pub left_zones: bool,
}

/// Why the loaded zones cannot answer a lookup: the walk's temporary-failure type (a live client
/// might get an answer where the checker cannot say anything).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unanswerable {
    /// The name, or a CNAME target, lies outside every loaded zone.
    OutsideZones,
    /// A CNAME loop or a chain over [`MAX_CNAME_CHAIN`] (a resolver gives SERVFAIL).
    CnameLoop,
}

impl std::fmt::Display for Unanswerable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::OutsideZones => "outside the loaded zones",
            Self::CnameLoop => "CNAME loop",
        })
    }
}

impl ZoneSet {
    /// U-NAPTR resolution of `name` for `wanted`, against the loaded zones, exactly as the client
    /// walks it: [`altodisc_proto::walk::UnaptrWalk`] with [`WalkOptions::client`] (the resolver's
    /// selection options, visited set, depth cap, backtracking), answered from memory. Offline
    /// there is no lookup budget to protect, so every name the walk needs is answered.
    #[must_use]
    pub fn unaptr(&self, name: &DomainName, wanted: &WantedService) -> Walk {
        let walk = UnaptrWalk::new(
            name.clone(),
            std::slice::from_ref(wanted),
            checker_walk_options(),
        );
        self.drive(walk, wanted)
    }

    /// The walk a client makes after following the non-terminal record at `owner` to `target`:
    /// `target` is at depth 1 and `owner` counts as visited (a record pointing back is a loop).
    #[must_use]
    pub fn unaptr_below(
        &self,
        owner: &DomainName,
        target: &DomainName,
        wanted: &WantedService,
    ) -> Walk {
        let walk = UnaptrWalk::below(
            vec![owner.clone()],
            target.clone(),
            std::slice::from_ref(wanted),
            checker_walk_options(),
        );
        self.drive(walk, wanted)
    }

    /// Answers the walk's queries from the loaded zones and renders the outcome.
    fn drive(&self, mut walk: UnaptrWalk<Unanswerable>, wanted: &WantedService) -> Walk {
        // The CNAME chain of each name queried, for the trace.
        let mut chains: HashMap<DomainName, Vec<DomainName>> = HashMap::new();
        let outcome = loop {
            match walk.next_step() {
                WalkStep::Query(name) => {
                    let (answer, chain) = name_answer(&name, self.lookup_naptr(&name));
                    chains.insert(name.clone(), chain);
                    walk.answer(&name, answer);
                }
                WalkStep::Done(outcome) => break outcome,
            }
        };
        let mut out = Walk {
            uris: outcome.candidates.into_iter().map(|c| c.uri).collect(),
            ..Walk::default()
        };
        for v in &outcome.visits {
            let via = chains.get(&v.name).map_or_else(String::new, |c| via(c));
            let name = &v.name;
            if v.records > 0 {
                // Entered: an RRset (its status is what the records below came to).
                out.trace.push(format!("{name}{via}: {} NAPTR", v.records));
                if v.skipped.len() >= v.records {
                    out.trace.push(format!("  no record matches {wanted}"));
                }
                continue;
            }
            let line = match &v.status {
                WalkStatus::Loop | WalkStatus::DepthExceeded => {
                    out.looped = true;
                    format!("{name} (loop or depth > {MAX_DEPTH})")
                }
                WalkStatus::Temporary(Unanswerable::OutsideZones) => {
                    out.left_zones = true;
                    format!("{name}{via}: outside the loaded zones")
                }
                WalkStatus::Temporary(Unanswerable::CnameLoop) => {
                    out.looped = true;
                    format!("{name}{via}: CNAME loop")
                }
                WalkStatus::NxDomain => format!("{name}{via}: NXDOMAIN"),
                WalkStatus::NoData => format!("{name}{via}: NODATA"),
                other => format!("{name}{via}: {other}"),
            };
            out.trace.push(line);
        }
        out
    }
}

/// The checker's walk: the client's ([`WalkOptions::client`]) without a lookup budget.
fn checker_walk_options() -> WalkOptions {
    WalkOptions {
        max_lookups: usize::MAX,
        ..WalkOptions::client()
    }
}

/// A lookup in the loaded zones as the walk takes it, with the CNAME chain walked (starting with
/// the query name; the RRset owner last when there is one).
fn name_answer(name: &DomainName, lookup: Lookup) -> (NameAnswer<Unanswerable>, Vec<DomainName>) {
    match lookup {
        Lookup::Records { records, chain } => {
            // The walk's `cname_chain` starts with the query name and excludes the owner.
            let (owner, cname_chain) = match chain.split_last() {
                Some((owner, before)) => (owner.clone(), before.to_vec()),
                None => (name.clone(), Vec::new()),
            };
            let answer = NameAnswer::Records {
                owner,
                cname_chain,
                records,
                // Offline there is no cache to expire; TTLs play no part in the replay.
                ttl: u32::MAX,
                // Undecodable RDATA is reported by the per-record rules (Z1/Z2).
                malformed: Vec::new(),
            };
            (answer, chain)
        }
        Lookup::NoData { chain } => (NameAnswer::NoData, chain),
        Lookup::NxDomain { chain } => (NameAnswer::NxDomain, chain),
        Lookup::OutsideZones { chain } => {
            (NameAnswer::Temporary(Unanswerable::OutsideZones), chain)
        }
        Lookup::CnameLoop { chain } => (NameAnswer::Temporary(Unanswerable::CnameLoop), chain),
    }
}

/// ` via CNAME a -> b` for a chain longer than the query name alone.
fn via(chain: &[DomainName]) -> String {
    match chain.get(1..) {
        Some(rest) if !rest.is_empty() => {
            let c: Vec<String> = rest.iter().map(ToString::to_string).collect();
            format!(" via CNAME {}", c.join(" -> "))
        }
        _ => String::new(),
    }
}

/// The presentation name of a class (RFC 1035 §3.2.4, RFC 3597 §5 `CLASSnn`).
fn class_name(class: u16) -> String {
    match class {
        1 => "IN".to_owned(),
        2 => "CS".to_owned(),
        3 => "CH".to_owned(),
        4 => "HS".to_owned(),
        n => format!("CLASS{n}"),
    }
}

/// Field index of NAPTR RDATA in `rdata_positions`.
const F_ORDER: usize = 0;
const F_FLAGS: usize = 2;
const F_SERVICES: usize = 3;
const F_REGEXP: usize = 4;
const F_REPLACEMENT: usize = 5;

fn field(r: &ZoneRecord, i: usize) -> Option<Position> {
    field_ref(r, i).cloned()
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The per-record rules (Z1 for undecodable NAPTR RDATA, Z3–Z11, Z23) for one record.
/// Usable on its own, e.g. by a reload gate. (Z14 needs the whole zone: a CNAME may make an
/// odd-depth owner reachable, RFC 2317; it runs in [`Checker::finish`].)
#[must_use]
pub fn record_rules(r: &ZoneRecord) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    record_rules_into(r, &mut ServicesCache::default(), &mut out);
    out
}

/// [`record_rules`] into `out`; returns `Some(offers_https)` for an ALTO NAPTR record.
fn record_rules_into(
    r: &ZoneRecord,
    services: &mut ServicesCache,
    out: &mut Vec<Diagnostic>,
) -> Option<bool> {
    if r.rtype != rtype::NAPTR {
        return None;
    }
    let rec = match NaptrRecord::from_rdata(&r.rdata) {
        Ok(n) => n,
        Err(e) => {
            out.push(
                Diagnostic::new(
                    Rule::Z1,
                    r.rdata_positions
                        .first()
                        .cloned()
                        .or_else(|| r.position.clone()),
                    format!("NAPTR RDATA does not decode: {e}"),
                )
                .with_hint("check the generic \\# data against RFC 3403 §4.1"),
            );
            return None;
        }
    };
    naptr_rules(r, &rec, services.get(&rec.services), out)
}

/// Parsed SERVICES fields by their octets: a zone repeats a handful of them (`ALTO:https`) over
/// a million records, and parsing each again showed up in the profile.
#[derive(Debug, Default)]
struct ServicesCache {
    entries: Vec<(Vec<u8>, Result<ServiceParameter, ServiceParamError>)>,
}

impl ServicesCache {
    /// Most fields kept; a zone with more distinct ones parses the others each time.
    const SIZE: usize = 16;

    fn get(&mut self, field: &[u8]) -> &Result<ServiceParameter, ServiceParamError> {
        let i = match self.entries.iter().position(|(k, _)| k.as_slice() == field) {
            Some(i) => i,
            None => {
                let parsed = ServiceParameter::parse_bytes(field);
                if self.entries.len() >= Self::SIZE {
                    self.entries.pop();
                }
                self.entries.push((field.to_vec(), parsed));
                self.entries.len() - 1
            }
        };
        &self.entries[i].1
    }
}

fn naptr_rules(
    r: &ZoneRecord,
    n: &NaptrRecord,
    services: &Result<ServiceParameter, ServiceParamError>,
    out: &mut Vec<Diagnostic>,
) -> Option<bool> {
    let flags_ok = n.flags.iter().all(u8::is_ascii_alphanumeric);
    if !flags_ok {
        out.push(
            Diagnostic::new(
                Rule::Z3,
                field(r, F_FLAGS),
                format!(
                    "FLAGS {:?} contain characters outside A-Z, 0-9",
                    lossy(&n.flags)
                ),
            )
            .with_hint("use \"u\" for a URI or \"\" for a delegation"),
        );
    }
    let flag = match n.flags.as_slice() {
        [] => Some(None),
        [f] if matches!(f.to_ascii_uppercase(), b'U' | b'S' | b'A') => {
            Some(Some(f.to_ascii_uppercase()))
        }
        _ => None,
    };
    if flags_ok && flag.is_none() {
        out.push(
            Diagnostic::new(
                Rule::Z3b,
                field(r, F_FLAGS),
                format!(
                    "FLAGS {:?} are not \"\", U, S or A: clients ignore this record",
                    lossy(&n.flags)
                ),
            )
            .with_hint("use \"u\" for a URI or \"\" for a delegation (RFC 4848 §4.4)"),
        );
    }
    let services = match services {
        Ok(s) => Some(s),
        Err(e) => {
            out.push(
                Diagnostic::new(
                    Rule::Z4,
                    field(r, F_SERVICES),
                    format!("SERVICES {:?}: {e}", lossy(&n.services)),
                )
                .with_hint("write e.g. \"ALTO:https\" (RFC 4848 §4.5)"),
            );
            None
        }
    };
    let both = !n.regexp.is_empty() && !n.replacement.is_root();
    let alto = services
        .as_ref()
        .is_some_and(|s| s.service().is_some_and(|t| t.eq_ignore_ascii_case("ALTO")));
    if both {
        out.push(
            Diagnostic::new(Rule::Z8, field(r, F_REPLACEMENT), "REGEXP and REPLACEMENT are both set")
                .with_hint("a record uses one or the other (RFC 3403 §4.1): '.' for a U record, \"\" REGEXP for a delegation"),
        );
    }
    let services = services.filter(|_| alto)?;
    let https = services
        .protocols()
        .iter()
        .any(|p| p.eq_ignore_ascii_case("https"));
    // Z5 / Z5b: the protocols offered.
    for p in services.protocols() {
        if p.eq_ignore_ascii_case("http") {
            out.push(
                Diagnostic::new(
                    Rule::Z5b,
                    field(r, F_SERVICES),
                    "ALTO:http published: plain HTTP, no TLS",
                )
                .with_hint("publish ALTO:https (RFC 8686 treats http as a debugging aid)"),
            );
        } else if !p.eq_ignore_ascii_case("https") {
            out.push(
                Diagnostic::new(
                    Rule::Z5,
                    field(r, F_SERVICES),
                    format!("ALTO service with protocol {p:?}, not http or https"),
                )
                .with_hint("RFC 7286 §3.2 defines ALTO:https and ALTO:http only"),
            );
        }
    }
    if n.regexp.contains(&b'\\') {
        let escaped_bang = n.regexp.windows(2).any(|w| w == b"\\!");
        let msg = if escaped_bang {
            "REGEXP contains an escaped '\\!': strict clients skip the record, lenient ones unescape it (docs/decisions.md, A3)"
        } else {
            "REGEXP contains a backslash"
        };
        out.push(
            Diagnostic::new(Rule::Z23, field(r, F_REGEXP), msg)
                .with_hint("U-NAPTR regexps need none; if it was meant, check the doubling: a logical \\ is written \\\\ in the zone file (RFC 3403 §7)"),
        );
    }
    match flag {
        Some(Some(b'U')) => u_record_rules(r, n, services, out),
        // docs/decisions.md, A4: S and A are legal U-NAPTR flags but yield a host, not the URI an ALTO
        // client needs; clients skip the record.
        Some(Some(f @ (b'S' | b'A'))) => out.push(
            Diagnostic::new(
                Rule::Z3b,
                field(r, F_FLAGS),
                format!(
                    "FLAGS \"{}\" yield a host, not a URI: ALTO clients skip this record",
                    char::from(f)
                ),
            )
            .with_hint(
                "use \"u\" with \"!.*!<URI>!\" for ALTO (RFC 7286 §3.2, docs/decisions.md, A4)",
            ),
        ),
        Some(None) => {
            if !n.regexp.is_empty() {
                out.push(
                    Diagnostic::new(
                        Rule::Z11,
                        field(r, F_REGEXP),
                        "non-terminal record (empty FLAGS) has a REGEXP",
                    )
                    .with_hint("a delegation uses REPLACEMENT only; for a URI set FLAGS to \"u\""),
                );
            }
            if n.replacement.is_root() {
                out.push(
                    Diagnostic::new(
                        Rule::Z11,
                        field(r, F_REPLACEMENT),
                        "non-terminal record (empty FLAGS) has no REPLACEMENT target",
                    )
                    .with_hint(
                        "name the domain to continue at, or set FLAGS to \"u\" with a REGEXP",
                    ),
                );
            }
        }
        _ => {}
    }
    Some(https)
}

fn u_record_rules(
    r: &ZoneRecord,
    n: &NaptrRecord,
    services: &ServiceParameter,
    out: &mut Vec<Diagnostic>,
) {
    // With a REGEXP too, Z8 has already said it; Z7 is the "replacement instead of regexp" case.
    if !n.replacement.is_root() && n.regexp.is_empty() {
        out.push(
            Diagnostic::new(
                Rule::Z7,
                field(r, F_REPLACEMENT),
                format!("\"U\" record has REPLACEMENT {}", n.replacement),
            )
            .with_hint("a U record's REPLACEMENT is '.' (RFC 4848 §2.1)"),
        );
    }
    let uri = match extract_unaptr_uri(&n.regexp, RegexpMode::Strict) {
        Ok(u) => u,
        // docs/decisions.md, A3: an escaped `\!` is a warning only (Z23 reports it): strict clients skip the
        // record, lenient ones unescape it.
        Err(UnaptrRegexpError::EscapedDelimiter { .. }) => {
            return;
        }
        Err(e) => {
            let rule = match e {
                UnaptrRegexpError::EmptyUri | UnaptrRegexpError::RawDelimiter { .. } => Rule::Z9,
                _ => Rule::Z6,
            };
            let hint = match rule {
                Rule::Z9 => {
                    "put an absolute https URI between the delimiters; write '!' inside it as %21"
                }
                _ => "write exactly \"!.*!<URI>!\" (RFC 4848 §2.2)",
            };
            out.push(
                Diagnostic::new(
                    rule,
                    field(r, F_REGEXP),
                    format!("REGEXP {:?}: {e}", lossy(&n.regexp)),
                )
                .with_hint(hint),
            );
            return;
        }
    };
    let bad_uri = |e: &UriError| {
        Diagnostic::new(Rule::Z9, field(r, F_REGEXP), format!("URI {uri:?}: {e}"))
            .with_hint("the URI must be an absolute http(s) URI with a host (RFC 7286 §3.2)")
    };
    // One URI parse per protocol tag (usually one): `check_uri_for_protocol` is `check_uri` plus
    // the docs/decisions.md, A2 scheme comparison.
    if services.protocols().is_empty() {
        if let Err(e) = check_uri(&uri) {
            out.push(bad_uri(&e));
        }
        return;
    }
    for p in services.protocols() {
        match check_uri_for_protocol(&uri, p) {
            Ok(_) => {}
            Err(UriError::SchemeMismatch { scheme, protocol }) => {
                if !matches!(protocol.to_ascii_lowercase().as_str(), "http" | "https") {
                    continue; // Z5 already says the protocol is unknown.
                }
                out.push(
                    Diagnostic::new(
                        Rule::Z10,
                        field(r, F_REGEXP),
                        format!(
                            "URI scheme {scheme:?} under protocol tag {protocol:?}: clients skip it"
                        ),
                    )
                    .with_hint(format!(
                        "use a {protocol}:// URI or change the service field (docs/decisions.md, A2)"
                    )),
                );
            }
            // The URI itself is bad: say it once, whatever the protocol.
            Err(e) => {
                out.push(bad_uri(&e));
                return;
            }
        }
    }
}

/// A record in the checker's compact form, as the reader stage hands it over (the owner name
/// travels beside it).
#[derive(Debug, Clone, Copy)]
struct Prepared {
    rtype: u16,
    /// `Some(offers_https)` for an ALTO NAPTR record.
    facts: Option<bool>,
    /// Id in the checker's [`RdataStore`].
    rdata: u32,
    pos: CPos,
    order_pos: CPos,
    target_pos: CPos,
    services_pos: CPos,
}

/// The reader-side stage: per-record rules and compaction (runs on the reader thread of
/// [`Checker::load_file`]).
#[derive(Debug)]
struct Prep {
    /// Index of `files[0]` in the checker's file table.
    base: usize,
    files: Vec<Arc<str>>,
    diagnostics: Vec<Diagnostic>,
    /// The checker's RDATA store, lent to this stage while a zone loads.
    rdata: RdataStore,
    /// A record of a class other than IN was reported (Z29: once per zone).
    other_class: bool,
    services: ServicesCache,
    /// The zone's origin when the caller gave it: records outside it are Z30 (once per zone).
    origin: Option<DomainName>,
    outside_reported: bool,
}

/// Position of NAPTR RDATA field `i`; the first field's (or the record's) when the record
/// was not written field by field (e.g. the RFC 3597 generic form).
fn field_ref(r: &ZoneRecord, i: usize) -> Option<&Position> {
    if r.rdata_positions.len() == 6 {
        r.rdata_positions.get(i)
    } else {
        r.rdata_positions.first().or(r.position.as_ref())
    }
}

impl Prep {
    fn new(base: usize, rdata: RdataStore) -> Self {
        Self {
            base,
            files: Vec::new(),
            diagnostics: Vec::new(),
            rdata,
            other_class: false,
            services: ServicesCache::default(),
            origin: None,
            outside_reported: false,
        }
    }

    fn cpos(&mut self, p: Option<&Position>) -> CPos {
        let Some(p) = p else {
            return CPos::default();
        };
        let local = match self
            .files
            .iter()
            .rposition(|f| Arc::ptr_eq(f, &p.file) || *f == p.file)
        {
            Some(i) => i,
            None => {
                self.files.push(Arc::clone(&p.file));
                self.files.len() - 1
            }
        };
        CPos {
            file: u32::try_from(self.base + local).unwrap_or(u32::MAX),
            line: p.line,
            column: p.column,
        }
    }

    fn prepare(&mut self, r: &ZoneRecord) -> Prepared {
        if r.class != CLASS_IN && !self.other_class {
            self.other_class = true;
            self.diagnostics.push(
                Diagnostic::new(
                    Rule::Z29,
                    r.position.clone(),
                    format!(
                        "record of class {} at {}: the zone is of class IN; further records of other classes are not reported",
                        class_name(r.class),
                        r.owner
                    ),
                )
                .with_hint("write IN (or leave the class out); BIND, Knot and NSD load IN zones only"),
            );
        }
        if !self.outside_reported
            && let Some(origin) = &self.origin
            && !is_below(&r.owner, origin)
        {
            self.outside_reported = true;
            self.diagnostics.push(
                Diagnostic::new(
                    Rule::Z30,
                    r.position.clone(),
                    format!(
                        "{} is outside the zone {origin}; further records outside it are not reported",
                        r.owner
                    ),
                )
                .with_hint("a zone holds its apex and the names below it: check the owner (a missing or extra final dot?) or $ORIGIN"),
            );
        }
        let mut rdata = NO_RDATA;
        let facts = if r.rtype == rtype::NAPTR {
            // The per-record rules depend on the RDATA alone: a clean RDATA seen before is
            // neither checked nor stored again.
            let hash = hash_bytes(&r.rdata, false);
            match self.rdata.clean(hash, &r.rdata) {
                Some((id, facts)) => {
                    rdata = id;
                    facts
                }
                None => {
                    let before = self.diagnostics.len();
                    let facts = record_rules_into(r, &mut self.services, &mut self.diagnostics);
                    rdata = self.rdata.push(&r.rdata);
                    if self.diagnostics.len() == before
                        && self.rdata.clean_len() < CLEAN_RDATA_CACHE
                    {
                        self.rdata.mark_clean(hash, rdata, facts);
                    }
                    facts
                }
            }
        } else {
            // Other types only matter for existence (and Z15) unless named here.
            if matches!(
                r.rtype,
                rtype::CNAME | rtype::DNSKEY | rtype::RRSIG | rtype::DNAME | rtype::SOA
            ) {
                rdata = self.rdata.push(&r.rdata);
            }
            None
        };
        let pos = self.cpos(r.position.as_ref());
        let (mut order_pos, mut target_pos, mut services_pos) =
            (CPos::default(), CPos::default(), CPos::default());
        if r.rtype == rtype::NAPTR {
            order_pos = self.cpos(field_ref(r, F_ORDER));
            target_pos = self.cpos(field_ref(r, F_REPLACEMENT));
            if facts.is_some() {
                services_pos = self.cpos(field_ref(r, F_SERVICES));
            }
        } else if r.rtype == rtype::CNAME {
            target_pos = self.cpos(r.rdata_positions.first());
        }
        Prepared {
            rtype: r.rtype,
            facts,
            rdata,
            pos,
            order_pos,
            target_pos,
            services_pos,
        }
    }
}

/// Prepared records on their way from the reader thread to the indexing thread of
/// [`Checker::load_file`], with their owners' wire forms in one buffer. Batches go back to the
/// reader to be filled again, so the hand-over allocates nothing per record.
#[derive(Debug, Default)]
struct Batch {
    owners: Vec<u8>,
    /// Each record with the end of its owner in `owners`.
    records: Vec<(usize, Prepared)>,
}

impl Batch {
    fn push(&mut self, owner: &[u8], p: Prepared) {
        self.owners.extend_from_slice(owner);
        self.records.push((self.owners.len(), p));
    }

    fn clear(&mut self) {
        self.owners.clear();
        self.records.clear();
    }
}

/// The checker: load zones, then [`Checker::finish`].
#[derive(Debug)]
pub struct Checker {
    options: CheckOptions,
    set: ZoneSet,
    diagnostics: Vec<Diagnostic>,
    /// Z20b also verifies signatures and the NSEC/NSEC3 chain of signed zone files
    /// ([`Checker::set_verify_dnssec`]).
    verify_dnssec: bool,
}

/// Records a [`ZoneFeed`] collects before indexing them together (see [`Checker::accept_batch`]).
const FEED_BATCH: usize = 64;

/// One zone being fed to a [`Checker`] record by record (see [`Checker::feed_zone`]).
#[allow(missing_debug_implementations)]
pub struct ZoneFeed<'c> {
    checker: &'c mut Checker,
    prep: Prep,
    pending: PendingZone,
    batch: Batch,
    /// Whether the zone's origin was given rather than found in the text (see [`ZoneInfo`]).
    origin_given: bool,
}

impl ZoneFeed<'_> {
    /// Runs the per-record rules on `record` and keeps its compact form for the cross-record
    /// rules of [`Checker::finish`].
    // By value for callers that hand records over (e.g. through a channel); `add_ref` is the
    // same without taking the record.
    #[allow(clippy::needless_pass_by_value)]
    pub fn add(&mut self, record: ZoneRecord) {
        self.add_ref(&record);
    }

    /// [`ZoneFeed::add`] for a record the caller keeps (or frees itself): nothing of it is
    /// retained, its owner and RDATA are copied into the checker's arenas.
    pub fn add_ref(&mut self, record: &ZoneRecord) {
        let p = self.prep.prepare(record);
        self.batch.push(record.owner.as_wire(), p);
        if self.batch.records.len() >= FEED_BATCH {
            self.flush();
        }
    }

    /// Declares the zone's origin as given by the caller (as `--origin` does), not found in the
    /// text: then the SOA must sit at it (Z28) and records outside it are reported (Z30).
    pub fn given_origin(&mut self, origin: &DomainName) {
        self.origin_given = true;
        self.prep.origin = Some(origin.clone());
    }

    /// Ends the zone: `origin` and `reader_diagnostics` are the reader's
    /// [`crate::reader::StreamSummary`] fields for the stream that produced the records.
    pub fn finish(mut self, origin: DomainName, reader_diagnostics: Vec<Diagnostic>) {
        self.flush();
        self.checker
            .set
            .files
            .extend(std::mem::take(&mut self.prep.files));
        self.checker
            .diagnostics
            .extend(std::mem::take(&mut self.prep.diagnostics));
        self.checker.diagnostics.extend(reader_diagnostics);
        self.checker
            .add_zone_info(origin, &self.pending, self.origin_given);
        // Drop gives the RDATA store back.
    }

    /// Indexes the records collected so far.
    fn flush(&mut self) {
        self.checker.accept_batch(&self.batch, &mut self.pending);
        self.batch.clear();
    }
}

/// A feed dropped without [`ZoneFeed::finish`] (its caller stopped on an error) leaves the
/// records added so far in the checker, as when each record was indexed on arrival.
impl Drop for ZoneFeed<'_> {
    fn drop(&mut self) {
        self.flush();
        self.checker.set.rdata = std::mem::take(&mut self.prep.rdata);
    }
}

/// Most distinct clean RDATA values remembered by the checker.
const CLEAN_RDATA_CACHE: usize = 4096;

impl Checker {
    /// An empty checker.
    #[must_use]
    pub fn new(options: CheckOptions) -> Self {
        Self {
            options,
            set: ZoneSet::default(),
            diagnostics: Vec::new(),
            verify_dnssec: false,
        }
    }

    /// Makes Z20b verify, for every zone file with a DNSKEY loaded after this call, each
    /// RRSIG with the apex DNSKEYs and the NSEC/NSEC3 chain ([`crate::dnssec_verify`]; the file
    /// is read a second time). Off by default here, because it costs a signature check per RRset
    /// and [`Checker::feed_zone`] callers have no file to read again; `altodisc check` turns it
    /// on unless `--no-verify-dnssec`.
    pub fn set_verify_dnssec(&mut self, on: bool) {
        self.verify_dnssec = on;
    }

    /// Reads a zone file (streaming) and runs the per-record rules on it.
    ///
    /// # Errors
    /// [`ZoneReadError`] when the file cannot be read at all.
    pub fn load_file(
        &mut self,
        path: &Path,
        origin: Option<&DomainName>,
    ) -> Result<DomainName, ZoneReadError> {
        self.load_file_with(path, origin, &ReadOptions::default())
    }

    /// [`Checker::load_file`] with explicit reader options (include base, bounds).
    ///
    /// # Errors
    /// [`ZoneReadError`] when the file cannot be read at all or a bound is reached.
    pub fn load_file_with(
        &mut self,
        path: &Path,
        origin: Option<&DomainName>,
        read_options: &ReadOptions,
    ) -> Result<DomainName, ZoneReadError> {
        let first_rec = self.set.recs.len();
        // Size hint: a NAPTR line is about 80 octets.
        if let Ok(meta) = std::fs::metadata(path) {
            let hint = usize::try_from(meta.len() / 80).unwrap_or(0).min(1 << 24);
            self.set.recs.reserve(hint);
            self.set.owners.reserve(hint);
        }
        // Two stages on two threads. The reader thread only parses; this thread runs the
        // per-record rules, turns each record into its compact form and indexes it. (The rules
        // used to run on the reader thread, which then did four fifths of the work while this
        // one waited; with distinct RDATA in every record nothing is cached, so the split
        // decides the wall time.) Bounded channel: memory stays flat; used batches go back to
        // the reader, which frees their records.
        const BATCH: usize = 4096;
        let mut prep = Prep::new(self.set.files.len(), std::mem::take(&mut self.set.rdata));
        prep.origin = origin.cloned();
        let mut pending = PendingZone::default();
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<ZoneRecord>>(4);
        let (back_tx, back_rx) = std::sync::mpsc::sync_channel::<Vec<ZoneRecord>>(8);
        let mut compact = Batch {
            owners: Vec::with_capacity(BATCH * 32),
            records: Vec::with_capacity(BATCH),
        };
        let joined = std::thread::scope(|scope| {
            let reader = scope.spawn(move || {
                let mut batch = Vec::with_capacity(BATCH);
                let result = stream_zone_file_with(path, origin, read_options, &mut |r| {
                    batch.push(r);
                    if batch.len() == BATCH {
                        // A batch back from the indexing thread still holds its records: they
                        // are freed here, on the thread that allocated them (cheaper for the
                        // allocator than freeing them over there).
                        let next = back_rx.try_recv().map_or_else(
                            |_| Vec::with_capacity(BATCH),
                            |mut b: Vec<ZoneRecord>| {
                                b.clear();
                                b
                            },
                        );
                        // The receiver lives until this scope ends.
                        let _ = tx.send(std::mem::replace(&mut batch, next));
                    }
                });
                if !batch.is_empty() {
                    let _ = tx.send(batch);
                }
                result
            });
            for batch in rx {
                for r in &batch {
                    let p = prep.prepare(r);
                    compact.push(r.owner.as_wire(), p);
                }
                self.accept_batch(&compact, &mut pending);
                compact.clear();
                // The reader may have finished: then the batch is simply dropped.
                let _ = back_tx.try_send(batch);
            }
            reader.join()
        });
        let summary = match joined {
            Ok(x) => x,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        self.absorb(prep);
        let summary = summary?;
        self.diagnostics.extend(summary.diagnostics);
        self.add_zone_info(summary.origin.clone(), &pending, origin.is_some());
        // Z20b in depth for a signed zone: signatures and NSEC/NSEC3 chain (dnssec_verify).
        let recs = self.set.recs.get(first_rec..).unwrap_or_default();
        if self.verify_dnssec && recs.iter().any(|r| r.rtype == rtype::DNSKEY) {
            let now = self.options.now_unix;
            let found = crate::dnssec_verify::verify_file(path, &summary.origin, read_options, now);
            self.diagnostics.extend(found);
        }
        Ok(summary.origin)
    }

    /// Reads zone text held in memory (see [`crate::reader::read_zone_str`]).
    pub fn load_str(&mut self, text: &str, label: &str, origin: Option<&DomainName>) -> DomainName {
        let mut feed = self.feed_zone(0);
        if let Some(o) = origin {
            feed.given_origin(o);
        }
        let summary = stream_zone_str(text, label, origin, &mut |r| feed.add_ref(&r));
        feed.finish(summary.origin.clone(), summary.diagnostics);
        summary.origin
    }

    /// Adds a zone already in memory (e.g. produced by the publishing config).
    pub fn load_zone(&mut self, zone: &Zone) {
        let mut feed = self.feed_zone(zone.records.len());
        feed.given_origin(&zone.origin);
        for r in &zone.records {
            feed.add_ref(r);
        }
        feed.finish(zone.origin.clone(), Vec::new());
    }

    /// Starts a zone whose records the caller streams in one by one with [`ZoneFeed::add`]
    /// (e.g. a server that parses each zone file once for its own index and hands every record
    /// to the checker too): the same per-record rules and the same findings as
    /// [`Checker::load_file`] on the same records. `size_hint` is the expected record count.
    pub fn feed_zone(&mut self, size_hint: usize) -> ZoneFeed<'_> {
        let hint = size_hint.min(1 << 24);
        self.set.recs.reserve(hint);
        self.set.owners.reserve(hint);
        let prep = Prep::new(self.set.files.len(), std::mem::take(&mut self.set.rdata));
        ZoneFeed {
            checker: self,
            prep,
            pending: PendingZone::default(),
            batch: Batch::default(),
            origin_given: false,
        }
    }

    fn absorb(&mut self, prep: Prep) {
        self.set.files.extend(prep.files);
        self.diagnostics.extend(prep.diagnostics);
        self.set.rdata = prep.rdata;
    }

    fn add_zone_info(&mut self, origin: DomainName, p: &PendingZone, origin_given: bool) {
        self.set.zones.push(ZoneInfo {
            origin,
            first_alto: p.first_alto,
            alto_https: p.alto_https,
            first_pos: p.first_pos,
            origin_given,
        });
    }

    /// Indexes prepared records in order. Owner lookups go in groups: the owners' hashes first,
    /// then one read of each one's slot (see [`NameTable::warm`]), then the lookups.
    fn accept_batch(&mut self, batch: &Batch, pending: &mut PendingZone) {
        const GROUP: usize = 16;
        let owners = batch.owners.as_slice();
        // Hash of each owner of a group; 0 for the owner of the record before.
        let mut hashes = [0u32; GROUP];
        let mut prev: Option<&[u8]> = None;
        let mut start = 0usize;
        for group in batch.records.chunks(GROUP) {
            let mut at = start;
            for (h, &(end, _)) in hashes.iter_mut().zip(group) {
                let wire = &owners[at..end];
                let same = match prev {
                    Some(p) => p.eq_ignore_ascii_case(wire),
                    None => self
                        .set
                        .last_owner
                        .is_some_and(|id| self.set.owners.name(id).eq_ignore_ascii_case(wire)),
                };
                *h = if same { 0 } else { hash_bytes(wire, true) };
                prev = Some(wire);
                at = end;
            }
            self.set.owners.warm(&hashes[..group.len()]);
            for (&h, &(end, p)) in hashes.iter().zip(group) {
                self.accept(&owners[start..end], h, p, pending);
                start = end;
            }
        }
    }

    /// Indexes one prepared record; `hash` is its owner's (0: the owner of the record before).
    fn accept(&mut self, owner: &[u8], hash: u32, p: Prepared, pending: &mut PendingZone) {
        if pending.first_pos.is_none() {
            pending.first_pos = Some(p.pos);
        }
        if let Some(https) = p.facts {
            pending.alto_https |= https;
            if pending.first_alto.is_none() {
                pending.first_alto = Some((p.services_pos, https));
            }
        }
        let owner = match (hash, self.set.last_owner) {
            (0, Some(last)) => last,
            (0, None) => self.set.owners.intern(owner),
            (h, _) => self.set.owners.intern_hashed(owner, h),
        };
        self.set.last_owner = Some(owner);
        let set = &mut self.set;
        // Column 0 (no real column) stands for "no position" (records without such a field).
        let near = |q: CPos| {
            q == CPos::default() || (q.file == p.pos.file && q.line == p.pos.line && q.column != 0)
        };
        let (order_col, target_col, far) = if near(p.order_pos) && near(p.target_pos) {
            (p.order_pos.column, p.target_pos.column, 0)
        } else {
            let at = u32::try_from(set.far.len()).unwrap_or(u32::MAX);
            set.far.push((p.order_pos, p.target_pos));
            (at, 0, REC_FAR)
        };
        set.recs.push(Rec {
            owner,
            rdata: p.rdata,
            pos: p.pos,
            order_col,
            target_col,
            rtype: p.rtype,
            flags: far | if p.facts.is_some() { REC_ALTO } else { 0 },
        });
    }

    /// The loaded zones, for replay before [`Checker::finish`].
    #[must_use]
    pub fn zones(&self) -> &ZoneSet {
        &self.set
    }

    /// Builds the index (call once after loading, before [`Checker::zones`] is used for replay).
    pub fn index(&mut self) {
        self.set.index();
    }

    /// Adds diagnostics found elsewhere (e.g. intent replay).
    pub fn extend(&mut self, diagnostics: impl IntoIterator<Item = Diagnostic>) {
        self.diagnostics.extend(diagnostics);
    }

    /// Runs the cross-record rules and returns every diagnostic, sorted by file, line, column.
    /// Call [`Checker::index`] first if replay needs the set; it is called here otherwise.
    #[must_use]
    ///
    /// Takes `&mut self` so that a short-lived process may `std::mem::forget` the checker instead
    /// of freeing millions of records one by one at exit.
    pub fn finish(&mut self) -> Vec<Diagnostic> {
        if self.set.owner_start.is_empty() {
            self.set.index();
        }
        let mut out = std::mem::take(&mut self.diagnostics);
        let soa_owners = self.owner_rules(&mut out);
        self.zone_rules(&soa_owners, &mut out);
        sort_diagnostics(&mut out);
        out
    }

    /// The per-owner rules; returns the owners holding an SOA record, with the position of the
    /// first one (for the per-zone Z28).
    fn owner_rules(&self, out: &mut Vec<Diagnostic>) -> Vec<(u32, CPos)> {
        let set = &self.set;
        // Reverse owners reached through a CNAME (RFC 2317): their depth does not matter for Z14
        // (the only rule that asks, so forward targets are not collected).
        let cname_targets: HashSet<DomainName> = set
            .recs
            .iter()
            .filter(|r| {
                r.rtype == rtype::CNAME
                    && !matches!(reverse_kind_wire(set.rdata(r)), ReverseKind::Forward)
            })
            .filter_map(|r| DomainName::from_wire(set.rdata(r)).ok().map(|(n, _)| n))
            .collect();
        // Owners of DNAME records (Z27 looks for names below them).
        let dname_owners: HashSet<u32> = set
            .recs
            .iter()
            .filter(|r| r.rtype == rtype::DNAME)
            .map(|r| r.owner)
            .collect();
        let mut soa_owners = Vec::new();
        // Buffers reused across owners: most owners hold one record, and allocating per owner
        // showed up in the profile of a million-record zone.
        let mut recs: Vec<&Rec> = Vec::new();
        let mut naptrs: Vec<&Rec> = Vec::new();
        let mut alto: Vec<(&Rec, NaptrRecord)> = Vec::new();
        let mut services = ServicesCache::default();
        // Owners in id (= source) order. The name as a `DomainName` is only built for the rules
        // that need one (rare: most owners hold one clean ALTO record).
        for (id, wire) in set.owners.iter() {
            let lazy_name = LazyName::new(wire);
            recs.clear();
            recs.extend(set.records_of(id));
            self.singleton_rules(id, wire, &lazy_name, &recs, &dname_owners, out);
            if let Some(soa) = recs.iter().find(|r| r.rtype == rtype::SOA) {
                soa_owners.push((id, soa.pos));
            }
            let cname = recs.iter().find(|r| r.rtype == rtype::CNAME);
            // Z15
            if let Some(c) = cname
                && let Some(other) = recs.iter().find(|r| {
                    !matches!(
                        r.rtype,
                        rtype::CNAME | rtype::RRSIG | rtype::NSEC | rtype::NSEC3
                    )
                })
            {
                let name = lazy_name.get();
                out.push(
                    Diagnostic::new(
                        Rule::Z15,
                        set.position(c.pos),
                        format!("CNAME at {name} together with {} data", type_name(other.rtype)),
                    )
                    .with_hint("a CNAME owner has no other data (RFC 1034 §3.6.2); move the records to the target"),
                );
            }
            // Z16
            if let Some(c) = cname {
                self.cname_rule(lazy_name.get(), c, out);
            }
            naptrs.clear();
            naptrs.extend(recs.iter().copied().filter(|r| r.rtype == rtype::NAPTR));
            if naptrs.is_empty() {
                continue;
            }
            alto.clear();
            let first_alto = naptrs.iter().find(|r| r.alto()).copied();
            // Decoding is only needed for the rules below that look inside the records: several
            // ALTO records (Z19), a non-terminal one (FLAGS length octet 0 at offset 4: Z12/Z13),
            // or a wildcard owner (Z17).
            let alto_count = naptrs.iter().filter(|r| r.alto()).count();
            let wildcard = is_wildcard_wire(wire);
            let needs_decode = alto_count > 1
                || wildcard
                || naptrs
                    .iter()
                    .any(|r| r.alto() && set.rdata(r).get(4) == Some(&0));
            if needs_decode {
                alto.extend(
                    naptrs.iter().filter(|r| r.alto()).filter_map(|r| {
                        NaptrRecord::from_rdata(set.rdata(r)).ok().map(|n| (*r, n))
                    }),
                );
            }
            // Z14: reverse owners at a depth no client queries.
            if let Some(first) = first_alto {
                let kind = reverse_kind_wire(wire);
                let depth_ok = match kind {
                    ReverseKind::V4(n) => (1..=4).contains(&n),
                    ReverseKind::V6(n) => matches!(n, 8 | 10 | 12 | 14 | 16 | 32),
                    ReverseKind::Forward => true,
                };
                if !depth_ok && !cname_targets.contains(lazy_name.get()) {
                    let name = lazy_name.get();
                    let (what, n) = match kind {
                        ReverseKind::V4(n) => ("octet labels; clients query 1-4", n),
                        ReverseKind::V6(n) => ("nibbles; clients query 8, 10, 12, 14, 16 or 32", n),
                        ReverseKind::Forward => ("", 0),
                    };
                    out.push(
                        Diagnostic::new(
                            Rule::Z14,
                            set.position(first.pos),
                            format!("ALTO NAPTR at {name} ({n} {what}): no client ever queries this name"),
                        )
                        .with_hint("publish at the next longer supported length (RFC 8686 §5.2.1), e.g. expand a /60 into /64 names; or CNAME a queried name to it (RFC 2317)"),
                    );
                }
            }
            // Z18: the RRset's response size (header 12, question, one compressed owner pointer per
            // record, 10 octets of RR header, RDATA).
            let size = 12
                + wire.len()
                + 4
                + naptrs
                    .iter()
                    .map(|r| 2 + 10 + set.rdata(r).len())
                    .sum::<usize>();
            if size > 512 {
                let name = lazy_name.get();
                let (limit, why) = if size > 1232 {
                    (1232, "clients need TCP even with EDNS (RFC 7766)")
                } else {
                    (512, "clients without EDNS get TC=1 and must retry over TCP")
                };
                out.push(
                    Diagnostic::new(
                        Rule::Z18,
                        set.position(naptrs[0].pos),
                        format!("NAPTR RRset at {name}: about {size} octets in a response, over {limit}: {why}"),
                    )
                    .with_hint("publish fewer records at this name, or make sure TCP works"),
                );
            }
            if alto.is_empty() {
                continue;
            }
            let name = lazy_name.get();
            // Z19
            for (i, (r, n)) in alto.iter().enumerate() {
                if let Some((_, first)) = alto[..i].iter().find(|(_, m)| {
                    (m.order, m.preference) == (n.order, n.preference)
                        && ServiceParameter::parse_bytes(&m.services).ok()
                            == ServiceParameter::parse_bytes(&n.services).ok()
                }) {
                    out.push(
                        Diagnostic::new(
                            Rule::Z19,
                            set.position(set.order_pos(r)),
                            format!("ORDER {} PREFERENCE {} also used by another {} record at {name}", first.order, first.preference, lossy(&n.services)),
                        )
                        .with_hint("the client's choice between them is arbitrary; give the preferred one a lower PREFERENCE"),
                    );
                }
            }
            // Z12 / Z13: non-terminal chains.
            for (r, n) in &alto {
                if !n.flags.is_empty() || n.replacement.is_root() || !n.regexp.is_empty() {
                    continue;
                }
                let Ok(s) = services.get(&n.services) else {
                    continue;
                };
                for wanted in s.wanted() {
                    self.chain_rule(name, r, n, &wanted, out);
                }
            }
            // Z17: wildcard with explicit siblings (the first three in source order).
            if wildcard && let Some(up) = parent_wire(wire) {
                let siblings: Vec<DomainName> = set
                    .owners
                    .iter()
                    .filter(|(o, w)| {
                        *o != id && parent_wire(w).is_some_and(|p| p.eq_ignore_ascii_case(up))
                    })
                    .filter_map(|(_, w)| name_of(w))
                    .take(3)
                    .collect();
                if !siblings.is_empty() {
                    let list: Vec<String> = siblings.iter().map(ToString::to_string).collect();
                    out.push(
                        Diagnostic::new(
                            Rule::Z17,
                            set.position(alto[0].0.pos),
                            format!("wildcard {name} does not cover existing names such as {}", list.join(", ")),
                        )
                        .with_hint("those addresses get NODATA and fall back to a shorter name (RFC 4592, docs/decisions.md, A13); add explicit NAPTRs at them"),
                    );
                }
            }
        }
        soa_owners
    }

    /// Z25, Z26, Z27 and the per-owner part of Z28 (RFC 1034 §3.6.2, RFC 2181 §10.1, RFC 6672
    /// §2.4, RFC 1035 §5.2): singleton types and names occluded by a DNAME.
    fn singleton_rules(
        &self,
        id: u32,
        wire: &[u8],
        name: &LazyName<'_>,
        recs: &[&Rec],
        dname_owners: &HashSet<u32>,
        out: &mut Vec<Diagnostic>,
    ) {
        let set = &self.set;
        let nth = |t: u16, n: usize| recs.iter().filter(|r| r.rtype == t).nth(n);
        // The records of type `t` whose RDATA differ from every earlier one: a record written
        // twice is one record (RFC 2181 §5: duplicates in an RRset are merged), and names compare
        // case-insensitively (RFC 4343; the SOA's numbers are case-less anyway).
        let distinct = |t: u16| {
            let mut seen: Vec<&Rec> = Vec::new();
            for r in recs.iter().filter(|r| r.rtype == t) {
                if !seen
                    .iter()
                    .any(|s| set.rdata(s).eq_ignore_ascii_case(set.rdata(r)))
                {
                    seen.push(r);
                }
            }
            seen
        };
        // RFC 2181 §10.1: one CNAME per alias.
        let cnames = distinct(rtype::CNAME);
        if let Some(second) = cnames.get(1) {
            let count = cnames.len();
            out.push(
                Diagnostic::new(
                    Rule::Z25,
                    set.position(second.pos),
                    format!(
                        "{count} different CNAME targets at {}: an alias has exactly one canonical name",
                        name.get()
                    ),
                )
                .with_hint("keep one CNAME and delete the others (RFC 2181 §10.1)"),
            );
        }
        // RFC 1035 §5.2: one SOA (the zone-wide part is in `zone_rules`).
        if let Some(second) = distinct(rtype::SOA).get(1) {
            out.push(
                Diagnostic::new(
                    Rule::Z28,
                    set.position(second.pos),
                    format!(
                        "several SOA records at {}: a zone has exactly one",
                        name.get()
                    ),
                )
                .with_hint("keep one SOA record (RFC 1035 §5.2)"),
            );
        }
        if dname_owners.is_empty() {
            return;
        }
        if let Some(dname) = nth(rtype::DNAME, 0) {
            if let Some(second) = distinct(rtype::DNAME).get(1) {
                out.push(
                    Diagnostic::new(
                        Rule::Z26,
                        set.position(second.pos),
                        format!(
                            "several DNAME records at {}: DNAME is a singleton type",
                            name.get()
                        ),
                    )
                    .with_hint("keep one DNAME: a name has one redirection (RFC 6672 §2.4)"),
                );
            }
            let apex = recs.iter().any(|r| r.rtype == rtype::SOA);
            if !apex && recs.iter().any(|r| r.rtype == rtype::NS) {
                out.push(
                    Diagnostic::new(
                        Rule::Z26,
                        set.position(dname.pos),
                        format!("DNAME beside NS at {}, which is not a zone apex", name.get()),
                    )
                    .with_hint("below the apex the NS makes a delegation: put the DNAME at the child zone's apex (RFC 6672 §2.4)"),
                );
            }
        }
        // RFC 6672 §2.4: nothing below a DNAME owner. NSEC3 owners are hashes below the apex
        // (RFC 5155 §7.1), not names a query can reach.
        if recs
            .iter()
            .all(|r| matches!(r.rtype, rtype::NSEC3 | rtype::RRSIG))
        {
            return;
        }
        let mut up = parent_wire(wire);
        while let Some(anc) = up {
            if let Some(a) = set.owners.get(anc)
                && a != id
                && dname_owners.contains(&a)
            {
                let below = name_of(anc).map_or_else(String::new, |n| n.to_string());
                out.push(
                    Diagnostic::new(
                        Rule::Z27,
                        set.position(recs[0].pos),
                        format!(
                            "records at {} lie below the DNAME at {below}: they are occluded and never served",
                            name.get()
                        ),
                    )
                    .with_hint("move them below the DNAME target, or remove the DNAME (RFC 6672 §2.4)"),
                );
                return;
            }
            up = parent_wire(anc);
        }
    }

    fn cname_rule(&self, name: &DomainName, c: &Rec, out: &mut Vec<Diagnostic>) {
        let set = &self.set;
        // The scope of Z16 (see its rationale): chains that reach ALTO records, and CNAMEs at the
        // reverse names an XDOMDISC client queries (RFC 8686 §3.3), i.e. in zones that publish ALTO
        // records. A loop elsewhere is no ALTO matter (DNS servers load it as it is).
        let reverse = !matches!(reverse_kind(name), ReverseKind::Forward)
            && set
                .zone_of(name)
                .is_some_and(|z| set.zones[z].first_alto.is_some());
        let show = |chain: &[DomainName]| {
            chain
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" -> ")
        };
        match set.lookup_naptr(name) {
            Lookup::CnameLoop { chain } if reverse => out.push(
                Diagnostic::new(
                    Rule::Z16,
                    set.position(set.target_pos(c)),
                    format!(
                        "CNAME chain loops or is longer than {MAX_CNAME_CHAIN}: {}",
                        show(&chain)
                    ),
                )
                .with_severity(Severity::Error)
                .with_hint("point the CNAME at the name that holds the records"),
            ),
            Lookup::Records { records, chain } => {
                let alto = records.iter().any(|n| {
                    ServiceParameter::parse_bytes(&n.services)
                        .is_ok_and(|s| s.service().is_some_and(|t| t.eq_ignore_ascii_case("ALTO")))
                });
                if alto {
                    out.push(Diagnostic::new(
                        Rule::Z16,
                        set.position(c.pos),
                        format!("CNAME chain {} reaches ALTO NAPTR records; clients follow it (RFC 2317)", show(&chain)),
                    ));
                }
            }
            Lookup::NxDomain { chain } if reverse => out.push(
                Diagnostic::new(
                    Rule::Z16,
                    set.position(set.target_pos(c)),
                    format!(
                        "CNAME chain {} ends at a name that does not exist in the loaded zones",
                        show(&chain)
                    ),
                )
                .with_severity(Severity::Error)
                .with_hint("create the target or fix the CNAME"),
            ),
            Lookup::OutsideZones { chain } if reverse && chain.len() > 1 => out.push(
                Diagnostic::new(
                    Rule::Z16,
                    set.position(set.target_pos(c)),
                    format!(
                        "CNAME chain {} leaves the loaded zones; not verified offline",
                        show(&chain)
                    ),
                )
                .with_hint("load the target zone too, or verify with `altodisc check --live`"),
            ),
            _ => {}
        }
    }

    /// Z12 info: the chain leaves the loaded zones.
    fn outside_target(set: &ZoneSet, r: &Rec, n: &NaptrRecord) -> Diagnostic {
        Diagnostic::new(
            Rule::Z12,
            set.position(set.target_pos(r)),
            format!(
                "non-terminal target {} is outside the loaded zones; not verified offline",
                n.replacement
            ),
        )
        .with_severity(Severity::Info)
        .with_hint("load that zone too, or verify with `altodisc check --live`")
    }

    fn chain_rule(
        &self,
        name: &DomainName,
        r: &Rec,
        n: &NaptrRecord,
        wanted: &WantedService,
        out: &mut Vec<Diagnostic>,
    ) {
        let set = &self.set;
        // A target outside every loaded zone: the walk's first query would leave the zones and
        // end it there (the owner, inside a zone, cannot be the target, so no loop either). Said
        // without walking: a million-record zone may hold hundreds of thousands of such records.
        if set.zone_of(&n.replacement).is_none() {
            out.push(Self::outside_target(set, r, n));
            return;
        }
        let walk = set.unaptr_below(name, &n.replacement, wanted);
        let trace = walk
            .trace
            .iter()
            .map(|t| t.trim())
            .collect::<Vec<_>>()
            .join("; ");
        if walk.looped {
            out.push(
                Diagnostic::new(
                    Rule::Z13,
                    set.position(set.target_pos(r)),
                    format!("non-terminal chain from {name} for {wanted} loops or is deeper than {MAX_DEPTH}: {trace}"),
                )
                .with_hint("make the chain end in a \"u\" record within a few steps (RFC 3958 §3.2)"),
            );
        } else if walk.uris.is_empty() && walk.left_zones {
            out.push(Self::outside_target(set, r, n));
        } else if walk.uris.is_empty() {
            out.push(
                Diagnostic::new(
                    Rule::Z12,
                    set.position(set.target_pos(r)),
                    format!("non-terminal target {} yields no usable {wanted} record: {trace}", n.replacement),
                )
                .with_hint("publish a matching NAPTR at the target, or fix the REPLACEMENT (RFC 3958 §2.2.4)"),
            );
        }
    }

    /// Z28 over whole zones (RFC 1035 §5.2): one SOA, at the apex. `soa_owners` are the owners
    /// holding an SOA, with the first one's position.
    fn soa_rules(&self, soa_owners: &[(u32, CPos)], out: &mut Vec<Diagnostic>) {
        let set = &self.set;
        // Zones loaded twice under one origin (e.g. a zone split over files) count as one.
        let zone_key = |wire: &[u8]| {
            set.zone_of_wire(wire)
                .map(|z| set.zones[z].origin.as_wire().to_ascii_lowercase())
        };
        let owners: Vec<SoaOwner<'_>> = soa_owners
            .iter()
            .map(|&(id, pos)| {
                let wire = set.owners.name(id);
                (zone_key(wire), wire, pos)
            })
            .collect();
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        for z in &set.zones {
            let key = z.origin.as_wire().to_ascii_lowercase();
            if !seen.insert(key.clone()) {
                continue;
            }
            let mine: Vec<&SoaOwner<'_>> = owners
                .iter()
                .filter(|(k, _, _)| k.as_deref() == Some(key.as_slice()))
                .collect();
            let at_apex = mine
                .iter()
                .position(|(_, w, _)| w.eq_ignore_ascii_case(z.origin.as_wire()));
            let Some(first) = mine.first() else {
                out.push(
                    Diagnostic::new(
                        Rule::Z28,
                        z.first_pos.and_then(|p| set.position(p)),
                        format!("zone {} has no SOA record", z.origin),
                    )
                    .with_hint(format!(
                        "add `{} SOA <mname> <rname> <serial> <refresh> <retry> <expire> <minimum>` (RFC 1035 §5.2)",
                        z.origin
                    )),
                );
                continue;
            };
            if at_apex.is_none() && z.origin_given {
                let other = name_of(first.1).map_or_else(String::new, |n| n.to_string());
                out.push(
                    Diagnostic::new(
                        Rule::Z28,
                        set.position(first.2),
                        format!("the SOA is at {other}, not at the zone apex {}", z.origin),
                    )
                    .with_hint("put the SOA at the apex, or give the zone's real origin"),
                );
                continue;
            }
            // The apex's SOA (or, with a guessed origin, the first) is the zone's; any other
            // owner with an SOA is wrong.
            let keep = at_apex.unwrap_or(0);
            for (i, (_, w, pos)) in mine.iter().enumerate() {
                if i == keep {
                    continue;
                }
                let here = name_of(w).map_or_else(String::new, |n| n.to_string());
                let apex = name_of(mine[keep].1).map_or_else(String::new, |n| n.to_string());
                out.push(
                    Diagnostic::new(
                        Rule::Z28,
                        set.position(*pos),
                        format!("second SOA at {here}: the zone's SOA is at {apex}"),
                    )
                    .with_hint("a zone has exactly one SOA, at its apex; a child zone needs a delegation (NS) and its own file"),
                );
            }
        }
    }

    fn zone_rules(&self, soa_owners: &[(u32, CPos)], out: &mut Vec<Diagnostic>) {
        self.soa_rules(soa_owners, out);
        let set = &self.set;
        let now = u32::try_from(self.options.now_unix % (1u64 << 32)).unwrap_or(0);
        for (zi, z) in set.zones.iter().enumerate() {
            let Some((alto_pos, _)) = z.first_alto else {
                continue;
            };
            if matches!(reverse_kind(&z.origin), ReverseKind::Forward) {
                if !z.alto_https {
                    out.push(
                        Diagnostic::new(
                            Rule::Z22,
                            set.position(alto_pos),
                            format!("zone {} has ALTO records but none for ALTO:https", z.origin),
                        )
                        .with_hint(
                            "RFC 7286 clients ask for ALTO:https first; publish an https URI",
                        ),
                    );
                }
                continue;
            }
            let signed = set
                .records_at(&z.origin)
                .is_some_and(|mut it| it.any(|r| r.rtype == rtype::DNSKEY));
            if !signed {
                out.push(
                    Diagnostic::new(Rule::Z20, set.position(alto_pos), format!("reverse zone {} has no DNSKEY: its ALTO records are unsigned", z.origin))
                        .with_hint("sign the zone (RFC 8686 §6.1: only DNSSEC protects the address-to-URI mapping)"),
                );
                continue;
            }
            for (id, wire) in set.owners.iter() {
                if set.zone_of_wire(wire) != Some(zi) {
                    continue;
                }
                let recs: Vec<&Rec> = set.records_of(id).collect();
                let Some(first) = recs.iter().find(|r| r.rtype == rtype::NAPTR) else {
                    continue;
                };
                let sigs: Vec<&&Rec> = recs
                    .iter()
                    .filter(|r| {
                        r.rtype == rtype::RRSIG && set.rdata(r).get(..2) == Some(&[0, 35][..])
                    })
                    .collect();
                let name = LazyName::new(wire);
                let name = name.get();
                if sigs.is_empty() {
                    out.push(
                        Diagnostic::new(
                            Rule::Z20b,
                            set.position(first.pos),
                            format!("signed zone: NAPTR RRset at {name} has no RRSIG"),
                        )
                        .with_hint("re-sign the zone; validating clients treat the RRset as bogus"),
                    );
                    continue;
                }
                let valid = sigs.iter().any(|s| {
                    let word = |o: usize| {
                        set.rdata(s)
                            .get(o..o + 4)
                            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                    };
                    match (word(8), word(12)) {
                        // RFC 4034 §3.1.5: serial-number comparison (RFC 1982).
                        (Some(exp), Some(inc)) => {
                            (exp.wrapping_sub(now) as i32) >= 0
                                && (now.wrapping_sub(inc) as i32) >= 0
                        }
                        _ => false,
                    }
                });
                if !valid {
                    out.push(
                        Diagnostic::new(Rule::Z20b, set.position(sigs[0].pos), format!("signed zone: every RRSIG over the NAPTR RRset at {name} is expired or not yet valid"))
                            .with_hint("re-sign the zone and automate re-signing before expiry"),
                    );
                }
            }
        }
    }
}

/// An owner holding an SOA: its zone (lowercased apex, `None` outside every zone), its name, the
/// position of its first SOA.
type SoaOwner<'a> = (Option<Vec<u8>>, &'a [u8], CPos);

/// An owner's name, built as a `DomainName` only when a rule needs one.
struct LazyName<'a> {
    wire: &'a [u8],
    name: std::cell::OnceCell<DomainName>,
}

impl<'a> LazyName<'a> {
    fn new(wire: &'a [u8]) -> Self {
        Self {
            wire,
            name: std::cell::OnceCell::new(),
        }
    }

    fn get(&self) -> &DomainName {
        // Owner wire forms come from valid names (`ZoneRecord::owner`), so the root fallback is
        // never taken.
        self.name
            .get_or_init(|| name_of(self.wire).unwrap_or_else(DomainName::root))
    }
}

#[derive(Debug, Default)]
struct PendingZone {
    first_alto: Option<(CPos, bool)>,
    alto_https: bool,
    first_pos: Option<CPos>,
}

/// Sorts diagnostics by file, line, column, then rule (findings without a position last).
pub fn sort_diagnostics(d: &mut [Diagnostic]) {
    // Borrowed keys: a million-record zone can give hundreds of thousands of findings, and a key
    // that copied the file name allocated twice per comparison.
    d.sort_by(|a, b| {
        fn key(x: &Diagnostic) -> (u8, &str, u32, u32) {
            x.position
                .as_ref()
                .map_or((1, "", 0, 0), |p| (0, &*p.file, p.line, p.column))
        }
        key(a).cmp(&key(b)).then(a.rule.cmp(&b.rule))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::stream_zone_file;

    fn name(s: &str) -> DomainName {
        DomainName::parse(s).unwrap()
    }

    #[test]
    fn a_stored_record_stays_small() {
        // A million of them are kept for the cross-record rules.
        assert_eq!(size_of::<Rec>(), 32);
    }

    #[test]
    fn below_and_reverse_kind() {
        assert!(is_below(&name("a.Example.NET."), &name("example.net.")));
        assert!(is_below(&name("example.net."), &name("example.net.")));
        assert!(!is_below(&name("xexample.net."), &name("example.net.")));
        assert!(!is_below(&name("net."), &name("example.net.")));
        assert!(is_below(&name("net."), &DomainName::root()));
        assert_eq!(
            reverse_kind(&name("3.100.51.198.in-addr.arpa.")),
            ReverseKind::V4(4)
        );
        assert_eq!(
            reverse_kind(&name("0/25.2.0.192.IN-ADDR.ARPA.")),
            ReverseKind::V4(4)
        );
        assert_eq!(
            reverse_kind(&name("a.8.b.d.0.1.0.0.2.ip6.arpa.")),
            ReverseKind::V6(9)
        );
        assert_eq!(reverse_kind(&name("in-addr.arpa.")), ReverseKind::V4(0));
        assert_eq!(reverse_kind(&name("xin-addr.arpa.")), ReverseKind::Forward);
        assert_eq!(reverse_kind(&name("example.net.")), ReverseKind::Forward);
    }

    #[test]
    fn feeding_records_finds_what_load_file_finds() {
        // Every zone of the checker corpus: streamed once by the caller and fed record by record,
        // the checker must report exactly what reading the file itself reports.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/checker");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "zone"))
            .collect();
        files.sort();
        assert!(files.len() > 10, "corpus missing at {}", dir.display());
        let mut with_findings = 0;
        for path in &files {
            let origin = crate::reader::origin_from_file_name(path);
            let mut by_file = Checker::new(CheckOptions { now_unix: 0 });
            by_file.load_file(path, origin.as_ref()).unwrap();
            let want: Vec<String> = by_file.finish().iter().map(|d| format!("{d:?}")).collect();
            let mut fed = Checker::new(CheckOptions { now_unix: 0 });
            let mut feed = fed.feed_zone(16);
            if let Some(o) = &origin {
                feed.given_origin(o);
            }
            let summary = stream_zone_file(path, origin.as_ref(), &mut |r| feed.add(r)).unwrap();
            feed.finish(summary.origin, summary.diagnostics);
            let got: Vec<String> = fed.finish().iter().map(|d| format!("{d:?}")).collect();
            assert_eq!(got, want, "{}", path.display());
            // By reference, with the records kept by the caller.
            let mut kept = Vec::new();
            let mut by_ref = Checker::new(CheckOptions { now_unix: 0 });
            let mut feed = by_ref.feed_zone(0);
            if let Some(o) = &origin {
                feed.given_origin(o);
            }
            let summary = stream_zone_file(path, origin.as_ref(), &mut |r| {
                feed.add_ref(&r);
                kept.push(r);
            })
            .unwrap();
            feed.finish(summary.origin, summary.diagnostics);
            let got: Vec<String> = by_ref.finish().iter().map(|d| format!("{d:?}")).collect();
            assert_eq!(got, want, "{} (add_ref)", path.display());
            with_findings += usize::from(!want.is_empty());
        }
        assert!(with_findings > 10);
    }

    fn findings(text: &str) -> Vec<String> {
        let mut c = Checker::new(CheckOptions { now_unix: 0 });
        c.load_str(text, "t.zone", Some(&name("2.0.192.in-addr.arpa.")));
        c.finish()
            .iter()
            .map(|d| {
                let p = d.position.as_ref().map(|p| (p.line, p.column));
                format!("{} {p:?} {}", d.rule.id(), d.message)
            })
            .collect()
    }

    fn rules_of(text: &str, origin: Option<&str>) -> Vec<String> {
        let mut c = Checker::new(CheckOptions { now_unix: 0 });
        c.load_str(text, "t.zone", origin.map(name).as_ref());
        c.finish()
            .iter()
            .map(|d| {
                let line = d.position.as_ref().map_or(0, |p| p.line);
                format!("{}@{line}", d.rule.id())
            })
            .collect()
    }

    /// What BIND, Knot and NSD all accept gets none of the singleton rules: a DNAME at the apex
    /// beside NS (RFC 6672 §2.4), a CNAME with its RRSIG and NSEC (RFC 2181 §10.1, RFC 4035
    /// §2.5), NSEC3 owners below an apex DNAME (RFC 5155 hashed names).
    #[test]
    fn singleton_rules_leave_what_the_peers_accept_alone() {
        let got = rules_of(
            "$TTL 60\n@ SOA ns.example.net. h 1 1 1 1 1\n@ NS ns.example.net.\n\
             @ DNAME other.example.\n\
             abcd NSEC3 1 0 0 - abcd A\n",
            Some("example."),
        );
        assert_eq!(got, Vec::<String>::new());
        let got = rules_of(
            "$TTL 60\n@ SOA ns h 1 1 1 1 1\n@ NS ns\nns A 192.0.2.1\n\
             www CNAME ns\nwww RRSIG CNAME 13 2 60 20400101000000 20200101000000 1 example. AQID\n\
             www NSEC zz.example. CNAME RRSIG NSEC\n",
            Some("example."),
        );
        assert_eq!(got, Vec::<String>::new());
    }

    /// Z28: the SOA belongs at the apex when the origin is given; with an origin taken from the
    /// text (`$ORIGIN .` before absolute names) the SOA's owner is the apex.
    #[test]
    fn soa_at_the_apex() {
        let text =
            "$ORIGIN .\n$TTL 60\nexample. SOA ns.example. h 1 1 1 1 1\nexample. NS ns.example.\n";
        assert_eq!(rules_of(text, None), Vec::<String>::new());
        assert_eq!(rules_of(text, Some("example.")), Vec::<String>::new());
        // (The reader also reports the SOA as out of the zone.)
        assert!(rules_of(text, Some("other.")).contains(&"Z28@3".to_owned()));
        // A file of another class: reported once.
        let got = rules_of(
            "$TTL 60\n@ CH SOA ns h 1 1 1 1 1\n@ CH NS ns\n",
            Some("example."),
        );
        assert_eq!(got, ["Z29@2"]);
    }

    /// Field positions on another line than the record's start (parentheses) are kept exactly.
    #[test]
    fn multi_line_records_keep_their_field_positions() {
        let got = findings(
            "$TTL 60\n@ SOA ns h 1 1 1 1 1\n@ DNSKEY 257 3 13 AQID\n\
             @ NAPTR 10 10 \"u\" \"ALTO:https\" \"!.*!https://a.example/!\" .\n\
             @ NAPTR (\n  10 10 \"u\" \"ALTO:https\" \"!.*!https://b.example/!\" . )\n\
             @ NAPTR 20 10 \"\" \"ALTO:https\" \"\" (\n    nt.example.com. )\n",
        );
        assert!(
            got.iter()
                .any(|g| g.starts_with("Z19 Some((6, 3)) ORDER 10 PREFERENCE 10")),
            "{got:?}"
        );
        assert!(
            got.iter()
                .any(|g| g.starts_with("Z12 Some((8, 5)) non-terminal target nt.example.com.")),
            "{got:?}"
        );
    }

    /// Records of one owner need not be adjacent; owners compare case-insensitively and keep
    /// their first spelling.
    #[test]
    fn interleaved_owners_are_grouped() {
        let text = "$TTL 60\n@ SOA ns h 1 1 1 1 1\n\
             A NAPTR 10 10 \"u\" \"ALTO:https\" \"!.*!https://a.example/!\" .\n\
             b NAPTR 10 10 \"u\" \"ALTO:https\" \"!.*!https://a.example/!\" .\n\
             a NAPTR 10 10 \"u\" \"ALTO:https\" \"!.*!https://b.example/!\" .\n\
             b CNAME a\n";
        let got = findings(text);
        assert!(
            got.iter().any(|g| g.starts_with(
                "Z19 Some((5, 9)) ORDER 10 PREFERENCE 10 also used by another ALTO:https record at A.2.0.192.in-addr.arpa."
            )),
            "{got:?}"
        );
        assert!(
            got.iter().any(|g| g.starts_with(
                "Z15 Some((6, 1)) CNAME at b.2.0.192.in-addr.arpa. together with NAPTR data"
            )),
            "{got:?}"
        );
        let c = set(text);
        let recs: Vec<u16> = c
            .zones()
            .records_at(&name("a.2.0.192.IN-ADDR.arpa."))
            .unwrap()
            .map(|r| r.rtype)
            .collect();
        assert_eq!(recs, [rtype::NAPTR, rtype::NAPTR]);
    }

    /// A feed dropped without `finish` (its caller stopped on an error) keeps what it was given,
    /// RDATA included.
    #[test]
    fn a_dropped_feed_keeps_its_records() {
        let mut c = Checker::new(CheckOptions { now_unix: 0 });
        let mut feed = c.feed_zone(1);
        stream_zone_str(
            "$TTL 60\n@ SOA ns h 1 1 1 1 1\nx CNAME y\n",
            "t.zone",
            Some(&name("example.")),
            &mut |r| feed.add_ref(&r),
        );
        drop(feed);
        assert_eq!(c.zones().len(), 2);
        let cname = c
            .zones()
            .recs
            .iter()
            .find(|r| r.rtype == rtype::CNAME)
            .unwrap();
        assert_eq!(c.zones().rdata(cname), name("y.example.").as_wire());
    }

    fn set(text: &str) -> Checker {
        let mut c = Checker::new(CheckOptions { now_unix: 0 });
        c.load_str(text, "t.zone", Some(&name("2.0.192.in-addr.arpa.")));
        c.index();
        c
    }

    #[test]
    fn wildcards_do_not_cover_existing_names_a13() {
        let c = set(
            "$TTL 60\n@ SOA ns h 1 1 1 1 1\n* NAPTR 100 10 \"u\" \"ALTO:https\" \"!.*!https://w.example/!\" .\n\
             1 PTR h.example.\nx.5 PTR h.example.\n",
        );
        let wanted = WantedService::alto_https();
        // A name that does not exist: the wildcard answers (RFC 4592).
        assert_eq!(
            c.zones()
                .unaptr(&name("9.2.0.192.in-addr.arpa."), &wanted)
                .uris,
            ["https://w.example/"]
        );
        // An existing name (PTR) and an empty non-terminal (5, above x.5): NODATA.
        for n in ["1.2.0.192.in-addr.arpa.", "5.2.0.192.in-addr.arpa."] {
            let w = c.zones().unaptr(&name(n), &wanted);
            assert!(w.uris.is_empty(), "{n}: {w:?}");
            assert!(w.trace[0].ends_with("NODATA"), "{w:?}");
        }
        // Outside every loaded zone.
        let w = c.zones().unaptr(&name("example.org."), &wanted);
        assert!(w.left_zones && w.uris.is_empty());
    }

    #[test]
    fn chasing_follows_cnames_and_backtracks_in_order() {
        let c = set("$TTL 60\n@ SOA ns h 1 1 1 1 1\n\
             @ NAPTR 10 10 \"\" \"ALTO:https\" \"\" d\n\
             @ NAPTR 20 10 \"u\" \"ALTO:https\" \"!.*!https://b.example/!\" .\n\
             d CNAME e\n\
             e NAPTR 1 1 \"u\" \"ALTO:https\" \"!.*!https://a.example/!\" .\n");
        let w = c
            .zones()
            .unaptr(&name("2.0.192.in-addr.arpa."), &WantedService::alto_https());
        assert_eq!(w.uris, ["https://a.example/", "https://b.example/"]);
        assert!(
            w.trace
                .iter()
                .any(|t| t.contains("via CNAME e.2.0.192.in-addr.arpa.")),
            "{w:?}"
        );
    }

    /// The checker selects as the client does (`SelectionOptions::client`): `LIS:HELD` records
    /// carry https: URIs (RFC 8686 Appendix C.4), which the old default options rejected.
    #[test]
    fn replay_accepts_lis_held_https_like_the_client() {
        let c = set("$TTL 60\n@ SOA ns h 1 1 1 1 1\n\
             @ NAPTR 100 10 \"u\" \"LIS:HELD\" \"!.*!https://lis.example/?c=ex!\" .\n");
        let held = WantedService {
            service: "LIS".into(),
            protocol: "HELD".into(),
        };
        let w = c.zones().unaptr(&name("2.0.192.in-addr.arpa."), &held);
        assert_eq!(w.uris, ["https://lis.example/?c=ex"], "{w:?}");
    }

    /// One visited set per walk, as in the client: a name reached a second time through another
    /// branch is a loop, not walked again (the old checker popped its set and listed the URI
    /// twice). CNAME targets count as visited too.
    #[test]
    fn visited_set_spans_branches_and_cname_targets() {
        let c = set("$TTL 60\n@ SOA ns h 1 1 1 1 1\n\
             @ NAPTR 10 10 \"\" \"ALTO:https\" \"\" a\n\
             @ NAPTR 20 10 \"\" \"ALTO:https\" \"\" b\n\
             @ NAPTR 30 10 \"\" \"ALTO:https\" \"\" e\n\
             a NAPTR 1 1 \"\" \"ALTO:https\" \"\" d\n\
             b NAPTR 1 1 \"\" \"ALTO:https\" \"\" d\n\
             d NAPTR 1 1 \"u\" \"ALTO:https\" \"!.*!https://d.example/!\" .\n\
             c CNAME e\n\
             x NAPTR 1 1 \"\" \"ALTO:https\" \"\" c\n\
             x NAPTR 2 1 \"\" \"ALTO:https\" \"\" e\n\
             e NAPTR 1 1 \"u\" \"ALTO:https\" \"!.*!https://e.example/!\" .\n");
        let wanted = WantedService::alto_https();
        let w = c.zones().unaptr(&name("2.0.192.in-addr.arpa."), &wanted);
        assert_eq!(
            w.uris,
            ["https://d.example/", "https://e.example/"],
            "{w:?}"
        );
        assert!(w.looped, "b -> d revisits d: {w:?}");
        assert!(
            w.trace
                .contains(&"d.2.0.192.in-addr.arpa. (loop or depth > 5)".to_owned()),
            "{w:?}"
        );
        // x -> c reaches e through a CNAME; x -> e then is a revisit.
        let w = c.zones().unaptr(&name("x.2.0.192.in-addr.arpa."), &wanted);
        assert_eq!(w.uris, ["https://e.example/"], "{w:?}");
        assert!(w.looped, "{w:?}");
    }
}
