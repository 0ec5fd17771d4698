//! RFC 8686 cross-domain discovery, XDOMDISC(X, SP) (RFC 8686 §3).
//!
//! ```text
//!   X ──altodisc_proto::ladder──▶ R32, R24, R16, R8   (or R128, R64 … R32; Table 1)
//!        │  concurrent (default): all names queried at once; sequential: one at a time
//!        ▼
//!   U-NAPTR per name ──▶ answer = the FIRST name IN LADDER ORDER with a usable URI
//!                        (a faster answer for a shorter prefix never wins over a longer one)
//!   temporary failure at a more specific name ──▶ `degraded` (docs/decisions.md, A14)
//!   nothing found but temporary failures ──▶ those names retried once, after the rest (§3.5)
//! ```
//!
//! In concurrent mode the wall time is about one round trip when every name answers at once
//! (RFC 8686 §3.5: "a fast answer ... is preferred"); the decision waits only for the names more
//! specific than the best one found so far, and lookups that can no longer matter are dropped.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use altodisc_proto::ladder::{
    IpPrefix, LadderError, ReverseLadder, ladder_lengths, reverse_domain_name,
};
use altodisc_proto::name::DomainName;
use altodisc_proto::service::WantedService;
use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use serde_json::{Value, json};

use crate::cache::{Settled, WalkMemo};
use crate::source::{Boxed, Lookup, NaptrLookup, NaptrSource, QueryTrace, duration_ms};
use crate::unaptr::{Candidate, NameStatus, UnaptrOptions, UnaptrOutcome, resolve_with};

/// Options for [`xdom`].
#[derive(Debug, Clone, Copy)]
pub struct XdomOptions {
    /// Per-name U-NAPTR options.
    pub unaptr: UnaptrOptions,
    /// Query the ladder names one at a time (RFC 8686 §3.4 read literally) instead of all at once.
    pub sequential: bool,
    /// Retry names that failed temporarily, once, after all names were tried (RFC 8686 §3.5 MAY).
    pub retry_temporary: bool,
    /// Fill [`XdomOutcome::queries`] (the `--trace` list). On by default; a batch without
    /// `--trace` turns it off, since copying every ladder name's queries into each outcome was a
    /// visible share of its work for a list nobody reads. Nothing else depends on it.
    pub collect_queries: bool,
}

impl Default for XdomOptions {
    fn default() -> Self {
        Self {
            unaptr: UnaptrOptions::default(),
            sequential: false,
            retry_temporary: true,
            collect_queries: true,
        }
    }
}

/// Invalid xdom input (RFC 8686 §3.5: "abort with an error and no list").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum XdomError {
    /// The address or prefix does not parse, or its length is unsupported (RFC 8686 §3.2).
    #[error("{input:?}: {source}")]
    Input {
        /// The input as given.
        input: String,
        /// Why.
        #[source]
        source: LadderError,
    },
}

/// Overall xdom result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum XdomStatus {
    /// A name yielded at least one URI.
    Found,
    /// No name yielded a URI, and no temporary failure remained.
    NotFound,
    /// No URI, and at least one name failed temporarily even after the retry: a later retry may
    /// give a result (RFC 8686 §3.5).
    TemporaryFailure,
}

impl XdomStatus {
    /// `found`, `not_found` or `temporary_failure`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Found => "found",
            Self::NotFound => "not_found",
            Self::TemporaryFailure => "temporary_failure",
        }
    }
}

/// One ladder name and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LadderResult {
    /// The reverse name.
    pub name: DomainName,
    /// Its prefix length (RFC 8686 `R<len>`).
    pub prefix_len: u8,
    /// The U-NAPTR outcome; `None` when the name was not needed (a more specific name matched
    /// first, so its lookup was never sent or was dropped). Shared: in batch mode one outcome of
    /// a ladder name serves every address that shares the name (RFC 8686 §3).
    pub outcome: Option<Arc<UnaptrOutcome>>,
    /// The status of the first attempt, when the name was retried.
    pub first_attempt: Option<NameStatus>,
}

impl LadderResult {
    /// `R32`, `R24`, ...
    #[must_use]
    pub fn label(&self) -> String {
        format!("R{}", self.prefix_len)
    }

    /// The status, or `None` when the name was not needed.
    #[must_use]
    pub fn status(&self) -> Option<&NameStatus> {
        self.outcome.as_ref().map(|o| &o.status)
    }

