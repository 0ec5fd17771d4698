//! A purpose-built UDP query engine for batch mode, behind [`NaptrSource`].
//!
//! Profiling `altodisc xdom --batch` (valgrind --tool=callgrind, 2,000 addresses against NSD)
//! showed the time going into hickory-resolver's per-query machinery (its name-server pool,
//! request channels, spawned exchange tasks and response streams, caching layer) rather than
//! into DNS itself: the client, not the server, bounded the rate. A batch only ever asks one
//! kind of question (`name IN NAPTR`) of one server, so this engine keeps one connected UDP
//! socket with many queries outstanding, matched by message ID **and** question (RFC 5452 §9.1),
//! with a retransmission timer per query.
//!
//! Only the common, simple outcomes are decided here: NOERROR with NAPTR records owned by the
//! query name, and NXDOMAIN / NODATA carrying the zone's SOA (RFC 2308 §5). Everything else — a
//! truncated answer (TC, RFC 7766 §5: the TCP retry), a CNAME, an error RCODE, a negative
//! answer without SOA, a response that does not decode, a refused connection, a silent server
//! when other servers are configured — is handed to the full client (the `fallback`, a
//! [`DnsSource`]), so the results are those of the one-by-one resolution. DNSSEC validation is
//! never done here: a name the fallback would validate ([`DnsSource::unvalidated_state`] is
//! `None`) goes to it whole; the others (DNSSEC off, or no chain of trust through these
//! servers, RFC 4033 §5 "indeterminate") are labelled as the fallback labels them, and
//! `--dnssec require` refuses a positive answer that is not secure, as the fallback does.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use altodisc_proto::name::DomainName;
use altodisc_proto::naptr::NaptrRecord;
use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::{DNSClass, RData, RecordType};
use tokio::net::UdpSocket;
use tokio::sync::oneshot;

use crate::dns::{DnsSource, EDNS_PAYLOAD};
use crate::dnssec::DnssecMode;
use crate::source::{
    FailureReason, LookupFailure, NaptrAnswer, NaptrLookup, NaptrSource, QueryTrace, Transport,
};
use crate::unaptr::DnssecState;

/// NAPTR (RFC 3403 §4).
const TYPE_NAPTR: u16 = 35;
/// OPT (RFC 6891 §6.1.1).
const TYPE_OPT: u16 = 41;
/// Largest UDP response read; EDNS0 advertises [`EDNS_PAYLOAD`], a server may still send more.
const RECV_BUF: usize = 65_535;
/// Socket receive buffer asked for. With hundreds of queries outstanding, a burst of answers
/// arriving while the process is not scheduled overflowed the default (about 200 KiB on Linux)
/// and the lost answers cost a retransmission each (seen as `RcvbufErrors` in
/// `/proc/net/snmp` during `bench/xdom-batch/run`). The kernel caps it at `net.core.rmem_max`.
const SOCKET_RECV_BUFFER: usize = 4 << 20;
/// Shortest wait before a retransmission.
const MIN_RTO: Duration = Duration::from_millis(50);

/// Settings of the engine.
#[derive(Debug, Clone, Copy)]
pub struct EngineConfig {
    /// The server queried.
    pub server: SocketAddr,
    /// Wait per try before retransmitting.
    pub timeout: Duration,
    /// Tries per query (at least 1): a query is given up after `timeout × attempts` in all.
    /// Within that time it is retransmitted on the measured round-trip time (see
    /// [`UdpEngineSource`]), so it may be sent more often than `attempts` times.
    pub attempts: usize,
    /// RD flag (`false` for an authoritative server).
    pub recursion_desired: bool,
    /// Whether other servers exist: a query the engine's server never answers then goes to the
    /// fallback (which tries them all) instead of ending as a timeout.
    pub other_servers: bool,
}

/// A query waiting for its response.
struct Pending {
    /// The question's name in lower-case wire form, to match the response's question.
    qname: Vec<u8>,
    reply: oneshot::Sender<Reply>,
}

