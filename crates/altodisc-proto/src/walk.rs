//! The U-NAPTR walk around [`select`]: chasing non-terminal records from a
//! start name until URIs are found (docs/decisions.md, resolver steps).
//!
//! ```text
//!   UnaptrWalk::new(start, wanted, options)
//!        │
//!        ▼                 ┌──────────────────────── caller (resolver: DNS; checker: loaded zones)
//!   next_step() ── Query(name) ──▶ lookup NAPTR at name ──▶ answer(name, NameAnswer) ──┐
//!        ▲                                                                              │
//!        └──────────────────────────────────────────────────────────────────────────────┘
//!   next_step() ── Done(WalkOutcome { candidates, status, visits, protocols_tried, lookups })
//! ```
//!
//! Sans-I/O in the manner of quinn: no sockets, no async, no clock. The walk says which name it
//! needs next; whoever holds the data (the resolver over DNS, the zone checker over files it
//! loaded) answers; the walk applies every rule. So the resolver and the checker's replay walk the
//! same way, as they select the same way (ARCHITECTURE.md principle 2).
//!
//! The rules, per wanted service in the order given (e.g. `ALTO:https`, then `ALTO:http`):
//!
//! 1. A name deeper than [`WalkOptions::max_depth`] non-terminal hops, or one already visited for
//!    this protocol, is not queried: [`WalkStatus::DepthExceeded`] / [`WalkStatus::Loop`]. No RFC
//!    sets a cap; RFC 3958 §3.2 says "shallower is better" (docs/decisions.md, resolver step 1 `[interp]`).
//!    The target of a CNAME also counts as visited, so a non-terminal record that points at it is
//!    a loop too.
//! 2. A name not seen before costs one lookup out of [`WalkOptions::max_lookups`], shared by all
//!    protocols; when the budget is spent the name is [`WalkStatus::WorkLimit`]. The budget bounds
//!    the work a hostile zone can cause with wide fan-out, which depth and visited set alone do not.
//!    Answers are remembered, so a second protocol costs no lookup for names already seen.
//! 3. The RRset goes through [`select`] (RFC 3403 §4.1, RFC 4848 §4.4–§4.5);
//!    with [`WalkOptions::first_order_only`] only the first ORDER group is kept (strict RFC 3403
//!    §4.1, docs/decisions.md, A6); otherwise every usable record is tried, tagged with its ORDER.
//! 4. Usable records in order: a terminal record appends a [`WalkCandidate`]; a non-terminal record
//!    walks its REPLACEMENT with the **same** protocol (RFC 3958 §2.2.5), one level deeper; an
//!    empty result there is a configuration error and the walk backtracks to the next record
//!    (RFC 3958 §2.2.4).
//! 5. A name's status is [`WalkStatus::Found`] when it or anything below it gave a candidate,
//!    otherwise the worst status below it ([`WalkStatus::rank`], docs/decisions.md, resolver step 8), otherwise
//!    [`WalkStatus::NoMatch`].
//! 6. The first protocol whose walk yields a candidate wins and the walk stops; protocols are never
//!    mixed within one chain (RFC 3958 §2.2.5, RFC 7286 §3.2). When none
//!    does, the overall status is the worst over all protocols.
//!
//! Every candidate carries the smallest TTL along its chain: when any record relied on expires the
//! whole walk must be redone (RFC 3402 §3.3 NOTE 2; RFC 3403 §3).
//!
//! The walk is generic over `T`, the caller's reason for a temporary failure (the resolver's
//! timeout/SERVFAIL/..., the checker's "outside the loaded zones"), which it carries through
//! untouched.

use std::collections::{HashMap, HashSet};
use std::fmt;

use crate::name::DomainName;
use crate::naptr::NaptrRecord;
use crate::select::{NextStep, SelectionOptions, SkipReason, Usable, select};
use crate::service::WantedService;

/// Default cap on non-terminal depth (the start name is depth 0). No RFC sets one; RFC 3958 §3.2
/// says "shallower is better" (docs/decisions.md, resolver step 1 `[interp]`).
pub const DEFAULT_MAX_DEPTH: usize = 5;

/// Default cap on lookups in one walk (all protocols together): bounds hostile fan-out.
pub const DEFAULT_MAX_LOOKUPS: usize = 24;

/// How a walk is bounded and how it selects.
#[derive(Debug, Clone, Copy)]
pub struct WalkOptions {
    /// Maximum non-terminal depth (the start name is depth 0).
    pub max_depth: usize,
    /// Maximum lookups per walk, all protocols together.
    pub max_lookups: usize,
    /// Passed to [`select`] at every name.
    pub selection: SelectionOptions,
    /// Keep only the first ORDER group at each name (strict RFC 3403 §4.1; docs/decisions.md, A6). Off by
    /// default: every usable record is tried, tagged with its ORDER, for backtracking.
    pub first_order_only: bool,
}

impl Default for WalkOptions {
    /// [`DEFAULT_MAX_DEPTH`], [`DEFAULT_MAX_LOOKUPS`], default selection, every ORDER group.
    fn default() -> Self {
        Self {
            max_depth: DEFAULT_MAX_DEPTH,
            max_lookups: DEFAULT_MAX_LOOKUPS,
            selection: SelectionOptions::default(),
            first_order_only: false,
        }
    }
}

impl WalkOptions {
    /// The altodisc client's walk: the defaults with [`SelectionOptions::client`]. The resolver
    /// walks with these, and so does the zone checker's replay (with its own lookup budget), so
    /// that "the checker finds it" and "the client finds it" cannot drift apart.
    #[must_use]
    pub fn client() -> Self {
        Self {
            selection: SelectionOptions::client(),
            ..Self::default()
        }
    }
}