    /// JSON form.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "label": self.label(),
            "name": self.name.to_string(),
            "status": self.status().map_or("not_needed", crate::unaptr::status_str),
            "detail": self.status().map_or_else(|| "not needed: a more specific name matched".to_owned(), crate::unaptr::status_detail),
            "retried": self.first_attempt.is_some(),
            "first_attempt": self.first_attempt.as_ref().map(crate::unaptr::status_str),
            "visits": self.outcome.as_ref().map_or_else(Vec::new, |o| o.visits.iter().map(crate::unaptr::NameVisit::to_json).collect()),
        })
    }
}

/// The result of XDOMDISC for one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XdomOutcome {
    /// The input as given.
    pub input: String,
    /// The parsed input (IPv4-mapped addresses already converted, docs/decisions.md, A10).
    pub prefix: IpPrefix,
    /// Found, not found, or only temporary failures.
    pub status: XdomStatus,
    /// The URIs from the matched name, in order.
    pub candidates: Vec<Candidate>,
    /// Index into `ladder` of the name that matched.
    pub matched: Option<usize>,
    /// A more specific name failed temporarily, so the answer may be less precise than it could
    /// be (docs/decisions.md, A14); a later retry may give a better one.
    pub degraded: bool,
    /// Every ladder name, in ladder order.
    pub ladder: Vec<LadderResult>,
    /// Every DNS query sent, in the order sent per name (names in ladder order, retries last);
    /// empty when [`XdomOptions::collect_queries`] is off.
    pub queries: Vec<QueryTrace>,
    /// Wall time.
    pub elapsed: Duration,
}

impl XdomOutcome {
    /// The matched name, if any.
    #[must_use]
    pub fn matched_name(&self) -> Option<&DomainName> {
        self.matched
            .and_then(|i| self.ladder.get(i))
            .map(|l| &l.name)
    }

    /// The URIs of the matched name: [`Self::candidates`], or when those were not copied (batch
    /// mode) the matched name's own, the same list.
    #[must_use]
    pub(crate) fn matched_candidates(&self) -> &[Candidate] {
        if !self.candidates.is_empty() {
            return &self.candidates;
        }
        self.matched
            .and_then(|i| self.ladder.get(i))
            .and_then(|l| l.outcome.as_deref())
            .map_or(&[], |o| &o.candidates)
    }

    /// The `R<len>` label of the matched name, if any.
    #[must_use]
    pub fn matched_label(&self) -> Option<String> {
        self.matched
            .and_then(|i| self.ladder.get(i))
            .map(LadderResult::label)
    }

    /// JSON form (one object per input; the batch JSON Lines use the same shape). Keys:
    /// `input`, `prefix`, `status` (`found` | `not_found` | `error`), `temporary` (no URI and
    /// a temporary failure remained), `candidates`, `matched_name`, `matched_label`, `degraded`,
    /// `names`, `warnings`, `error` (null), `elapsed_ms`, and `queries` when `with_queries`.
    #[must_use]
    pub fn to_json(&self, with_queries: bool) -> Value {
        let mut v = json!({
            "input": self.input,
            "prefix": format!("{}/{}", self.prefix.address, self.prefix.prefix_len),
            "status": if self.status == XdomStatus::Found { "found" } else { "not_found" },
            "result": self.status.as_str(),
            "temporary": self.status == XdomStatus::TemporaryFailure,
            "candidates": self.candidates.iter().map(Candidate::to_json).collect::<Vec<_>>(),
            "matched_name": self.matched_name().map(ToString::to_string),
            "matched_label": self.matched_label(),
            "degraded": self.degraded,
            "names": self.ladder.iter().map(LadderResult::to_json).collect::<Vec<_>>(),
            "warnings": self.prefix.warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "error": Value::Null,
            "elapsed_ms": duration_ms(self.elapsed),
        });
        if with_queries {
            v["queries"] = self.queries.iter().map(QueryTrace::to_json).collect();
        }
        v
    }
}

impl XdomError {
    /// JSON form for an input that could not be processed: `status: "error"`, `error`.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let Self::Input { input, source } = self;
        json!({
            "input": input,
            "status": "error",
            "candidates": [],
            "matched_name": Value::Null,
            "degraded": false,
            "error": source.to_string(),
        })
    }
}