enum Reply {
    Response(Vec<u8>),
    /// The socket saw ICMP port unreachable (connection refused).
    Refused,
}

struct Shared {
    socket: UdpSocket,
    pending: Mutex<HashMap<u16, Pending, foldhash::fast::RandomState>>,
    next_id: AtomicU16,
    refused: AtomicBool,
    rtt: Mutex<RttEstimate>,
}

/// Round-trip time estimate of the server (RFC 6298 §2, as TCP does it), from which the
/// retransmission timeout comes. RFC 1035 §4.2.1: "The retransmission interval should be based
/// on prior statistics if possible". A batch keeps hundreds of queries outstanding and answers
/// in input order, so one lost datagram held every later address for a whole `timeout` (2 s by
/// default) when retransmissions waited that long: the run's throughput was set by its losses.
/// Each try has its own message ID, so every sample is unambiguous (Karn's problem does not
/// arise).
#[derive(Debug, Clone, Copy)]
struct RttEstimate {
    /// Smoothed RTT and RTT variation, once a sample exists.
    srtt: Option<(Duration, Duration)>,
}

impl RttEstimate {
    fn sample(&mut self, r: Duration) {
        self.srtt = Some(match self.srtt {
            None => (r, r / 2),
            Some((srtt, var)) => {
                let diff = srtt.abs_diff(r);
                ((srtt * 7 + r) / 8, (var * 3 + diff) / 4)
            }
        });
    }

    /// SRTT + 4·RTTVAR, at least [`MIN_RTO`], at most `max`; `max` before any sample.
    fn rto(&self, max: Duration) -> Duration {
        match self.srtt {
            None => max,
            Some((srtt, var)) => srtt
                .saturating_add(var.saturating_mul(4))
                .clamp(MIN_RTO, max.max(MIN_RTO)),
        }
    }
}

/// Stops the receive task when the last handle goes.
struct Receiver(tokio::task::JoinHandle<()>);

impl Drop for Receiver {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// [`NaptrSource`] answering simple outcomes itself over one UDP socket and passing the rest to
/// `fallback` (see the module documentation).
pub struct UdpEngineSource {
    shared: Arc<Shared>,
    config: EngineConfig,
    fallback: Arc<DnsSource>,
    _receiver: Receiver,
}

impl std::fmt::Debug for UdpEngineSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpEngineSource")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl UdpEngineSource {
    /// Binds a UDP socket connected to `config.server` (a connected socket sees "port
    /// unreachable" as a refused connection) and starts its receive task. Must be called inside
    /// a tokio runtime.
    ///
    /// # Errors
    /// When the socket cannot be bound or connected.
    pub async fn new(config: EngineConfig, fallback: Arc<DnsSource>) -> std::io::Result<Self> {
        let local: SocketAddr = if config.server.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(local).await?;
        socket.connect(config.server).await?;
        // Best effort: a smaller buffer only costs retransmissions.
        let _ = socket2::SockRef::from(&socket).set_recv_buffer_size(SOCKET_RECV_BUFFER);
        let shared = Arc::new(Shared {
            socket,
            pending: Mutex::new(HashMap::default()),
            next_id: AtomicU16::new(rand::random::<u16>()),
            refused: AtomicBool::new(false),
            rtt: Mutex::new(RttEstimate { srtt: None }),
        });
        let task = tokio::spawn(receive(Arc::clone(&shared)));
        Ok(Self {
            shared,
            config: EngineConfig {
                attempts: config.attempts.max(1),
                ..config
            },
            fallback,
            _receiver: Receiver(task),
        })
    }

