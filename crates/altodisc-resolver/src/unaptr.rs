//! U-NAPTR resolution over a [`NaptrSource`] (RFC 4848; docs/decisions.md, resolver steps).
//!
//! ```text
//!   altodisc_proto::walk::UnaptrWalk ── Query(name) ──▶ NaptrSource::lookup_naptr(name).await
//!          ▲   (select, chasing, visited set,                        │
//!          │    depth cap, budget, protocol order)                   │
//!          └──────────────── answer(name, NameAnswer) ◀──────────────┘
//!   Done(WalkOutcome) ──▶ UnaptrOutcome { candidates, status, visits, queries }  (+ JSON)
//! ```
//!
//! Neither selection nor the walk is re-implemented here: the walk is
//! [`altodisc_proto::walk::UnaptrWalk`] and every RRset goes through
//! [`altodisc_proto::select::select`], the implementations shared with the zone checker and the
//! responder (ARCHITECTURE.md principle 2). This module adds the I/O, the query trace and the
//! resolver's output types. Several protocols (e.g. `https`, then `http` with `--allow-http`) are
//! resolved one after the other, never mixed within one chain; the first protocol that yields a
//! candidate wins (RFC 3958 §2.2.5, RFC 7286 §3.2).

use altodisc_proto::name::DomainName;
use altodisc_proto::select::SelectionOptions;
use altodisc_proto::service::WantedService;
use altodisc_proto::walk::{
    NameAnswer, UnaptrWalk, WalkCandidate, WalkOptions, WalkOutcome, WalkStatus, WalkVisit,
};
use serde_json::{Value, json};

use crate::source::{
    Boxed, FailureReason, Lookup, LookupFailure, NaptrAnswer, NaptrSource, QueryTrace,
};

/// Default cap on non-terminal chasing depth. No RFC sets one; RFC 3958 §3.2 says "shallower is
/// better" (docs/decisions.md, resolver step 1).
pub const DEFAULT_MAX_DEPTH: usize = altodisc_proto::walk::DEFAULT_MAX_DEPTH;

/// Default cap on NAPTR lookups in one U-NAPTR resolution (all protocols together). It bounds the
/// work a hostile zone can cause with wide non-terminal fan-out, which the visited set and depth
/// cap alone do not (each name can point at many distinct new names).
pub const DEFAULT_MAX_LOOKUPS: usize = altodisc_proto::walk::DEFAULT_MAX_LOOKUPS;

/// Options for U-NAPTR resolution.
#[derive(Debug, Clone, Copy)]
pub struct UnaptrOptions {
    /// Maximum non-terminal depth (the start name is depth 0).
    pub max_depth: usize,
    /// Maximum NAPTR lookups per resolution.
    pub max_lookups: usize,
    /// Passed to [`altodisc_proto::select::select`].
    pub selection: SelectionOptions,
    /// Keep only the first ORDER group at each name (strict RFC 3403 §4.1; docs/decisions.md, A6). Off by
    /// default: every candidate is returned, tagged with its ORDER, for the caller to backtrack.
    pub first_order_only: bool,
}

impl Default for UnaptrOptions {
    fn default() -> Self {
        Self {
            max_depth: DEFAULT_MAX_DEPTH,
            max_lookups: DEFAULT_MAX_LOOKUPS,
            // The one client default, shared with the zone checker's replay: RFC 8686 §3.1 any
            // service parameter (`LIS:HELD` records carry https: URIs); http/https stay strict.
            selection: SelectionOptions::client(),
            first_order_only: false,
        }
    }
}

impl UnaptrOptions {
    /// The same options as the shared walk takes them.
    #[must_use]
    pub fn walk_options(&self) -> WalkOptions {
        WalkOptions {
            max_depth: self.max_depth,
            max_lookups: self.max_lookups,
            selection: self.selection,
            first_order_only: self.first_order_only,
        }
    }
}