/// Parses `input` (address or CIDR prefix) and runs XDOMDISC with `wanted` (normally
/// `[ALTO:https]`; more protocols are tried per name in order, never mixed).
///
/// # Errors
/// [`XdomError::Input`] for invalid syntax or an unsupported prefix length.
pub async fn xdom<S: NaptrSource + ?Sized>(
    source: &S,
    input: &str,
    wanted: &[WantedService],
    options: &XdomOptions,
) -> Result<XdomOutcome, XdomError> {
    let (prefix, lengths) = parse_input(input).map_err(|source| XdomError::Input {
        input: input.to_owned(),
        source,
    })?;
    let rungs = ladder_rungs(&prefix, lengths);
    let ctx = Ctx {
        source: &Boxed(source),
        memo: None,
        wanted,
        options,
    };
    Ok(xdom_rungs(ctx, input.to_owned(), prefix, rungs).await)
}

/// The parsed input and its ladder's prefix lengths (RFC 8686 §3.1–§3.4).
fn parse_input(input: &str) -> Result<(IpPrefix, &'static [u8]), LadderError> {
    let prefix = IpPrefix::parse(input)?;
    let lengths = ladder_lengths(&prefix)?;
    Ok((prefix, lengths))
}

/// XDOMDISC over an already-built ladder.
pub async fn xdom_ladder<S: NaptrSource + ?Sized>(
    source: &S,
    input: &str,
    ladder: ReverseLadder,
    wanted: &[WantedService],
    options: &XdomOptions,
) -> XdomOutcome {
    let rungs = ladder
        .steps
        .iter()
        .map(|step| LadderResult {
            // The step's name in wire form (`step.name` is its text).
            name: reverse_domain_name(ladder.input.address, step.prefix_len),
            prefix_len: step.prefix_len,
            outcome: None,
            first_attempt: None,
        })
        .collect();
    let ctx = Ctx {
        source: &Boxed(source),
        memo: None,
        wanted,
        options,
    };
    xdom_rungs(ctx, input.to_owned(), ladder.input, rungs).await
}

/// [`xdom`] with U-NAPTR outcomes reused from `memo` (batch mode; see [`WalkMemo`]).
/// The input is taken as given (owned: a batch line is moved into its outcome, not copied).
/// The outcome's `candidates` stay empty: a batch row takes them from the matched name's
/// outcome ([`XdomOutcome::matched_candidates`]), which holds the same list, instead of a copy
/// per address (a `Vec`, and a `String` or name per field of each candidate).
///
/// The input is parsed before anything is awaited, and the future returned is the walk of the
/// ladder itself: an `async fn` around it would keep its own copy of the input, the prefix and
/// the names in every address's future, which is already larger than one allocation of
/// glibc's thread cache can hold.
pub(crate) fn xdom_memo<'a, L: Lookup + ?Sized>(
    source: &'a L,
    memo: &'a WalkMemo<'a>,
    input: String,
    wanted: &'a [WantedService],
    options: &'a XdomOptions,
) -> Result<impl Future<Output = XdomOutcome> + 'a, XdomError> {
    let (prefix, lengths) = match parse_input(&input) {
        Ok(p) => p,
        Err(source) => return Err(XdomError::Input { input, source }),
    };
    let rungs = ladder_rungs(&prefix, lengths);
    let ctx = Ctx {
        source,
        memo: Some(memo),
        wanted,
        options,
    };
    Ok(xdom_rungs(ctx, input, prefix, rungs))
}

/// The ladder names of `lengths` (RFC 8686 Table 1, longest first) for `prefix`, none looked
/// up yet.
fn ladder_rungs(prefix: &IpPrefix, lengths: &[u8]) -> Vec<LadderResult> {
    // Names built in wire form, without the text round trip of the ladder's steps: the same
    // names (`reverse_domain_name`), at a fraction of the cost, four to six per address.
    lengths
        .iter()
        .map(|&len| LadderResult {
            name: reverse_domain_name(prefix.address, len),
            prefix_len: len,
            outcome: None,
            first_attempt: None,
        })
        .collect()
}

/// What every walk of one xdom run shares, handed down by reference: each layer of the walk's
/// future kept its own copy of these references before (every batch address's future is one
/// heap allocation, kept below glibc's large-request size, see `resolve_with`).
struct Ctx<'a, L: ?Sized> {
    source: &'a L,
    memo: Option<&'a WalkMemo<'a>>,
    wanted: &'a [WantedService],
    options: &'a XdomOptions,
}

