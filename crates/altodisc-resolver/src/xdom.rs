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
use crate::source::{NaptrLookup, NaptrSource, QueryTrace, duration_ms};
use crate::unaptr::{Candidate, NameStatus, UnaptrOptions, UnaptrOutcome, resolve_unaptr};

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
    Ok(xdom_names(
        source,
        None,
        input.to_owned(),
        prefix,
        lengths,
        wanted,
        options,
    )
    .await)
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
    xdom_rungs(
        source,
        None,
        input.to_owned(),
        ladder.input,
        rungs,
        wanted,
        options,
    )
    .await
}

/// [`xdom`] with U-NAPTR outcomes reused from `memo` (batch mode; see [`WalkMemo`]).
/// The input is taken as given (owned: a batch line is moved into its outcome, not copied).
pub(crate) async fn xdom_memo<S: NaptrSource + ?Sized>(
    source: &S,
    memo: &WalkMemo<'_>,
    input: String,
    wanted: &[WantedService],
    options: &XdomOptions,
) -> Result<XdomOutcome, XdomError> {
    let (prefix, lengths) = match parse_input(&input) {
        Ok(p) => p,
        Err(source) => return Err(XdomError::Input { input, source }),
    };
    Ok(xdom_names(source, Some(memo), input, prefix, lengths, wanted, options).await)
}

/// XDOMDISC over the names of `lengths` (RFC 8686 Table 1, longest first) for `prefix`.
async fn xdom_names<S: NaptrSource + ?Sized>(
    source: &S,
    memo: Option<&WalkMemo<'_>>,
    input: String,
    prefix: IpPrefix,
    lengths: &[u8],
    wanted: &[WantedService],
    options: &XdomOptions,
) -> XdomOutcome {
    // Names built in wire form, without the text round trip of the ladder's steps: the same
    // names (`reverse_domain_name`), at a fraction of the cost, four to six per address.
    let rungs = lengths
        .iter()
        .map(|&len| LadderResult {
            name: reverse_domain_name(prefix.address, len),
            prefix_len: len,
            outcome: None,
            first_attempt: None,
        })
        .collect();
    xdom_rungs(source, memo, input, prefix, rungs, wanted, options).await
}