/// DNSSEC validation state of a candidate or an answer (RFC 4035 §4.3).
///
/// A candidate's state is the worst over every NAPTR answer its chain relied on (the start name,
/// each non-terminal hop, CNAMEs included): bogus > indeterminate > insecure > secure. Bogus data
/// never becomes a candidate, so candidates are `secure`, `insecure` or `indeterminate` (or
/// `unchecked` with `--dnssec off`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum DnssecState {
    /// Not validated (`--dnssec off`, or a source that cannot validate, e.g. in-memory zones).
    #[default]
    Unchecked,
    /// A chain of trust from a trust anchor to the data (RFC 4035 §4.3 "secure").
    Secure,
    /// Provably no chain of trust: an unsigned zone below a secure delegation point.
    Insecure,
    /// A chain of trust should exist but the data does not validate; never used.
    Bogus,
    /// Neither secure nor provably insecure (no anchor covers it, or the proof could not be
    /// fetched).
    Indeterminate,
}

impl DnssecState {
    /// `unchecked`, `secure`, `insecure`, `bogus` or `indeterminate`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unchecked => "unchecked",
            Self::Secure => "secure",
            Self::Insecure => "insecure",
            Self::Bogus => "bogus",
            Self::Indeterminate => "indeterminate",
        }
    }

    fn rank(self) -> u8 {
        match self {
            Self::Secure => 0,
            Self::Unchecked => 1,
            Self::Insecure => 2,
            Self::Indeterminate => 3,
            Self::Bogus => 4,
        }
    }

    /// The worse of two states (for data that relied on both).
    #[must_use]
    pub fn worst(self, other: Self) -> Self {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

/// One usable URI, in the order to try it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The URI (normally an ALTO IRD).
    pub uri: String,
    /// ORDER of the terminal record.
    pub order: u16,
    /// PREFERENCE of the terminal record.
    pub preference: u16,
    /// The name that owns the terminal record (after CNAMEs and non-terminal hops).
    pub owner: DomainName,
    /// Every name on the way, from the start name to `owner` (query names and CNAME targets).
    pub chain: Vec<DomainName>,
    /// The smallest TTL of the records relied on (RFC 3403 §3: restart when one expires).
    pub ttl: u32,
    /// The protocol tag it was found for (`https`, `http`, ...).
    pub protocol: String,
    /// DNSSEC state: the worst over every answer the chain relied on.
    pub dnssec: DnssecState,
}

impl Candidate {
    /// JSON form: `uri`, `order`, `preference`, `owner`, `chain`, `ttl`, `protocol`, `dnssec`.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "uri": self.uri,
            "order": self.order,
            "preference": self.preference,
            "owner": self.owner.to_string(),
            "chain": self.chain.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "ttl": self.ttl,
            "protocol": self.protocol,
            "dnssec": self.dnssec.as_str(),
        })
    }
}

/// What one name (or one whole resolution) came to (docs/decisions.md, resolver step 8): the
/// shared walk's [`WalkStatus`] with the resolver's [`FailureReason`].
///
/// Every failed lookup reaches the walk as `WalkStatus::Temporary(reason)`, including REFUSED,
/// which is not temporary (docs/decisions.md, A16). So use [`status_is_temporary`] (not
/// `WalkStatus::is_temporary`) to decide whether a retry may help, [`status_str`] for the JSON
/// string and [`status_detail`] for the human text.
pub type NameStatus = WalkStatus<FailureReason>;

/// Whether a later retry may help: a failure whose reason is temporary (timeout, SERVFAIL,
/// RFC 8686 §3.5); not REFUSED or another error RCODE (docs/decisions.md, A16).
#[must_use]
pub fn status_is_temporary(status: &NameStatus) -> bool {
    matches!(status, WalkStatus::Temporary(r) if r.is_temporary())
}

/// The stable JSON string of a status: `found`, `nxdomain`, `nodata`, `no_match`,
/// `temporary`, `refused` (REFUSED), `server_error` (another error RCODE), `loop`,
/// `depth_exceeded`, `work_limit`.
#[must_use]
pub fn status_str(status: &NameStatus) -> &'static str {
    match status {
        WalkStatus::Temporary(FailureReason::Refused) => "refused",
        WalkStatus::Temporary(FailureReason::OtherRcode(_)) => "server_error",
        other => other.as_str(),
    }
}

