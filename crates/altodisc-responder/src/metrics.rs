//! Counters for the Prometheus text format (exposition format 0.0.4) and the `/healthz` state.
//!
//! The query path only does relaxed atomic additions into fixed arrays (no lock, no allocation);
//! the text is built when the endpoint is scraped. Per-zone query counts live in the zone
//! ([`crate::index::ZoneStats`]) and are carried across reloads.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::index::ZoneIndex;

/// Upper bounds (seconds) of the latency histogram buckets; a last `+Inf` bucket is implied.
pub const LATENCY_BUCKETS: [f64; 9] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.005, 0.025,
];

/// The same bounds in nanoseconds, for the query path.
const LATENCY_BUCKETS_NS: [u64; 9] = [
    10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 5_000_000, 25_000_000,
];

/// QTYPEs counted by name; everything else is `other`.
const QTYPES: [RecordType; 11] = [
    RecordType::NAPTR,
    RecordType::SOA,
    RecordType::NS,
    RecordType::A,
    RecordType::AAAA,
    RecordType::CNAME,
    RecordType::PTR,
    RecordType::TXT,
    RecordType::ANY,
    RecordType::AXFR,
    RecordType::IXFR,
];

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

/// Why a reload was not swapped in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectReason {
    /// The new data does not load or index (syntax, I/O, duplicate zone, ...).
    Load,
    /// The altodisc-zone checker reported an error.
    Check,
}

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

/// All counters of one server.
#[derive(Debug)]
pub struct Metrics {
    rcodes: [AtomicU64; RCODE_SLOTS],
    qtypes: [AtomicU64; QTYPES.len() + 1],
    latency: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    latency_sum_ns: AtomicU64,
    reloads_ok: AtomicU64,
    reloads_rejected_load: AtomicU64,
    reloads_rejected_check: AtomicU64,
    transfers_ok: AtomicU64,
    transfers_refused: AtomicU64,
    notify_acked: AtomicU64,
    notify_failed: AtomicU64,
    rrl_slipped: AtomicU64,
    rrl_dropped: AtomicU64,
    tcp_connections: AtomicU64,
    busy_polls_datagram: AtomicU64,
    busy_polls_expired: AtomicU64,
    loaded: AtomicBool,
    /// `altodisc_tsig_failures_total{reason}`, counted by [`crate::xfr::tsig_gate`].
    pub tsig_failures: crate::tsig::TsigFailureCounters,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            rcodes: std::array::from_fn(|_| AtomicU64::new(0)),
            qtypes: std::array::from_fn(|_| AtomicU64::new(0)),
            latency: std::array::from_fn(|_| AtomicU64::new(0)),
            latency_sum_ns: AtomicU64::new(0),
            reloads_ok: AtomicU64::new(0),
            reloads_rejected_load: AtomicU64::new(0),
            reloads_rejected_check: AtomicU64::new(0),
            transfers_ok: AtomicU64::new(0),
            transfers_refused: AtomicU64::new(0),
            notify_acked: AtomicU64::new(0),
            notify_failed: AtomicU64::new(0),
            rrl_slipped: AtomicU64::new(0),
            rrl_dropped: AtomicU64::new(0),
            tcp_connections: AtomicU64::new(0),
            busy_polls_datagram: AtomicU64::new(0),
            busy_polls_expired: AtomicU64::new(0),
            loaded: AtomicBool::new(false),
            tsig_failures: crate::tsig::TsigFailureCounters::default(),
        }
    }
}

fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    /// Counts one answered query.
    pub fn query(&self, qtype: Option<RecordType>, rcode: ResponseCode, elapsed: Duration) {
        let r = usize::from(u16::from(rcode)).min(RCODE_SLOTS - 1);
        if let Some(c) = self.rcodes.get(r) {
            inc(c);
        }
        let q = qtype
            .and_then(|t| QTYPES.iter().position(|&k| k == t))
            .unwrap_or(QTYPES.len());
        if let Some(c) = self.qtypes.get(q) {
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

    /// Counts an accepted reload; the server is (still) loaded.
    pub fn reload_ok(&self) {
        inc(&self.reloads_ok);
    }

    /// Counts a rejected reload.
    pub fn reload_rejected(&self, why: RejectReason) {
        match why {
            RejectReason::Load => inc(&self.reloads_rejected_load),
            RejectReason::Check => inc(&self.reloads_rejected_check),
        }
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

    /// Reloads accepted and rejected so far (load errors and checker errors together).
    #[must_use]
    pub fn reload_counts(&self) -> (u64, u64) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        (
            get(&self.reloads_ok),
            get(&self.reloads_rejected_load) + get(&self.reloads_rejected_check),
        )
    }

    /// The Prometheus text exposition of every counter, with per-zone serials and query counts
    /// from `index`.
    #[must_use]
    pub fn render(&self, index: &ZoneIndex) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut block = String::with_capacity(4096);
        let _ = writeln!(
            block,
            "# HELP altodisc_queries_by_rcode_total Answered queries by response code.\n\
             # TYPE altodisc_queries_by_rcode_total counter"
        );
        for (i, c) in self.rcodes.iter().enumerate() {
            let n = get(c);
            if n == 0 {
                continue;
            }
            let label = RCODE_NAMES.get(i).copied().unwrap_or("EXTENDED");
            let _ = writeln!(
                block,
                "altodisc_queries_by_rcode_total{{rcode=\"{label}\"}} {n}"
            );
        }
        let _ = writeln!(
            block,
            "# HELP altodisc_queries_by_qtype_total Answered queries by QTYPE.\n\
             # TYPE altodisc_queries_by_qtype_total counter"
        );
        for (i, c) in self.qtypes.iter().enumerate() {
            let label = QTYPES
                .get(i)
                .map_or_else(|| "other".to_owned(), ToString::to_string);
            let _ = writeln!(
                block,
                "altodisc_queries_by_qtype_total{{qtype=\"{label}\"}} {}",
                get(c)
            );
        }
        let _ = writeln!(
            block,
            "# HELP altodisc_queries_by_zone_total Queries answered from each zone.\n\
             # TYPE altodisc_queries_by_zone_total counter"
        );
        let mut zones: Vec<_> = index.zones().collect();
        zones.sort_by_key(|z| z.origin().to_string());
        for z in &zones {
            let _ = writeln!(
                block,
                "altodisc_queries_by_zone_total{{zone=\"{}\"}} {}",
                z.origin(),
                get(&z.stats().queries)
            );
        }
        let _ = writeln!(
            block,
            "# HELP altodisc_zone_serial SOA serial of each served zone.\n\
             # TYPE altodisc_zone_serial gauge"
        );
        for z in &zones {
            let _ = writeln!(
                block,
                "altodisc_zone_serial{{zone=\"{}\"}} {}",
                z.origin(),
                z.serial()
            );
        }
        let _ = writeln!(
            block,
            "# HELP altodisc_query_duration_seconds Time from a parsed query to its encoded response.\n\
             # TYPE altodisc_query_duration_seconds histogram"
        );
        let mut cumulative = 0u64;
        for (i, c) in self.latency.iter().enumerate() {
            cumulative += get(c);
            let le = LATENCY_BUCKETS
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |b| format!("{b}"));
            let _ = writeln!(
                block,
                "altodisc_query_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}"
            );
        }
        #[expect(clippy::cast_precision_loss, reason = "seconds for display")]
        let sum = get(&self.latency_sum_ns) as f64 / 1e9;
        let _ = writeln!(
            block,
            "altodisc_query_duration_seconds_sum {sum}\naltodisc_query_duration_seconds_count {cumulative}"
        );
        let _ = writeln!(
            block,
            "# HELP altodisc_reloads_total Reloads by result (rejected ones keep the old zones).\n\
             # TYPE altodisc_reloads_total counter\n\
             altodisc_reloads_total{{result=\"ok\"}} {}\n\
             altodisc_reloads_total{{result=\"rejected\",reason=\"load\"}} {}\n\
             altodisc_reloads_total{{result=\"rejected\",reason=\"check\"}} {}",
            get(&self.reloads_ok),
            get(&self.reloads_rejected_load),
            get(&self.reloads_rejected_check)
        );
        let _ = writeln!(
            block,
            "# HELP altodisc_transfers_total Zone transfers (AXFR, IXFR) by result.\n\
             # TYPE altodisc_transfers_total counter\n\
             altodisc_transfers_total{{result=\"served\"}} {}\n\
             altodisc_transfers_total{{result=\"refused\"}} {}",
            get(&self.transfers_ok),
            get(&self.transfers_refused)
        );
        let _ = writeln!(
            block,
            "# HELP altodisc_notify_total NOTIFY messages by result (failed = no answer after retries).\n\
             # TYPE altodisc_notify_total counter\n\
             altodisc_notify_total{{result=\"acked\"}} {}\n\
             altodisc_notify_total{{result=\"failed\"}} {}",
            get(&self.notify_acked),
            get(&self.notify_failed)
        );
        let _ = writeln!(
            block,
            "# HELP altodisc_rrl_total Responses changed by response rate limiting.\n\
             # TYPE altodisc_rrl_total counter\n\
             altodisc_rrl_total{{action=\"slip\"}} {}\n\
             altodisc_rrl_total{{action=\"drop\"}} {}",
            get(&self.rrl_slipped),
            get(&self.rrl_dropped)
        );
        let _ = writeln!(
            block,
            "# HELP altodisc_udp_busy_polls_total Busy polls of an empty UDP socket by how they \
             ended: a datagram arrived, or the budget expired and the receive loop slept.\n\
             # TYPE altodisc_udp_busy_polls_total counter\n\
             altodisc_udp_busy_polls_total{{result=\"datagram\"}} {}\n\
             altodisc_udp_busy_polls_total{{result=\"expired\"}} {}",
            get(&self.busy_polls_datagram),
            get(&self.busy_polls_expired)
        );
        let _ = writeln!(
            block,
            "# HELP altodisc_tcp_connections Open TCP connections.\n\
             # TYPE altodisc_tcp_connections gauge\n\
             altodisc_tcp_connections {}\n\
             # HELP altodisc_zones_loaded Whether zones are loaded (1) or not (0).\n\
             # TYPE altodisc_zones_loaded gauge\n\
             altodisc_zones_loaded {}",
            get(&self.tcp_connections),
            u8::from(self.is_loaded())
        );
        self.tsig_failures.render(&mut block);
        block
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_and_counts_match() {
        let m = Metrics::default();
        m.query(
            Some(RecordType::NAPTR),
            ResponseCode::NoError,
            Duration::from_micros(5),
        );
        m.query(
            Some(RecordType::MX),
            ResponseCode::NXDomain,
            Duration::from_millis(2),
        );
        m.query(None, ResponseCode::FormErr, Duration::from_secs(1));
        m.reload_rejected(RejectReason::Check);
        let text = m.render(&ZoneIndex::default());
        assert!(text.contains("altodisc_query_duration_seconds_bucket{le=\"0.00001\"} 1\n"));
        assert!(text.contains("altodisc_query_duration_seconds_bucket{le=\"0.005\"} 2\n"));
        assert!(text.contains("altodisc_query_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("altodisc_query_duration_seconds_count 3\n"));
        assert!(
            text.contains("altodisc_queries_by_rcode_total{rcode=\"NXDOMAIN\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("altodisc_queries_by_qtype_total{qtype=\"NAPTR\"} 1\n"));
        assert!(text.contains("altodisc_queries_by_qtype_total{qtype=\"other\"} 2\n"));
        assert!(text.contains("altodisc_reloads_total{result=\"rejected\",reason=\"check\"} 1\n"));
        assert_eq!(m.reload_counts(), (0, 1));
    }
}
