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
use futures_util::StreamExt as _;
use futures_util::stream;
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
        .map(|(line_no, input)| async move {
            let r = xdom_memo(cache_ref, memo_ref, &input, wanted, &options.xdom).await;
            (line_no, r)
        })
        .buffered(options.concurrency.max(1));
    let mut summary = BatchSummary::default();
    // One row's JSON, reused for every row.
    let mut buf = Vec::with_capacity(4096);
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
                row::Json(&mut buf).found(o, line_no, options.with_queries)?;
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
/// rows are written by hand: keys as literal bytes, strings escaped only when they need it,
/// numbers through serde_json's own formatting. The object is the same — same keys, same
/// (sorted) order, same values, byte for byte (`rows_are_byte_identical_to_the_value_form`).
mod row {
    use std::fmt::Display;
    use std::io;

    use altodisc_proto::name::DomainName;

    use crate::source::{QueryTrace, duration_ms};
    use crate::unaptr::{
        Candidate, DnssecState, NameVisit, SkippedRecord, status_detail, status_str,
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
            // Without an early exit the check vectorises (a profile showed the byte-at-a-time
            // loop as 3% of a batch).
            let plain = s
                .bytes()
                .fold(true, |ok, b| ok & (b >= 0x20) & (b != b'"') & (b != b'\\'));
            if plain {
                self.0.push(b'"');
                self.0.extend_from_slice(s.as_bytes());
                self.0.push(b'"');
                Ok(())
            } else {
                serde_json::to_writer(&mut *self.0, s).map_err(io::Error::from)
            }
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

        /// A number (integers and floats as serde_json writes them).
        fn num<N: serde::Serialize>(&mut self, n: N) -> io::Result<()> {
            serde_json::to_writer(&mut *self.0, &n).map_err(io::Error::from)
        }

        fn bool(&mut self, b: bool) {
            self.raw(if b { b"true" } else { b"false" });
        }

        /// A domain name as its `Display` form writes it. That `Display` formats byte by byte
        /// (escapes, RFC 1035 §5.1); names made only of letters, digits, `-` and `_` — every
        /// reverse name — are copied in one piece instead.
        pub(super) fn name(&mut self, name: &DomainName) -> io::Result<()> {
            let plain = !name.is_root()
                && name.labels().all(|l| {
                    l.iter()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
                });
            if !plain {
                return self.display(name);
            }
            self.0.push(b'"');
            for label in name.labels() {
                self.0.extend_from_slice(label);
                self.0.push(b'.');
            }
            self.0.push(b'"');
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
        pub(super) fn found(
            &mut self,
            o: &XdomOutcome,
            line: usize,
            with_queries: bool,
        ) -> io::Result<()> {
            self.raw(b"{\"candidates\":");
            self.list(&o.candidates, Self::candidate)?;
            self.raw(b",\"degraded\":");
            self.bool(o.degraded);
            self.raw(b",\"elapsed_ms\":");
            self.num(duration_ms(o.elapsed))?;
            self.raw(b",\"error\":null,\"input\":");
            self.str(&o.input)?;
            self.raw(b",\"line\":");
            self.num(line)?;
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
            self.list(&o.ladder, Self::rung)?;
            self.raw(b",\"prefix\":");
            self.display(format_args!("{}/{}", o.prefix.address, o.prefix.prefix_len))?;
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
            self.list(&o.prefix.warnings, |j, w| j.display(w))?;
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
            self.num(line)?;
            self.raw(b",\"matched_name\":null,\"status\":\"error\"}");
            Ok(())
        }

        /// `R<len>` ([`LadderResult::label`]).
        fn label(&mut self, prefix_len: u8) -> io::Result<()> {
            self.raw(b"\"R");
            self.num(prefix_len)?;
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
            self.num(c.order)?;
            self.raw(b",\"owner\":");
            self.name(&c.owner)?;
            self.raw(b",\"preference\":");
            self.num(c.preference)?;
            self.raw(b",\"protocol\":");
            self.str(&c.protocol)?;
            self.raw(b",\"ttl\":");
            self.num(c.ttl)?;
            self.raw(b",\"uri\":");
            self.str(&c.uri)?;
            self.raw(b"}");
            Ok(())
        }

        /// [`LadderResult::to_json`].
        fn rung(&mut self, r: &LadderResult) -> io::Result<()> {
            self.raw(b"{\"detail\":");
            match r.status() {
                Some(st) => self.str(&status_detail(st))?,
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
            self.num(v.depth)?;
            self.raw(b",\"detail\":");
            self.str(&status_detail(&v.status))?;
            self.raw(b",\"dnssec\":");
            self.opt_str(v.dnssec.map(DnssecState::as_str))?;
            self.raw(b",\"malformed\":");
            self.list(&v.malformed, |j, m| j.str(m))?;
            self.raw(b",\"name\":");
            self.name(&v.name)?;
            self.raw(b",\"protocol\":");
            self.str(&v.protocol)?;
            self.raw(b",\"records\":");
            self.num(v.records)?;
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
            self.num(q.answers)?;
            self.raw(b",\"name\":");
            self.name(&q.name)?;
            self.raw(b",\"rcode\":");
            self.str(&q.rcode)?;
            self.raw(b",\"time_ms\":");
            self.num(duration_ms(q.elapsed))?;
            self.raw(b",\"transport\":");
            self.str(q.transport.as_str())?;
            self.raw(b",\"ttl\":");
            self.num(q.ttl)?;
            self.raw(b",\"type\":");
            self.str(q.qtype)?;
            self.raw(b"}");
            Ok(())
        }
    }

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
        let src = MemorySource::new()
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
            );
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
        let wanted = [WantedService::alto_https()];
        for with_queries in [false, true] {
            for (i, input) in inputs.iter().enumerate() {
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
        for text in [
            ".",
            "example.",
            "1.100.51.198.in-addr.arpa.",
            "_alto._tcp.x-y.example.",
            "odd\\.label\\032\\\"x.example.",
            "UPPER.Example.",
            long.as_str(),
        ] {
            let name = altodisc_proto::name::DomainName::parse(text).unwrap();
            let mut direct = Vec::new();
            row::Json(&mut direct).name(&name).unwrap();
            assert_eq!(
                String::from_utf8(direct).unwrap(),
                serde_json::to_string(&name.to_string()).unwrap(),
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