/// What a NAPTR lookup at one name gave (docs/decisions.md, resolver step 2). `T` is the caller's reason for a
/// temporary failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameAnswer<T> {
    /// An RRset (possibly empty, e.g. when every RDATA was malformed), possibly after CNAMEs.
    Records {
        /// The name owning the RRset: the queried name, or the end of its CNAME chain.
        owner: DomainName,
        /// CNAME owners passed through, starting with the queried name (empty without CNAMEs).
        cname_chain: Vec<DomainName>,
        /// The records that decoded, in any order (selection sorts).
        records: Vec<NaptrRecord>,
        /// The smallest TTL of the RRset and the CNAMEs leading to it, in seconds.
        ttl: u32,
        /// RDATA that did not decode, with why; reported, never used.
        malformed: Vec<String>,
    },
    /// NXDOMAIN.
    NxDomain,
    /// The name exists but has no NAPTR.
    NoData,
    /// A failure a later retry may cure (timeout, SERVFAIL, CNAME loop, ...).
    Temporary(T),
}

/// What one name, one protocol or the whole walk came to (docs/decisions.md, resolver step 8).
///
/// The resolver uses it as its `NameStatus` (with its own temporary-failure reason). Deliberately
/// not `#[non_exhaustive]`: a new variant (BOGUS, once DNSSEC lands) must make every `match` in
/// the workspace decide where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalkStatus<T> {
    /// At least one candidate, here or below.
    Found,
    /// NXDOMAIN.
    NxDomain,
    /// The name exists but has no NAPTR.
    NoData,
    /// NAPTR records exist but none is usable for the wanted service (NODATA-equivalent,
    /// RFC 8686 §3.5 "normal" failure), and no non-terminal gave anything worse.
    NoMatch,
    /// A retry may help (RFC 8686 §3.5 "temporary").
    Temporary(T),
    /// A non-terminal record leads back to a name already visited (or to a CNAME target).
    Loop,
    /// Non-terminal chasing went deeper than [`WalkOptions::max_depth`].
    DepthExceeded,
    /// [`WalkOptions::max_lookups`] ran out.
    WorkLimit,
}

impl<T> WalkStatus<T> {
    /// Stable string for machine-readable output: `found`, `nxdomain`, `nodata`, `no_match`,
    /// `temporary`, `loop`, `depth_exceeded`, `work_limit`.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Found => "found",
            Self::NxDomain => "nxdomain",
            Self::NoData => "nodata",
            Self::NoMatch => "no_match",
            Self::Temporary(_) => "temporary",
            Self::Loop => "loop",
            Self::DepthExceeded => "depth_exceeded",
            Self::WorkLimit => "work_limit",
        }
    }

    /// Whether a retry later may help (RFC 8686 §3.5 "temporary").
    #[must_use]
    pub fn is_temporary(&self) -> bool {
        matches!(self, Self::Temporary(_))
    }

    /// Precedence when nothing was found, higher is worse: temporary (4) > loop, depth, work
    /// limit (3) > NODATA, no match (2) > NXDOMAIN (1); found is 5 (docs/decisions.md, resolver step 8
    /// `[interp]`; BOGUS will rank above temporary once DNSSEC lands).
    #[must_use]
    pub fn rank(&self) -> u8 {
        match self {
            Self::Found => 5,
            Self::Temporary(_) => 4,
            Self::Loop | Self::DepthExceeded | Self::WorkLimit => 3,
            Self::NoData | Self::NoMatch => 2,
            Self::NxDomain => 1,
        }
    }

    /// The worse of `self` and `other` by [`rank`](Self::rank); on a tie, `self` (the one seen
    /// first).
    #[must_use]
    pub fn worst(self, other: Self) -> Self {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

impl<T> WalkStatus<T> {
    /// The [`Display`](fmt::Display) text of every status but [`Self::Temporary`], whose text
    /// names its reason: for writers that copy the fixed text instead of formatting it.
    #[must_use]
    pub fn fixed_text(&self) -> Option<&'static str> {
        Some(match self {
            Self::Found => "found",
            Self::NxDomain => "NXDOMAIN",
            Self::NoData => "NODATA (no NAPTR records)",
            Self::NoMatch => "NAPTR records present, none usable",
            Self::Temporary(_) => return None,
            Self::Loop => "NAPTR loop (name already visited)",
            Self::DepthExceeded => "non-terminal chain too deep",
            Self::WorkLimit => "lookup budget exhausted",
        })
    }
}

impl<T: fmt::Display> fmt::Display for WalkStatus<T> {
    /// A short human-readable description, e.g. `temporary failure (timeout)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Temporary(r) => write!(f, "temporary failure ({r})"),
            // Every other status has its fixed text (`fixed_text` matches them all).
            _ => f.write_str(self.fixed_text().unwrap_or_default()),
        }
    }
}

/// Folds `status` into an accumulated worst status (first seen wins ties).
fn fold_worst<T>(acc: Option<WalkStatus<T>>, status: WalkStatus<T>) -> WalkStatus<T> {
    match acc {
        None => status,
        Some(a) => a.worst(status),
    }
}

/// One usable URI, in the order to try it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkCandidate {
    /// The URI.
    pub uri: String,
    /// ORDER of the terminal record.
    pub order: u16,
    /// PREFERENCE of the terminal record.
    pub preference: u16,
    /// The name owning the terminal record (after CNAMEs and non-terminal hops).
    pub owner: DomainName,
    /// Every name on the way, from the start name (after any ancestors given with
    /// [`UnaptrWalk::below`]) to `owner`: query names and CNAME targets.
    pub chain: Vec<DomainName>,
    /// The smallest TTL of the records relied on (RFC 3403 §3: redo the walk when one expires).
    pub ttl: u32,
    /// The protocol tag it was found for.
    pub protocol: String,
}

/// A record at a name that was not used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkSkipped {
    /// The record.
    pub record: NaptrRecord,
    /// Why [`select`] skipped it.
    pub reason: SkipReason,
}

/// One name visited, for one protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkVisit<T> {
    /// The name.
    pub name: DomainName,
    /// Non-terminal depth (0 = start name).
    pub depth: usize,
    /// The protocol being walked.
    pub protocol: String,
    /// What it came to, for this name and everything below it.
    pub status: WalkStatus<T>,
    /// CNAMEs passed through before the RRset (empty when no RRset was found).
    pub cname_chain: Vec<DomainName>,
    /// NAPTR records in the RRset.
    pub records: usize,
    /// Records skipped, with why, in RRset order.
    pub skipped: Vec<WalkSkipped>,
    /// RDATA that did not decode.
    pub malformed: Vec<String>,
}

