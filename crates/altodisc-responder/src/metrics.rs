//! The server's metrics, exposed in the Prometheus text format (version 0.0.4) by the
//! `prometheus-client` crate, and the `/healthz` state. Every metric is documented in
//! `docs/operators/metrics.md`; names follow the Prometheus naming guide (one metric per
//! quantity, labels for its dimensions, `_total` counters, base units).
//!
//! The query path only does relaxed atomic additions into fixed arrays (no lock, no allocation,
//! no hashing): `prometheus-client`'s own `Family<Labels, Counter>` looks every label set up in a
//! hash map behind a read lock on each increment, which the query path cannot afford. At scrape
//! time a [`Collector`] reads the arrays and the crate encodes them. Per-zone query counts live in
//! the zone ([`crate::index::ZoneStats`]) and are carried across reloads.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::index::ZoneIndex;
use crate::load::ZoneFailure;

/// The `Content-Type` of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Upper bounds (seconds) of the latency histogram buckets; a last `+Inf` bucket is implied.
pub const LATENCY_BUCKETS: [f64; 9] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.005, 0.025,
];

/// The same bounds in nanoseconds, for the query path.
const LATENCY_BUCKETS_NS: [u64; 9] = [
    10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 5_000_000, 25_000_000,
];

/// QTYPEs counted by name: the types a DNS server commonly sees, DNSSEC ones included; any other
/// is `other` (a label per QTYPE value would let clients create 65,536 series).
const QTYPES: [RecordType; 27] = [
    RecordType::A,
    RecordType::NS,
    RecordType::CNAME,
    RecordType::SOA,
    RecordType::PTR,
    RecordType::MX,
    RecordType::TXT,
    RecordType::AAAA,
    RecordType::SRV,
    RecordType::NAPTR,
    RecordType::DS,
    RecordType::RRSIG,
    RecordType::NSEC,
    RecordType::DNSKEY,
    RecordType::NSEC3,
    RecordType::NSEC3PARAM,
    RecordType::TLSA,
    RecordType::CDS,
    RecordType::CDNSKEY,
    RecordType::SVCB,
    RecordType::HTTPS,
    RecordType::CAA,
    RecordType::IXFR,
    RecordType::AXFR,
    RecordType::ANY,
    RecordType::HINFO,
    RecordType::SSHFP,
];
const QTYPE_SLOTS: usize = QTYPES.len() + 1;

/// RFC 6895 §2.3 mnemonics of RCODEs 0–15.
const RCODE_NAMES: [&str; 16] = [
    "NOERROR",
    "FORMERR",
    "SERVFAIL",
    "NXDOMAIN",
    "NOTIMP",
    "REFUSED",
    "YXDOMAIN",
    "YXRRSET",
    "NXRRSET",
    "NOTAUTH",
    "NOTZONE",
    "DSOTYPENI",
    "RCODE12",
    "RCODE13",
    "RCODE14",
    "RCODE15",
];

/// RCODEs 0–15 fit the header (RFC 1035 §4.1.1); extended ones (BADVERS) are counted as 16.
const RCODE_SLOTS: usize = 17;

/// The transport a query came over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transport {
    /// UDP (RFC 1035 §4.2.1).
    Udp,
    /// TCP (RFC 7766).
    Tcp,
}

const TRANSPORTS: [(Transport, &str); 2] = [(Transport::Udp, "udp"), (Transport::Tcp, "tcp")];

/// How a reload ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReloadOutcome {
    /// Every zone loaded and was swapped in.
    Success,
    /// Some zones failed and kept their previous version (or are not served); the others were
    /// swapped in.
    Partial,
    /// Nothing was swapped in (the config did not load, or `strict` and any zone failed).
    Rejected,
}

/// Why the TCP server closed or refused a connection before its client was done with it (see
/// the module notes of the TCP server): the reasons of `altodisc_tcp_connections_shed_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TcpShed {
    /// Closed to make room for a new connection with every slot taken: it was idle between
    /// queries (RFC 7766 §6.2.3: idle connections go first under resource pressure).
    Idle,
    /// Closed to make room with every slot taken and none idle: it was waiting for its first
    /// query, reading one, having its reply read, or not started yet.
    Slow,
    /// Closed to make room for a new connection from the same source at its own limit
    /// (`max_tcp_connections_per_source`), or the new one refused because every connection of
    /// that source was being answered.
    PerSource,
    /// Refused: every slot was answering a query.
    Full,
    /// Closed after the idle timeout between queries (shortened once three quarters of the
    /// slots are taken).
    IdleTimeout,
    /// Closed because a query did not arrive whole, or a reply was not taken, within the query
    /// timeout.
    Deadline,
}