/// A short human description of a status, e.g. `temporary failure (timeout)` or
/// `the server refused the query (REFUSED)`.
#[must_use]
pub fn status_detail(status: &NameStatus) -> String {
    match status {
        WalkStatus::Temporary(r) if !r.is_temporary() => format!(
            "the server refused the query ({r}): it is not authoritative for the name or does \
             not answer this client; a retry will not help"
        ),
        other => other.to_string(),
    }
}

/// A record at a name that was not used, and why (from [`altodisc_proto::select::SkipReason`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRecord {
    /// The record in master-file RDATA form.
    pub record: String,
    /// Why it was skipped.
    pub reason: String,
}

/// One name visited during resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameVisit {
    /// The name.
    pub name: DomainName,
    /// Non-terminal depth (0 = start name).
    pub depth: usize,
    /// The protocol being resolved.
    pub protocol: String,
    /// What it came to (for this name and everything below it).
    pub status: NameStatus,
    /// CNAMEs passed through before the RRset.
    pub cname_chain: Vec<DomainName>,
    /// NAPTR records in the RRset.
    pub records: usize,
    /// Records skipped, with why.
    pub skipped: Vec<SkippedRecord>,
    /// RDATA that did not decode.
    pub malformed: Vec<String>,
    /// DNSSEC state of the NAPTR answer at this name; `None` without an RRset (NXDOMAIN,
    /// NODATA, failures: a bogus one is a temporary failure with its own reason).
    pub dnssec: Option<DnssecState>,
}

impl NameVisit {
    /// JSON form.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name.to_string(),
            "depth": self.depth,
            "protocol": self.protocol,
            "status": status_str(&self.status),
            "detail": status_detail(&self.status),
            "cname_chain": self.cname_chain.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "records": self.records,
            "skipped": self.skipped.iter().map(|s| json!({"record": s.record, "reason": s.reason})).collect::<Vec<_>>(),
            "malformed": self.malformed,
            "dnssec": self.dnssec.map(DnssecState::as_str),
        })
    }
}

/// The result of U-NAPTR resolution at one start name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnaptrOutcome {
    /// The start name (the AUS, RFC 4848 §4.1).
    pub start: DomainName,
    /// Usable candidates, in the order to try them; all for one protocol.
    pub candidates: Vec<Candidate>,
    /// [`NameStatus::Found`], or the worst status seen (docs/decisions.md, resolver step 8).
    pub status: NameStatus,
    /// The protocols tried, in order (the last one tried is the one that matched, if any).
    pub protocols_tried: Vec<String>,
    /// Every name visited, for every protocol tried, in order.
    pub visits: Vec<NameVisit>,
    /// Every DNS query sent, in order (answers reused across protocols are not repeated).
    pub queries: Vec<QueryTrace>,
}

impl UnaptrOutcome {
    /// Whether at least one candidate was found.
    #[must_use]
    pub fn found(&self) -> bool {
        !self.candidates.is_empty()
    }

    /// Whether nothing was found and a later retry may help (RFC 8686 §3.5): a timeout or
    /// SERVFAIL, not a REFUSED (docs/decisions.md, A16).
    #[must_use]
    pub fn is_temporary(&self) -> bool {
        !self.found() && status_is_temporary(&self.status)
    }

    /// JSON form: `status` (`found` | `not_found` | `error`), `result` (the [`status_str`]
    /// string), `candidates`, `names` (the visits), and `queries` when `with_queries`.
    #[must_use]
    pub fn to_json(&self, with_queries: bool) -> Value {
        let mut v = json!({
            "domain": self.start.to_string(),
            "status": if self.found() { "found" } else { "not_found" },
            "result": status_str(&self.status),
            "temporary": self.is_temporary(),
            "candidates": self.candidates.iter().map(Candidate::to_json).collect::<Vec<_>>(),
            "protocols_tried": self.protocols_tried,
            "names": self.visits.iter().map(NameVisit::to_json).collect::<Vec<_>>(),
        });
        if with_queries {
            v["queries"] = self.queries.iter().map(QueryTrace::to_json).collect();
        }
        v
    }
}