    /// Sends `name IN NAPTR` and waits for the matching response, retransmitting after the
    /// retransmission timeout ([`RttEstimate`], doubled after each loss), until `timeout ×
    /// attempts` have passed. `None`: no response in that time, or the connection was refused.
    async fn exchange(&self, name: &DomainName) -> Option<Reply> {
        let qname = name.as_wire().to_ascii_lowercase();
        let max = self.config.timeout;
        let budget = max.saturating_mul(u32::try_from(self.config.attempts).unwrap_or(u32::MAX));
        let deadline = tokio::time::Instant::now() + budget;
        let mut wait = self
            .shared
            .rtt
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .rto(max);
        loop {
            let (tx, rx) = oneshot::channel();
            let id = self.register(&qname, tx);
            let guard = Deregister {
                shared: &self.shared,
                id,
            };
            let wire = query_wire(id, name, self.config.recursion_desired);
            let sent = tokio::time::Instant::now();
            if self.shared.socket.send(&wire).await.is_err() {
                drop(guard);
                return Some(Reply::Refused);
            }
            let until = (sent + wait).min(deadline);
            match tokio::time::timeout_at(until, rx).await {
                Ok(Ok(reply)) => {
                    std::mem::forget(guard);
                    if matches!(reply, Reply::Response(_)) {
                        self.shared
                            .rtt
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .sample(sent.elapsed());
                    }
                    return Some(reply);
                }
                Ok(Err(_)) => return None,
                Err(_) => drop(guard),
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            wait = wait.saturating_mul(2).min(max.max(MIN_RTO));
        }
    }

    /// A fresh ID not in use (the sequence starts at a random value; IDs are unique among the
    /// outstanding queries, at most 65,536 of them).
    fn register(&self, qname: &[u8], reply: oneshot::Sender<Reply>) -> u16 {
        let mut pending = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        while pending.contains_key(&id) {
            id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        }
        pending.insert(
            id,
            Pending {
                qname: qname.to_vec(),
                reply,
            },
        );
        id
    }
}

/// Removes a query from the table when its wait ends without a response (timeout, cancelled).
struct Deregister<'a> {
    shared: &'a Shared,
    id: u16,
}

impl Drop for Deregister<'_> {
    fn drop(&mut self) {
        self.shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

/// The query message: header, question `name IN NAPTR`, and an OPT record advertising
/// [`EDNS_PAYLOAD`] octets (RFC 6891 §6.1.2), as the full client sends.
fn query_wire(id: u16, name: &DomainName, rd: bool) -> Vec<u8> {
    let qname = name.as_wire();
    let mut w = Vec::with_capacity(12 + qname.len() + 4 + 11);
    w.extend_from_slice(&id.to_be_bytes());
    w.push(if rd { 0x01 } else { 0x00 });
    w.push(0x00);
    w.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 1]);
    w.extend_from_slice(qname);
    w.extend_from_slice(&TYPE_NAPTR.to_be_bytes());
    w.extend_from_slice(&1_u16.to_be_bytes());
    w.push(0);
    w.extend_from_slice(&TYPE_OPT.to_be_bytes());
    w.extend_from_slice(&EDNS_PAYLOAD.to_be_bytes());
    w.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    w
}

/// The question name (lower-case wire form), type and class of a response, when it has exactly
/// one question; `None` for anything that does not decode.
fn question_of(msg: &[u8]) -> Option<(Vec<u8>, u16, u16)> {
    let qd = u16::from_be_bytes([*msg.get(4)?, *msg.get(5)?]);
    if qd != 1 {
        return None;
    }
    let (name, len) = DomainName::from_message(msg, 12).ok()?;
    let end = len.checked_add(12)?;
    let rest = msg.get(end..end.checked_add(4)?)?;
    let qtype = u16::from_be_bytes([*rest.first()?, *rest.get(1)?]);
    let qclass = u16::from_be_bytes([*rest.get(2)?, *rest.get(3)?]);
    Some((name.as_wire().to_ascii_lowercase(), qtype, qclass))
}