const TCP_SHED_REASONS: [(TcpShed, &str); 6] = [
    (TcpShed::Idle, "idle"),
    (TcpShed::Slow, "slow"),
    (TcpShed::PerSource, "per_source"),
    (TcpShed::Full, "full"),
    (TcpShed::IdleTimeout, "idle_timeout"),
    (TcpShed::Deadline, "deadline"),
];

/// What rate limiting did to a response (see [`crate::rrl`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RrlAction {
    /// Sent as usual.
    Pass,
    /// Replaced by an empty TC=1 response (RFC 8906-friendly: the client can retry over TCP).
    Slip,
    /// Not sent.
    Drop,
}

/// A zone that failed its last load, as `/healthz` and the metrics report it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FailedZone {
    /// Origin, lowercase with the trailing dot.
    pub zone: String,
    /// The SOA serial of the previous version still served, or `None` (not served).
    pub kept_serial: Option<u32>,
    /// The first reason.
    pub reason: String,
}

/// State of the last load, written at start and at every reload (not on the query path).
#[derive(Debug, Default)]
struct LoadState {
    failed: Vec<FailedZone>,
    /// Earliest RRSIG expiration of each signed zone, Unix seconds.
    signature_expiry: BTreeMap<String, u64>,
}

/// All counters of one server.
#[derive(Debug)]
pub struct Metrics {
    /// Indexed by [`query_slot`].
    queries: Box<[AtomicU64]>,
    latency: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    latency_sum_ns: AtomicU64,
    reloads: [AtomicU64; 3],
    zone_failures_load: AtomicU64,
    zone_failures_check: AtomicU64,
    last_reload_success: AtomicU64,
    last_reload_ok: AtomicBool,
    transfers_ok: AtomicU64,
    transfers_refused: AtomicU64,
    notify_acked: AtomicU64,
    notify_failed: AtomicU64,
    rrl_slipped: AtomicU64,
    rrl_dropped: AtomicU64,
    tcp_connections: AtomicU64,
    udp_workers: AtomicU64,
    udp_workers_stopped: AtomicU64,
    /// By [`TcpShed`], in the order of `TCP_SHED_REASONS`.
    tcp_shed: [AtomicU64; TCP_SHED_REASONS.len()],
    busy_polls_datagram: AtomicU64,
    busy_polls_expired: AtomicU64,
    loaded: AtomicBool,
    state: Mutex<LoadState>,
    /// `altodisc_tsig_failures_total{reason}`, counted by [`crate::xfr::tsig_gate`].
    pub tsig_failures: crate::tsig::TsigFailureCounters,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            queries: (0..TRANSPORTS.len() * QTYPE_SLOTS * RCODE_SLOTS)
                .map(|_| AtomicU64::new(0))
                .collect(),
            latency: std::array::from_fn(|_| AtomicU64::new(0)),
            latency_sum_ns: AtomicU64::new(0),
            reloads: std::array::from_fn(|_| AtomicU64::new(0)),
            zone_failures_load: AtomicU64::new(0),
            zone_failures_check: AtomicU64::new(0),
            last_reload_success: AtomicU64::new(0),
            last_reload_ok: AtomicBool::new(true),
            transfers_ok: AtomicU64::new(0),
            transfers_refused: AtomicU64::new(0),
            notify_acked: AtomicU64::new(0),
            notify_failed: AtomicU64::new(0),
            rrl_slipped: AtomicU64::new(0),
            rrl_dropped: AtomicU64::new(0),
            tcp_connections: AtomicU64::new(0),
            udp_workers: AtomicU64::new(0),
            udp_workers_stopped: AtomicU64::new(0),
            tcp_shed: std::array::from_fn(|_| AtomicU64::new(0)),
            busy_polls_datagram: AtomicU64::new(0),
            busy_polls_expired: AtomicU64::new(0),
            loaded: AtomicBool::new(false),
            state: Mutex::new(LoadState::default()),
            tsig_failures: crate::tsig::TsigFailureCounters::default(),
        }
    }
}

fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// The slot of a (transport, QTYPE slot, RCODE slot) triple in `Metrics::queries`.
fn query_slot(t: usize, q: usize, r: usize) -> usize {
    (t * QTYPE_SLOTS + q) * RCODE_SLOTS + r
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Metrics {
    /// Counts one answered query.
    pub fn query(
        &self,
        transport: Transport,
        qtype: Option<RecordType>,
        rcode: ResponseCode,
        elapsed: Duration,
    ) {
        let r = usize::from(u16::from(rcode)).min(RCODE_SLOTS - 1);
        let q = qtype
            .and_then(|t| QTYPES.iter().position(|&k| k == t))
            .unwrap_or(QTYPES.len());
        let t = usize::from(transport == Transport::Tcp);
        if let Some(c) = self.queries.get(query_slot(t, q, r)) {
            inc(c);
        }
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let b = LATENCY_BUCKETS_NS
            .iter()
            .position(|&le| ns <= le)
            .unwrap_or(LATENCY_BUCKETS_NS.len());
        if let Some(c) = self.latency.get(b) {
            inc(c);
        }
        self.latency_sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// Counts a reload by how it ended; a success or partial one also sets the last-success
    /// time.
    pub fn reload(&self, outcome: ReloadOutcome) {
        let i = match outcome {
            ReloadOutcome::Success => 0,
            ReloadOutcome::Partial => 1,
            ReloadOutcome::Rejected => 2,
        };
        if let Some(c) = self.reloads.get(i) {
            inc(c);
        }
        let swapped = outcome != ReloadOutcome::Rejected;
        self.last_reload_ok.store(swapped, Ordering::Relaxed);
        if swapped {
            self.last_reload_success
                .store(unix_now(), Ordering::Relaxed);
        }
    }

    /// Records the outcome of a load that was swapped in (at start or by a reload): the zones
    /// that failed (each counted once in `altodisc_zone_load_failures_total`) and the signature
    /// expiry of each signed zone. At start it also sets the last-success time.
    pub fn loaded(&self, failed: &[ZoneFailure], signature_expiry: &BTreeMap<String, u64>) {
        for f in failed {
            inc(if f.check {
                &self.zone_failures_check
            } else {
                &self.zone_failures_load
            });
        }
        if get(&self.last_reload_success) == 0 {
            self.last_reload_success
                .store(unix_now(), Ordering::Relaxed);
        }
        let failed = failed
            .iter()
            .map(|f| FailedZone {
                zone: f.zone.clone(),
                kept_serial: f.kept_serial,
                reason: f.errors.first().cloned().unwrap_or_default(),
            })
            .collect();
        if let Ok(mut state) = self.state.lock() {
            state.failed = failed;
            state.signature_expiry.clone_from(signature_expiry);
        }
    }

    /// The zones that failed their last load (empty when all loaded). `/healthz` names them.
    #[must_use]
    pub fn failed_zones(&self) -> Vec<FailedZone> {
        self.state
            .lock()
            .map(|s| s.failed.clone())
            .unwrap_or_default()
    }

    /// The body of a healthy `/healthz` answer: `ok`, then one line per failed zone.
    #[must_use]
    pub fn healthz_body(&self) -> String {
        let mut body = "ok\n".to_owned();
        for f in self.failed_zones() {
            let served = match f.kept_serial {
                Some(s) => format!("previous version served, serial {s}"),
                None => "not served".to_owned(),
            };
            body.push_str(&format!("failed zone {}: {served}: {}\n", f.zone, f.reason));
        }
        body
    }

    /// Counts a zone transfer served (`true`) or refused (`false`).
    pub fn transfer(&self, served: bool) {
        inc(if served {
            &self.transfers_ok
        } else {
            &self.transfers_refused
        });
    }

    /// Counts a NOTIFY acknowledged (`true`) or given up after the retries (`false`).
    pub fn notify(&self, acked: bool) {
        inc(if acked {
            &self.notify_acked
        } else {
            &self.notify_failed
        });
    }

    /// Counts a rate-limited response.
    pub fn rrl(&self, action: RrlAction) {
        match action {
            RrlAction::Slip => inc(&self.rrl_slipped),
            RrlAction::Drop => inc(&self.rrl_dropped),
            RrlAction::Pass => {}
        }
    }

    /// A TCP connection opened (`true`) or closed (`false`).
    pub fn tcp_connection(&self, open: bool) {
        if open {
            inc(&self.tcp_connections);
        } else {
            self.tcp_connections.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Counts a UDP receive loop that starts (`true`) or ends (`false`, at shutdown or when its
    /// socket failed: see [`Self::udp_worker_failed`]).
    pub fn udp_worker(&self, running: bool) {
        if running {
            inc(&self.udp_workers);
        } else {
            // Never below zero, whatever the order of calls.
            let _ = self
                .udp_workers
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        }
    }

    /// Counts a UDP receive loop that stopped because its socket can no longer be read.
    pub fn udp_worker_failed(&self) {
        inc(&self.udp_workers_stopped);
    }

    /// UDP receive loops running now.
    #[must_use]
    pub fn udp_workers_running(&self) -> u64 {
        get(&self.udp_workers)
    }

    /// Counts a TCP connection closed or refused for `reason`.
    pub fn tcp_shed(&self, reason: TcpShed) {
        if let Some(c) = TCP_SHED_REASONS
            .iter()
            .position(|(r, _)| *r == reason)
            .and_then(|i| self.tcp_shed.get(i))
        {
            inc(c);
        }
    }

    /// How many connections were shed for `reason` so far.
    #[cfg(test)]
    pub(crate) fn tcp_shed_count(&self, reason: TcpShed) -> u64 {
        TCP_SHED_REASONS
            .iter()
            .position(|(r, _)| *r == reason)
            .and_then(|i| self.tcp_shed.get(i))
            .map_or(0, get)
    }

    /// Counts one busy poll of an empty UDP socket: it ended with a datagram (`true`), or the
    /// budget ran out and the loop went to sleep (`false`). Many expired polls mean polling costs
    /// CPU without saving wake-ups (lower `udp_busy_poll_us`, or 0).
    pub fn busy_poll(&self, got_datagram: bool) {
        inc(if got_datagram {
            &self.busy_polls_datagram
        } else {
            &self.busy_polls_expired
        });
    }

    /// Marks the zones as loaded (for `/healthz`).
    pub fn set_loaded(&self, loaded: bool) {
        self.loaded.store(loaded, Ordering::Relaxed);
    }

    /// Whether zones are loaded.
    #[must_use]
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Relaxed)
    }

    /// Reloads that swapped zones in (fully or partly) and reloads rejected so far.
    #[must_use]
    pub fn reload_counts(&self) -> (u64, u64) {
        let [ok, partial, rejected] = &self.reloads;
        (get(ok) + get(partial), get(rejected))
    }

    /// The Prometheus text exposition (version 0.0.4) of every metric, with per-zone serials
    /// and query counts from `index`.
    #[must_use]
    pub fn render(&self, index: &ZoneIndex) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(self.snapshot(index)));
        let mut text = String::with_capacity(8192);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &registry);
        text
    }

    /// Copies every value for one scrape.
    fn snapshot(&self, index: &ZoneIndex) -> Snapshot {
        let mut queries = Vec::new();
        for (t, (_, transport)) in TRANSPORTS.iter().enumerate() {
            for q in 0..QTYPE_SLOTS {
                for r in 0..RCODE_SLOTS {
                    let n = self.queries.get(query_slot(t, q, r)).map_or(0, get);
                    if n == 0 {
                        continue;
                    }
                    let qtype = QTYPES
                        .get(q)
                        .map_or_else(|| "other".to_owned(), ToString::to_string);
                    let rcode = RCODE_NAMES.get(r).copied().unwrap_or("EXTENDED");
                    queries.push(([*transport, rcode], qtype, n));
                }
            }
        }
        let mut zones: Vec<(String, u64, u32)> = index
            .zones()
            .map(|z| {
                (
                    z.origin().to_string().to_ascii_lowercase(),
                    get(&z.stats().queries),
                    z.serial(),
                )
            })
            .collect();
        zones.sort();
        // Per-bucket counts: the encoder makes them cumulative.
        let buckets: Vec<(f64, u64)> = self
            .latency
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let le = LATENCY_BUCKETS.get(i).copied().unwrap_or(f64::INFINITY);
                (le, get(c))
            })
            .collect();
        let cumulative = buckets.iter().map(|b| b.1).fold(0u64, u64::saturating_add);
        let (failed, signature_expiry) = self
            .state
            .lock()
            .map(|s| (s.failed.clone(), s.signature_expiry.clone()))
            .unwrap_or_default();
        #[expect(clippy::cast_precision_loss, reason = "seconds for display")]
        let latency_sum = get(&self.latency_sum_ns) as f64 / 1e9;
        let [ok, partial, rejected] = &self.reloads;
        Snapshot {
            queries,
            zones,
            zone_count: index.zone_count(),
            buckets,
            latency_count: cumulative,
            latency_sum,
            reloads: [get(ok), get(partial), get(rejected)],
            zone_failures: [
                get(&self.zone_failures_load),
                get(&self.zone_failures_check),
            ],
            last_reload_success: get(&self.last_reload_success),
            last_reload_ok: self.last_reload_ok.load(Ordering::Relaxed),
            failed,
            signature_expiry,
            transfers: [get(&self.transfers_ok), get(&self.transfers_refused)],
            notify: [get(&self.notify_acked), get(&self.notify_failed)],
            rrl: [get(&self.rrl_slipped), get(&self.rrl_dropped)],
            busy_polls: [
                get(&self.busy_polls_datagram),
                get(&self.busy_polls_expired),
            ],
            tcp_connections: get(&self.tcp_connections),
            udp_workers: [get(&self.udp_workers), get(&self.udp_workers_stopped)],
            tcp_shed: TCP_SHED_REASONS
                .iter()
                .zip(&self.tcp_shed)
                .map(|((_, name), c)| (*name, get(c)))
                .collect(),
            tsig_failures: self.tsig_failures.snapshot(),
        }
    }
}