/// The result of a walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkOutcome<T> {
    /// The start name (the AUS, RFC 4848 §4.1).
    pub start: DomainName,
    /// Usable candidates in the order to try them; all for one protocol.
    pub candidates: Vec<WalkCandidate>,
    /// [`WalkStatus::Found`], or the worst status over the protocols tried;
    /// [`WalkStatus::NxDomain`] when no service was wanted.
    pub status: WalkStatus<T>,
    /// The protocols walked, in order (the last is the one that matched, if any).
    pub protocols_tried: Vec<String>,
    /// Every name visited, for every protocol tried, in the order entered (pre-order).
    pub visits: Vec<WalkVisit<T>>,
    /// Lookups asked for ([`WalkStep::Query`] of distinct names).
    pub lookups: usize,
}

impl<T> WalkOutcome<T> {
    /// Whether at least one candidate was found.
    #[must_use]
    pub fn found(&self) -> bool {
        !self.candidates.is_empty()
    }
}

/// What the walk needs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalkStep<T> {
    /// Look up NAPTR at this name (following CNAMEs) and pass the result to
    /// [`UnaptrWalk::answer`].
    Query(DomainName),
    /// The walk is over.
    Done(WalkOutcome<T>),
}

/// The hasher of the walk's maps: foldhash instead of SipHash. A resolver walks once per ladder
/// name, and SipHash over each name was a visible share of a batch's work. Like SipHash's keys,
/// foldhash's seed is random per process, so names cannot be chosen to collide (the batch cache
/// keys names from the network with it too).
type NameHasher = foldhash::fast::RandomState;

/// A name waiting to be entered.
#[derive(Debug)]
struct Pending {
    name: DomainName,
    depth: usize,
    /// The chain down to (not including) `name`.
    path: Vec<DomainName>,
    ttl: u32,
    /// Already counted as visited and asked for: waiting for its answer.
    asked: bool,
}

/// A name entered, whose usable records are being worked through.
#[derive(Debug)]
struct Frame<T> {
    visit: usize,
    depth: usize,
    /// The chain up to and including the RRset owner.
    path: Vec<DomainName>,
    ttl: u32,
    owner: DomainName,
    usable: std::vec::IntoIter<Usable>,
    /// Candidates before this name was entered.
    candidates_before: usize,
    /// Worst status of the non-terminals followed from here.
    below: Option<WalkStatus<T>>,
}

/// The U-NAPTR walk state machine; see the [module docs](self).
///
/// ```
/// use altodisc_proto::walk::{NameAnswer, UnaptrWalk, WalkOptions, WalkStatus, WalkStep};
/// use altodisc_proto::{DomainName, NaptrRecord, WantedService};
///
/// let start = DomainName::parse("example.net.").unwrap();
/// let mut walk: UnaptrWalk<String> =
///     UnaptrWalk::new(start, &[WantedService::alto_https()], WalkOptions::default());
/// let outcome = loop {
///     match walk.next_step() {
///         WalkStep::Query(name) => {
///             // A real caller asks DNS (or its loaded zones) here.
///             let record = NaptrRecord::terminal(
///                 100, 10, "ALTO:https", "!.*!https://alto1.example.net/ird!");
///             let answer = NameAnswer::Records {
///                 owner: name.clone(), cname_chain: Vec::new(), records: vec![record],
///                 ttl: 300, malformed: Vec::new(),
///             };
///             walk.answer(&name, answer);
///         }
///         WalkStep::Done(outcome) => break outcome,
///     }
/// };
/// assert_eq!(outcome.status, WalkStatus::Found);
/// assert_eq!(outcome.candidates[0].uri, "https://alto1.example.net/ird");
/// ```
#[derive(Debug)]
pub struct UnaptrWalk<T> {
    start: DomainName,
    ancestors: Vec<DomainName>,
    wanted: Vec<WantedService>,
    options: WalkOptions,
    /// Answers by queried name, shared by all protocols.
    memo: HashMap<DomainName, NameAnswer<T>, NameHasher>,
    lookups: usize,
    /// Index into `wanted` of the protocol being walked.
    current: usize,
    visited: HashSet<DomainName, NameHasher>,
    pending: Option<Pending>,
    stack: Vec<Frame<T>>,
    /// The status of the current protocol's start name, once its walk is over.
    root: Option<WalkStatus<T>>,
    /// Worst status of the protocols that found nothing.
    worst: Option<WalkStatus<T>>,
    candidates: Vec<WalkCandidate>,
    visits: Vec<WalkVisit<T>>,
    protocols_tried: Vec<String>,
    outcome: Option<WalkOutcome<T>>,
}

impl<T: Clone> UnaptrWalk<T> {
    /// A walk from `start` for each of `wanted` in turn, until one yields a candidate.
    #[must_use]
    pub fn new(start: DomainName, wanted: &[WantedService], options: WalkOptions) -> Self {
        Self::below(Vec::new(), start, wanted, options)
    }

    /// A walk that starts below `ancestors` instead of at the top: `start` is at depth
    /// `ancestors.len()`, the ancestors count as visited (a record pointing back at one is a
    /// [`WalkStatus::Loop`]) and begin every candidate's chain. For a checker that follows one
    /// non-terminal record from its owner: `below(vec![owner], replacement, ..)`.
    #[must_use]
    pub fn below(
        ancestors: Vec<DomainName>,
        start: DomainName,
        wanted: &[WantedService],
        options: WalkOptions,
    ) -> Self {
        let mut walk = Self {
            start,
            ancestors,
            wanted: wanted.to_vec(),
            options,
            memo: HashMap::default(),
            lookups: 0,
            current: 0,
            visited: HashSet::default(),
            pending: None,
            stack: Vec::new(),
            root: None,
            worst: None,
            candidates: Vec::new(),
            visits: Vec::new(),
            protocols_tried: Vec::new(),
            outcome: None,
        };
        walk.begin_protocol();
        walk
    }

    /// Lookups asked for so far.
    #[must_use]
    pub fn lookups(&self) -> usize {
        self.lookups
    }