/// XDOMDISC over ladder names already built, in ladder order.
async fn xdom_rungs<L: Lookup + ?Sized>(
    ctx: Ctx<'_, L>,
    input: String,
    prefix: IpPrefix,
    mut rungs: Vec<LadderResult>,
) -> XdomOutcome {
    let started = Instant::now();
    let all = Indices::below(rungs.len());
    let mut queries = Vec::new();
    run_round(&ctx, &mut rungs, &all, &mut queries).await;

    let mut winner = decide(&rungs);
    if winner.is_none() && ctx.options.retry_temporary {
        let mut temp = Indices::default();
        for (i, r) in rungs.iter().enumerate() {
            if r.status().is_some_and(crate::unaptr::status_is_temporary) {
                temp.insert(i);
            }
        }
        if !temp.is_empty() {
            let mut first: Vec<(usize, Arc<UnaptrOutcome>)> = Vec::new();
            for i in temp.iter() {
                if let Some(o) = rungs.get_mut(i).and_then(|r| r.outcome.take()) {
                    first.push((i, o));
                }
            }
            // Boxed: rare, and its state would otherwise double the size of every address's
            // future.
            Box::pin(run_round(&ctx, &mut rungs, &temp, &mut queries)).await;
            for (i, o) in first {
                let r = &mut rungs[i];
                if r.outcome.is_some() {
                    r.first_attempt = Some(o.status.clone());
                } else {
                    // Not retried after all (a more specific retry matched first).
                    r.outcome = Some(o);
                }
            }
            winner = decide(&rungs);
        }
    }
    let (status, candidates, degraded) = match winner {
        Some(w) => {
            let degraded = rungs[..w]
                .iter()
                .any(|r| r.status().is_some_and(crate::unaptr::status_is_temporary));
            // Batch mode (a memo) reads them from the matched name (see `xdom_memo`).
            let candidates = match (&rungs[w].outcome, ctx.memo) {
                (Some(o), None) => o.candidates.clone(),
                _ => Vec::new(),
            };
            (XdomStatus::Found, candidates, degraded)
        }
        None => {
            let temp = rungs
                .iter()
                .any(|r| r.status().is_some_and(crate::unaptr::status_is_temporary));
            let status = if temp {
                XdomStatus::TemporaryFailure
            } else {
                XdomStatus::NotFound
            };
            (status, Vec::new(), temp)
        }
    };
    XdomOutcome {
        input,
        prefix,
        status,
        candidates,
        matched: winner,
        degraded,
        ladder: rungs,
        queries,
        elapsed: started.elapsed(),
    }
}

/// The first name, in ladder order, that found something — provided every name before it has an
/// outcome. `None` while undecided or when nothing was found.
fn decide(rungs: &[LadderResult]) -> Option<usize> {
    for (i, r) in rungs.iter().enumerate() {
        match &r.outcome {
            None => return None,
            Some(o) if o.found() => return Some(i),
            Some(_) => {}
        }
    }
    None
}

/// Whether the ladder is decided: a winner with all more specific names done, or all names done.
fn decided(rungs: &[LadderResult], pending: &Indices) -> bool {
    for (i, r) in rungs.iter().enumerate() {
        let done = r.outcome.is_some() || !pending.contains(i);
        if !done {
            return false;
        }
        if r.outcome.as_ref().is_some_and(|o| o.found()) {
            return true;
        }
    }
    true
}

/// U-NAPTR from `name`, or its memoised outcome (`recall`: look in the memo first; off when
/// the caller just did).
async fn walk<L: Lookup + ?Sized>(
    ctx: &Ctx<'_, L>,
    recall: bool,
    name: &DomainName,
) -> Arc<UnaptrOutcome> {
    // One call of `resolve_with`, whatever the path: each call site is a state of this future
    // of its own, and their states were not overlapped (three walks' worth, 2.3 kB per address
    // in a batch, above glibc's thread cache size: every address's task took malloc's slow
    // path).
    let mut answer = None;
    if let Some(memo) = ctx.memo {
        if let Some(o) = recall.then(|| memo.recall(name)).flatten() {
            return o;
        }
        // Another address's query for this name in flight: wait for it first, so that one walk
        // after it serves the others from the memo (see `WalkMemo::settle`).
        match memo.settle(name).await {
            Settled::Nothing => {}
            Settled::Cached => {
                if let Some(o) = memo.recall(name) {
                    return o;
                }
            }
            // Boxed: rare (a failed query), and it would make every walk's state larger.
            Settled::Answered(a) => answer = Some(Box::new(a)),
        }
    }
    let first = FirstAnswer {
        source: ctx.source,
        name,
        answer: Mutex::new(answer),
    };
    let o = Arc::new(resolve_with(&first, name, ctx.wanted, &ctx.options.unaptr).await);
    if let Some(memo) = ctx.memo {
        memo.remember(name, &o);
    }
    o
}