/// XDOMDISC over ladder names already built, in ladder order.
async fn xdom_rungs<S: NaptrSource + ?Sized>(
    source: &S,
    memo: Option<&WalkMemo<'_>>,
    input: String,
    prefix: IpPrefix,
    mut rungs: Vec<LadderResult>,
    wanted: &[WantedService],
    options: &XdomOptions,
) -> XdomOutcome {
    let started = Instant::now();
    let all: Vec<usize> = (0..rungs.len()).collect();
    let mut queries = Vec::new();
    run_round(
        source,
        memo,
        &mut rungs,
        &all,
        wanted,
        options,
        &mut queries,
    )
    .await;

    let mut winner = decide(&rungs);
    if winner.is_none() && options.retry_temporary {
        let temp: Vec<usize> = rungs
            .iter()
            .enumerate()
            .filter(|(_, r)| r.status().is_some_and(crate::unaptr::status_is_temporary))
            .map(|(i, _)| i)
            .collect();
        if !temp.is_empty() {
            let mut first: Vec<(usize, Arc<UnaptrOutcome>)> = Vec::new();
            for &i in &temp {
                if let Some(o) = rungs.get_mut(i).and_then(|r| r.outcome.take()) {
                    first.push((i, o));
                }
            }
            run_round(
                source,
                memo,
                &mut rungs,
                &temp,
                wanted,
                options,
                &mut queries,
            )
            .await;
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
            let candidates = rungs[w]
                .outcome
                .as_ref()
                .map(|o| o.candidates.clone())
                .unwrap_or_default();
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
fn decided(rungs: &[LadderResult], pending: &[usize]) -> bool {
    for (i, r) in rungs.iter().enumerate() {
        let done = r.outcome.is_some() || !pending.contains(&i);
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
async fn walk<S: NaptrSource + ?Sized>(
    source: &S,
    memo: Option<&WalkMemo<'_>>,
    recall: bool,
    name: &DomainName,
    wanted: &[WantedService],
    options: &XdomOptions,
) -> Arc<UnaptrOutcome> {
    let Some(memo) = memo else {
        return Arc::new(resolve_unaptr(source, name, wanted, &options.unaptr).await);
    };
    if let Some(o) = recall.then(|| memo.recall(name)).flatten() {
        return o;
    }
    // Another address's query for this name in flight: wait for it first, so that one walk
    // after it serves the others from the memo (see `WalkMemo::settle`).
    let o = match memo.settle(name).await {
        Settled::Nothing => resolve_unaptr(source, name, wanted, &options.unaptr).await,
        Settled::Cached => {
            if let Some(o) = memo.recall(name) {
                return o;
            }
            resolve_unaptr(source, name, wanted, &options.unaptr).await
        }
        Settled::Answered(answer) => {
            let first = FirstAnswer {
                source,
                name,
                answer: Mutex::new(Some(answer)),
            };
            resolve_unaptr(&first, name, wanted, &options.unaptr).await
        }
    };
    let o = Arc::new(o);
    memo.remember(name, &o);
    o
}

/// `source`, except that the first lookup of `name` gets `answer`: what a walk that had waited
/// for an in-flight query inside its first lookup would have got (`WalkMemo::settle`).
struct FirstAnswer<'a, S: ?Sized> {
    source: &'a S,
    name: &'a DomainName,
    answer: Mutex<Option<NaptrLookup>>,
}

#[async_trait::async_trait]
impl<S: NaptrSource + ?Sized> NaptrSource for FirstAnswer<'_, S> {
    async fn lookup_naptr(&self, name: &DomainName) -> NaptrLookup {
        if name == self.name {
            let answer = self
                .answer
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(answer) = answer {
                return answer;
            }
        }
        self.source.lookup_naptr(name).await
    }
}

async fn run_round<S: NaptrSource + ?Sized>(
    source: &S,
    memo: Option<&WalkMemo<'_>>,
    rungs: &mut [LadderResult],
    which: &[usize],
    wanted: &[WantedService],
    options: &XdomOptions,
    queries: &mut Vec<QueryTrace>,
) {
    if options.sequential {
        for &i in which {
            let Some(name) = rungs.get(i).map(|r| r.name.clone()) else {
                continue;
            };
            let o = walk(source, memo, true, &name, wanted, options).await;
            if options.collect_queries {
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
    let mut pending: Vec<usize> = which.to_vec();
    // Memoised outcomes first, without a task each: in a batch most ladder names above R32 are
    // answered from the memo, and a task per name was a visible share of each address (the
    // `FuturesUnordered` allocation); only the rest are looked up concurrently.
    if let Some(m) = memo {
        for &i in which {
            if let Some(o) = rungs.get(i).and_then(|r| m.recall(&r.name)) {
                pending.retain(|&p| p != i);
                rungs[i].outcome = Some(o);
            }
        }
        if pending.len() < which.len() && decided(rungs, &pending) {
            pending.clear();
        }
    }
    if let [i] = pending[..] {
        // One name left (in a batch, usually the R32: the others came from the memo): awaited
        // directly, without a `FuturesUnordered` and its task allocation. As the only lookup it
        // always completes, so nothing is abandoned.
        if let Some(r) = rungs.get(i) {
            // The memo was asked above.
            let o = walk(source, memo, false, &r.name, wanted, options).await;
            rungs[i].outcome = Some(o);
            pending.clear();
        }
    } else if !pending.is_empty() {
        let mut in_flight = FuturesUnordered::new();
        for &i in &pending {
            let Some(name) = rungs.get(i).map(|r| r.name.clone()) else {
                continue;
            };
            in_flight.push(async move {
                let o = walk(source, memo, false, &name, wanted, options).await;
                (i, o)
            });
        }
        while let Some((i, o)) = in_flight.next().await {
            pending.retain(|&p| p != i);
            rungs[i].outcome = Some(o);
            if decided(rungs, &pending) {
                // Dropping `in_flight` cancels the lookups that can no longer change the answer.
                break;
            }
        }
    }
    if !options.collect_queries {
        return;
    }
    // Queries in ladder order (not completion order), so traces read top-down. A lookup dropped
    // in flight was sent but its answer was not awaited: it is shown as `abandoned`.
    for &i in which {
        if let Some(o) = &rungs[i].outcome {
            queries.extend(o.queries.iter().cloned());
        } else if pending.contains(&i) {
            queries.push(QueryTrace {
                name: rungs[i].name.clone(),
                qtype: "NAPTR",
                rcode: "abandoned".to_owned(),
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
