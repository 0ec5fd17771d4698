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
//!
//! The socket lives on a thread of its own (`altodisc-udp`, a one-thread tokio runtime): it
//! sends the queries, reads and matches the responses, decodes them in place (module `wire`) and
//! runs the retransmission timers, while the batch's thread walks ladders and writes rows. A
//! batch on one thread spent a good part of its time in the system calls of sending and
//! receiving (one `sendto` and one `recvfrom` per query, plus a task wake-up per response);
//! dnsperf, the yardstick of `bench/xdom-batch/run`, likewise sends and receives on threads of
//! its own. The threads meet in two places, each paid once per batch of queries rather than per
//! query: new queries go into an inbox, and the I/O thread, when it waits, is woken once per
//! turn of the batch's runtime (by the `flush` task); the I/O thread hands back each turn's
//! outcomes over one-shot channels. Measured with `bench/xdom-batch/run` (100,000 addresses,
//! concurrency 256, a quiet 2-core machine): 61,600 queries/s on one thread, 84,900–88,800 with
//! this one; the batch's thread then needs about 52,000 instructions per address instead of
//! 64,000 (`bench/xdom-batch/callgrind`).

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::time::{Duration, Instant};

use altodisc_proto::name::DomainName;
use futures_util::task::AtomicWaker;
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::{Notify, oneshot};

use crate::dns::{DnsSource, EDNS_PAYLOAD};
use crate::dnssec::DnssecMode;
use crate::source::{
    FailureReason, LookupFailure, NaptrAnswer, NaptrLookup, NaptrSource, QueryTrace, Transport,
};
use crate::unaptr::DnssecState;

mod wire;
use wire::{Parsed, TYPE_NAPTR, TYPE_OPT};

/// Largest UDP response read; EDNS0 advertises [`EDNS_PAYLOAD`], a server may still send more.
const RECV_BUF: usize = 65_535;
/// Socket receive buffer asked for. With hundreds of queries outstanding, a burst of answers
/// arriving while the process is not scheduled overflowed the default (about 200 KiB on Linux)
/// and the lost answers cost a retransmission each (seen as `RcvbufErrors` in
/// `/proc/net/snmp` during `bench/xdom-batch/run`). The kernel caps it at `net.core.rmem_max`.
const SOCKET_RECV_BUFFER: usize = 4 << 20;
/// Shortest wait before a retransmission.
const MIN_RTO: Duration = Duration::from_millis(50);
/// Queries outstanding at most: one per message ID (RFC 1035 §4.1.1, 16 bits). More go to the
/// fallback.
const MAX_OUTSTANDING: usize = 1 << 16;

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

/// How a query ended, as the I/O thread reports it.
enum Reply {
    /// A simple response, decided.
    Parsed(Parsed),
    /// A response the full client must decide (see the module documentation), or no ID free.
    Fallback,
    /// The socket saw ICMP port unreachable (connection refused), or sending failed.
    Refused,
    /// No response within `timeout × attempts`.
    Timeout,
}

/// A query handed to the I/O thread.
struct Request {
    /// The query message; its ID is set per try.
    query: Vec<u8>,
    reply: oneshot::Sender<Reply>,
}

/// What the batch's thread and the I/O thread share.
struct Shared {
    /// Queries not yet taken by the I/O thread.
    inbox: Mutex<Vec<Request>>,
    /// The I/O thread's task, waiting for work.
    io_waker: AtomicWaker,
    /// Set while the I/O thread waits: only then does a new request need to wake it (when
    /// busy, it looks at the inbox before it waits again).
    idle: AtomicBool,
    /// Set when the engine is dropped: the I/O thread ends.
    stop: AtomicBool,
    /// A refused connection was seen: later lookups go to the fallback.
    refused: AtomicBool,
}

impl Shared {
    fn inbox(&self) -> std::sync::MutexGuard<'_, Vec<Request>> {
        self.inbox.lock().unwrap_or_else(PoisonError::into_inner)
    }
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

/// Stops the flush task when the engine goes.
struct Flusher(tokio::task::JoinHandle<()>);

impl Drop for Flusher {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// [`NaptrSource`] answering simple outcomes itself over one UDP socket and passing the rest to
/// `fallback` (see the module documentation).
pub struct UdpEngineSource {
    shared: Arc<Shared>,
    /// Wakes the flush task, which wakes the I/O thread.
    flush: Arc<Notify>,
    config: EngineConfig,
    fallback: Arc<DnsSource>,
    _flusher: Flusher,
}

impl std::fmt::Debug for UdpEngineSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpEngineSource")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Drop for UdpEngineSource {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.io_waker.wake();
    }
}

