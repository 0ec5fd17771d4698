//! Batch xdom for trackers and CDNs: many addresses, JSON Lines out in input order.
//!
//! ```text
//!   lines ──▶ parse each (bad line ⇒ error object, run continues)
//!         ──▶ xdom, at most `concurrency` inputs in flight, all sharing one CachedSource
//!         ──▶ one JSON object per input line, in input order
//!   summary: inputs, found / not found / errors / temporary, queries sent, queries per input,
//!            elapsed, inputs per second
//! ```
//!
//! Blank lines and lines starting with `#` are skipped (no output line).

use std::io::Write;
use std::time::{Duration, Instant};

use altodisc_proto::service::WantedService;
use futures_util::future::{self, Either};
use futures_util::stream;
use futures_util::{FutureExt as _, StreamExt as _};
use serde_json::{Value, json};

use crate::cache::CachedSource;
use crate::source::NaptrSource;
use crate::xdom::{XdomOptions, XdomStatus, xdom_memo};

/// Default number of inputs resolved at the same time.
pub const DEFAULT_CONCURRENCY: usize = 64;

/// Options for [`run_batch`].
#[derive(Debug, Clone, Copy)]
pub struct BatchOptions {
    /// Per-input xdom options.
    pub xdom: XdomOptions,
    /// Inputs in flight at once (at least 1).
    pub concurrency: usize,
    /// Include every query in each output object (`--trace`).
    pub with_queries: bool,
}

impl Default for BatchOptions {
    fn default() -> Self {
        Self {
            xdom: XdomOptions::default(),
            concurrency: DEFAULT_CONCURRENCY,
            with_queries: false,
        }
    }
}

/// Totals of a batch run.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BatchSummary {
    /// Inputs processed (including invalid ones).
    pub inputs: u64,
    /// Inputs with a URI.
    pub found: u64,
    /// Inputs without, and no temporary failure.
    pub not_found: u64,
    /// Inputs without, with a temporary failure.
    pub temporary: u64,
    /// Invalid inputs.
    pub errors: u64,
    /// Found, but degraded.
    pub degraded: u64,
    /// DNS lookups actually sent (cache misses).
    pub queries_sent: u64,
    /// Lookups answered from the shared cache.
    pub cache_hits: u64,
    /// Wall time.
    pub elapsed: Duration,
}

impl BatchSummary {
    /// Queries sent per input.
    #[must_use]
    pub fn queries_per_input(&self) -> f64 {
        ratio(self.queries_sent, self.inputs)
    }

    /// Inputs per second.
    #[must_use]
    pub fn inputs_per_second(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            as_f64(self.inputs) / s
        } else {
            0.0
        }
    }

    /// JSON form.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "addresses": self.inputs,
            "found": self.found,
            "not_found": self.not_found,
            "temporary": self.temporary,
            "errors": self.errors,
            "degraded": self.degraded,
            "queries_sent": self.queries_sent,
            "cache_hits": self.cache_hits,
            "queries_per_address": self.queries_per_input(),
            "elapsed_s": self.elapsed.as_secs_f64(),
            "addresses_per_s": self.inputs_per_second(),
        })
    }
}

impl std::fmt::Display for BatchSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "addresses={} found={} not_found={} temporary={} errors={} degraded={} queries_sent={} \
             queries/address={:.3} cache_hits={} elapsed={:.3}s addresses/s={:.1}",
            self.inputs,
            self.found,
            self.not_found,
            self.temporary,
            self.errors,
            self.degraded,
            self.queries_sent,
            self.queries_per_input(),
            self.cache_hits,
            self.elapsed.as_secs_f64(),
            self.inputs_per_second()
        )
    }
}

#[allow(
    clippy::cast_precision_loss,
    reason = "counts far below 2^52; a ratio for display"
)]
fn as_f64(v: u64) -> f64 {
    v as f64
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { as_f64(a) / as_f64(b) }
}

/// Runs xdom for every input line, writing one JSON object per line to `out` in input order, and
/// calling `progress(done)` after each. All inputs share one answer cache around `source`
/// (`'static`: a shared query outlives the input that started it, see [`CachedSource`]; pass an
/// `Arc` such as [`crate::Resolver::source`]).
///
/// # Errors
/// Only when writing to `out` fails; invalid inputs become error objects.
pub async fn run_batch<S, I, W, P>(
    source: S,
    lines: I,
    wanted: &[WantedService],
    options: &BatchOptions,
    out: &mut W,
    mut progress: P,
) -> std::io::Result<BatchSummary>
where
    S: NaptrSource + 'static,
    I: IntoIterator<Item = String>,
    W: Write,
    P: FnMut(u64),
{
    let started = Instant::now();
    let cache = CachedSource::new(source);
    let cache_ref = &cache;
    let memo = cache.walk_memo();
    let memo_ref = &memo;
    // The queries of each outcome are only read for `--trace`.
    let xdom_options = XdomOptions {
        collect_queries: options.with_queries,
        ..options.xdom
    };
    let xdom_options = &xdom_options;
    let inputs = lines
        .into_iter()
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        })
        .map(|(i, l)| {
            // Lines normally come trimmed already: keep them rather than copy each.
            let l = if l.trim().len() == l.len() {
                l
            } else {
                l.trim().to_owned()
            };
            (i + 1, l)
        });
    let mut results = stream::iter(inputs)
        // Combinators rather than an `async` block: a block that awaits the walk it was given
        // holds the walk's future twice (once as it came, once as awaited), and each address's
        // future is a heap allocation of that size.
        .map(
            |(line_no, input)| match xdom_memo(cache_ref, memo_ref, input, wanted, xdom_options) {
                Ok(walk) => Either::Left(walk.map(move |o| (line_no, Ok(o)))),
                Err(e) => Either::Right(future::ready((line_no, Err(e)))),
            },
        )
        .buffered(options.concurrency.max(1));
    let mut summary = BatchSummary::default();
    // One row's JSON, reused for every row.
    let mut buf = Vec::with_capacity(4096);
    let mut rungs = row::RungCache::default();
    while let Some((line_no, r)) = results.next().await {
        summary.inputs += 1;
        buf.clear();
        match &r {
            Ok(o) => {
                match o.status {
                    XdomStatus::Found => summary.found += 1,
                    XdomStatus::NotFound => summary.not_found += 1,
                    XdomStatus::TemporaryFailure => summary.temporary += 1,
                }
                if o.degraded && o.status == XdomStatus::Found {
                    summary.degraded += 1;
                }
                row::Json(&mut buf).found_with(
                    o,
                    line_no,
                    options.with_queries,
                    Some(&mut rungs),
                )?;
            }
            Err(e) => {
                summary.errors += 1;
                row::Json(&mut buf).invalid(e, line_no)?;
            }
        }
        buf.push(b'\n');
        out.write_all(&buf)?;
        progress(summary.inputs);
    }
    out.flush()?;
    let stats = cache.stats();
    summary.queries_sent = stats.sent;
    summary.cache_hits = stats.hits;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// One output row, written straight from the outcome into a reused buffer.