/// Resolves `start` for each of `wanted` in turn (e.g. `ALTO:https`, then `ALTO:http`) until one
/// yields a candidate; never mixes protocols within a chain (RFC 3958 §2.2.5). Answers are reused
/// between protocols, so trying a second protocol costs no new query for names already seen.
///
/// Every rule of the walk (depth, visited set, budget, backtracking, protocol order, status
/// precedence) is [`altodisc_proto::walk::UnaptrWalk`], shared with the zone checker; this
/// function only answers its queries from `source`.
pub async fn resolve_unaptr<S: NaptrSource + ?Sized>(
    source: &S,
    start: &DomainName,
    wanted: &[WantedService],
    options: &UnaptrOptions,
) -> UnaptrOutcome {
    resolve_with(&Boxed(source), start, wanted, options).await
}

/// [`resolve_unaptr`] over any [`Lookup`]: batch mode walks over its cache directly.
pub(crate) async fn resolve_with<L: Lookup + ?Sized>(
    source: &L,
    start: &DomainName,
    wanted: &[WantedService],
    options: &UnaptrOptions,
) -> UnaptrOutcome {
    // Boxed: the walk's state is 552 octets, and inline it made every batch address's future
    // (one heap allocation each) larger than 1 kB. glibc serves requests of 1,024 octets and more
    // from its large bins, consolidating the fast bins first: the profile measured about 1,800
    // instructions per such allocation, against a few hundred for this smaller one.
    let mut walk = Box::new(UnaptrWalk::new(
        start.clone(),
        wanted,
        options.walk_options(),
    ));
    let mut queries = Vec::new();
    // DNSSEC state of each positive answer, by query name; a candidate takes the worst over the
    // names of its chain (the walk itself is DNSSEC-agnostic; bogus answers reach it as
    // temporary failures and never yield candidates).
    let mut states = States::default();
    loop {
        if let Some(name) = walk.next_query() {
            let lookup = source.lookup(&name).await;
            if queries.is_empty() {
                queries = lookup.queries;
            } else {
                queries.extend(lookup.queries);
            }
            if let Ok(a) = &lookup.result {
                states.insert(&name, a.dnssec);
            }
            walk.answer(&name, name_answer(lookup.result));
        } else if let Some(outcome) = walk.take_outcome() {
            let mut o = UnaptrOutcome::from_walk(outcome, queries);
            for c in &mut o.candidates {
                c.dnssec = candidate_state(&c.chain, &states);
            }
            for v in &mut o.visits {
                v.dnssec = states.get(&v.name);
            }
            return o;
        }
    }
}

/// DNSSEC states by query name. A walk makes at most [`UnaptrOptions::max_lookups`] lookups (24
/// by default; usually one), so a list searched in order is cheaper than a hash map (which
/// allocated and hashed every name of every walk).
#[derive(Default)]
struct States(Vec<(DomainName, DnssecState)>);

impl States {
    /// Sets the state of `name` (a later answer for the same name replaces the earlier one).
    fn insert(&mut self, name: &DomainName, state: DnssecState) {
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some((_, s)) => *s = state,
            None => self.0.push((name.clone(), state)),
        }
    }

    fn get(&self, name: &DomainName) -> Option<DnssecState> {
        self.0.iter().find(|(n, _)| n == name).map(|&(_, s)| s)
    }
}

/// The worst state over the answers a candidate's chain relied on (names in the chain that were
/// not query names, i.e. CNAME targets, are covered by the answer of the name that led to them).
fn candidate_state(chain: &[DomainName], states: &States) -> DnssecState {
    let mut found = chain.iter().filter_map(|n| states.get(n));
    let first = found.next().unwrap_or_default();
    found.fold(first, DnssecState::worst)
}