impl UdpEngineSource {
    /// Binds a UDP socket connected to `config.server` (a connected socket sees "port
    /// unreachable" as a refused connection) and starts its I/O thread. Must be called inside a
    /// tokio runtime: a task of it wakes the I/O thread when queries wait.
    ///
    /// # Errors
    /// When the socket cannot be bound or connected, or the thread not started.
    pub async fn new(config: EngineConfig, fallback: Arc<DnsSource>) -> std::io::Result<Self> {
        let local: SocketAddr = if config.server.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = std::net::UdpSocket::bind(local)?;
        socket.connect(config.server)?;
        socket.set_nonblocking(true)?;
        // Best effort: a smaller buffer only costs retransmissions.
        let _ = socket2::SockRef::from(&socket).set_recv_buffer_size(SOCKET_RECV_BUFFER);
        let config = EngineConfig {
            attempts: config.attempts.max(1),
            ..config
        };
        let shared = Arc::new(Shared {
            inbox: Mutex::new(Vec::new()),
            io_waker: AtomicWaker::new(),
            idle: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            refused: AtomicBool::new(false),
        });
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let io = Io::new(Arc::clone(&shared), config);
        std::thread::Builder::new()
            .name("altodisc-udp".to_owned())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .enable_time()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    match UdpSocket::from_std(socket) {
                        Ok(socket) => {
                            let _ = ready_tx.send(Ok(()));
                            io.run(&socket).await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })?;
        // The thread answers at once (it only builds its runtime and registers the socket).
        ready_rx
            .recv()
            .map_err(|_| std::io::Error::other("the UDP engine's thread ended at its start"))??;
        let flush = Arc::new(Notify::new());
        let flusher = tokio::spawn(flush_task(Arc::clone(&flush), Arc::clone(&shared)));
        Ok(Self {
            shared,
            flush,
            config,
            fallback,
            _flusher: Flusher(flusher),
        })
    }

    /// Hands `name IN NAPTR` to the I/O thread and waits for the outcome: a response, or none
    /// after retransmissions on the retransmission timeout ([`RttEstimate`], doubled after each
    /// loss) until `timeout × attempts` have passed.
    async fn exchange(&self, name: &DomainName) -> Reply {
        let (tx, rx) = oneshot::channel();
        let request = Request {
            query: query_wire(0, name, self.config.recursion_desired),
            reply: tx,
        };
        let first = {
            let mut inbox = self.shared.inbox();
            inbox.push(request);
            inbox.len() == 1
        };
        if first {
            // Later requests of this turn join the same inbox: one wake-up for all of them.
            self.flush.notify_one();
        }
        // An error: the I/O thread is gone (the engine is being dropped).
        rx.await.unwrap_or(Reply::Timeout)
    }
}

/// Wakes the I/O thread when the inbox got its first request. It runs after the task that
/// filled the inbox yields, so a whole turn of the batch's runtime costs one wake-up (a write
/// to the other runtime's event descriptor) instead of one per query.
async fn flush_task(flush: Arc<Notify>, shared: Arc<Shared>) {
    loop {
        flush.notified().await;
        // Pairs with the I/O thread's store before it looks at the inbox (SeqCst on both
        // sides): either it sees the request, or this sees it idle and wakes it.
        if shared.idle.load(Ordering::SeqCst) {
            shared.io_waker.wake();
        }
    }
}

/// A query in flight on the I/O thread, under its current message ID.
struct Pending {
    query: Vec<u8>,
    reply: oneshot::Sender<Reply>,
    /// When this try went out.
    sent: tokio::time::Instant,
    /// This try's retransmission timeout.
    wait: Duration,
    /// When the query is given up (`timeout × attempts` after its first try).
    deadline: tokio::time::Instant,
    /// Tells this try's timer from stale ones.
    serial: u64,
}

/// The I/O thread's state: queries by ID, their timers, the RTT estimate.
struct Io {
    shared: Arc<Shared>,
    config: EngineConfig,
    pending: HashMap<u16, Pending, foldhash::fast::RandomState>,
    /// (when, serial, ID), earliest first; an entry whose serial is not its query's is stale
    /// (answered, or retransmitted under a new ID) and skipped.
    timers: BinaryHeap<Reverse<(tokio::time::Instant, u64, u16)>>,
    next_id: u16,
    serial: u64,
    rtt: RttEstimate,
    /// Outcomes of this turn, handed over at its end.
    done: Vec<(oneshot::Sender<Reply>, Reply)>,
}

impl Io {
    fn new(shared: Arc<Shared>, config: EngineConfig) -> Self {
        Self {
            shared,
            config,
            pending: HashMap::default(),
            timers: BinaryHeap::new(),
            // IDs are unique among the outstanding queries; the sequence starts at random.
            next_id: rand::random::<u16>(),
            serial: 0,
            rtt: RttEstimate { srtt: None },
            done: Vec::new(),
        }
    }