/// Reads responses and hands each to the query with its ID and question; others are dropped
/// (a late answer to a retransmitted or cancelled query, or a spoofing attempt).
async fn receive(shared: Arc<Shared>) {
    let mut buf = vec![0_u8; RECV_BUF];
    loop {
        let n = match shared.socket.recv(&mut buf).await {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                // Nothing listens: every waiting query goes to the fallback, which reports it.
                shared.refused.store(true, Ordering::Relaxed);
                let all: Vec<Pending> = shared
                    .pending
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .drain()
                    .map(|(_, p)| p)
                    .collect();
                for p in all {
                    let _ = p.reply.send(Reply::Refused);
                }
                continue;
            }
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
        };
        let Some(msg) = buf.get(..n) else { continue };
        let (Some(&hi), Some(&lo), Some(&flags)) = (msg.first(), msg.get(1), msg.get(2)) else {
            continue;
        };
        if flags & 0x80 == 0 {
            continue; // not a response
        }
        let id = u16::from_be_bytes([hi, lo]);
        let Some((qname, qtype, qclass)) = question_of(msg) else {
            continue;
        };
        let waiter = {
            let mut pending = shared
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match pending.get(&id) {
                Some(p) if p.qname == qname && qtype == TYPE_NAPTR && qclass == 1 => {
                    pending.remove(&id)
                }
                _ => None,
            }
        };
        if let Some(p) = waiter {
            let _ = p.reply.send(Reply::Response(msg.to_vec()));
        }
    }
}

/// The outcome decided from a response, or `None` when the full client must decide.
fn decide(
    name: &DomainName,
    wire: &[u8],
    elapsed: Duration,
    dnssec: DnssecState,
    require: bool,
) -> Option<NaptrLookup> {
    let msg = Message::from_vec(wire).ok()?;
    if msg.metadata.truncation {
        return None;
    }
    let rcode = msg.metadata.response_code;
    if !matches!(rcode, ResponseCode::NoError | ResponseCode::NXDomain) {
        return None;
    }
    let trace = |answers: usize, ttl: Option<u32>| QueryTrace {
        name: name.clone(),
        qtype: "NAPTR",
        rcode: if rcode == ResponseCode::NoError {
            "NOERROR".to_owned()
        } else {
            "NXDOMAIN".to_owned()
        },
        answers,
        ttl,
        elapsed,
        transport: Transport::Udp,
    };
    if msg.answers.is_empty() {
        // RFC 2308 §5: the negative TTL is min(SOA TTL, SOA MINIMUM) of the authority SOA.
        let negative_ttl = msg.authorities.iter().find_map(|r| match &r.data {
            RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
            _ => None,
        })?;
        let result = if rcode == ResponseCode::NXDomain {
            LookupFailure::NxDomain {
                negative_ttl: Some(negative_ttl),
            }
        } else {
            LookupFailure::NoData {
                negative_ttl: Some(negative_ttl),
            }
        };
        return Some(NaptrLookup {
            result: Err(result),
            queries: vec![trace(0, Some(negative_ttl))],
        });
    }
    if rcode != ResponseCode::NoError {
        return None; // NXDOMAIN after a CNAME: the full client follows the chain
    }
    let mut records = Vec::with_capacity(msg.answers.len());
    let mut malformed = Vec::new();
    let mut ttl = u32::MAX;
    let mut owner: Option<DomainName> = None;
    for r in &msg.answers {
        let RData::NAPTR(n) = &r.data else {
            return None; // a CNAME or anything else: the full client's job
        };
        if r.dns_class != DNSClass::IN || r.record_type() != RecordType::NAPTR {
            return None;
        }
        let rname = DomainName::from_labels(r.name.iter()).ok()?;
        if rname != *name {
            return None;
        }
        ttl = ttl.min(r.ttl);
        if owner.is_none() {
            owner = Some(rname);
        }
        match DomainName::from_labels(n.replacement.iter()) {
            Ok(replacement) => records.push(NaptrRecord {
                order: n.order,
                preference: n.preference,
                flags: n.flags.to_vec(),
                services: n.services.to_vec(),
                regexp: n.regexp.to_vec(),
                replacement,
            }),
            Err(_) => malformed.push(format!("replacement {} is not a valid name", n.replacement)),
        }
    }
    let answers = msg.answers.len();
    if require && dnssec != DnssecState::Secure {
        return Some(NaptrLookup {
            result: Err(LookupFailure::Failed(FailureReason::DnssecRequired(dnssec))),
            queries: vec![trace(answers, Some(ttl))],
        });
    }
    Some(NaptrLookup {
        result: Ok(NaptrAnswer {
            owner: owner.unwrap_or_else(|| name.clone()),
            cname_chain: Vec::new(),
            records,
            malformed,
            ttl,
            dnssec,
        }),
        queries: vec![trace(answers, Some(ttl))],
    })
}