/// `source`, except that the first lookup of `name` gets `answer` when there is one: what a
/// walk that had waited for an in-flight query inside its first lookup would have got
/// (`WalkMemo::settle`).
struct FirstAnswer<'a, L: ?Sized> {
    source: &'a L,
    name: &'a DomainName,
    answer: Mutex<Option<Box<NaptrLookup>>>,
}

impl<L: Lookup + ?Sized> Lookup for FirstAnswer<'_, L> {
    fn lookup<'s>(&'s self, name: &'s DomainName) -> impl Future<Output = NaptrLookup> + Send + 's {
        let first = if name == self.name {
            self.answer
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
        } else {
            None
        };
        async move {
            match first {
                Some(answer) => *answer,
                None => self.source.lookup(name).await,
            }
        }
    }
}

/// Indices into a ladder: a bit set instead of a `Vec` per address and round (the ladders of
/// RFC 8686 Table 1 have 4 names for IPv4 and 13 for IPv6); an index from 64 on, which a
/// ladder built by hand could have, goes to `more` (boxed: the set lives in every address's
/// future, which is kept below glibc's large-request size, see `resolve_with`).
#[derive(Debug, Clone, Default)]
struct Indices {
    bits: u64,
    #[expect(
        clippy::box_collection,
        reason = "8 octets instead of a Vec's 24 in every batch address's future; never used by the ladders of RFC 8686"
    )]
    more: Option<Box<Vec<usize>>>,
}

impl Indices {
    /// `0..n`.
    fn below(n: usize) -> Self {
        let mut set = Self::default();
        for i in 0..n {
            set.insert(i);
        }
        set
    }

    fn bit(i: usize) -> Option<u64> {
        u32::try_from(i).ok().and_then(|b| 1_u64.checked_shl(b))
    }

    fn insert(&mut self, i: usize) {
        match Self::bit(i) {
            Some(bit) => self.bits |= bit,
            None => {
                let more = self.more.get_or_insert_with(Box::default);
                if !more.contains(&i) {
                    more.push(i);
                }
            }
        }
    }

    fn remove(&mut self, i: usize) {
        match Self::bit(i) {
            Some(bit) => self.bits &= !bit,
            None => {
                if let Some(more) = &mut self.more {
                    more.retain(|&m| m != i);
                }
            }
        }
    }

    fn contains(&self, i: usize) -> bool {
        match Self::bit(i) {
            Some(bit) => self.bits & bit != 0,
            None => self.more.as_ref().is_some_and(|m| m.contains(&i)),
        }
    }

    fn is_empty(&self) -> bool {
        self.bits == 0 && self.more.as_ref().is_none_or(|m| m.is_empty())
    }

    fn clear(&mut self) {
        self.bits = 0;
        self.more = None;
    }

    /// The one index, when there is exactly one.
    fn single(&self) -> Option<usize> {
        let mut it = self.iter();
        let first = it.next()?;
        it.next().is_none().then_some(first)
    }

    /// In ascending order.
    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        let mut bits = self.bits;
        std::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let i = bits.trailing_zeros();
            bits &= bits - 1;
            usize::try_from(i).ok()
        })
        .chain(self.more.iter().flat_map(|m| m.iter().copied()))
    }
}