/// The sum of the integer samples of metric `name` in the text exposition `text` whose labels
/// include every `labels` pair (e.g. every `altodisc_queries_total` with `qtype="NAPTR"`, over
/// all transports and response codes): for tests and scripts that read `/metrics`.
#[must_use]
pub fn sample_sum(text: &str, name: &str, labels: &[(&str, &str)]) -> u64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (metric, set) = match series.split_once('{') {
                Some((m, rest)) => (m, rest.strip_suffix('}')?),
                None => (series, ""),
            };
            let all = labels
                .iter()
                .all(|(k, v)| set.split(',').any(|pair| pair == format!("{k}=\"{v}\"")));
            (metric == name && all).then(|| value.parse::<u64>().ok())?
        })
        .fold(0u64, u64::saturating_add)
}

/// Every value of one scrape, encoded by `prometheus-client`.
#[derive(Debug)]
struct Snapshot {
    /// ([transport, rcode], qtype, count), nonzero only.
    queries: Vec<([&'static str; 2], String, u64)>,
    /// (origin, queries, serial), sorted.
    zones: Vec<(String, u64, u32)>,
    zone_count: usize,
    buckets: Vec<(f64, u64)>,
    latency_count: u64,
    latency_sum: f64,
    reloads: [u64; 3],
    zone_failures: [u64; 2],
    last_reload_success: u64,
    last_reload_ok: bool,
    failed: Vec<FailedZone>,
    signature_expiry: BTreeMap<String, u64>,
    transfers: [u64; 2],
    notify: [u64; 2],
    rrl: [u64; 2],
    busy_polls: [u64; 2],
    tcp_connections: u64,
    /// UDP receive loops running, and stopped by a socket failure.
    udp_workers: [u64; 2],
    /// (reason, count) for every [`TcpShed`] reason.
    tcp_shed: Vec<(&'static str, u64)>,
    /// (reason, count) for every TSIG failure reason.
    tsig_failures: Vec<(&'static str, u64)>,
}

/// A counter with one label whose values are given.
fn counter_by(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    label: &str,
    values: &[(&str, u64)],
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (value, n) in values {
        let labels = [(label, *value)];
        ConstCounter::new(*n).encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

/// A gauge without labels.
fn gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: i64,
) -> Result<(), std::fmt::Error> {
    let metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(value).encode(metric)
}

/// A gauge with a `zone` label.
fn gauge_by_zone<'a>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    values: impl Iterator<Item = (&'a str, i64)>,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (zone, v) in values {
        let labels = [("zone", zone)];
        ConstGauge::new(v).encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let e = &mut encoder;
        {
            let mut metric = e.encode_descriptor(
                "altodisc_build_info",
                "Version of the running altodisc (always 1).",
                None,
                MetricType::Gauge,
            )?;
            let labels = [("version", env!("CARGO_PKG_VERSION"))];
            ConstGauge::new(1i64).encode(metric.encode_family(&labels)?)?;
        }
        {
            let mut metric = e.encode_descriptor(
                "altodisc_queries",
                "Answered queries by transport, QTYPE and response code.",
                None,
                MetricType::Counter,
            )?;
            for ([transport, rcode], qtype, n) in &self.queries {
                let labels = [
                    ("transport", *transport),
                    ("qtype", qtype.as_str()),
                    ("rcode", *rcode),
                ];
                ConstCounter::new(*n).encode(metric.encode_family(&labels)?)?;
            }
        }
        {
            let mut metric = e.encode_descriptor(
                "altodisc_zone_queries",
                "Queries answered from each served zone.",
                None,
                MetricType::Counter,
            )?;
            for (zone, n, _) in &self.zones {
                let labels = [("zone", zone.as_str())];
                ConstCounter::new(*n).encode(metric.encode_family(&labels)?)?;
            }
        }
        gauge_by_zone(
            e,
            "altodisc_zone_serial",
            "SOA serial of each served zone.",
            self.zones
                .iter()
                .map(|(z, _, serial)| (z.as_str(), i64::from(*serial))),
        )?;
        {
            let metric = e.encode_descriptor(
                "altodisc_query_duration_seconds",
                "Time from a parsed query to its encoded response.",
                None,
                MetricType::Histogram,
            )?;
            let mut metric = metric;
            metric.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
                self.latency_sum,
                self.latency_count,
                &self.buckets,
                None,
            )?;
        }
        let [ok, partial, rejected] = self.reloads;
        counter_by(
            e,
            "altodisc_reloads",
            "Reloads by result: success, partial (some zones failed and kept their previous \
             version), rejected (nothing swapped in).",
            "result",
            &[
                ("success", ok),
                ("partial", partial),
                ("rejected", rejected),
            ],
        )?;
        gauge(
            e,
            "altodisc_last_reload_successful",
            "Whether the last reload swapped zones in (1) or was rejected (0).",
            i64::from(self.last_reload_ok),
        )?;
        gauge(
            e,
            "altodisc_last_reload_success_timestamp_seconds",
            "Unix time of the last load that swapped zones in (the start counts).",
            int(self.last_reload_success),
        )?;
        let [load, check] = self.zone_failures;
        counter_by(
            e,
            "altodisc_zone_load_failures",
            "Zones that failed a load, by reason: load (read, index or sign) or check (the \
             checker gate).",
            "reason",
            &[("load", load), ("check", check)],
        )?;
        gauge_by_zone(
            e,
            "altodisc_zone_load_failed",
            "1 for each zone whose last load failed (it keeps its previous version, if any).",
            self.failed.iter().map(|f| (f.zone.as_str(), 1)),
        )?;
        gauge(
            e,
            "altodisc_zones_failed",
            "Number of zones whose last load failed.",
            int(u64::try_from(self.failed.len()).unwrap_or(u64::MAX)),
        )?;
        gauge(
            e,
            "altodisc_zones_served",
            "Number of zones served.",
            int(u64::try_from(self.zone_count).unwrap_or(u64::MAX)),
        )?;
        gauge_by_zone(
            e,
            "altodisc_signature_expiry_timestamp_seconds",
            "Unix time at which the earliest RRSIG of each signed zone expires.",
            self.signature_expiry
                .iter()
                .map(|(z, t)| (z.as_str(), int(*t))),
        )?;
        let [served, refused] = self.transfers;
        counter_by(
            e,
            "altodisc_transfers",
            "Zone transfers (AXFR, IXFR answered as AXFR) by result.",
            "result",
            &[("served", served), ("refused", refused)],
        )?;
        let [acked, failed] = self.notify;
        counter_by(
            e,
            "altodisc_notify",
            "NOTIFY messages by result (failed = no answer after retries).",
            "result",
            &[("acked", acked), ("failed", failed)],
        )?;
        let [slip, drop] = self.rrl;
        counter_by(
            e,
            "altodisc_rrl_responses",
            "UDP responses changed by response rate limiting, by action.",
            "action",
            &[("slip", slip), ("drop", drop)],
        )?;
        let [datagram, expired] = self.busy_polls;
        counter_by(
            e,
            "altodisc_udp_busy_polls",
            "Busy polls of an empty UDP socket by how they ended: a datagram arrived, or the \
             budget expired and the receive loop slept.",
            "result",
            &[("datagram", datagram), ("expired", expired)],
        )?;
        counter_by(
            e,
            "altodisc_tsig_failures",
            "Signed requests refused, by TSIG error (RFC 8945 §5.2).",
            "reason",
            &self.tsig_failures,
        )?;
        counter_by(
            e,
            "altodisc_tcp_connections_shed",
            "TCP connections closed or refused by the server before the client was done, by \
             reason: closed for room (idle, slow, per_source), refused (per_source, full), or \
             timed out (idle_timeout, deadline).",
            "reason",
            &self.tcp_shed,
        )?;
        gauge(
            e,
            "altodisc_tcp_connections",
            "Open TCP connections.",
            int(self.tcp_connections),
        )?;
        let [running, stopped] = self.udp_workers;
        gauge(
            e,
            "altodisc_udp_workers",
            "UDP receive loops (workers) serving now.",
            int(running),
        )?;
        let metric = e.encode_descriptor(
            "altodisc_udp_workers_failed",
            "UDP receive loops that stopped because their socket could no longer be read \
             (the error is logged); the other loops keep serving.",
            None,
            MetricType::Counter,
        )?;
        ConstCounter::new(stopped).encode(metric)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_and_counts_match() {
        let m = Metrics::default();
        m.query(
            Transport::Udp,
            Some(RecordType::NAPTR),
            ResponseCode::NoError,
            Duration::from_micros(5),
        );
        m.query(
            Transport::Tcp,
            Some(RecordType::DNSKEY),
            ResponseCode::NXDomain,
            Duration::from_millis(2),
        );
        m.query(
            Transport::Udp,
            None,
            ResponseCode::FormErr,
            Duration::from_secs(1),
        );
        m.reload(ReloadOutcome::Rejected);
        m.reload(ReloadOutcome::Partial);
        let text = m.render(&ZoneIndex::default());
        for line in [
            "altodisc_query_duration_seconds_bucket{le=\"1e-05\"} 1\n",
            "altodisc_query_duration_seconds_bucket{le=\"0.005\"} 2\n",
            "altodisc_query_duration_seconds_bucket{le=\"+Inf\"} 3\n",
            "altodisc_query_duration_seconds_count 3\n",
            "altodisc_queries_total{transport=\"tcp\",qtype=\"DNSKEY\",rcode=\"NXDOMAIN\"} 1\n",
            "altodisc_queries_total{transport=\"udp\",qtype=\"NAPTR\",rcode=\"NOERROR\"} 1\n",
            "altodisc_queries_total{transport=\"udp\",qtype=\"other\",rcode=\"FORMERR\"} 1\n",
            "altodisc_reloads_total{result=\"rejected\"} 1\n",
            "altodisc_reloads_total{result=\"partial\"} 1\n",
            "altodisc_reloads_total{result=\"success\"} 0\n",
            "altodisc_last_reload_successful 1\n",
            "# TYPE altodisc_queries_total counter\n",
            "# TYPE altodisc_query_duration_seconds histogram\n",
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
        assert!(text.contains(&format!(
            "altodisc_build_info{{version=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        )));
        assert_eq!(m.reload_counts(), (1, 1));
    }

    #[test]
    fn failed_zones_and_signature_expiry_are_exposed_and_replaced_by_the_next_load() {
        let m = Metrics::default();
        let failed = ZoneFailure {
            zone: "bad.example.".to_owned(),
            source: "zones/bad.example.zone".to_owned(),
            errors: vec!["bad.example.zone:3:1: Z10 ...".to_owned()],
            check: true,
            kept_serial: Some(7),
        };
        let expiry = BTreeMap::from([("good.example.".to_owned(), 1_800_000_000u64)]);
        m.loaded(std::slice::from_ref(&failed), &expiry);
        let text = m.render(&ZoneIndex::default());
        for line in [
            "altodisc_zone_load_failed{zone=\"bad.example.\"} 1\n",
            "altodisc_zones_failed 1\n",
            "altodisc_zone_load_failures_total{reason=\"check\"} 1\n",
            "altodisc_signature_expiry_timestamp_seconds{zone=\"good.example.\"} 1800000000\n",
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
        assert!(!text.contains("altodisc_last_reload_success_timestamp_seconds 0\n"));
        let body = m.healthz_body();
        assert!(
            body.starts_with("ok\nfailed zone bad.example.: previous version served, serial 7"),
            "{body}"
        );
        m.loaded(&[], &BTreeMap::new());
        let text = m.render(&ZoneIndex::default());
        assert!(!text.contains("altodisc_zone_load_failed{"), "{text}");
        assert!(text.contains("altodisc_zones_failed 0\n"));
        assert_eq!(m.healthz_body(), "ok\n");
    }
}