///
/// The first profile of a batch (callgrind, 5,000 addresses against NSD) put 73% of the
/// client's instructions into the JSON output: a `serde_json::Value` tree built per row (a
/// `BTreeMap` and a `String` per key and value, `to_string()` of every name, byte by byte) only
/// to be serialised and dropped. A second profile, with `Serialize` views instead of the tree,
/// still spent a fifth of the time in serde_json's per-key escaping and per-entry calls. So the
/// rows are written by hand: keys as literal bytes, strings checked for escapes eight bytes at a
/// time and copied whole when they need none, names copied from their wire form in one piece,
/// fixed texts (statuses, warnings) copied rather than formatted, integers and IPv4 prefixes
/// written digit by digit, floats through serde_json's own formatting. The object is the same —
/// same keys, same (sorted) order, same values, byte for byte
/// (`rows_are_byte_identical_to_the_value_form`, `names_are_written_as_display_writes_them`).
mod row {
    use std::fmt::Display;
    use std::io;
    use std::net::IpAddr;
    use std::sync::Arc;

    use altodisc_proto::ladder::IpPrefix;
    use altodisc_proto::name::DomainName;

    use crate::source::{QueryTrace, duration_ms};
    use crate::unaptr::{
        Candidate, DnssecState, NameStatus, NameVisit, SkippedRecord, UnaptrOutcome, status_detail,
        status_str,
    };
    use crate::xdom::{LadderResult, XdomError, XdomOutcome, XdomStatus};