    /// Gives the answer for a name [`next_step`](Self::next_step) asked for. Returns whether it
    /// was the awaited name; any other answer is ignored (the walk only trusts what it asked for,
    /// so the lookup budget holds).
    pub fn answer(&mut self, name: &DomainName, answer: NameAnswer<T>) -> bool {
        match &self.pending {
            Some(p) if p.asked && p.name == *name && !self.memo.contains_key(name) => {
                self.memo.insert(name.clone(), answer);
                true
            }
            _ => false,
        }
    }

    /// Advances the walk as far as it can without a new answer. Asking again before answering
    /// repeats the same [`WalkStep::Query`] (and costs no further lookup); after
    /// [`WalkStep::Done`] it keeps returning the same outcome.
    pub fn next_step(&mut self) -> WalkStep<T> {
        loop {
            if let Some(outcome) = &self.outcome {
                return WalkStep::Done(outcome.clone());
            }
            if let Some(query) = self.advance() {
                return WalkStep::Query(query);
            }
        }
    }

    /// [`next_step`](Self::next_step) for a caller that stops at the end: the name to look up
    /// next, or `None` once the walk is over, when [`take_outcome`](Self::take_outcome) hands
    /// the outcome over instead of the copy `next_step` makes on every call (a resolver walks
    /// once per ladder name, so the copy was a cost per address in batch mode).
    pub fn next_query(&mut self) -> Option<DomainName> {
        loop {
            if self.outcome.is_some() {
                return None;
            }
            if let Some(query) = self.advance() {
                return Some(query);
            }
        }
    }

    /// The outcome, once [`next_query`](Self::next_query) returned `None`; moved out, so the
    /// walk is spent afterwards. `None` while the walk is not over.
    pub fn take_outcome(&mut self) -> Option<WalkOutcome<T>> {
        self.outcome.take()
    }

    /// One move of the walk: a name to look up, or `None` after a step without a lookup (which
    /// may have ended the walk).
    fn advance(&mut self) -> Option<DomainName> {
        if let Some(query) = self.advance_pending() {
            return Some(query);
        }
        if self.stack.is_empty() {
            self.end_protocol();
        } else {
            self.advance_frame();
        }
        None
    }

    /// (Re)starts the walk for `wanted[current]` at the start name, or ends it when there is none.
    fn begin_protocol(&mut self) {
        self.visited.clear();
        self.visited.extend(self.ancestors.iter().cloned());
        self.stack.clear();
        self.root = None;
        if self.current >= self.wanted.len() {
            self.pending = None;
            self.finish(self.worst.clone().unwrap_or(WalkStatus::NxDomain));
            return;
        }
        self.pending = Some(Pending {
            name: self.start.clone(),
            depth: self.ancestors.len(),
            path: self.ancestors.clone(),
            ttl: u32::MAX,
            asked: false,
        });
    }

    fn protocol(&self) -> String {
        self.wanted
            .get(self.current)
            .map(|w| w.protocol.clone())
            .unwrap_or_default()
    }

    /// Handles the pending name: returns the name to query, or leaves `pending` empty after
    /// entering the name or recording why it was not entered.
    fn advance_pending(&mut self) -> Option<DomainName> {
        let mut p = self.pending.take()?;
        if !p.asked {
            // docs/decisions.md, resolver step 1: depth first, then visited; neither costs a lookup.
            if p.depth > self.options.max_depth {
                self.leaf(&p, WalkStatus::DepthExceeded);
                return None;
            }
            if !self.visited.insert(p.name.clone()) {
                self.leaf(&p, WalkStatus::Loop);
                return None;
            }
        }
        if self.memo.contains_key(&p.name) {
            self.enter(p);
            return None;
        }
        if !p.asked {
            if self.lookups >= self.options.max_lookups {
                self.leaf(&p, WalkStatus::WorkLimit);
                return None;
            }
            self.lookups += 1;
            p.asked = true;
        }
        let name = p.name.clone();
        self.pending = Some(p);
        Some(name)
    }

    /// Records a name that gave no RRset (or was not looked up) and passes its status up.
    fn leaf(&mut self, p: &Pending, status: WalkStatus<T>) {
        self.visits.push(WalkVisit {
            name: p.name.clone(),
            depth: p.depth,
            protocol: self.protocol(),
            status: status.clone(),
            cname_chain: Vec::new(),
            records: 0,
            skipped: Vec::new(),
            malformed: Vec::new(),
        });
        self.deliver(status);
    }

    /// Enters a name whose answer is known.
    fn enter(&mut self, p: Pending) {
        let Some(answer) = self.memo.get(&p.name) else {
            return;
        };
        let (owner, cname_chain, records, ttl, malformed) = match answer {
            NameAnswer::Records {
                owner,
                cname_chain,
                records,
                ttl,
                malformed,
            } => (owner, cname_chain, records, *ttl, malformed),
            NameAnswer::NxDomain => return self.leaf(&p, WalkStatus::NxDomain),
            NameAnswer::NoData => return self.leaf(&p, WalkStatus::NoData),
            NameAnswer::Temporary(t) => {
                let status = WalkStatus::Temporary(t.clone());
                return self.leaf(&p, status);
            }
        };
        let Some(wanted) = self.wanted.get(self.current) else {
            return;
        };
        // CNAME targets count as visited: a later non-terminal record pointing at one is a loop.
        self.visited.insert(owner.clone());
        let mut path = p.path;
        path.push(p.name.clone());
        path.extend(cname_chain.iter().skip(1).cloned());
        if *owner != p.name {
            path.push(owner.clone());
        }
        let selection = select(records, wanted, &self.options.selection);
        let usable = if self.options.first_order_only {
            selection.first_order_group().to_vec()
        } else {
            selection.usable
        };
        let skipped = selection
            .skipped
            .into_iter()
            .filter_map(|s| {
                records.get(s.index).map(|r| WalkSkipped {
                    record: r.clone(),
                    reason: s.reason,
                })
            })
            .collect();
        let visit = WalkVisit {
            name: p.name,
            depth: p.depth,
            protocol: wanted.protocol.clone(),
            // Until the records below are worked through (step 5 of the module docs).
            status: WalkStatus::NoMatch,
            cname_chain: cname_chain.clone(),
            records: records.len(),
            skipped,
            malformed: malformed.clone(),
        };
        let frame = Frame {
            visit: self.visits.len(),
            depth: p.depth,
            path,
            ttl: p.ttl.min(ttl),
            owner: owner.clone(),
            usable: usable.into_iter(),
            candidates_before: self.candidates.len(),
            below: None,
        };
        self.visits.push(visit);
        self.stack.push(frame);
    }