#[async_trait::async_trait]
impl NaptrSource for UdpEngineSource {
    async fn lookup_naptr(&self, name: &DomainName) -> NaptrLookup {
        let Some(dnssec) = self.fallback.unvalidated_state(name).await else {
            return self.fallback.lookup_naptr(name).await;
        };
        if self.shared.refused.load(Ordering::Relaxed) {
            return self.fallback.lookup_naptr(name).await;
        }
        let require = self.fallback.dnssec_mode() == DnssecMode::Require;
        let started = Instant::now();
        match self.exchange(name).await {
            Some(Reply::Response(wire)) => {
                if let Some(decided) = decide(name, &wire, started.elapsed(), dnssec, require) {
                    return decided;
                }
            }
            None if !self.config.other_servers => {
                return NaptrLookup {
                    result: Err(LookupFailure::Failed(FailureReason::Timeout)),
                    queries: vec![QueryTrace {
                        name: name.clone(),
                        qtype: "NAPTR",
                        rcode: "timeout".to_owned(),
                        answers: 0,
                        ttl: None,
                        elapsed: started.elapsed(),
                        transport: Transport::None,
                    }],
                };
            }
            Some(Reply::Refused) | None => {}
        }
        self.fallback.lookup_naptr(name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_a_valid_naptr_question_with_edns() {
        let name = DomainName::parse("1.2.0.192.in-addr.arpa.").unwrap();
        let wire = query_wire(0x1234, &name, false);
        let msg = Message::from_vec(&wire).unwrap();
        assert_eq!(msg.metadata.id, 0x1234);
        assert!(!msg.metadata.recursion_desired);
        assert_eq!(msg.queries[0].query_type(), RecordType::NAPTR);
        assert_eq!(msg.edns.as_ref().unwrap().max_payload(), EDNS_PAYLOAD);
        assert_eq!(
            question_of(&wire),
            Some((name.as_wire().to_vec(), TYPE_NAPTR, 1))
        );
        assert!(
            Message::from_vec(&query_wire(1, &name, true))
                .unwrap()
                .metadata
                .recursion_desired
        );
    }

    #[test]
    fn retransmission_timeout_follows_the_measured_rtt() {
        let max = Duration::from_secs(2);
        let mut r = RttEstimate { srtt: None };
        assert_eq!(r.rto(max), max, "no sample yet: the configured timeout");
        for _ in 0..50 {
            r.sample(Duration::from_millis(1));
        }
        assert_eq!(r.rto(max), MIN_RTO, "a fast server: the floor");
        for _ in 0..50 {
            r.sample(Duration::from_millis(100));
        }
        let rto = r.rto(max);
        assert!(rto >= Duration::from_millis(100) && rto < max, "{rto:?}");
        r.sample(Duration::from_secs(30));
        assert_eq!(r.rto(max), max, "never above the configured timeout");
    }

    #[test]
    fn garbage_never_panics() {
        let name = DomainName::parse("x.example.").unwrap();
        for bad in [
            &b""[..],
            b"\x00",
            b"\x12\x34\x81\x80\x00\x01",
            b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
        ] {
            assert_eq!(question_of(bad), None);
            assert!(decide(&name, bad, Duration::ZERO, DnssecState::Unchecked, false).is_none());
        }
    }
}