/// A lookup result as the walk takes it.
fn name_answer(result: Result<NaptrAnswer, LookupFailure>) -> NameAnswer<FailureReason> {
    match result {
        Ok(a) => NameAnswer::Records {
            owner: a.owner,
            cname_chain: a.cname_chain,
            records: a.records,
            ttl: a.ttl,
            malformed: a.malformed,
        },
        Err(LookupFailure::NxDomain { .. }) => NameAnswer::NxDomain,
        Err(LookupFailure::NoData { .. }) => NameAnswer::NoData,
        Err(LookupFailure::Failed(r)) => NameAnswer::Temporary(r),
    }
}

impl From<WalkCandidate> for Candidate {
    fn from(c: WalkCandidate) -> Self {
        Self {
            uri: c.uri,
            order: c.order,
            preference: c.preference,
            owner: c.owner,
            chain: c.chain,
            ttl: c.ttl,
            protocol: c.protocol,
            dnssec: DnssecState::Unchecked,
        }
    }
}

impl From<WalkVisit<FailureReason>> for NameVisit {
    fn from(v: WalkVisit<FailureReason>) -> Self {
        Self {
            name: v.name,
            depth: v.depth,
            protocol: v.protocol,
            status: v.status,
            cname_chain: v.cname_chain,
            records: v.records,
            skipped: v
                .skipped
                .into_iter()
                .map(|s| SkippedRecord {
                    record: s.record.to_string(),
                    reason: s.reason.to_string(),
                })
                .collect(),
            malformed: v.malformed,
            dnssec: None,
        }
    }
}