    /// Works through the next usable record of the innermost name, or closes that name.
    fn advance_frame(&mut self) {
        let protocol = self.protocol();
        let Some(frame) = self.stack.last_mut() else {
            return;
        };
        if let Some(u) = frame.usable.next() {
            match u.next {
                NextStep::Uri(uri) => self.candidates.push(WalkCandidate {
                    uri,
                    order: u.order,
                    preference: u.preference,
                    owner: frame.owner.clone(),
                    chain: frame.path.clone(),
                    ttl: frame.ttl,
                    protocol,
                }),
                // RFC 3958 §2.2.5: the same protocol below; §2.2.4: whatever comes back, the
                // next record is tried after it.
                NextStep::Follow(target) => {
                    self.pending = Some(Pending {
                        name: target,
                        depth: frame.depth + 1,
                        path: frame.path.clone(),
                        ttl: frame.ttl,
                        asked: false,
                    });
                }
            }
            return;
        }
        let Some(frame) = self.stack.pop() else {
            return;
        };
        let status = if self.candidates.len() > frame.candidates_before {
            WalkStatus::Found
        } else {
            frame.below.unwrap_or(WalkStatus::NoMatch)
        };
        if let Some(v) = self.visits.get_mut(frame.visit) {
            v.status = status.clone();
        }
        self.deliver(status);
    }

    /// Passes a name's status to the name whose non-terminal led there, or ends the protocol.
    fn deliver(&mut self, status: WalkStatus<T>) {
        if let Some(parent) = self.stack.last_mut() {
            parent.below = Some(fold_worst(parent.below.take(), status));
        } else {
            self.root = Some(status);
        }
    }

    /// The current protocol's walk is over: stop with its candidates, or try the next protocol.
    fn end_protocol(&mut self) {
        let protocol = self.protocol();
        self.protocols_tried.push(protocol);
        if !self.candidates.is_empty() {
            self.finish(WalkStatus::Found);
            return;
        }
        let root = self.root.take().unwrap_or(WalkStatus::NoMatch);
        self.worst = Some(fold_worst(self.worst.take(), root));
        self.current += 1;
        self.begin_protocol();
    }