    /// Appends JSON to a buffer.
    pub(super) struct Json<'a>(pub(super) &'a mut Vec<u8>);

    impl Json<'_> {
        fn raw(&mut self, bytes: &[u8]) {
            self.0.extend_from_slice(bytes);
        }

        /// A JSON string; the common case (nothing to escape, RFC 8259 §7) is copied as is.
        fn str(&mut self, s: &str) -> io::Result<()> {
            if json_plain(s.as_bytes()) {
                self.quoted(s.as_bytes());
                Ok(())
            } else {
                serde_json::to_writer(&mut *self.0, s).map_err(io::Error::from)
            }
        }

        /// `bytes` between quotes, known to need no escaping.
        fn quoted(&mut self, bytes: &[u8]) {
            self.0.reserve(bytes.len() + 2);
            self.0.push(b'"');
            self.0.extend_from_slice(bytes);
            self.0.push(b'"');
        }

        fn opt_str(&mut self, s: Option<&str>) -> io::Result<()> {
            match s {
                Some(s) => self.str(s),
                None => {
                    self.raw(b"null");
                    Ok(())
                }
            }
        }

        /// A value's `Display` form as a JSON string.
        fn display(&mut self, d: impl Display) -> io::Result<()> {
            serde_json::to_writer(&mut *self.0, &Text(d)).map_err(io::Error::from)
        }

        /// A float as serde_json writes it.
        fn num<N: serde::Serialize>(&mut self, n: N) -> io::Result<()> {
            serde_json::to_writer(&mut *self.0, &n).map_err(io::Error::from)
        }

        /// An unsigned integer in decimal, as serde_json writes it (itoa, which serde_json uses
        /// too, without its serializer round trip: a row has a dozen of them).
        fn uint(&mut self, n: impl Into<u64>) {
            self.raw(itoa::Buffer::new().format(n.into()).as_bytes());
        }

        fn usize(&mut self, n: usize) {
            self.uint(u64::try_from(n).unwrap_or(u64::MAX));
        }

        fn bool(&mut self, b: bool) {
            self.raw(if b { b"true" } else { b"false" });
        }

        /// A domain name as its `Display` form writes it. That `Display` formats byte by byte
        /// (escapes, RFC 1035 §5.1); names made only of letters, digits, `-` and `_` — every
        /// reverse name — are copied in one piece instead: the wire form after its first length
        /// octet, each later length octet (and the root's) then overwritten with a dot.
        pub(super) fn name(&mut self, name: &DomainName) -> io::Result<()> {
            let wire = name.as_wire();
            let mut plain = !name.is_root();
            let mut pos = 0;
            // Length octets are below 64 (RFC 1035 §3.1), so each step moves forward.
            while let Some(&len) = wire.get(pos) {
                if len == 0 {
                    break;
                }
                let end = pos + 1 + usize::from(len);
                plain &= wire.get(pos + 1..end).is_some_and(|label| {
                    label
                        .iter()
                        .fold(true, |ok, &b| ok & NAME_PLAIN[usize::from(b)])
                });
                pos = end;
            }
            let Some(body) = wire.get(1..).filter(|_| plain) else {
                return self.display(name);
            };
            let start = self.0.len() + 1;
            self.quoted(body);
            // `body[i]` is `wire[i + 1]`: the length octet at `wire[p]` (p > 0) becomes a dot.
            let mut p = usize::from(wire.first().copied().unwrap_or(0)) + 1;
            while let Some(len) = wire.get(p).copied() {
                if let Some(b) = self.0.get_mut(start + p - 1) {
                    *b = b'.';
                }
                if len == 0 {
                    break;
                }
                p += 1 + usize::from(len);
            }
            Ok(())
        }

        fn list<T>(
            &mut self,
            items: &[T],
            mut each: impl FnMut(&mut Self, &T) -> io::Result<()>,
        ) -> io::Result<()> {
            self.0.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    self.0.push(b',');
                }
                each(self, item)?;
            }
            self.0.push(b']');
            Ok(())
        }

        /// [`XdomOutcome::to_json`] plus `line`.
        #[cfg(test)]
        pub(super) fn found(
            &mut self,
            o: &XdomOutcome,
            line: usize,
            with_queries: bool,
        ) -> io::Result<()> {
            self.found_with(o, line, with_queries, None)
        }

        /// [`Self::found`], with the ladder names whose outcome is shared copied from `rungs`
        /// when it holds them.
        pub(super) fn found_with(
            &mut self,
            o: &XdomOutcome,
            line: usize,
            with_queries: bool,
            mut rungs: Option<&mut RungCache>,
        ) -> io::Result<()> {
            self.raw(b"{\"candidates\":");
            self.list(o.matched_candidates(), Self::candidate)?;
            self.raw(b",\"degraded\":");
            self.bool(o.degraded);
            self.raw(b",\"elapsed_ms\":");
            self.num(duration_ms(o.elapsed))?;
            self.raw(b",\"error\":null,\"input\":");
            self.str(&o.input)?;
            self.raw(b",\"line\":");
            self.usize(line);
            self.raw(b",\"matched_label\":");
            match o.matched.and_then(|i| o.ladder.get(i)) {
                Some(l) => self.label(l.prefix_len)?,
                None => self.raw(b"null"),
            }
            self.raw(b",\"matched_name\":");
            match o.matched_name() {
                Some(n) => self.name(n)?,
                None => self.raw(b"null"),
            }
            self.raw(b",\"names\":");
            self.list(&o.ladder, |j, r| match rungs.as_deref_mut() {
                Some(cache) => cache.write(j, r),
                None => j.rung(r),
            })?;
            self.raw(b",\"prefix\":");
            self.prefix(&o.prefix)?;
            if with_queries {
                self.raw(b",\"queries\":");
                self.list(&o.queries, Self::query)?;
            }
            self.raw(b",\"result\":");
            self.str(o.status.as_str())?;
            self.raw(if o.status == XdomStatus::Found {
                b",\"status\":\"found\",\"temporary\":"
            } else {
                b",\"status\":\"not_found\",\"temporary\":"
            });
            self.bool(o.status == XdomStatus::TemporaryFailure);
            self.raw(b",\"warnings\":");
            self.list(&o.prefix.warnings, |j, w| match w.fixed_text() {
                Some(text) => j.str(text),
                None => j.display(w),
            })?;
            self.raw(b"}");
            Ok(())
        }

        /// [`XdomError::to_json`] plus `line`.
        pub(super) fn invalid(&mut self, e: &XdomError, line: usize) -> io::Result<()> {
            let XdomError::Input { input, source } = e;
            self.raw(b"{\"candidates\":[],\"degraded\":false,\"error\":");
            self.display(source)?;
            self.raw(b",\"input\":");
            self.str(input)?;
            self.raw(b",\"line\":");
            self.usize(line);
            self.raw(b",\"matched_name\":null,\"status\":\"error\"}");
            Ok(())
        }

        /// [`status_detail`]: the fixed text of most statuses is copied, not formatted into a
        /// new `String` per name and row.
        fn detail(&mut self, status: &NameStatus) -> io::Result<()> {
            match status.fixed_text() {
                Some(text) => self.str(text),
                None => self.str(&status_detail(status)),
            }
        }

        /// `address/length`, as `format!("{}/{}", ..)` writes it; an IPv4 address digit by
        /// digit (its `Display` went through the formatting machinery for four small numbers).
        fn prefix(&mut self, p: &IpPrefix) -> io::Result<()> {
            let IpAddr::V4(v4) = p.address else {
                return self.display(format_args!("{}/{}", p.address, p.prefix_len));
            };
            self.raw(b"\"");
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    self.raw(b".");
                }
                self.uint(octet);
            }
            self.raw(b"/");
            self.uint(p.prefix_len);
            self.raw(b"\"");
            Ok(())
        }

        /// `R<len>` ([`LadderResult::label`]).
        fn label(&mut self, prefix_len: u8) -> io::Result<()> {
            self.raw(b"\"R");
            self.uint(prefix_len);
            self.raw(b"\"");
            Ok(())
        }

        /// [`Candidate::to_json`].
        fn candidate(&mut self, c: &Candidate) -> io::Result<()> {
            self.raw(b"{\"chain\":");
            self.list(&c.chain, Self::name)?;
            self.raw(b",\"dnssec\":");
            self.str(c.dnssec.as_str())?;
            self.raw(b",\"order\":");
            self.uint(c.order);
            self.raw(b",\"owner\":");
            self.name(&c.owner)?;
            self.raw(b",\"preference\":");
            self.uint(c.preference);
            self.raw(b",\"protocol\":");
            self.str(&c.protocol)?;
            self.raw(b",\"ttl\":");
            self.uint(c.ttl);
            self.raw(b",\"uri\":");
            self.str(&c.uri)?;
            self.raw(b"}");
            Ok(())
        }

        /// [`LadderResult::to_json`].
        fn rung(&mut self, r: &LadderResult) -> io::Result<()> {
            self.raw(b"{\"detail\":");
            match r.status() {
                Some(st) => self.detail(st)?,
                None => self.raw(b"\"not needed: a more specific name matched\""),
            }
            self.raw(b",\"first_attempt\":");
            self.opt_str(r.first_attempt.as_ref().map(status_str))?;
            self.raw(b",\"label\":");
            self.label(r.prefix_len)?;
            self.raw(b",\"name\":");
            self.name(&r.name)?;
            self.raw(b",\"retried\":");
            self.bool(r.first_attempt.is_some());
            self.raw(b",\"status\":");
            self.str(r.status().map_or("not_needed", status_str))?;
            self.raw(b",\"visits\":");
            match &r.outcome {
                Some(o) => self.list(&o.visits, Self::visit)?,
                None => self.raw(b"[]"),
            }
            self.raw(b"}");
            Ok(())
        }

        /// [`NameVisit::to_json`].
        fn visit(&mut self, v: &NameVisit) -> io::Result<()> {
            self.raw(b"{\"cname_chain\":");
            self.list(&v.cname_chain, Self::name)?;
            self.raw(b",\"depth\":");
            self.usize(v.depth);
            self.raw(b",\"detail\":");
            self.detail(&v.status)?;
            self.raw(b",\"dnssec\":");
            self.opt_str(v.dnssec.map(DnssecState::as_str))?;
            self.raw(b",\"malformed\":");
            self.list(&v.malformed, |j, m| j.str(m))?;
            self.raw(b",\"name\":");
            self.name(&v.name)?;
            self.raw(b",\"protocol\":");
            self.str(&v.protocol)?;
            self.raw(b",\"records\":");
            self.usize(v.records);
            self.raw(b",\"skipped\":");
            self.list(&v.skipped, Self::skipped)?;
            self.raw(b",\"status\":");
            self.str(status_str(&v.status))?;
            self.raw(b"}");
            Ok(())
        }

        /// A skipped record: `{"reason", "record"}`.
        fn skipped(&mut self, s: &SkippedRecord) -> io::Result<()> {
            self.raw(b"{\"reason\":");
            self.str(&s.reason)?;
            self.raw(b",\"record\":");
            self.str(&s.record)?;
            self.raw(b"}");
            Ok(())
        }

        /// [`QueryTrace::to_json`].
        fn query(&mut self, q: &QueryTrace) -> io::Result<()> {
            self.raw(b"{\"answers\":");
            self.usize(q.answers);
            self.raw(b",\"name\":");
            self.name(&q.name)?;
            self.raw(b",\"rcode\":");
            self.str(&q.rcode)?;
            self.raw(b",\"time_ms\":");
            self.num(duration_ms(q.elapsed))?;
            self.raw(b",\"transport\":");
            self.str(q.transport.as_str())?;
            self.raw(b",\"ttl\":");
            match q.ttl {
                Some(ttl) => self.uint(ttl),
                None => self.raw(b"null"),
            }
            self.raw(b",\"type\":");
            self.str(q.qtype)?;
            self.raw(b"}");
            Ok(())
        }
    }

    /// The JSON of recent ladder names whose U-NAPTR outcome is shared with other addresses.
    ///
    /// In a batch the R24, R16 and R8 names of every address of a /24 share one memoised
    /// outcome (`WalkMemo`, RFC 8686 §3): their objects in `names` are the same bytes row after
    /// row, and writing them was most of a row. A name's object depends only on the name, its
    /// length, its outcome and whether it was retried, so an object written for one outcome
    /// (the same `Arc`, kept alive here, so never a new outcome at a reused address) and name,
    /// without a retry, is copied for the next row. Only outcomes shared at the time (more than
    /// one owner: the memo holds them) are kept; a one-off R32 outcome never is.
    ///
    /// Names that were not needed (a more specific name matched first) are kept apart, by name
    /// and length alone: their object depends on nothing else. In a batch they are the R24, R16
    /// or R8 of a /24 whose R32 matched, or whose queries were still in flight (see
    /// `run_round`), row after row.
    #[derive(Default)]
    pub(super) struct RungCache {
        entries: Vec<RungEntry>,
        /// The entry replaced next, round robin.
        next: usize,
        unneeded: Vec<Unneeded>,
        /// The entry of `unneeded` replaced next, round robin (its buffers are reused).
        unneeded_next: usize,
    }

    /// The object of a name that was not needed.
    struct Unneeded {
        prefix_len: u8,
        /// The name's wire form, as written (case kept).
        wire: Vec<u8>,
        json: Vec<u8>,
    }

    struct RungEntry {
        outcome: Arc<UnaptrOutcome>,
        name: DomainName,
        prefix_len: u8,
        json: Vec<u8>,
    }

    impl RungCache {
        /// Entries kept: the shared names of the few /24s (or IPv6 prefixes) in flight.
        const CAPACITY: usize = 16;

        /// Writes `r` as [`Json::rung`] would, from the cache when it holds it.
        pub(super) fn write(&mut self, j: &mut Json<'_>, r: &LadderResult) -> io::Result<()> {
            if r.outcome.is_none() && r.first_attempt.is_none() {
                return self.write_unneeded(j, r);
            }
            let Some(outcome) = r
                .outcome
                .as_ref()
                .filter(|o| r.first_attempt.is_none() && Arc::strong_count(o) > 1)
            else {
                return j.rung(r);
            };
            let wire = r.name.as_wire();
            if let Some(e) = self.entries.iter().find(|e| {
                Arc::ptr_eq(&e.outcome, outcome)
                    && e.prefix_len == r.prefix_len
                    && e.name.as_wire() == wire
            }) {
                j.raw(&e.json);
                return Ok(());
            }
            let start = j.0.len();
            j.rung(r)?;
            let entry = RungEntry {
                outcome: Arc::clone(outcome),
                name: r.name.clone(),
                prefix_len: r.prefix_len,
                json: j.0.get(start..).unwrap_or_default().to_vec(),
            };
            if self.entries.len() < Self::CAPACITY {
                self.entries.push(entry);
            } else if let Some(slot) = self.entries.get_mut(self.next) {
                *slot = entry;
                self.next = (self.next + 1) % Self::CAPACITY;
            }
            Ok(())
        }
    }

    impl RungCache {
        /// [`Self::write`] for a name that was not needed.
        fn write_unneeded(&mut self, j: &mut Json<'_>, r: &LadderResult) -> io::Result<()> {
            let wire = r.name.as_wire();
            if let Some(e) = self
                .unneeded
                .iter()
                .find(|e| e.prefix_len == r.prefix_len && e.wire == wire)
            {
                j.raw(&e.json);
                return Ok(());
            }
            let start = j.0.len();
            j.rung(r)?;
            let json = j.0.get(start..).unwrap_or_default();
            if self.unneeded.len() < Self::CAPACITY {
                self.unneeded.push(Unneeded {
                    prefix_len: r.prefix_len,
                    wire: wire.to_vec(),
                    json: json.to_vec(),
                });
            } else if let Some(slot) = self.unneeded.get_mut(self.unneeded_next) {
                slot.prefix_len = r.prefix_len;
                slot.wire.clear();
                slot.wire.extend_from_slice(wire);
                slot.json.clear();
                slot.json.extend_from_slice(json);
                self.unneeded_next = (self.unneeded_next + 1) % Self::CAPACITY;
            }
            Ok(())
        }
    }

    #[cfg(test)]
    impl RungCache {
        pub(super) fn len(&self) -> usize {
            self.entries.len()
        }

        pub(super) fn unneeded_len(&self) -> usize {
            self.unneeded.len()
        }
    }

    #[cfg(test)]
    impl Json<'_> {
        pub(super) fn uint_for_test(&mut self, n: u64) {
            self.uint(n);
        }

        pub(super) fn prefix_for_test(&mut self, p: &IpPrefix) -> io::Result<()> {
            self.prefix(p)
        }
    }

    /// Whether `bytes` may stand in a JSON string as they are (RFC 8259 §7): no `"`, no `\`, no
    /// control character below 0x20. Eight bytes at a time (the byte-by-byte check was a few
    /// percent of a batch): a byte is flagged when it is below 0x20 or, xor'ed with `"` or `\`,
    /// zero — the exact "has a zero / smaller byte" tests on a word, without false alarms.
    pub(super) fn json_plain(bytes: &[u8]) -> bool {
        const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
        const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
        const QUOTE: u64 = u64::from_ne_bytes([b'"'; 8]);
        const BACKSLASH: u64 = u64::from_ne_bytes([b'\\'; 8]);
        const BELOW: u64 = u64::from_ne_bytes([0x20; 8]);
        let below = |w: u64| w.wrapping_sub(BELOW) & !w & HIGH;
        let zero = |w: u64| w.wrapping_sub(ONES) & !w & HIGH;
        let mut chunks = bytes.chunks_exact(8);
        let mut flagged = 0_u64;
        for chunk in chunks.by_ref() {
            let mut word = [0_u8; 8];
            word.copy_from_slice(chunk);
            let w = u64::from_ne_bytes(word);
            flagged |= below(w) | zero(w ^ QUOTE) | zero(w ^ BACKSLASH);
        }
        // The last 0 to 7 bytes, padded with a plain byte, as one more word.
        let mut last = [b'a'; 8];
        for (d, &b) in last.iter_mut().zip(chunks.remainder()) {
            *d = b;
        }
        let w = u64::from_ne_bytes(last);
        flagged |= below(w) | zero(w ^ QUOTE) | zero(w ^ BACKSLASH);
        flagged == 0
    }

    /// Name octets `Display` writes as they are and JSON needs no escape for: letters, digits,
    /// `-` and `_` (any other octet takes the `Display` path, which escapes as RFC 1035 §5.1 asks).
    #[allow(clippy::cast_possible_truncation, reason = "b < 256")]
    const NAME_PLAIN: [bool; 256] = {
        let mut t = [false; 256];
        let mut b = 0;
        while b < 256 {
            let c = b as u8;
            t[b] = c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
            b += 1;
        }
        t
    };

    /// A value written through its `Display` form (a JSON string, no intermediate `String`).
    struct Text<T>(T);

    impl<T: Display> serde::Serialize for Text<T> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_str(&self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::memory::MemorySource;
    use crate::source::FailureReason;
    use crate::xdom::xdom;

    /// `run_batch` over `src` with 8 inputs in flight: the summary and the output rows.
    async fn batch8(src: &Arc<MemorySource>, lines: Vec<String>) -> (BatchSummary, Vec<Value>) {
        let mut out = Vec::new();
        let opts = BatchOptions {
            concurrency: 8,
            ..BatchOptions::default()
        };
        let s = run_batch(
            Arc::clone(src),
            lines,
            &[WantedService::alto_https()],
            &opts,
            &mut out,
            |_| {},
        )
        .await
        .unwrap();
        let rows = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (s, rows)
    }

    /// The rows written straight from the outcome are the bytes the `Value` form gives
    /// (`XdomOutcome::to_json` / `XdomError::to_json` plus `line`), for every kind of row: found
    /// directly, through a CNAME and through a non-terminal, with skipped and malformed records,
    /// not found, temporary failures retried (RFC 8686 §3.5), refused, IPv6, a prefix with a
    /// warning, invalid input; with and without the query trace.
    #[tokio::test]
    async fn rows_are_byte_identical_to_the_value_form() {
        // A function, so that a run can start from a fresh zone (`fail_first` keeps state).
        let zone = || {
            MemorySource::new()
                .uri(
                    "1.100.51.198.in-addr.arpa.",
                    1,
                    1,
                    "ALTO:https",
                    "https://r32.example/",
                )
                .uri(
                    "1.100.51.198.in-addr.arpa.",
                    1,
                    2,
                    "ALTO:http",
                    "http://skipped.example/",
                )
                .raw_rdata("1.100.51.198.in-addr.arpa.", b"\x00\x01")
                .cname(
                    "2.100.51.198.in-addr.arpa.",
                    "2.0-25.100.51.198.in-addr.arpa.",
                )
                .uri(
                    "2.0-25.100.51.198.in-addr.arpa.",
                    1,
                    1,
                    "ALTO:https",
                    "https://via-cname.example/",
                )
                .follow("3.100.51.198.in-addr.arpa.", 1, 1, "ALTO", "alto.example.")
                .uri(
                    "alto.example.",
                    1,
                    1,
                    "ALTO:https",
                    "https://non-terminal.example/\"q\"",
                )
                .uri(
                    "113.0.203.in-addr.arpa.",
                    7,
                    9,
                    "ALTO:https",
                    "https://r24.example/",
                )
                .fail("5.100.51.198.in-addr.arpa.", FailureReason::Timeout)
                .fail_first("6.100.51.198.in-addr.arpa.", FailureReason::ServFail, 1)
                .uri(
                    "6.100.51.198.in-addr.arpa.",
                    1,
                    1,
                    "ALTO:https",
                    "https://retried.example/",
                )
                .fail("7.100.51.198.in-addr.arpa.", FailureReason::Refused)
                .exists("8.100.51.198.in-addr.arpa.")
                .cname(
                    "9.100.51.198.in-addr.arpa.",
                    "odd\\.label\\032\\\"x.example.",
                )
                .uri(
                    "odd\\.label\\032\\\"x.example.",
                    1,
                    1,
                    "ALTO:https",
                    "https://odd.example/",
                )
        };
        let src = zone();
        let inputs = [
            "198.51.100.1",
            "198.51.100.2",
            "198.51.100.3",
            "198.51.100.4",
            "198.51.100.5",
            "198.51.100.6",
            "198.51.100.7",
            "198.51.100.8",
            "198.51.100.9",
            "203.0.113.77",
            "203.0.113.77/24",
            "::ffff:203.0.113.5",
            "2001:db8:1:2::33",
            "2001:db8::/48",
            "not-an-address",
            "10.0.0.0/7",
        ];
        let opts = XdomOptions::default();
        let untraced = XdomOptions {
            collect_queries: false,
            ..opts
        };
        let wanted = [WantedService::alto_https()];
        for with_queries in [false, true] {
            for (i, input) in inputs.iter().enumerate() {
                if !with_queries {
                    // A batch without --trace leaves the queries out of the outcome: the row
                    // is the same.
                    let (mut a, mut b) = (Vec::new(), Vec::new());
                    match (
                        xdom(&zone(), input, &wanted, &opts).await,
                        xdom(&zone(), input, &wanted, &untraced).await,
                    ) {
                        (Ok(x), Ok(y)) => {
                            assert!(y.queries.is_empty() && !x.queries.is_empty(), "{input}");
                            row::Json(&mut a).found(&x, i + 1, false).unwrap();
                            row::Json(&mut b).found(&y, i + 1, false).unwrap();
                        }
                        (Err(x), Err(y)) => {
                            row::Json(&mut a).invalid(&x, i + 1).unwrap();
                            row::Json(&mut b).invalid(&y, i + 1).unwrap();
                        }
                        _ => panic!("{input}: one run failed, the other did not"),
                    }
                    // Elapsed times differ from run to run: compare without them.
                    let strip = |v: Vec<u8>| {
                        let mut j: Value = serde_json::from_slice(&v).unwrap();
                        j["elapsed_ms"] = Value::Null;
                        j
                    };
                    assert_eq!(strip(a), strip(b), "{input}");
                }
                let r = xdom(&src, input, &wanted, &opts).await;
                let mut direct = Vec::new();
                let mut value = match &r {
                    Ok(o) => {
                        row::Json(&mut direct)
                            .found(o, i + 1, with_queries)
                            .unwrap();
                        o.to_json(with_queries)
                    }
                    Err(e) => {
                        row::Json(&mut direct).invalid(e, i + 1).unwrap();
                        e.to_json()
                    }
                };
                value["line"] = json!(i + 1);
                assert_eq!(
                    String::from_utf8(direct).unwrap(),
                    value.to_string(),
                    "{input}"
                );
            }
        }
    }

    /// Names are written as their `Display` form: plain ones in one piece, others (escapes,
    /// the root, the longest names) through `Display`.
    #[test]
    fn names_are_written_as_display_writes_them() {
        let long = format!("{0}.{0}.{0}.{1}.", "a".repeat(63), "b".repeat(61));
        let mut texts = vec![
            ".".to_owned(),
            "example.".to_owned(),
            "1.100.51.198.in-addr.arpa.".to_owned(),
            "_alto._tcp.x-y.example.".to_owned(),
            "odd\\.label\\032\\\"x.example.".to_owned(),
            "UPPER.Example.".to_owned(),
            "a.b.c.".to_owned(),
            "x\\.y.".to_owned(),
            "caf\\195\\169.example.".to_owned(),
            "tab\\009.example.".to_owned(),
            "b\\\\s.example.".to_owned(),
            "0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.".to_owned(),
            long.clone(),
        ];
        // Every octet, alone and inside a label, plain or not.
        texts.extend((0..=255_u8).map(|b| format!("x\\{b:03}y.\\{b:03}.example.")));
        for text in &texts {
            let name = altodisc_proto::name::DomainName::parse(text).unwrap();
            // After other output, as in a row (the dots are patched at the right offsets).
            let mut direct = b"[1,".to_vec();
            row::Json(&mut direct).name(&name).unwrap();
            let direct = direct.split_off(3);
            assert_eq!(
                String::from_utf8(direct).unwrap(),
                serde_json::to_string(&name.to_string()).unwrap(),
                "{text}"
            );
        }
    }

    /// Writes each outcome as batch row `i + 1` through `cache` and checks it byte for byte
    /// against the `Value` form.
    fn rows_match_their_values(outcomes: &[&crate::xdom::XdomOutcome], cache: &mut row::RungCache) {
        for (i, o) in outcomes.iter().enumerate() {
            let mut direct = Vec::new();
            row::Json(&mut direct)
                .found_with(o, i + 1, false, Some(&mut *cache))
                .unwrap();
            let mut value = o.to_json(false);
            value["line"] = json!(i + 1);
            assert_eq!(String::from_utf8(direct).unwrap(), value.to_string(), "{i}");
        }
    }

    /// A shared ladder name's object is copied from the cache only for the same outcome, name
    /// and length and without a retry; every row stays byte for byte the `Value` form.
    #[tokio::test]
    async fn shared_names_are_copied_only_when_identical() {
        let src = MemorySource::new().uri(
            "100.51.198.in-addr.arpa.",
            1,
            1,
            "ALTO:https",
            "https://r24.example/",
        );
        let wanted = [WantedService::alto_https()];
        let first = xdom(&src, "198.51.100.1", &wanted, &XdomOptions::default())
            .await
            .unwrap();
        // Shared, as the batch's memo shares them.
        let _owners: Vec<_> = first.ladder.iter().map(|r| r.outcome.clone()).collect();
        let mut renamed = first.clone();
        renamed.ladder[1].name =
            altodisc_proto::name::DomainName::parse("100.51.198.IN-ADDR.arpa.").unwrap();
        let mut retried = first.clone();
        retried.ladder[1].first_attempt = Some(crate::unaptr::NameStatus::NxDomain);
        let mut relabelled = first.clone();
        relabelled.ladder[1].prefix_len = 23;
        let mut cache = row::RungCache::default();
        rows_match_their_values(
            &[&first, &first, &renamed, &retried, &relabelled, &first],
            &mut cache,
        );
        // Every name with an outcome (at least R32, NXDOMAIN, and R24, found) kept once, then
        // R24 again under its other name and its other length; never the retried one.
        let shared = first.ladder.iter().filter(|r| r.outcome.is_some()).count();
        assert!(shared >= 2);
        assert_eq!(cache.len(), shared + 2);
    }

    /// A name that was not needed is copied only for the same name (case included) and the
    /// same length; a retried one never is.
    #[tokio::test]
    async fn unneeded_names_are_copied_only_when_identical() {
        let src = MemorySource::new().uri(
            "3.100.51.198.in-addr.arpa.",
            1,
            1,
            "ALTO:https",
            "https://r32.example/",
        );
        let wanted = [WantedService::alto_https()];
        let mut first = xdom(&src, "198.51.100.3", &wanted, &XdomOptions::default())
            .await
            .unwrap();
        for r in &mut first.ladder[1..] {
            r.outcome = None;
        }
        let mut renamed = first.clone();
        renamed.ladder[1].name =
            altodisc_proto::name::DomainName::parse("100.51.198.IN-ADDR.arpa.").unwrap();
        let mut relabelled = first.clone();
        relabelled.ladder[1].prefix_len = 23;
        let mut retried = first.clone();
        retried.ladder[1].first_attempt = Some(crate::unaptr::NameStatus::NxDomain);
        let mut cache = row::RungCache::default();
        rows_match_their_values(
            &[&first, &first, &renamed, &relabelled, &retried, &first],
            &mut cache,
        );
        // R24, R16 and R8 once, then R24 under its other name and its other length.
        assert_eq!(cache.unneeded_len(), 3 + 2);
    }

    /// The word-at-a-time escape check agrees with the byte-by-byte rule (RFC 8259 §7) for
    /// every byte value at every position of strings of 0 to 24 bytes, and with serde_json.
    #[test]
    fn json_plain_agrees_with_the_byte_rule() {
        let rule = |s: &[u8]| s.iter().all(|&b| b >= 0x20 && b != b'"' && b != b'\\');
        for len in 0..=24 {
            let base = vec![b'a'; len];
            assert!(row::json_plain(&base));
            for at in 0..len {
                for b in 0..=255_u8 {
                    let mut s = base.clone();
                    s[at] = b;
                    assert_eq!(row::json_plain(&s), rule(&s), "{s:?}");
                }
            }
        }
        for s in [
            "",
            "plain",
            "https://r24.example.net/ird",
            "tab\there",
            "q\"",
            "caf\u{e9} \u{7f}",
        ] {
            let escaped = serde_json::to_string(s).unwrap();
            assert_eq!(
                row::json_plain(s.as_bytes()),
                escaped.len() == s.len() + 2,
                "{s}"
            );
        }
    }

    /// Integers and IPv4 prefixes written by hand are what serde_json and `Display` write.
    #[test]
    fn numbers_and_prefixes_are_written_as_serde_json_writes_them() {
        for n in [
            0_u64,
            1,
            9,
            10,
            99,
            100,
            255,
            65_535,
            4_294_967_295,
            u64::MAX,
        ] {
            let mut direct = Vec::new();
            row::Json(&mut direct).uint_for_test(n);
            assert_eq!(String::from_utf8(direct).unwrap(), n.to_string());
        }
        for text in [
            "0.0.0.0",
            "10.1.20.255",
            "198.51.100.3/24",
            "2001:db8::/48",
            "::ffff:192.0.2.1",
        ] {
            let p = altodisc_proto::ladder::IpPrefix::parse(text).unwrap();
            let mut direct = Vec::new();
            row::Json(&mut direct).prefix_for_test(&p).unwrap();
            assert_eq!(
                String::from_utf8(direct).unwrap(),
                serde_json::to_string(&format!("{}/{}", p.address, p.prefix_len)).unwrap(),
                "{text}"
            );
        }
    }

    /// The CLI batch test's bound, deterministically: R16 and R8 answer later than R32 and R24,
    /// so every input decides on R24 and drops its R16/R8 lookups while others wait for them.
    /// Each shared name must still be sent once: 40 R32 + R24 + R16 + R8 (the old cache re-sent
    /// R16/R8 each time the input that had started them was cancelled).
    #[tokio::test(start_paused = true)]
    async fn cancelled_inputs_do_not_resend_shared_names() {
        let src = Arc::new(
            MemorySource::new()
                .uri(
                    "100.51.198.in-addr.arpa.",
                    1,
                    1,
                    "ALTO:https",
                    "https://alto.example/",
                )
                .with_delay(Duration::from_millis(2))
                .delay("51.198.in-addr.arpa.", Duration::from_millis(40))
                .delay("198.in-addr.arpa.", Duration::from_millis(40)),
        );
        let lines: Vec<String> = (1..=40).map(|i| format!("198.51.100.{i}")).collect();
        let (s, _) = batch8(&src, lines).await;
        assert_eq!(s.found, 40, "{s}");
        assert_eq!(src.query_count(), 40 + 3, "{:?}", src.queries());
        assert_eq!(s.queries_sent, 40 + 3, "{s}");
    }

    #[tokio::test]
    async fn same_slash24_shares_r24_r16_r8_and_keeps_order() {
        let src = Arc::new(MemorySource::new().uri(
            "100.51.198.in-addr.arpa.",
            1,
            1,
            "ALTO:https",
            "https://alto.example/",
        ));
        let lines: Vec<String> = (1..=50)
            .map(|i| format!("198.51.100.{i}"))
            .chain(["not-an-address".to_owned(), String::new(), "# c".to_owned()])
            .chain(["203.0.113.9".to_owned()])
            .collect();
        let (s, rows) = batch8(&src, lines).await;
        assert_eq!(rows.len(), 52);
        for (i, r) in rows.iter().take(50).enumerate() {
            assert_eq!(r["input"], format!("198.51.100.{}", i + 1));
            assert_eq!(r["status"], "found");
        }
        assert_eq!(rows[50]["status"], "error");
        assert_eq!(rows[50]["line"], 51);
        assert_eq!(rows[51]["input"], "203.0.113.9");
        assert_eq!(rows[51]["status"], "not_found");
        // 50 R32 names + one R24 for the /24; 4 names for the other address. R24 found, so R16
        // and R8 of the first /24 are never needed in concurrent mode except as in-flight queries.
        assert!(s.queries_sent <= 50 + 3 + 4, "{s}");
        assert_eq!(src.query_count() as u64, s.queries_sent);
        assert_eq!((s.inputs, s.found, s.not_found, s.errors), (52, 50, 1, 1));
    }
}