impl UnaptrOutcome {
    /// The walk's outcome, with the DNS queries it took.
    fn from_walk(o: WalkOutcome<FailureReason>, queries: Vec<QueryTrace>) -> Self {
        Self {
            start: o.start,
            candidates: o.candidates.into_iter().map(Candidate::from).collect(),
            status: o.status,
            protocols_tried: o.protocols_tried,
            visits: o.visits.into_iter().map(NameVisit::from).collect(),
            queries,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemorySource;
    use altodisc_proto::naptr::NaptrRecord;

    #[test]
    fn candidate_takes_the_worst_state_of_its_chain() {
        let mut states = States::default();
        states.insert(&n("a.example."), DnssecState::Secure);
        states.insert(&n("b.example."), DnssecState::Indeterminate);
        // A later answer for the same name (compared case-insensitively) replaces the first.
        states.insert(&n("B.Example."), DnssecState::Insecure);
        states.insert(&n("c.example."), DnssecState::Indeterminate);
        assert_eq!(states.0.len(), 3);
        // CNAME targets (not query names) are skipped.
        let chain = [n("a.example."), n("cname-target.example."), n("b.example.")];
        assert_eq!(candidate_state(&chain, &states), DnssecState::Insecure);
        assert_eq!(candidate_state(&chain[..2], &states), DnssecState::Secure);
        assert_eq!(
            candidate_state(&[n("c.example."), n("a.example.")], &states),
            DnssecState::Indeterminate
        );
        assert_eq!(candidate_state(&[], &states), DnssecState::Unchecked);
        assert_eq!(
            DnssecState::Secure.worst(DnssecState::Bogus),
            DnssecState::Bogus
        );
        assert_eq!(
            DnssecState::Insecure.worst(DnssecState::Secure),
            DnssecState::Insecure
        );
    }

    fn n(s: &str) -> DomainName {
        DomainName::parse(s).unwrap()
    }

    fn https() -> Vec<WantedService> {
        vec![WantedService::alto_https()]
    }

    async fn run(src: &MemorySource, start: &str, wanted: &[WantedService]) -> UnaptrOutcome {
        resolve_unaptr(src, &n(start), wanted, &UnaptrOptions::default()).await
    }

    #[tokio::test]
    async fn tv_z1_sorted_and_http_does_not_match() {
        // Inserted in reverse wire order, as BIND returned them (the RFC 7286 §3.2 example).
        let src = MemorySource::new()
            .uri(
                "example.net.",
                100,
                20,
                "ALTO:https",
                "https://alto2.example.net/ird",
            )
            .uri(
                "example.net.",
                100,
                10,
                "ALTO:https",
                "https://alto1.example.net/ird",
            );
        let o = run(&src, "example.net.", &https()).await;
        let uris: Vec<_> = o
            .candidates
            .iter()
            .map(|c| (c.uri.as_str(), c.preference))
            .collect();
        assert_eq!(
            uris,
            [
                ("https://alto1.example.net/ird", 10),
                ("https://alto2.example.net/ird", 20)
            ]
        );
        assert_eq!(o.candidates[0].owner, n("example.net."));
        assert_eq!(o.status, NameStatus::Found);
        let o = run(&src, "example.net.", &[WantedService::alto_http()]).await;
        assert!(o.candidates.is_empty());
        assert_eq!(o.status, NameStatus::NoMatch);
    }

    #[tokio::test]
    async fn https_first_then_http_without_mixing_and_without_requery() {
        let src = MemorySource::new()
            .uri("a.example.", 10, 10, "ALTO:http", "http://a.example/ird")
            .follow("a.example.", 5, 10, "ALTO:https:http", "b.example.")
            .uri("b.example.", 1, 1, "ALTO:http", "http://b.example/ird");
        let both = [WantedService::alto_https(), WantedService::alto_http()];
        let o = run(&src, "a.example.", &both).await;
        assert_eq!(o.protocols_tried, ["https", "http"]);
        let uris: Vec<_> = o.candidates.iter().map(|c| c.uri.as_str()).collect();
        // https chain: a → b finds nothing for https; http chain: b (order 5) then a (order 10).
        assert_eq!(uris, ["http://b.example/ird", "http://a.example/ird"]);
        assert_eq!(o.candidates[0].chain, [n("a.example."), n("b.example.")]);
        assert_eq!(o.candidates[0].owner, n("b.example."));
        // Two names, two queries, although both protocols visited both names.
        assert_eq!(src.query_count(), 2);
    }

    #[tokio::test]
    async fn loop_ends_quickly_with_loop_status() {
        let src = MemorySource::new()
            .follow("a.example.", 1, 1, "ALTO:https", "b.example.")
            .follow("b.example.", 1, 1, "ALTO:https", "a.example.");
        let o = run(&src, "a.example.", &https()).await;
        assert_eq!(o.status, NameStatus::Loop);
        assert_eq!(src.query_count(), 2);
    }

    #[tokio::test]
    async fn depth_cap() {
        let mut src = MemorySource::new();
        for i in 0..10 {
            src = src.follow(
                &format!("d{i}.example."),
                1,
                1,
                "ALTO:https",
                &format!("d{}.example.", i + 1),
            );
        }
        let src = src.uri("d10.example.", 1, 1, "ALTO:https", "https://deep.example/");
        let o = run(&src, "d0.example.", &https()).await;
        assert_eq!(o.status, NameStatus::DepthExceeded);
        assert_eq!(src.query_count(), DEFAULT_MAX_DEPTH + 1);
        // Within the cap it is found.
        let o = run(&src, "d5.example.", &https()).await;
        assert_eq!(o.candidates.len(), 1);
        assert_eq!(o.candidates[0].chain.len(), 6);
    }

    #[tokio::test]
    async fn hostile_fan_out_is_bounded() {
        let mut src = MemorySource::new();
        // Each level points at 10 new names: 10^5 names without a budget.
        for d in 0..5 {
            for i in 0..10u32.pow(d) {
                for j in 0..10 {
                    src = src.follow(
                        &format!("n{i}.l{d}.example."),
                        1,
                        j,
                        "ALTO:https",
                        &format!("n{}.l{}.example.", i * 10 + u32::from(j), d + 1),
                    );
                }
            }
        }
        let o = run(&src, "n0.l0.example.", &https()).await;
        assert!(!o.found());
        assert!(src.query_count() <= DEFAULT_MAX_LOOKUPS);
        assert_eq!(o.status, NameStatus::WorkLimit);
    }

    #[tokio::test]
    async fn skipped_records_say_why() {
        let src = MemorySource::new()
            .uri(
                "x.example.",
                1,
                1,
                "ALTO:https",
                "http://wrong-scheme.example/",
            )
            .naptr(
                "x.example.",
                NaptrRecord {
                    flags: b"p".to_vec(),
                    ..NaptrRecord::terminal(1, 2, "ALTO:https", "!.*!https://p.example/!")
                },
            )
            .uri("x.example.", 1, 3, "LIS:HELD", "https://lis.example/")
            .uri(
                "x.example.",
                1,
                4,
                "alto:HTTPS",
                "https://mixed-case.example/",
            );
        let o = run(&src, "x.example.", &https()).await;
        assert_eq!(o.candidates.len(), 1);
        assert_eq!(o.candidates[0].uri, "https://mixed-case.example/");
        let skipped = &o.visits[0].skipped;
        assert_eq!(skipped.len(), 3);
        assert!(skipped[0].reason.contains("URI"), "{:?}", skipped[0]);
        assert!(
            skipped[1].reason.contains("unknown flag"),
            "{:?}",
            skipped[1]
        );
        assert!(
            skipped[2].reason.contains("not the wanted service"),
            "{:?}",
            skipped[2]
        );
    }

    #[tokio::test]
    async fn malformed_rdata_is_reported_not_used() {
        let good = NaptrRecord::terminal(1, 1, "ALTO:https", "!.*!https://ok.example/!")
            .to_rdata()
            .unwrap();
        let src = MemorySource::new()
            .raw_rdata("m.example.", &[0, 1, 0])
            .raw_rdata("m.example.", &[0, 1, 0, 1, 200, b'u'])
            .raw_rdata("m.example.", &good);
        let o = run(&src, "m.example.", &https()).await;
        assert_eq!(o.candidates.len(), 1);
        assert_eq!(o.visits[0].malformed.len(), 2);
        let only_bad = MemorySource::new().raw_rdata("m.example.", &[9; 3]);
        let o = run(&only_bad, "m.example.", &https()).await;
        assert_eq!(o.status, NameStatus::NoMatch);
    }

    #[tokio::test]
    async fn temporary_below_non_terminal_ranks_above_nxdomain() {
        let src = MemorySource::new()
            .follow("t.example.", 1, 1, "ALTO:https", "gone.example.")
            .follow("t.example.", 1, 2, "ALTO:https", "slow.example.")
            .fail("slow.example.", FailureReason::Timeout);
        let o = run(&src, "t.example.", &https()).await;
        assert_eq!(o.status, NameStatus::Temporary(FailureReason::Timeout));
    }

    #[tokio::test]
    async fn cname_chain_recorded_and_loops_are_temporary() {
        let src = MemorySource::new()
            .cname("34.2.0.192.in-addr.arpa.", "34.0-25.2.0.192.in-addr.arpa.")
            .uri(
                "34.0-25.2.0.192.in-addr.arpa.",
                1,
                1,
                "ALTO:https",
                "https://c.example/",
            )
            .cname("l1.example.", "l2.example.")
            .cname("l2.example.", "l1.example.");
        let o = run(&src, "34.2.0.192.in-addr.arpa.", &https()).await;
        assert_eq!(o.candidates[0].owner, n("34.0-25.2.0.192.in-addr.arpa."));
        assert_eq!(
            o.candidates[0].chain,
            [
                n("34.2.0.192.in-addr.arpa."),
                n("34.0-25.2.0.192.in-addr.arpa.")
            ]
        );
        let o = run(&src, "l1.example.", &https()).await;
        assert_eq!(o.status, NameStatus::Temporary(FailureReason::CnameChain));
    }
}