async fn run_round<L: Lookup + ?Sized>(
    ctx: &Ctx<'_, L>,
    rungs: &mut [LadderResult],
    which: &Indices,
    queries: &mut Vec<QueryTrace>,
) {
    if ctx.options.sequential {
        for i in which.iter() {
            let Some(name) = rungs.get(i).map(|r| r.name.clone()) else {
                continue;
            };
            // Boxed: its state would otherwise be a second walk's inside every round's future
            // (sequential mode is not the batch's default).
            let o = Box::pin(walk(ctx, true, &name)).await;
            if ctx.options.collect_queries {
                queries.extend(o.queries.iter().cloned());
            }
            let found = o.found();
            rungs[i].outcome = Some(o);
            if found {
                return;
            }
        }
        return;
    }
    let round_started = tokio::time::Instant::now();
    let mut pending = which.clone();
    // Names whose query another input of the batch has in flight, looked up after the others.
    let mut deferred = Indices::default();
    // Memoised outcomes first, without a task each: in a batch most ladder names above R32 are
    // answered from the memo, and a task per name was a visible share of each address (the
    // `FuturesUnordered` allocation); only the rest are looked up concurrently.
    if let Some(m) = ctx.memo {
        let mut recalled = false;
        for i in which.iter() {
            if let Some(o) = rungs.get(i).and_then(|r| m.recall(&r.name)) {
                pending.remove(i);
                rungs[i].outcome = Some(o);
                recalled = true;
            }
        }
        if recalled && decided(rungs, &pending) {
            pending.clear();
        }
        // A name another address is already looking up (the R24, R16 or R8 of a /24 whose
        // first addresses are still in flight: two thirds of the addresses of the benchmark
        // met one) gets no task of its own. Its query is on the wire already, so waiting for
        // it after the names this address must query itself costs no time, and a walk of it
        // would only wait for that query first (`WalkMemo::settle`). It is walked below, in
        // ladder order, only while the answer still depends on it: the same walk from the same
        // cache when it is needed; when a more specific name decides first, no walk (as when
        // its task was dropped). Only with more than one name left, and never the first of
        // them: those are awaited directly anyway.
        if pending.single().is_none() {
            for i in pending.iter().skip(1) {
                if rungs.get(i).is_some_and(|r| m.in_flight(&r.name)) {
                    deferred.insert(i);
                }
            }
        }
    }
    let mut now = pending.clone();
    for i in deferred.iter() {
        now.remove(i);
    }
    let mut next = now.single();
    if next.is_some() {
        // One name to query (in a batch, usually the R32: the others came from the memo):
        // awaited directly below, without a `FuturesUnordered` and its task allocations.
    } else if !now.is_empty() {
        let mut in_flight = FuturesUnordered::new();
        for i in now.iter() {
            let Some(name) = rungs.get(i).map(|r| r.name.clone()) else {
                continue;
            };
            in_flight.push(async move {
                let o = walk(ctx, false, &name).await;
                (i, o)
            });
        }
        while let Some((i, o)) = in_flight.next().await {
            pending.remove(i);
            rungs[i].outcome = Some(o);
            if decided(rungs, &pending) {
                // Dropping `in_flight` cancels the lookups that can no longer change the answer.
                break;
            }
        }
    }
    // The one name to query, then the deferred names in ladder order, one at a time, while
    // the answer still depends on them. One await point, and little state kept across it: this
    // is part of every batch address's future.
    let mut after = 0;
    loop {
        let i = match next.take() {
            Some(i) => i,
            None => match deferred.iter().find(|&d| d >= after) {
                Some(d) => {
                    after = d + 1;
                    d
                }
                None => break,
            },
        };
        if decided(rungs, &pending) {
            break;
        }
        if !pending.contains(i) {
            continue;
        }
        // The memo was asked above; a deferred name's walk may have been memoised by another
        // address since.
        let recall = deferred.contains(i);
        if let Some(r) = rungs.get(i) {
            let o = walk(ctx, recall, &r.name).await;
            rungs[i].outcome = Some(o);
        }
        pending.remove(i);
    }
    if !ctx.options.collect_queries {
        return;
    }
    // Queries in ladder order (not completion order), so traces read top-down. A lookup dropped
    // in flight was sent but its answer was not awaited: it is shown as `abandoned`.
    for i in which.iter() {
        if let Some(o) = &rungs[i].outcome {
            queries.extend(o.queries.iter().cloned());
        } else if pending.contains(i) {
            queries.push(QueryTrace {
                name: rungs[i].name.clone(),
                qtype: "NAPTR",
                rcode: "abandoned".into(),
                answers: 0,
                ttl: None,
                elapsed: round_started.elapsed(),
                transport: crate::source::Transport::None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemorySource;
    use crate::source::FailureReason;

    const R32: &str = "3.100.51.198.in-addr.arpa.";
    const R24: &str = "100.51.198.in-addr.arpa.";
    const R16: &str = "51.198.in-addr.arpa.";

    fn https() -> Vec<WantedService> {
        vec![WantedService::alto_https()]
    }

    fn opts(sequential: bool) -> XdomOptions {
        XdomOptions {
            sequential,
            ..XdomOptions::default()
        }
    }

    fn tv_z2() -> MemorySource {
        MemorySource::new()
            .uri(R24, 100, 10, "ALTO:https", "https://alto1.example.net/ird")
            .uri(R24, 100, 20, "ALTO:https", "https://alto2.example.net/ird")
    }

    #[tokio::test]
    async fn tv_z2_both_modes() {
        for seq in [false, true] {
            let src = tv_z2();
            let o = xdom(&src, "198.51.100.3", &https(), &opts(seq))
                .await
                .unwrap();
            assert_eq!(o.status, XdomStatus::Found);
            assert_eq!(o.matched_label().as_deref(), Some("R24"));
            assert_eq!(o.candidates.len(), 2);
            assert_eq!(o.candidates[0].uri, "https://alto1.example.net/ird");
            assert!(!o.degraded);
            assert_eq!(o.ladder[0].status(), Some(&NameStatus::NxDomain));
            if seq {
                assert_eq!(src.query_count(), 2);
            }
        }
    }

    #[tokio::test]
    async fn tv_z3_c4_exactly_four_queries_sequential() {
        let base = "8.b.d.0.1.0.0.2.ip6.arpa.";
        let src = MemorySource::new()
            .exists(&format!(
                "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.1.0.0.0.{base}"
            ))
            .uri(
                &format!("0.0.1.0.0.0.{base}"),
                100,
                10,
                "LIS:HELD",
                "https://lis1.example.org:4802/?c=ex",
            )
            .uri(
                &format!("0.0.1.0.0.0.{base}"),
                100,
                20,
                "LIS:HELD",
                "https://lis2.example.org:4802/?c=ex",
            )
            .uri(
                &format!("1.0.0.0.{base}"),
                100,
                10,
                "ALTO:https",
                "https://alto1.example.net/ird",
            )
            .uri(
                &format!("1.0.0.0.{base}"),
                100,
                10,
                "LIS:HELD",
                "https://lis.example.net:4802/?c=ex",
            );
        let o = xdom(
            &src,
            "2001:DB8:1:2:227:eff:fe6a:de42",
            &https(),
            &opts(true),
        )
        .await
        .unwrap();
        assert_eq!(src.query_count(), 4);
        assert_eq!(o.matched_label().as_deref(), Some("R48"));
        let st: Vec<_> = o
            .ladder
            .iter()
            .map(|l| l.status().map(NameStatus::as_str))
            .collect();
        assert_eq!(
            st,
            [
                Some("nxdomain"),
                Some("nodata"),
                Some("no_match"),
                Some("found"),
                None,
                None
            ]
        );
        assert_eq!(o.candidates.len(), 1);
        assert_eq!(o.candidates[0].uri, "https://alto1.example.net/ird");
    }

    #[tokio::test(start_paused = true)]
    async fn ladder_order_beats_a_faster_shorter_prefix() {
        // R16 answers instantly, R24 after 50 ms: R24 must still win.
        let src = MemorySource::new()
            .uri(R16, 1, 1, "ALTO:https", "https://r16.example/")
            .uri(R24, 1, 1, "ALTO:https", "https://r24.example/")
            .delay(R24, Duration::from_millis(50));
        let o = xdom(&src, "198.51.100.3", &https(), &opts(false))
            .await
            .unwrap();
        assert_eq!(o.matched_label().as_deref(), Some("R24"));
        assert_eq!(o.candidates[0].uri, "https://r24.example/");
        // Concurrent: all four names were sent at once.
        assert_eq!(src.query_count(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_takes_one_round_trip() {
        let src = tv_z2().with_delay(Duration::from_millis(100));
        let t = tokio::time::Instant::now();
        let o = xdom(&src, "198.51.100.3", &https(), &opts(false))
            .await
            .unwrap();
        assert_eq!(o.status, XdomStatus::Found);
        assert_eq!(t.elapsed(), Duration::from_millis(100));
        let t = tokio::time::Instant::now();
        let _ = xdom(&src, "198.51.100.3", &https(), &opts(true))
            .await
            .unwrap();
        assert_eq!(t.elapsed(), Duration::from_millis(200));
    }

    #[tokio::test]
    async fn temporary_failure_at_r32_gives_degraded_r24() {
        for seq in [false, true] {
            let src = tv_z2().fail(R32, FailureReason::Timeout);
            let o = xdom(&src, "198.51.100.3", &https(), &opts(seq))
                .await
                .unwrap();
            assert_eq!(o.status, XdomStatus::Found);
            assert_eq!(o.matched_label().as_deref(), Some("R24"));
            assert!(o.degraded);
            // Found, so no retry: the fast, less precise answer is preferred (§3.5).
            assert!(o.ladder[0].first_attempt.is_none());
        }
    }

    #[tokio::test]
    async fn temporary_names_retried_once_after_the_rest() {
        for seq in [false, true] {
            // R32 fails once, then answers; nothing else has records.
            let src = MemorySource::new()
                .uri(R32, 1, 1, "ALTO:https", "https://r32.example/")
                .fail_first(R32, FailureReason::ServFail, 1);
            let o = xdom(&src, "198.51.100.3", &https(), &opts(seq))
                .await
                .unwrap();
            assert_eq!(o.status, XdomStatus::Found, "seq={seq}");
            assert_eq!(o.matched_label().as_deref(), Some("R32"));
            assert!(!o.degraded);
            assert_eq!(
                o.ladder[0].first_attempt,
                Some(NameStatus::Temporary(FailureReason::ServFail))
            );
            let q = src.queries();
            assert_eq!(q.len(), 5, "4 names + 1 retry");
            assert_eq!(q[4].to_string(), R32, "the retry comes after the rest");
        }
    }

    #[tokio::test]
    async fn a_retry_that_matches_stops_the_retry_round() {
        let src = MemorySource::new()
            .uri(R32, 1, 1, "ALTO:https", "https://r32.example/")
            .fail_first(R32, FailureReason::Timeout, 1)
            .fail(R24, FailureReason::Timeout);
        let o = xdom(&src, "198.51.100.3", &https(), &opts(true))
            .await
            .unwrap();
        assert_eq!(o.matched_label().as_deref(), Some("R32"));
        assert!(!o.degraded);
        assert!(o.ladder[0].first_attempt.is_some());
        // R24 keeps its first outcome and is not marked as retried.
        assert!(o.ladder[1].first_attempt.is_none());
        assert!(
            o.ladder[1]
                .status()
                .is_some_and(crate::unaptr::status_is_temporary)
        );
        assert_eq!(src.query_count(), 5);
    }

    #[tokio::test]
    async fn only_temporary_failures() {
        let src = MemorySource::new()
            .fail(R32, FailureReason::Timeout)
            .fail(R24, FailureReason::ServFail);
        let o = xdom(&src, "198.51.100.3", &https(), &opts(false))
            .await
            .unwrap();
        assert_eq!(o.status, XdomStatus::TemporaryFailure);
        assert!(o.degraded);
        // 4 names, then the 2 temporary ones once more, never a third time.
        assert_eq!(src.query_count(), 6);
        let j = o.to_json(false);
        assert_eq!(j["status"], "not_found");
        assert_eq!(j["temporary"], true);
    }

    #[tokio::test]
    async fn refused_is_not_temporary_nor_retried() {
        // A server that is not authoritative (or refuses by policy) answers the same next time:
        // no retry, no "temporary", no "degraded" (docs/decisions.md, A16).
        let src = MemorySource::new()
            .fail(R32, FailureReason::Refused)
            .fail(R24, FailureReason::OtherRcode("NOTIMP".to_owned()));
        let o = xdom(&src, "198.51.100.3", &https(), &opts(false))
            .await
            .unwrap();
        assert_eq!(o.status, XdomStatus::NotFound);
        assert!(!o.degraded);
        assert_eq!(src.query_count(), 4, "refusals are not retried");
        let j = o.to_json(false);
        assert_eq!(j["temporary"], false);
        assert_eq!(j["names"][0]["status"], "refused");
        assert_eq!(j["names"][1]["status"], "server_error");
        assert!(
            j["names"][0]["detail"]
                .as_str()
                .is_some_and(|d| d.contains("refused") && d.contains("retry will not help")),
            "{j}"
        );

        // A refusal at R32 does not make an R24 answer degraded either.
        let src = tv_z2().fail(R32, FailureReason::Refused);
        let o = xdom(&src, "198.51.100.3", &https(), &opts(false))
            .await
            .unwrap();
        assert_eq!(o.status, XdomStatus::Found);
        assert!(!o.degraded);
    }

    #[tokio::test]
    async fn invalid_input_is_an_error() {
        let src = MemorySource::new();
        for bad in ["10.0.0.0/7", "300.1.1.1", "2001:db8::/31", "fe80::1%eth0"] {
            let e = xdom(&src, bad, &https(), &opts(false)).await.unwrap_err();
            assert_eq!(e.to_json()["status"], "error");
        }
        assert_eq!(src.query_count(), 0);
    }

    #[tokio::test]
    async fn json_keys() {
        let src = tv_z2();
        let o = xdom(&src, "198.51.100.3", &https(), &opts(false))
            .await
            .unwrap();
        let j = o.to_json(true);
        assert_eq!(j["status"], "found");
        assert_eq!(j["matched_name"], R24);
        assert_eq!(j["degraded"], false);
        assert_eq!(j["candidates"][0]["owner"], R24);
        assert_eq!(j["candidates"][0]["order"], 100);
        assert_eq!(j["candidates"][1]["preference"], 20);
        assert!(j["queries"].as_array().unwrap().len() >= 2);
    }
}