    fn finish(&mut self, status: WalkStatus<T>) {
        self.outcome = Some(WalkOutcome {
            start: self.start.clone(),
            candidates: std::mem::take(&mut self.candidates),
            status,
            protocols_tried: std::mem::take(&mut self.protocols_tried),
            visits: std::mem::take(&mut self.visits),
            lookups: self.lookups,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> DomainName {
        DomainName::parse(s).unwrap()
    }

    /// A tiny in-memory zone that answers the walk's queries, counting them.
    #[derive(Default)]
    struct Zone {
        records: HashMap<DomainName, Vec<NaptrRecord>>,
        cnames: HashMap<DomainName, DomainName>,
        nodata: HashSet<DomainName>,
        temporary: HashSet<DomainName>,
        asked: Vec<DomainName>,
    }

    impl Zone {
        fn uri(mut self, owner: &str, order: u16, pref: u16, svc: &str, uri: &str) -> Self {
            let r = NaptrRecord::terminal(order, pref, svc, &format!("!.*!{uri}!"));
            self.records.entry(n(owner)).or_default().push(r);
            self
        }
        fn follow(mut self, owner: &str, order: u16, pref: u16, svc: &str, to: &str) -> Self {
            let r = NaptrRecord::non_terminal(order, pref, svc, n(to));
            self.records.entry(n(owner)).or_default().push(r);
            self
        }
        fn cname(mut self, from: &str, to: &str) -> Self {
            self.cnames.insert(n(from), n(to));
            self
        }
        fn nodata(mut self, name: &str) -> Self {
            self.nodata.insert(n(name));
            self
        }
        fn temporary(mut self, name: &str) -> Self {
            self.temporary.insert(n(name));
            self
        }

        fn lookup(&mut self, name: &DomainName) -> NameAnswer<String> {
            self.asked.push(name.clone());
            let mut owner = name.clone();
            let mut chain = Vec::new();
            while let Some(next) = self.cnames.get(&owner) {
                chain.push(owner.clone());
                if chain.len() > 8 {
                    return NameAnswer::Temporary("CNAME chain".to_owned());
                }
                owner = next.clone();
            }
            if self.temporary.contains(&owner) {
                return NameAnswer::Temporary("timeout".to_owned());
            }
            match self.records.get(&owner) {
                Some(records) => NameAnswer::Records {
                    owner,
                    cname_chain: chain,
                    records: records.clone(),
                    ttl: 300,
                    malformed: Vec::new(),
                },
                None if self.nodata.contains(&owner) => NameAnswer::NoData,
                None => NameAnswer::NxDomain,
            }
        }

        fn walk_with(
            &mut self,
            start: &str,
            wanted: &[WantedService],
            options: WalkOptions,
        ) -> WalkOutcome<String> {
            let mut walk = UnaptrWalk::new(n(start), wanted, options);
            let before = self.asked.len();
            let outcome = self.drive(&mut walk);
            // The moving driver (`next_query` / `take_outcome`) asks the same names and ends
            // with the same outcome; its lookups are not counted twice.
            let asked = self.asked.split_off(before);
            let mut again = UnaptrWalk::new(n(start), wanted, options);
            while let Some(name) = again.next_query() {
                let a = self.lookup(&name);
                assert!(again.answer(&name, a));
            }
            assert_eq!(again.take_outcome().as_ref(), Some(&outcome));
            assert_eq!(self.asked[before..], asked[..]);
            self.asked.truncate(before);
            self.asked.extend(asked);
            outcome
        }

        fn drive(&mut self, walk: &mut UnaptrWalk<String>) -> WalkOutcome<String> {
            loop {
                match walk.next_step() {
                    WalkStep::Query(name) => {
                        let a = self.lookup(&name);
                        assert!(walk.answer(&name, a));
                    }
                    WalkStep::Done(o) => return o,
                }
            }
        }

        fn walk(&mut self, start: &str, wanted: &[WantedService]) -> WalkOutcome<String> {
            self.walk_with(start, wanted, WalkOptions::default())
        }
    }

    fn https() -> Vec<WantedService> {
        vec![WantedService::alto_https()]
    }

    fn both() -> Vec<WantedService> {
        vec![WantedService::alto_https(), WantedService::alto_http()]
    }

    fn uris(o: &WalkOutcome<String>) -> Vec<&str> {
        o.candidates.iter().map(|c| c.uri.as_str()).collect()
    }

    fn statuses(o: &WalkOutcome<String>) -> Vec<(String, &str, WalkStatus<String>)> {
        o.visits
            .iter()
            .map(|v| (v.name.to_string(), v.protocol.as_str(), v.status.clone()))
            .collect()
    }

    /// The client's walk (resolver and checker replay): `LIS:HELD` records carry https: URIs
    /// (RFC 8686 Appendix C.4), accepted with [`WalkOptions::client`] only; the rest as default.
    #[test]
    fn client_options_accept_lis_held_https() {
        let held = vec![WantedService {
            service: "LIS".into(),
            protocol: "HELD".into(),
        }];
        let mut z = Zone::default().uri("lis.example.", 1, 1, "LIS:HELD", "https://lis.example/");
        assert!(!z.walk("lis.example.", &held).found());
        let o = z.walk_with("lis.example.", &held, WalkOptions::client());
        assert_eq!(uris(&o), ["https://lis.example/"]);
        let (c, d) = (WalkOptions::client(), WalkOptions::default());
        assert_eq!(
            (c.max_depth, c.max_lookups, c.first_order_only),
            (d.max_depth, d.max_lookups, d.first_order_only)
        );
    }

    #[test]
    fn tv_z1_sorted_and_http_does_not_match() {
        // The RFC 7286 §3.2 example, inserted in the reverse order BIND returned them.
        let mut z = Zone::default()
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
        let o = z.walk("example.net.", &https());
        assert_eq!(
            uris(&o),
            [
                "https://alto1.example.net/ird",
                "https://alto2.example.net/ird"
            ]
        );
        assert_eq!(o.status, WalkStatus::Found);
        assert_eq!(
            (o.candidates[0].order, o.candidates[0].preference),
            (100, 10)
        );
        assert_eq!(o.candidates[0].chain, [n("example.net.")]);
        assert_eq!(o.candidates[0].ttl, 300);
        assert_eq!(o.lookups, 1);
        let o = z.walk("example.net.", &[WantedService::alto_http()]);
        assert_eq!(o.candidates, []);
        assert_eq!(o.status, WalkStatus::NoMatch);
        assert_eq!(o.visits[0].skipped.len(), 2);
    }

    #[test]
    fn tv_z3_names_of_the_ladder() {
        // RFC 8686 C.4: R64 NODATA, R56 only LIS:HELD, R48 ALTO + LIS.
        let r56 = "0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.";
        let r48 = "1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.";
        let mut z = Zone::default()
            .nodata("2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.")
            .uri(
                r56,
                100,
                10,
                "LIS:HELD",
                "https://lis1.example.org:4802/?c=ex",
            )
            .uri(
                r56,
                100,
                20,
                "LIS:HELD",
                "https://lis2.example.org:4802/?c=ex",
            )
            .uri(r48, 100, 10, "ALTO:https", "https://alto1.example.net/ird")
            .uri(
                r48,
                100,
                10,
                "LIS:HELD",
                "https://lis.example.net:4802/?c=ex",
            );
        let o = z.walk(
            "2.4.e.d.a.6.e.f.f.f.e.0.7.2.2.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
            &https(),
        );
        assert_eq!(o.status, WalkStatus::NxDomain);
        let o = z.walk("2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", &https());
        assert_eq!(o.status, WalkStatus::NoData);
        let o = z.walk(r56, &https());
        assert_eq!(o.status, WalkStatus::NoMatch);
        assert!(matches!(
            o.visits[0].skipped[0].reason,
            SkipReason::ServiceMismatch { .. }
        ));
        let o = z.walk(r48, &https());
        assert_eq!(uris(&o), ["https://alto1.example.net/ird"]);
        // SP is a parameter: LIS:HELD carries https: URIs (RFC 8686 Appendix C.4).
        let lis: WantedService = WantedService {
            service: "LIS".to_owned(),
            protocol: "HELD".to_owned(),
        };
        let options = WalkOptions {
            selection: SelectionOptions {
                any_scheme_for_non_http_protocols: true,
                ..SelectionOptions::default()
            },
            ..WalkOptions::default()
        };
        let o = z.walk_with(r56, &[lis], options);
        assert_eq!(
            uris(&o),
            [
                "https://lis1.example.org:4802/?c=ex",
                "https://lis2.example.org:4802/?c=ex"
            ]
        );
        assert_eq!(o.candidates[0].protocol, "HELD");
    }

    #[test]
    fn non_terminal_chain_keeps_path_and_min_ttl() {
        let mut z = Zone::default()
            .follow("a.example.", 10, 10, "ALTO:https", "b.example.")
            .follow("b.example.", 10, 10, "ALTO:https", "c.example.")
            .uri("c.example.", 10, 10, "ALTO:https", "https://c.example/ird");
        let o = z.walk("a.example.", &https());
        assert_eq!(uris(&o), ["https://c.example/ird"]);
        let c = &o.candidates[0];
        assert_eq!(c.chain, [n("a.example."), n("b.example."), n("c.example.")]);
        assert_eq!(c.owner, n("c.example."));
        assert_eq!(
            o.visits.iter().map(|v| v.depth).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        assert!(o.visits.iter().all(|v| v.status == WalkStatus::Found));
        // The TTL is the smallest along the chain.
        let mut walk = UnaptrWalk::new(n("a.example."), &https(), WalkOptions::default());
        let o = loop {
            match walk.next_step() {
                WalkStep::Query(name) => {
                    let mut a = z.lookup(&name);
                    if let NameAnswer::Records { ttl, .. } = &mut a {
                        *ttl = if name == n("b.example.") { 7 } else { 900 };
                    }
                    walk.answer(&name, a);
                }
                WalkStep::Done(o) => break o,
            }
        };
        assert_eq!(o.candidates[0].ttl, 7);
    }

    #[test]
    fn loop_is_detected_without_requery() {
        let mut z = Zone::default()
            .follow("a.example.", 1, 1, "ALTO:https", "b.example.")
            .follow("b.example.", 1, 1, "ALTO:https", "a.example.");
        let o = z.walk("a.example.", &https());
        assert_eq!(o.status, WalkStatus::Loop);
        assert_eq!(z.asked.len(), 2);
        assert_eq!(
            statuses(&o),
            [
                ("a.example.".to_owned(), "https", WalkStatus::Loop),
                ("b.example.".to_owned(), "https", WalkStatus::Loop),
                ("a.example.".to_owned(), "https", WalkStatus::Loop),
            ]
        );
    }

    #[test]
    fn depth_cap() {
        let mut z = Zone::default();
        for i in 0..10 {
            z = z.follow(
                &format!("d{i}.example."),
                1,
                1,
                "ALTO:https",
                &format!("d{}.example.", i + 1),
            );
        }
        let mut z = z.uri("d10.example.", 1, 1, "ALTO:https", "https://deep.example/");
        let o = z.walk("d0.example.", &https());
        assert_eq!(o.status, WalkStatus::DepthExceeded);
        assert_eq!(z.asked.len(), DEFAULT_MAX_DEPTH + 1);
        assert_eq!(o.visits.last().unwrap().depth, DEFAULT_MAX_DEPTH + 1);
        let o = z.walk("d5.example.", &https());
        assert_eq!(o.candidates[0].chain.len(), DEFAULT_MAX_DEPTH + 1);
    }

    #[test]
    fn hostile_fan_out_stops_at_the_budget() {
        let mut z = Zone::default();
        for d in 0..4 {
            for i in 0..10u32.pow(d) {
                for j in 0..10u16 {
                    z = z.follow(
                        &format!("n{i}.l{d}.example."),
                        1,
                        j,
                        "ALTO:https",
                        &format!("n{}.l{}.example.", i * 10 + u32::from(j), d + 1),
                    );
                }
            }
        }
        let o = z.walk("n0.l0.example.", &both());
        assert_eq!(z.asked.len(), DEFAULT_MAX_LOOKUPS);
        assert_eq!(o.lookups, DEFAULT_MAX_LOOKUPS);
        assert_eq!(o.status, WalkStatus::WorkLimit);
        // The second protocol reused the answers and was refused new lookups.
        assert_eq!(o.protocols_tried, ["https", "http"]);
    }

    #[test]
    fn backtracks_past_empty_non_terminals_and_ranks_statuses() {
        // RFC 3958 §2.2.4: an empty result below a non-terminal is noted; the next record is
        // tried. Order of candidates: depth-first in (ORDER, PREFERENCE) order.
        let mut z = Zone::default()
            .follow("t.example.", 1, 1, "ALTO:https", "gone.example.")
            .follow("t.example.", 1, 2, "ALTO:https", "slow.example.")
            .follow("t.example.", 1, 3, "ALTO:https", "ok.example.")
            .uri("t.example.", 2, 1, "ALTO:https", "https://t.example/late")
            .uri("ok.example.", 1, 1, "ALTO:https", "https://ok.example/")
            .temporary("slow.example.");
        let o = z.walk("t.example.", &https());
        assert_eq!(uris(&o), ["https://ok.example/", "https://t.example/late"]);
        assert_eq!(
            statuses(&o)[1..],
            [
                ("gone.example.".to_owned(), "https", WalkStatus::NxDomain),
                (
                    "slow.example.".to_owned(),
                    "https",
                    WalkStatus::Temporary("timeout".to_owned())
                ),
                ("ok.example.".to_owned(), "https", WalkStatus::Found),
            ]
        );
        // Without the good branch: temporary outranks NXDOMAIN (docs/decisions.md, resolver step 8).
        let mut z = Zone::default()
            .follow("t.example.", 1, 1, "ALTO:https", "gone.example.")
            .follow("t.example.", 1, 2, "ALTO:https", "slow.example.")
            .temporary("slow.example.");
        let o = z.walk("t.example.", &https());
        assert_eq!(o.status, WalkStatus::Temporary("timeout".to_owned()));
    }

    #[test]
    fn https_first_then_http_without_mixing_and_without_requery() {
        let mut z = Zone::default()
            .uri("a.example.", 10, 10, "ALTO:http", "http://a.example/ird")
            .follow("a.example.", 5, 10, "ALTO:https:http", "b.example.")
            .uri("b.example.", 1, 1, "ALTO:http", "http://b.example/ird");
        let o = z.walk("a.example.", &both());
        assert_eq!(o.protocols_tried, ["https", "http"]);
        // https: a → b, nothing; http: b (via order 5), then a (order 10). Never mixed.
        assert_eq!(uris(&o), ["http://b.example/ird", "http://a.example/ird"]);
        assert!(o.candidates.iter().all(|c| c.protocol == "http"));
        assert_eq!(o.candidates[0].chain, [n("a.example."), n("b.example.")]);
        assert_eq!(z.asked.len(), 2);
        assert_eq!(o.lookups, 2);
        assert_eq!(o.visits.len(), 4);
    }

    #[test]
    fn first_protocol_that_finds_wins() {
        let mut z = Zone::default()
            .uri("a.example.", 10, 10, "ALTO:http", "http://a.example/ird")
            .uri("a.example.", 20, 10, "ALTO:https", "https://a.example/ird");
        let o = z.walk("a.example.", &both());
        assert_eq!(o.protocols_tried, ["https"]);
        assert_eq!(uris(&o), ["https://a.example/ird"]);
    }

    #[test]
    fn first_order_only_keeps_the_first_group_at_each_name() {
        let mut z = Zone::default()
            .uri("a.example.", 1, 2, "ALTO:https", "https://a2.example/")
            .uri("a.example.", 1, 1, "ALTO:https", "https://a1.example/")
            .uri("a.example.", 2, 1, "ALTO:https", "https://later.example/");
        let strict = WalkOptions {
            first_order_only: true,
            ..WalkOptions::default()
        };
        let o = z.walk_with("a.example.", &https(), strict);
        assert_eq!(uris(&o), ["https://a1.example/", "https://a2.example/"]);
        let o = z.walk("a.example.", &https());
        assert_eq!(uris(&o).len(), 3);
    }

    #[test]
    fn cname_target_counts_as_visited() {
        let mut z = Zone::default()
            .cname("34.2.0.192.in-addr.arpa.", "34.0-25.2.0.192.in-addr.arpa.")
            .follow(
                "34.0-25.2.0.192.in-addr.arpa.",
                1,
                1,
                "ALTO:https",
                "34.0-25.2.0.192.in-addr.arpa.",
            )
            .uri(
                "34.0-25.2.0.192.in-addr.arpa.",
                2,
                1,
                "ALTO:https",
                "https://c.example/",
            );
        let o = z.walk("34.2.0.192.in-addr.arpa.", &https());
        assert_eq!(uris(&o), ["https://c.example/"]);
        let c = &o.candidates[0];
        assert_eq!(c.owner, n("34.0-25.2.0.192.in-addr.arpa."));
        assert_eq!(
            c.chain,
            [
                n("34.2.0.192.in-addr.arpa."),
                n("34.0-25.2.0.192.in-addr.arpa.")
            ]
        );
        assert_eq!(o.visits[0].cname_chain, [n("34.2.0.192.in-addr.arpa.")]);
        // The non-terminal to the CNAME target was a loop, not a second lookup.
        assert_eq!(o.visits[1].status, WalkStatus::Loop);
        assert_eq!(z.asked.len(), 1);
    }

    #[test]
    fn below_ancestors_starts_deeper_and_counts_them_visited() {
        let mut z = Zone::default()
            .follow("b.example.", 1, 1, "ALTO:https", "a.example.")
            .uri("b.example.", 2, 1, "ALTO:https", "https://b.example/");
        let mut walk = UnaptrWalk::below(
            vec![n("a.example.")],
            n("b.example."),
            &https(),
            WalkOptions::default(),
        );
        let o = z.drive(&mut walk);
        assert_eq!(o.visits[0].depth, 1);
        assert_eq!(o.visits[1].status, WalkStatus::Loop);
        assert_eq!(o.candidates[0].chain, [n("a.example."), n("b.example.")]);
    }

    #[test]
    fn stray_answers_are_ignored_and_repeated_steps_cost_nothing() {
        let mut walk: UnaptrWalk<String> =
            UnaptrWalk::new(n("a.example."), &https(), WalkOptions::default());
        assert!(!walk.answer(&n("a.example."), NameAnswer::NxDomain));
        assert_eq!(walk.next_step(), WalkStep::Query(n("a.example.")));
        assert_eq!(walk.next_step(), WalkStep::Query(n("a.example.")));
        assert_eq!(walk.lookups(), 1);
        assert!(!walk.answer(&n("other.example."), NameAnswer::NoData));
        assert!(walk.answer(&n("a.example."), NameAnswer::NoData));
        assert!(!walk.answer(&n("a.example."), NameAnswer::NxDomain));
        let WalkStep::Done(o) = walk.next_step() else {
            panic!("not done");
        };
        assert_eq!(o.status, WalkStatus::NoData);
        assert_eq!(walk.next_step(), WalkStep::Done(o));
    }

    #[test]
    fn nothing_wanted_is_nxdomain_without_lookups() {
        let mut walk: UnaptrWalk<String> =
            UnaptrWalk::new(n("a.example."), &[], WalkOptions::default());
        let WalkStep::Done(o) = walk.next_step() else {
            panic!("not done");
        };
        assert_eq!(o.status, WalkStatus::NxDomain);
        assert_eq!(o.lookups, 0);
    }

    #[test]
    fn zero_budget_is_work_limit() {
        let mut z = Zone::default().uri("a.example.", 1, 1, "ALTO:https", "https://a.example/");
        let o = z.walk_with(
            "a.example.",
            &https(),
            WalkOptions {
                max_lookups: 0,
                ..WalkOptions::default()
            },
        );
        assert_eq!(o.status, WalkStatus::WorkLimit);
        assert!(z.asked.is_empty());
    }

    #[test]
    fn status_strings_are_stable() {
        let all: [WalkStatus<&str>; 8] = [
            WalkStatus::Found,
            WalkStatus::NxDomain,
            WalkStatus::NoData,
            WalkStatus::NoMatch,
            WalkStatus::Temporary("timeout"),
            WalkStatus::Loop,
            WalkStatus::DepthExceeded,
            WalkStatus::WorkLimit,
        ];
        let strs: Vec<_> = all.iter().map(WalkStatus::as_str).collect();
        assert_eq!(
            strs,
            [
                "found",
                "nxdomain",
                "nodata",
                "no_match",
                "temporary",
                "loop",
                "depth_exceeded",
                "work_limit"
            ]
        );
        assert_eq!(all[4].to_string(), "temporary failure (timeout)");
        assert!(all[4].is_temporary() && !all[0].is_temporary());
    }

    #[test]
    fn worst_prefers_the_first_on_ties() {
        let a: WalkStatus<&str> = WalkStatus::Temporary("a");
        assert_eq!(
            a.worst(WalkStatus::Temporary("b")),
            WalkStatus::Temporary("a")
        );
        assert_eq!(
            WalkStatus::<&str>::NxDomain.worst(WalkStatus::Loop),
            WalkStatus::Loop
        );
        assert_eq!(
            WalkStatus::<&str>::NoData.worst(WalkStatus::NoMatch),
            WalkStatus::NoData
        );
    }
}