    /// The loop: send new queries, read every response waiting, fire due timers, hand over the
    /// outcomes, then sleep until a request, a response or the next timer.
    async fn run(mut self, socket: &UdpSocket) {
        let mut buf = vec![0_u8; RECV_BUF];
        let mut batch = Vec::new();
        let sleep = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(sleep);
        while !self.shared.stop.load(Ordering::Acquire) {
            std::mem::swap(&mut batch, &mut *self.shared.inbox());
            for request in batch.drain(..) {
                self.start(request, socket).await;
            }
            // An ICMP port unreachable shows as a pending socket error, reported by epoll as an
            // error only (not as readable): take it, or a refused server would be noticed only
            // by the next try's send.
            while let Ok(e) = socket.try_io(Interest::ERROR, || {
                socket
                    .take_error()?
                    .ok_or_else(|| std::io::ErrorKind::WouldBlock.into())
            }) {
                if e.kind() == std::io::ErrorKind::ConnectionRefused {
                    self.refuse_all();
                }
            }
            loop {
                match socket.try_recv(&mut buf) {
                    Ok(n) => {
                        if let Some(msg) = buf.get(..n) {
                            self.receive(msg);
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                        self.refuse_all();
                    }
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        break;
                    }
                }
            }
            self.expire(socket).await;
            for (reply, outcome) in self.done.drain(..) {
                let _ = reply.send(outcome);
            }
            let armed = match self.timers.peek() {
                Some(Reverse((when, _, _))) => {
                    sleep.as_mut().reset(*when);
                    true
                }
                None => false,
            };
            let shared = &self.shared;
            let readable = socket.ready(Interest::READABLE | Interest::ERROR);
            tokio::pin!(readable);
            std::future::poll_fn(|cx| {
                shared.io_waker.register(cx.waker());
                shared.idle.store(true, Ordering::SeqCst);
                let ready = shared.stop.load(Ordering::Acquire)
                    || !shared.inbox().is_empty()
                    || readable.as_mut().poll(cx).is_ready()
                    || (armed && sleep.as_mut().poll(cx).is_ready());
                if ready {
                    shared.idle.store(false, Ordering::Relaxed);
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await;
        }
    }

    /// First try of a new query.
    async fn start(&mut self, request: Request, socket: &UdpSocket) {
        if self.shared.refused.load(Ordering::Relaxed) {
            self.done.push((request.reply, Reply::Refused));
            return;
        }
        let now = tokio::time::Instant::now();
        let max = self.config.timeout;
        let budget = max.saturating_mul(u32::try_from(self.config.attempts).unwrap_or(u32::MAX));
        let deadline = now
            .checked_add(budget)
            .unwrap_or_else(|| now + Duration::from_secs(86_400));
        let wait = self.rtt.rto(max);
        self.send_try(request.query, request.reply, wait, deadline, socket)
            .await;
    }

    /// Sends one try under a fresh ID and arms its timer: `wait` from now, at most `deadline`.
    async fn send_try(
        &mut self,
        mut query: Vec<u8>,
        reply: oneshot::Sender<Reply>,
        wait: Duration,
        deadline: tokio::time::Instant,
        socket: &UdpSocket,
    ) {
        let Some(id) = self.fresh_id() else {
            self.done.push((reply, Reply::Fallback));
            return;
        };
        if let Some(b) = query.get_mut(..2) {
            b.copy_from_slice(&id.to_be_bytes());
        }
        let sent = tokio::time::Instant::now();
        if socket.send(&query).await.is_err() {
            self.done.push((reply, Reply::Refused));
            return;
        }
        let when = sent.checked_add(wait).map_or(deadline, |t| t.min(deadline));
        self.serial = self.serial.wrapping_add(1);
        self.timers.push(Reverse((when, self.serial, id)));
        self.pending.insert(
            id,
            Pending {
                query,
                reply,
                sent,
                wait,
                deadline,
                serial: self.serial,
            },
        );
    }

    /// An ID no outstanding query uses, or `None` when all are in use.
    fn fresh_id(&mut self) -> Option<u16> {
        if self.pending.len() >= MAX_OUTSTANDING {
            return None;
        }
        loop {
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1);
            if !self.pending.contains_key(&id) {
                return Some(id);
            }
        }
    }

    /// Hands a response to the query with its ID and question (RFC 5452 §9.1); others are
    /// dropped (a late answer to a retransmitted or cancelled query, or a spoofing attempt).
    fn receive(&mut self, msg: &[u8]) {
        let (Some(&hi), Some(&lo), Some(&flags)) = (msg.first(), msg.get(1), msg.get(2)) else {
            return;
        };
        if flags & 0x80 == 0 {
            return; // not a response
        }
        let id = u16::from_be_bytes([hi, lo]);
        let Some(p) = self.pending.get(&id) else {
            return;
        };
        let Some((qname, qtype, qclass, _)) = wire::question(msg) else {
            return;
        };
        if !(qtype == TYPE_NAPTR
            && qclass == 1
            && qname.as_wire().eq_ignore_ascii_case(asked(&p.query)))
        {
            return;
        }
        let Some(p) = self.pending.remove(&id) else {
            return;
        };
        self.rtt.sample(p.sent.elapsed());
        if p.reply.is_closed() {
            return; // the lookup was cancelled
        }
        let outcome = match wire::parse(msg, asked(&p.query)) {
            Some(parsed) => Reply::Parsed(parsed),
            None => Reply::Fallback,
        };
        self.done.push((p.reply, outcome));
    }

    /// Nothing listens at the server: every waiting query goes to the fallback, which reports
    /// it, and so do all later ones.
    fn refuse_all(&mut self) {
        self.shared.refused.store(true, Ordering::Relaxed);
        for (_, p) in self.pending.drain() {
            self.done.push((p.reply, Reply::Refused));
        }
        self.timers.clear();
    }

    /// Fires the due timers: a query past its deadline times out, one whose lookup was
    /// cancelled is dropped, the others are sent again under a new ID with twice the wait
    /// (at most `timeout`).
    async fn expire(&mut self, socket: &UdpSocket) {
        let now = tokio::time::Instant::now();
        while let Some(&Reverse((when, serial, id))) = self.timers.peek() {
            if when > now {
                break;
            }
            self.timers.pop();
            if self.pending.get(&id).is_none_or(|p| p.serial != serial) {
                continue; // stale
            }
            let Some(p) = self.pending.remove(&id) else {
                continue;
            };
            if p.reply.is_closed() {
                continue;
            }
            if now >= p.deadline {
                self.done.push((p.reply, Reply::Timeout));
                continue;
            }
            let wait = p
                .wait
                .saturating_mul(2)
                .min(self.config.timeout.max(MIN_RTO));
            self.send_try(p.query, p.reply, wait, p.deadline, socket)
                .await;
        }
        // Stale entries (answered queries) stay until their time; keep them from piling up.
        if self.timers.len() > 2 * self.pending.len() + 1024 {
            let pending = &self.pending;
            self.timers.retain(|Reverse((_, serial, id))| {
                pending.get(id).is_some_and(|p| p.serial == *serial)
            });
        }
    }
}

/// The question name of a query built by [`query_wire`]: between the header and the type,
/// class and OPT record.
fn asked(query: &[u8]) -> &[u8] {
    query
        .get(12..query.len().saturating_sub(4 + 11))
        .unwrap_or_default()
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

/// Whether the engine decides `response` itself, taken as the answer to a query for the name in
/// its own question: `false` when the full client would decide it (or it is no response to a
/// `NAPTR` question). Public for the fuzz target `engine_response`, which checks the reader's
/// promise (module `wire`): every message decided here decodes with hickory's full decoder too.
#[doc(hidden)]
#[must_use]
pub fn decides_response(response: &[u8]) -> bool {
    let Some((qname, qtype, qclass, _)) = wire::question(response) else {
        return false;
    };
    qtype == TYPE_NAPTR && qclass == 1 && wire::parse(response, qname.as_wire()).is_some()
}

/// The question name (lower-case wire form), type and class of a response, when it has exactly
/// one question; `None` for anything that does not decode.
#[cfg(test)]
fn question_of(msg: &[u8]) -> Option<(Vec<u8>, u16, u16)> {
    let (name, qtype, qclass, _) = wire::question(msg)?;
    Some((name.as_wire().to_ascii_lowercase(), qtype, qclass))
}

/// The outcome decided from a response, or `None` when the full client must decide.
#[cfg(test)]
fn decide(
    name: &DomainName,
    wire: &[u8],
    elapsed: Duration,
    dnssec: DnssecState,
    require: bool,
) -> Option<NaptrLookup> {
    let parsed = wire::parse(wire, name.as_wire())?;
    Some(finish(name, parsed, elapsed, dnssec, require))
}

/// The lookup result of a decided response.
fn finish(
    name: &DomainName,
    parsed: Parsed,
    elapsed: Duration,
    dnssec: DnssecState,
    require: bool,
) -> NaptrLookup {
    let trace = |rcode: &'static str, answers: usize, ttl: u32| QueryTrace {
        name: name.clone(),
        qtype: "NAPTR",
        rcode: Cow::Borrowed(rcode),
        answers,
        ttl: Some(ttl),
        elapsed,
        transport: Transport::Udp,
    };
    match parsed {
        Parsed::Negative {
            nxdomain,
            negative_ttl,
        } => {
            // RFC 2308 §5: the negative TTL is min(SOA TTL, SOA MINIMUM) of the authority SOA.
            let (result, rcode) = if nxdomain {
                (
                    LookupFailure::NxDomain {
                        negative_ttl: Some(negative_ttl),
                    },
                    "NXDOMAIN",
                )
            } else {
                (
                    LookupFailure::NoData {
                        negative_ttl: Some(negative_ttl),
                    },
                    "NOERROR",
                )
            };
            NaptrLookup {
                result: Err(result),
                queries: vec![trace(rcode, 0, negative_ttl)],
            }
        }
        Parsed::Answer {
            owner,
            records,
            ttl,
            count,
        } => {
            let queries = vec![trace("NOERROR", count, ttl)];
            if require && dnssec != DnssecState::Secure {
                return NaptrLookup {
                    result: Err(LookupFailure::Failed(FailureReason::DnssecRequired(dnssec))),
                    queries,
                };
            }
            NaptrLookup {
                result: Ok(NaptrAnswer {
                    owner,
                    cname_chain: Vec::new(),
                    records,
                    malformed: Vec::new(),
                    ttl,
                    dnssec,
                }),
                queries,
            }
        }
    }
}

#[async_trait::async_trait]
impl NaptrSource for UdpEngineSource {
    async fn lookup_naptr(&self, name: &DomainName) -> NaptrLookup {
        // The state is known at once except before the one probe of the root's keys has
        // finished: only then is the probe's future made, boxed, so that it does not make the
        // future of every lookup larger (1.1 kB, above glibc's thread cache size: each lookup's
        // allocation took malloc's slow path).
        let state = match self.fallback.unvalidated_state_now(name) {
            Some(state) => state,
            None => Box::pin(self.fallback.unvalidated_state(name)).await,
        };
        let Some(dnssec) = state else {
            return self.fallback.lookup_naptr(name).await;
        };
        if self.shared.refused.load(Ordering::Relaxed) {
            return self.fallback.lookup_naptr(name).await;
        }
        let require = self.fallback.dnssec_mode() == DnssecMode::Require;
        let started = Instant::now();
        match self.exchange(name).await {
            Reply::Parsed(parsed) => {
                return finish(name, parsed, started.elapsed(), dnssec, require);
            }
            Reply::Timeout if !self.config.other_servers => {
                return NaptrLookup {
                    result: Err(LookupFailure::Failed(FailureReason::Timeout)),
                    queries: vec![QueryTrace {
                        name: name.clone(),
                        qtype: "NAPTR",
                        rcode: Cow::Borrowed("timeout"),
                        answers: 0,
                        ttl: None,
                        elapsed: started.elapsed(),
                        transport: Transport::None,
                    }],
                };
            }
            Reply::Fallback | Reply::Refused | Reply::Timeout => {}
        }
        self.fallback.lookup_naptr(name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use altodisc_proto::naptr::NaptrRecord;
    use hickory_resolver::proto::op::{Message, ResponseCode};
    use hickory_resolver::proto::rr::{DNSClass, RData, RecordType};

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

    /// The decision as made before the in-place reader, through hickory's `Message`: the oracle
    /// of the tests below (the in-place reader must never decide where it did not, nor
    /// differently).
    fn decide_hickory(
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
            rcode: Cow::Borrowed(if rcode == ResponseCode::NoError {
                "NOERROR"
            } else {
                "NXDOMAIN"
            }),
            answers,
            ttl,
            elapsed,
            transport: Transport::Udp,
        };
        if msg.answers.is_empty() {
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
            return None;
        }
        let mut records = Vec::with_capacity(msg.answers.len());
        let mut malformed = Vec::new();
        let mut ttl = u32::MAX;
        let mut owner: Option<DomainName> = None;
        for r in &msg.answers {
            let RData::NAPTR(n) = &r.data else {
                return None;
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
                Err(_) => {
                    malformed.push(format!("replacement {} is not a valid name", n.replacement));
                }
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

    /// The query name of the messages below, at offset 12.
    const QNAME: &[u8] = b"\x011\x010\x0210\x07in-addr\x04arpa\x00";
    /// Offset of `10.in-addr.arpa.` inside [`QNAME`] in a message.
    const ZONE_AT: u8 = 12 + 4;

    /// A response: header with `flags` and the counts, the question `QNAME NAPTR IN`, then
    /// `records` as given.
    fn response(flags: u16, counts: [u16; 3], records: &[Vec<u8>]) -> Vec<u8> {
        let mut m = vec![0x12, 0x34];
        m.extend_from_slice(&flags.to_be_bytes());
        m.extend_from_slice(&1_u16.to_be_bytes());
        for c in counts {
            m.extend_from_slice(&c.to_be_bytes());
        }
        m.extend_from_slice(QNAME);
        m.extend_from_slice(&[0, 35, 0, 1]);
        for r in records {
            m.extend_from_slice(r);
        }
        m
    }

    fn rr(owner: &[u8], rtype: u16, class: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
        let mut r = owner.to_vec();
        r.extend_from_slice(&rtype.to_be_bytes());
        r.extend_from_slice(&class.to_be_bytes());
        r.extend_from_slice(&ttl.to_be_bytes());
        r.extend_from_slice(&u16::try_from(rdata.len()).unwrap().to_be_bytes());
        r.extend_from_slice(rdata);
        r
    }

    fn naptr_rdata(
        order: u16,
        flags: &[u8],
        services: &[u8],
        regexp: &[u8],
        repl: &[u8],
    ) -> Vec<u8> {
        let mut d = order.to_be_bytes().to_vec();
        d.extend_from_slice(&10_u16.to_be_bytes());
        for s in [flags, services, regexp] {
            d.push(u8::try_from(s.len()).unwrap());
            d.extend_from_slice(s);
        }
        d.extend_from_slice(repl);
        d
    }

    fn soa_rdata(minimum: u32) -> Vec<u8> {
        // MNAME ns1.<zone>, RNAME a pointer to the zone, then the five numbers.
        let mut d = b"\x03ns1\xC0".to_vec();
        d.push(ZONE_AT);
        d.extend_from_slice(&[0xC0, ZONE_AT]);
        for v in [1_u32, 7200, 900, 1_209_600, minimum] {
            d.extend_from_slice(&v.to_be_bytes());
        }
        d
    }

    const PTR_Q: &[u8] = &[0xC0, 12];
    const ZONE: &[u8] = &[0xC0, ZONE_AT];
    const RESP: u16 = 0x8400; // QR, AA
    fn opt() -> Vec<u8> {
        rr(&[0], TYPE_OPT, 1232, 0, &[])
    }

    fn naptr(ttl: u32, owner: &[u8], flags: &[u8], repl: &[u8]) -> Vec<u8> {
        rr(
            owner,
            TYPE_NAPTR,
            1,
            ttl,
            &naptr_rdata(
                100,
                flags,
                b"ALTO:https",
                b"!.*!https://alto.example.net/ird!",
                repl,
            ),
        )
    }

    /// Responses of every kind the engine meets, and whether the in-place reader decides them.
    fn cases() -> Vec<(&'static str, Vec<u8>, bool)> {
        let soa = |ttl, min| rr(ZONE, 6, 1, ttl, &soa_rdata(min));
        let a = rr(b"\x03ns1\xC0\x10", 1, 1, 300, &[192, 0, 2, 1]);
        let aaaa = rr(
            b"\x03ns1\xC0\x10",
            28,
            1,
            300,
            &[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        );
        let ns = rr(ZONE, 2, 1, 3600, b"\x03ns1\xC0\x10");
        let naptr1 = naptr(3600, PTR_Q, b"u", &[0]);
        vec![
            (
                "one NAPTR",
                response(RESP, [1, 0, 1], &[naptr1.clone(), opt()]),
                true,
            ),
            (
                "no OPT",
                response(RESP, [1, 0, 0], std::slice::from_ref(&naptr1)),
                true,
            ),
            (
                "two NAPTRs, owner spelled in capitals, uncompressed",
                response(
                    RESP,
                    [2, 0, 1],
                    &[
                        naptr(300, b"\x011\x010\x0210\x07IN-ADDR\x04ARPA\x00", b"u", &[0]),
                        naptr(200, PTR_Q, b"U", &[0]),
                        opt(),
                    ],
                ),
                true,
            ),
            (
                "non-terminal NAPTR, replacement compressed",
                response(
                    RESP,
                    [1, 0, 1],
                    &[naptr(60, PTR_Q, b"", b"\x04alto\xC0\x10"), opt()],
                ),
                true,
            ),
            (
                "with NS and glue",
                response(
                    RESP,
                    [1, 1, 3],
                    &[naptr1.clone(), ns.clone(), a.clone(), aaaa.clone(), opt()],
                ),
                true,
            ),
            (
                "NODATA",
                response(RESP, [0, 1, 1], &[soa(3600, 300), opt()]),
                true,
            ),
            (
                "NXDOMAIN, SOA TTL below MINIMUM",
                response(RESP | 3, [0, 1, 1], &[soa(60, 300), opt()]),
                true,
            ),
            (
                "NXDOMAIN, NS before SOA",
                response(RESP | 3, [0, 2, 0], &[ns.clone(), soa(900, 300)]),
                true,
            ),
            (
                "two SOAs: the first counts",
                response(RESP, [0, 2, 0], &[soa(900, 300), soa(10, 10)]),
                true,
            ),
            (
                "NXDOMAIN without SOA",
                response(RESP | 3, [0, 0, 1], &[opt()]),
                false,
            ),
            (
                "NODATA without SOA",
                response(RESP, [0, 1, 0], std::slice::from_ref(&ns)),
                false,
            ),
            (
                "TC",
                response(RESP | 0x0200, [1, 0, 1], &[naptr1.clone(), opt()]),
                false,
            ),
            (
                "SERVFAIL",
                response(RESP | 2, [0, 1, 0], &[soa(60, 60)]),
                false,
            ),
            ("REFUSED", response(0x8005, [0, 0, 0], &[]), false),
            (
                "extended RCODE",
                response(
                    RESP,
                    [1, 0, 1],
                    &[naptr1.clone(), rr(&[0], TYPE_OPT, 1232, 1 << 24, &[])],
                ),
                false,
            ),
            (
                "two OPTs",
                response(RESP, [1, 0, 2], &[naptr1.clone(), opt(), opt()]),
                false,
            ),
            (
                "CNAME",
                response(
                    RESP,
                    [2, 0, 0],
                    &[
                        rr(PTR_Q, 5, 1, 60, b"\x06target\xC0\x10"),
                        naptr(60, b"\x06target\xC0\x10", b"u", &[0]),
                    ],
                ),
                false,
            ),
            (
                "NXDOMAIN with an answer",
                response(RESP | 3, [1, 0, 0], std::slice::from_ref(&naptr1)),
                false,
            ),
            (
                "NAPTR of another name",
                response(RESP, [1, 0, 0], &[naptr(60, b"\x012\xC0\x0E", b"u", &[0])]),
                false,
            ),
            (
                "class CH",
                response(
                    RESP,
                    [1, 0, 0],
                    &[rr(
                        PTR_Q,
                        TYPE_NAPTR,
                        3,
                        60,
                        &naptr_rdata(1, b"u", b"x", b"", &[0]),
                    )],
                ),
                false,
            ),
            (
                "FLAGS not alphanumeric",
                response(RESP, [1, 0, 0], &[naptr(60, PTR_Q, b"u!", &[0])]),
                false,
            ),
            (
                "empty NAPTR RDATA",
                response(RESP, [1, 0, 0], &[rr(PTR_Q, TYPE_NAPTR, 1, 60, &[])]),
                false,
            ),
            (
                "opcode NOTIFY",
                response(RESP | 0x2000, [1, 0, 0], std::slice::from_ref(&naptr1)),
                false,
            ),
            (
                "a query, not a response",
                response(0x0400, [1, 0, 0], std::slice::from_ref(&naptr1)),
                false,
            ),
            (
                "trailing octet",
                {
                    let mut m = response(RESP, [1, 0, 0], std::slice::from_ref(&naptr1));
                    m.push(0);
                    m
                },
                false,
            ),
            (
                "owner pointer loop",
                response(
                    RESP,
                    [1, 0, 0],
                    &[naptr(60, &[0xC0, 12 + 21 + 4], b"u", &[0])],
                ),
                false,
            ),
            (
                "owner pointer forward",
                response(RESP, [1, 0, 0], &[naptr(60, &[0xC0, 200], b"u", &[0])]),
                false,
            ),
            (
                "replacement pointer into its own RDATA",
                response(
                    RESP,
                    [1, 0, 0],
                    &[naptr(60, PTR_Q, b"u", &[0xC0, 12 + 21 + 4 + 2 + 10 + 4])],
                ),
                false,
            ),
            (
                "RDLENGTH past the end",
                {
                    let mut m = response(RESP, [1, 0, 0], std::slice::from_ref(&naptr1));
                    m.pop();
                    m
                },
                false,
            ),
            (
                "too few records",
                response(RESP, [2, 0, 0], std::slice::from_ref(&naptr1)),
                false,
            ),
            (
                "A of 5 octets",
                response(
                    RESP,
                    [1, 0, 1],
                    &[naptr1.clone(), rr(ZONE, 1, 1, 60, &[1, 2, 3, 4, 5])],
                ),
                false,
            ),
            (
                "OPT with an option",
                response(
                    RESP,
                    [1, 0, 1],
                    &[naptr1.clone(), rr(&[0], TYPE_OPT, 1232, 0, &[0, 10, 0, 0])],
                ),
                false,
            ),
            (
                "a TXT in the additional section",
                response(RESP, [1, 0, 1], &[naptr1, rr(ZONE, 16, 1, 60, b"\x01x")]),
                false,
            ),
        ]
    }

    fn qname() -> DomainName {
        DomainName::from_wire(QNAME).unwrap().0
    }

    /// The in-place decision equals hickory's whenever it decides; `decided` says whether it
    /// should.
    fn check(label: &str, msg: &[u8], decided: Option<bool>) {
        let name = qname();
        for (dnssec, require) in [
            (DnssecState::Unchecked, false),
            (DnssecState::Indeterminate, true),
        ] {
            let new = decide(&name, msg, Duration::ZERO, dnssec, require);
            if let Some(new) = &new {
                let old = decide_hickory(&name, msg, Duration::ZERO, dnssec, require);
                assert_eq!(
                    Some(new),
                    old.as_ref(),
                    "{label}: decided differently from hickory"
                );
            }
            if let Some(d) = decided {
                assert_eq!(new.is_some(), d, "{label}: {new:?}");
            }
        }
    }

    #[test]
    fn every_kind_of_response_is_decided_as_hickory_decided_it() {
        for (label, msg, decided) in cases() {
            check(label, &msg, Some(decided));
            // The fuzz target's entry point decides as the engine does.
            assert_eq!(decides_response(&msg), decided, "{label}");
            if decided {
                let old = decide_hickory(
                    &qname(),
                    &msg,
                    Duration::ZERO,
                    DnssecState::Unchecked,
                    false,
                );
                assert!(old.is_some(), "{label}: hickory does not decide it");
            }
        }
        let name = qname();
        let (_, msg, _) = &cases()[2];
        let Some(NaptrLookup {
            result: Ok(a),
            queries,
        }) = decide(&name, msg, Duration::ZERO, DnssecState::Unchecked, false)
        else {
            panic!("not decided");
        };
        assert_eq!(
            a.owner.as_wire(),
            b"\x011\x010\x0210\x07IN-ADDR\x04ARPA\x00",
            "the owner as spelled"
        );
        assert_eq!((a.ttl, a.records.len(), queries[0].answers), (200, 2, 2));
        let (_, msg, _) = &cases()[6];
        let r = decide(&name, msg, Duration::ZERO, DnssecState::Unchecked, false).unwrap();
        assert_eq!(
            r.result,
            Err(LookupFailure::NxDomain {
                negative_ttl: Some(60)
            })
        );
        let (_, msg, _) = &cases()[3];
        let r = decide(&name, msg, Duration::ZERO, DnssecState::Unchecked, false).unwrap();
        assert_eq!(
            r.result.unwrap().records[0].replacement,
            DomainName::parse("alto.10.in-addr.arpa.").unwrap()
        );
        let (_, msg, _) = &cases()[0];
        let r = decide(&name, msg, Duration::ZERO, DnssecState::Indeterminate, true).unwrap();
        assert_eq!(
            r.result,
            Err(LookupFailure::Failed(FailureReason::DnssecRequired(
                DnssecState::Indeterminate
            )))
        );
    }

    #[test]
    fn truncated_and_mutated_responses_never_panic_nor_decide_differently() {
        // xorshift64: deterministic, so a failure repeats.
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for (label, msg, _) in cases() {
            for n in 0..msg.len() {
                let cut = &msg[..n];
                check(label, cut, None);
                let _ = question_of(cut);
            }
            for _ in 0..3000 {
                let mut m = msg.clone();
                for _ in 0..=next() % 3 {
                    let at = usize::try_from(next() % m.len() as u64).unwrap();
                    m[at] = u8::try_from(next() & 0xFF).unwrap();
                }
                check(label, &m, None);
                let _ = question_of(&m);
            }
        }
    }

    #[test]
    fn names_follow_the_stricter_compression_rules() {
        // A pointer to itself, a pointer forward, a pointer chain that goes back into the name
        // part it came from (hickory refuses it; `DomainName::from_message` alone allowed it).
        let mut m = vec![0_u8; 12];
        m.extend_from_slice(b"\x01a\xC0\x0C"); // 12: "a" then a pointer to 12
        assert!(wire::read_name(&m, 12, true).is_none());
        assert!(
            wire::read_name(&m, 12, false).is_none(),
            "a loop ends in any mode"
        );
        // 20: a pointer to 14, where a 7-octet label runs over the pointer itself: the part
        // pointed to overlaps the part that pointed (hickory: LabelOverlapsWithOther).
        let mut m = vec![0_u8; 14];
        m.extend_from_slice(b"\x07abcde\xC0\x0E\x00");
        assert_eq!(
            wire::read_name(&m, 20, false).map(|(n, used)| (n.as_wire().to_vec(), used)),
            Some((b"\x07abcde\xC0\x0E\x00".to_vec(), 2)),
            "allowed by DomainName::from_message"
        );
        assert!(wire::read_name(&m, 20, true).is_none());
        // A chain through earlier names is fine: 17 "b" -> 12 "a" -> 15 root.
        let mut m = vec![0_u8; 12];
        m.extend_from_slice(b"\x01a\xC0\x10\x00\x01b\xC0\x0C");
        assert!(
            wire::read_name(&m, 17, true).is_none(),
            "12 points forward to 16"
        );
        let mut m = vec![0_u8; 12];
        m.extend_from_slice(b"\x00\x01a\xC0\x0C\x01b\xC0\x0D");
        assert!(
            wire::read_name(&m, 17, true)
                .is_some_and(|(n, used)| n.as_wire() == b"\x01b\x01a\x00" && used == 4)
        );
        let mut m = vec![0_u8; 12];
        m.extend_from_slice(b"\x01a\xC0\x0F\x01b\x00"); // 12: "a", pointer to 15 (forward)
        assert!(wire::read_name(&m, 12, true).is_none());
        assert!(wire::read_name(&m, 12, false).is_none());
        // 63-octet labels up to 255 octets, not one more.
        let name_of = |last: usize| {
            let mut n = Vec::new();
            for len in [63, 63, 63, last] {
                n.push(u8::try_from(len).unwrap());
                n.extend(std::iter::repeat_n(b'x', len));
            }
            n.push(0);
            n
        };
        assert!(
            wire::read_name(&name_of(61), 0, true)
                .is_some_and(|(n, used)| n.as_wire().len() == 255 && used == 255)
        );
        assert!(wire::read_name(&name_of(62), 0, true).is_none());
        assert!(wire::read_name(&name_of(62), 0, false).is_none());
    }

    fn engine_config(server: SocketAddr, timeout: Duration) -> (EngineConfig, crate::DnsConfig) {
        let dns = crate::DnsConfig {
            servers: vec![server],
            recursion_desired: false,
            timeout,
            attempts: 2,
        };
        let engine = EngineConfig {
            server,
            timeout,
            attempts: 2,
            recursion_desired: false,
            other_servers: false,
        };
        (engine, dns)
    }

    #[tokio::test]
    async fn a_silent_server_times_out_after_the_budget_with_retransmissions() {
        let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        server
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let (config, dns) = engine_config(server.local_addr().unwrap(), Duration::from_millis(150));
        let engine = UdpEngineSource::new(config, Arc::new(DnsSource::new(&dns).unwrap()))
            .await
            .unwrap();
        let name = DomainName::parse("1.2.0.192.in-addr.arpa.").unwrap();
        let started = Instant::now();
        let r = engine.lookup_naptr(&name).await;
        let took = started.elapsed();
        assert_eq!(r.result, Err(LookupFailure::Failed(FailureReason::Timeout)));
        assert_eq!(r.queries[0].transport, Transport::None);
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_secs(2),
            "{took:?}"
        );
        // Both tries arrived, each under its own ID.
        let mut ids = Vec::new();
        let mut buf = [0_u8; 512];
        while let Ok(n) = server.recv(&mut buf) {
            assert_eq!(question_of(&buf[..n]).unwrap().0, name.as_wire());
            ids.push([buf[0], buf[1]]);
        }
        assert!(ids.len() >= 2, "{ids:?}");
        ids.dedup();
        assert!(ids.len() >= 2, "retransmissions reuse no ID: {ids:?}");
    }

    #[tokio::test]
    async fn a_refused_connection_goes_to_the_fallback_and_stays_there() {
        // A port nothing listens on: the connected socket sees ICMP port unreachable.
        let addr = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let (config, dns) = engine_config(addr, Duration::from_secs(2));
        let engine = UdpEngineSource::new(config, Arc::new(DnsSource::new(&dns).unwrap()))
            .await
            .unwrap();
        let name = DomainName::parse("1.2.0.192.in-addr.arpa.").unwrap();
        let started = Instant::now();
        let r = engine.lookup_naptr(&name).await;
        assert!(
            matches!(
                r.result,
                Err(LookupFailure::Failed(FailureReason::ConnectionRefused(_)))
            ),
            "{r:?}"
        );
        assert!(engine.shared.refused.load(Ordering::Relaxed));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "no timeout waited"
        );
    }

    #[tokio::test]
    async fn dropping_the_engine_ends_its_thread() {
        let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let (config, dns) = engine_config(server.local_addr().unwrap(), Duration::from_secs(2));
        let engine = UdpEngineSource::new(config, Arc::new(DnsSource::new(&dns).unwrap()))
            .await
            .unwrap();
        let shared = Arc::downgrade(&engine.shared);
        drop(engine);
        for _ in 0..200 {
            if shared.upgrade().is_none() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the I/O thread still holds the engine's state");
    }
}
