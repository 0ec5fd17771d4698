//! Batched UDP I/O (Linux): one `recvmmsg(2)` reads up to [`BATCH`] queries, each is answered
//! in order (fast path or hickory path, RRL and metrics per query exactly like the one-datagram
//! loop), and one `sendmmsg(2)` sends all replies. perf at full load put most of the server's CPU
//! in the `recvfrom`/`sendto` system calls, one pair per query; a batch shares the per-call part
//! of that (system call entry, socket look-up, the wake-up) among its
//! datagrams, the per-datagram kernel work (copies, routing, loopback delivery) stays.
//!
//! Buffers are allocated once per loop: [`BATCH`] receive buffers of [`MAX_UDP_QUERY`] octets
//! and [`BATCH`] reply buffers, reused. The `mmsghdr` arrays of nix's [`MultiHeaders`] hold raw
//! pointers (not `Send`); they live in thread-locals of the loop's thread (see
//! [`udp_batch_loop`]) and are only touched inside the synchronous system-call closures.

use std::cell::RefCell;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use hickory_server::net::xfer::Protocol;
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg};
use tokio::sync::watch;
use tracing::debug;

use super::busy_poll::{BusyPoll, PollToken};
use super::receive_failure::{Next, RETRY_PAUSE, ReceiveFailures, RunningWorker};
use super::{Ctx, MAX_UDP_QUERY, answer, formerr};
use crate::fastpath::FastPath;
use crate::metrics::{Metrics, RrlAction};
use crate::rrl::slip_response;

/// Datagrams per system call. At full load (`bench/responder`: dnsperf with 400 queries in
/// flight) batches fill up; at low rates a batch is one datagram and nothing waits for more
/// (`recvmmsg` returns what is queued), so latency does not grow.
pub(super) const BATCH: usize = 32;

thread_local! {
    /// Receive headers by address family of the socket (0: IPv4, 1: IPv6). nix sets each
    /// header's address length once, and the kernel then shrinks it to the length of the last
    /// source address it wrote; a socket only ever sees one family (IPv4-mapped sources arrive
    /// on an IPv6 socket as IPv6 addresses), so one set per family never cuts an address short.
    static RECV_HEADERS: RefCell<[Option<MultiHeaders<SockaddrStorage>>; 2]> =
        const { RefCell::new([None, None]) };
    /// Send headers: `sendmmsg` sets every used header's address and length itself. Separate
    /// from the receive headers, which must keep pointing at their own address storage.
    static SEND_HEADERS: RefCell<Option<MultiHeaders<SockaddrStorage>>> =
        const { RefCell::new(None) };
}

/// One received datagram.
#[derive(Clone, Copy)]
struct Received {
    len: usize,
    /// Longer than [`MAX_UDP_QUERY`] (MSG_TRUNC): only the first octets arrived.
    truncated: bool,
    peer: Option<SockaddrStorage>,
}

/// The preallocated state of one batched receive loop.
pub(super) struct Batch {
    /// Receive buffer `i` is `buffers[i * MAX_UDP_QUERY..][..MAX_UDP_QUERY]`.
    buffers: Box<[u8]>,
    received: [Received; BATCH],
    /// Datagrams in `received` from the last receive.
    count: usize,
    /// Replies to send, in arrival order; `replies[..queued]` go to `dests[..queued]`.
    replies: Vec<Vec<u8>>,
    dests: [Option<SockaddrStorage>; BATCH],
    queued: usize,
    /// 0 for an IPv4 socket, 1 for IPv6 (see [`RECV_HEADERS`]).
    family: usize,
    /// Whether to poll the socket when it is empty.
    poll: BusyPoll,
}

impl Batch {
    /// A batch for a socket of `family` (0: IPv4, 1: IPv6).
    pub(super) fn new(family: usize, busy_poll: Duration) -> Self {
        Self {
            buffers: vec![0; BATCH * MAX_UDP_QUERY].into_boxed_slice(),
            received: [Received {
                len: 0,
                truncated: false,
                peer: None,
            }; BATCH],
            count: 0,
            replies: (0..BATCH)
                .map(|_| Vec::with_capacity(usize::from(crate::handler::MAX_UDP_PAYLOAD)))
                .collect(),
            dests: [None; BATCH],
            queued: 0,
            family,
            poll: BusyPoll::new(busy_poll, Instant::now()),
        }
    }

    /// Waits until datagrams are queued and reads up to [`BATCH`] of them: `Err(WouldBlock)`
    /// when the socket's receive timeout passed without a datagram (the caller looks at its
    /// shutdown signal and calls again), another error when the receive failed (see
    /// [`super::receive_failure`] for what the caller makes of it).
    ///
    /// When the socket is empty and queries have been arriving fast enough (see
    /// [`super::busy_poll`]), the loop polls it for up to the budget, one non-blocking
    /// `recvmmsg` after the other, before it sleeps in the kernel.
    pub(super) fn fill(
        &mut self,
        fd: RawFd,
        token: &PollToken,
        metrics: &Metrics,
    ) -> io::Result<usize> {
        let budget = self.poll.budget();
        if !budget.is_zero() {
            // What is queued already needs no poll.
            match self.receive(fd, MsgFlags::MSG_DONTWAIT) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if let Some(_guard) = token.try_take() {
                        let since = Instant::now();
                        while since.elapsed() < budget {
                            match self.receive(fd, MsgFlags::MSG_DONTWAIT) {
                                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                                    std::hint::spin_loop();
                                }
                                received => {
                                    metrics.busy_poll(true);
                                    return self.received(received);
                                }
                            }
                        }
                        metrics.busy_poll(false);
                    }
                }
                received => return self.received(received),
            }
            // Polled once (or another loop polls) and found nothing: sleep until a datagram
            // (the next call may poll again).
        }
        // Blocking (up to the socket's receive timeout) until the first datagram, then what is
        // queued behind it (MSG_WAITFORONE).
        match self.receive(fd, MsgFlags::MSG_WAITFORONE) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(e),
            received => self.received(received),
        }
    }

    /// The outcome of a receive for [`Self::fill`]: counts it for the busy-poll decision.
    fn received(&mut self, received: io::Result<usize>) -> io::Result<usize> {
        match received {
            Ok(n) => {
                self.poll.received(n, Instant::now());
                Ok(n)
            }
            Err(error) => {
                self.count = 0;
                Err(error)
            }
        }
    }

    /// One `recvmmsg` with `flags`: MSG_DONTWAIT returns what is queued or EAGAIN at once;
    /// MSG_WAITFORONE waits for the first datagram (up to the socket's receive timeout, then
    /// EAGAIN; at once on a non-blocking socket) and takes what is queued behind it.
    fn receive(&mut self, fd: RawFd, flags: MsgFlags) -> io::Result<usize> {
        let Self {
            buffers,
            received,
            count,
            family,
            ..
        } = self;
        *count = 0;
        RECV_HEADERS.with_borrow_mut(|sets| {
            let headers = sets
                .get_mut(*family)
                .ok_or(io::ErrorKind::InvalidInput)?
                .get_or_insert_with(|| MultiHeaders::preallocate(BATCH, None));
            let mut chunks = buffers.chunks_exact_mut(MAX_UDP_QUERY);
            let mut iovs: [[IoSliceMut<'_>; 1]; BATCH] =
                std::array::from_fn(|_| [IoSliceMut::new(chunks.next().unwrap_or_default())]);
            let results = recvmmsg(fd, headers, iovs.iter_mut(), flags, None)?;
            for (slot, msg) in received.iter_mut().zip(results) {
                *slot = Received {
                    len: msg.bytes,
                    truncated: msg.flags.contains(MsgFlags::MSG_TRUNC),
                    peer: msg.address,
                };
                *count += 1;
            }
            Ok(*count)
        })
    }

    /// Answers every datagram of the batch into the reply buffers, like the one-datagram loop:
    /// no answer to port 0 or to responses, the fast path first, then hickory, then RRL. The
    /// fast path's look-ups of the whole batch are prefetched first ([`FastPath::prefetch`]).
    ///
    /// Latency metric: one clock read per fast-path query instead of two; a query's time runs
    /// from the end of the previous one in the batch (or from the receive), so it is still the
    /// time the server spent on that query, now including a few nanoseconds of loop overhead.
    pub(super) async fn answer_all(&mut self, ctx: &Ctx, fast: &mut FastPath) {
        let Self {
            buffers,
            received,
            count,
            replies,
            dests,
            queued,
            ..
        } = self;
        *queued = 0;
        let index = ctx.handler.index().load_full();
        // The prefetch below is time spent on the batch's queries: it counts in the first one's.
        let mut clock = Instant::now();
        // One datagram has nothing to overlap its loads with (a batch at low rates).
        if ctx.fast_path && *count > 1 {
            let mut queries: [&[u8]; BATCH] = [&[]; BATCH];
            for ((query, got), buffer) in queries
                .iter_mut()
                .zip(received.iter().take(*count))
                .zip(buffers.chunks_exact(MAX_UDP_QUERY))
            {
                if !got.truncated {
                    *query = buffer.get(..got.len).unwrap_or_default();
                }
            }
            fast.prefetch(&index, queries.get(..*count).unwrap_or_default());
        }
        for (i, got) in received.iter().take(*count).enumerate() {
            let Some(raw) = got.peer else { continue };
            // Port 0 cannot be answered (and is a spoofing tell).
            let Some(peer) = socket_addr(&raw).filter(|p| p.port() != 0) else {
                continue;
            };
            let Some(message) = buffers
                .get(i * MAX_UDP_QUERY..)
                .and_then(|b| b.get(..got.len))
            else {
                continue;
            };
            let Some(reply) = replies.get_mut(*queued) else {
                continue;
            };
            if got.truncated {
                // A query longer than any we accept (RFC 6891 §6.2.5): only its start arrived,
                // so it cannot be interpreted (RFC 1035 §4.1.1 FORMERR), like any undecodable
                // query (not counted in the query metrics).
                debug!(%peer, "UDP query over {MAX_UDP_QUERY} octets");
                let Some(err) = formerr(message) else {
                    continue;
                };
                *reply = err;
                clock = Instant::now();
            } else if let Some(done) = ctx
                .fast_path
                .then(|| fast.answer_from(&index, message, reply))
                .flatten()
            {
                let now = Instant::now();
                ctx.metrics.query(
                    crate::metrics::Transport::Udp,
                    Some(done.qtype),
                    done.rcode,
                    now.saturating_duration_since(clock),
                );
                clock = now;
            } else {
                let slow = answer(ctx, message, peer, Protocol::Udp).await;
                clock = Instant::now();
                let Some(slow) = slow else { continue };
                *reply = slow;
            }
            if let Some(rrl) = &ctx.rrl {
                let action = rrl.check(peer.ip());
                ctx.metrics.rrl(action);
                match action {
                    RrlAction::Pass => {}
                    RrlAction::Slip => match slip_response(message, reply) {
                        Some(tc) => *reply = tc,
                        None => continue,
                    },
                    _ => continue,
                }
            }
            if let Some(dest) = dests.get_mut(*queued) {
                *dest = Some(raw);
                *queued += 1;
            }
        }
    }

    /// Sends every queued reply, as few `sendmmsg` calls as the socket allows (on a blocking
    /// socket a call waits while the send buffer is full, up to the socket's send timeout; the
    /// replies still queued then are dropped, as a full buffer would). A reply the kernel
    /// refuses (e.g. no route to that client) is logged and skipped, the others still go out.
    pub(super) fn send_all(&mut self, fd: RawFd) {
        let mut next = 0;
        while next < self.queued {
            match self.send_from(fd, next) {
                Ok(sent) if sent > 0 => next += sent,
                Ok(_) => {
                    // The kernel took none of them without saying why; never expected for UDP.
                    debug!(peer = ?self.peer(next), "UDP send took no datagram");
                    next += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    debug!(
                        queued = self.queued - next,
                        "UDP send buffer full: replies dropped"
                    );
                    break;
                }
                Err(error) => {
                    // sendmmsg reports an error only for the first datagram of a call (later
                    // ones end the call early and fail again at the start of the next).
                    debug!(peer = ?self.peer(next), %error, "UDP send failed");
                    next += 1;
                }
            }
        }
        self.queued = 0;
    }

    /// One `sendmmsg` of `replies[from..queued]`; the number of datagrams sent.
    fn send_from(&self, fd: RawFd, from: usize) -> io::Result<usize> {
        let replies = self.replies.get(from..self.queued).unwrap_or_default();
        let dests = self.dests.get(from..self.queued).unwrap_or_default();
        if replies.is_empty() {
            return Ok(0);
        }
        let iovs: [[IoSlice<'_>; 1]; BATCH] =
            std::array::from_fn(|k| [IoSlice::new(replies.get(k).map_or(&[], Vec::as_slice))]);
        SEND_HEADERS.with_borrow_mut(|headers| {
            let headers = headers.get_or_insert_with(|| MultiHeaders::preallocate(BATCH, None));
            let sent = sendmmsg(fd, headers, &iovs, dests, [], MsgFlags::empty())?;
            // nix exposes the number sent only through its result iterator, which also reads
            // each header's address slot (never written for sends). `SockaddrStorage` is a
            // union, for which uninitialised octets are a valid value, and the addresses read
            // are not used: only the count is.
            Ok(sent.count())
        })
    }

    fn peer(&self, at: usize) -> Option<SocketAddr> {
        self.dests
            .get(at)
            .copied()
            .flatten()
            .as_ref()
            .and_then(socket_addr)
    }
}

/// The source address as the rest of the server sees it (tokio's `recv_from` gives the same:
/// IPv4-mapped sources on an IPv6 socket stay IPv6).
fn socket_addr(raw: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = raw.as_sockaddr_in() {
        return Some(SocketAddr::V4(SocketAddrV4::from(*v4)));
    }
    raw.as_sockaddr_in6()
        .map(|v6| SocketAddr::V6(SocketAddrV6::from(*v6)))
}

/// How long a receive loop sleeps in the kernel before it looks at the shutdown signal again.
pub(super) const RECEIVE_TIMEOUT: Duration = Duration::from_millis(100);

/// How long a send may wait for room in the socket's send buffer before its replies are dropped.
pub(super) const SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// Makes `socket` blocking with [`RECEIVE_TIMEOUT`] and [`SEND_TIMEOUT`], for
/// [`udp_batch_loop`].
///
/// # Errors
/// When a socket option cannot be set.
pub(super) fn blocking(socket: &std::net::UdpSocket) -> io::Result<()> {
    socket.set_nonblocking(false)?;
    socket.set_read_timeout(Some(RECEIVE_TIMEOUT))?;
    socket.set_write_timeout(Some(SEND_TIMEOUT))
}

/// The receive loop of one socket with batched I/O (see the module documentation), on a thread
/// of its own in blocking system calls, as NSD's and Knot's UDP workers are.
///
/// Why not a task of the async runtime: the loops that share a socket all waited for its
/// readiness, and the runtime woke every one of them for each datagram (one found it, the others
/// an empty socket), through its one I/O driver, which only a parked runtime thread polls. At a
/// fixed 20k queries per second with two workers that cost 46 % of a CPU against NSD's 29 %,
/// and every stall of the thread holding the driver (a busy host preempting it) delayed every
/// query behind it: p99 13.5 ms against NSD's 0.12 ms (`bench/responder`). A thread blocked in
/// `recvmmsg` is woken by the kernel itself, one waiter per datagram (UDP sockets wake their
/// waiters exclusively), and a preempted worker holds up only the datagrams it already took.
///
/// `socket` must be blocking (see [`blocking`]); `token` is shared by the loops of one socket
/// (at most one of them polls it at a time), `busy_poll` is the longest poll of an empty socket
/// (zero: never poll). Queries the fast path does not answer go through the hickory path on
/// `runtime`. Ends when `shutdown` turns true or its sender is gone (within
/// [`RECEIVE_TIMEOUT`]).
pub(super) fn udp_batch_loop(
    socket: &std::net::UdpSocket,
    ctx: &Ctx,
    runtime: &tokio::runtime::Handle,
    shutdown: &watch::Receiver<bool>,
    token: &PollToken,
    busy_poll: Duration,
) {
    let fd = socket.as_raw_fd();
    let family = usize::from(socket.local_addr().is_ok_and(|a| a.is_ipv6()));
    let mut batch = Batch::new(family, busy_poll);
    // Common queries are answered by the allocation-free fast path; the rest by hickory.
    let mut fast = FastPath::new();
    let running = RunningWorker::start(&ctx.metrics);
    let mut failures = ReceiveFailures::default();
    loop {
        // Ok(true): shutdown; Err: the server is gone.
        if shutdown.has_changed().is_err() || *shutdown.borrow() {
            return;
        }
        match batch.fill(fd, token, &ctx.metrics) {
            Ok(0) => continue,
            Ok(_) => failures.received(),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(error) => match failures.failed(&error) {
                Next::Retry => continue,
                Next::RetryAfterPause => {
                    std::thread::sleep(RETRY_PAUSE);
                    continue;
                }
                Next::Stop => {
                    // The other workers (of this socket, with a shared socket; of the others,
                    // with one socket each) keep serving.
                    running.stop_failed(socket.local_addr().ok(), &error);
                    return;
                }
            },
        }
        runtime.block_on(batch.answer_all(ctx, &mut fast));
        batch.send_all(fd);
    }
}

#[cfg(test)]
mod tests {
    use std::net::UdpSocket as StdUdpSocket;
    use std::path::Path;
    use std::str::FromStr;
    use std::sync::Arc;
    use std::time::Duration;

    use arc_swap::ArcSwap;
    use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
    use hickory_proto::rr::{Name, RecordType};

    use tokio::net::UdpSocket;

    use super::*;
    use crate::handler::ZoneRequestHandler;
    use crate::index::ZoneIndex;
    use crate::server::{Responder, ServeOptions};
    use crate::xfr::TransferAcl;

    fn bundled_index() -> ZoneIndex {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../zones");
        let loaded = crate::load::load_zone_dir(&dir).unwrap();
        ZoneIndex::build(&loaded.zones).unwrap()
    }

    fn ctx() -> Ctx {
        Ctx {
            handler: ZoneRequestHandler::new(Arc::new(ArcSwap::from_pointee(bundled_index()))),
            metrics: Arc::new(Metrics::default()),
            acl: TransferAcl::default(),
            tsig: crate::tsig::TsigKeyring::default(),
            journal: crate::journal::Journal::default(),
            rrl: None,
            fast_path: true,
            refusal_log: super::super::LogLimiter::new(Duration::from_secs(10)),
        }
    }

    fn query(id: u16, name: &str, qtype: RecordType, edns: Option<u16>) -> Vec<u8> {
        let mut m = Message::new(id, MessageType::Query, OpCode::Query);
        m.add_query(Query::query(Name::from_str(name).unwrap(), qtype));
        if let Some(size) = edns {
            let mut e = Edns::new();
            e.set_max_payload(size);
            m.set_edns(e);
        }
        m.to_vec().unwrap()
    }

    /// A mix for one batch: fast-path answers (NAPTR hit, NXDOMAIN, REFUSED), hickory-path
    /// answers (TC without EDNS, ANY), an undecodable query (FORMERR) and a response (no
    /// answer), in that order.
    fn mixed_queries() -> Vec<Vec<u8>> {
        let mut response = query(8, "example.net.", RecordType::NAPTR, None);
        response[2] |= 0x80;
        vec![
            query(1, "10.2.0.192.in-addr.arpa.", RecordType::NAPTR, Some(1232)),
            query(2, "77.2.0.192.in-addr.arpa.", RecordType::NAPTR, None),
            query(3, "example.org.", RecordType::NAPTR, Some(1232)),
            query(4, "big.example.net.", RecordType::NAPTR, None),
            query(5, "example.net.", RecordType::ANY, Some(1232)),
            query(6, "10.2.0.192.in-addr.arpa.", RecordType::TXT, Some(1232)),
            vec![0x00, 0x07, 0x01, 0x00, 0x00],
            response,
        ]
    }

    /// What the one-datagram loop sends for `message` (the fast path is byte-identical to the
    /// hickory path; see the `fastpath` integration test), `None` for no reply.
    async fn single(message: &[u8], peer: SocketAddr) -> Option<Vec<u8>> {
        answer(&ctx(), message, peer, Protocol::Udp).await
    }

    fn client(addr: &str) -> Option<StdUdpSocket> {
        let sock = StdUdpSocket::bind(addr).ok()?;
        sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        Some(sock)
    }

    fn recv(sock: &StdUdpSocket) -> Vec<u8> {
        let mut buf = vec![0u8; 65535];
        let (n, _) = sock.recv_from(&mut buf).unwrap();
        buf.truncate(n);
        buf
    }

    /// Sends `queries`, then lets the server take them in one receive: loopback queues each
    /// datagram before `send_to` returns, the pause only guards against a slow softirq.
    async fn one_batch(server: &UdpSocket, client: &StdUdpSocket, queries: &[Vec<u8>]) -> Batch {
        let to = server.local_addr().unwrap();
        for q in queries {
            client.send_to(q, to).unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
        let mut batch = Batch::new(family(server), Duration::ZERO);
        let n = batch
            .fill(
                server.as_raw_fd(),
                &PollToken::default(),
                &Metrics::default(),
            )
            .unwrap();
        assert_eq!(n, queries.len(), "all queued datagrams in one receive");
        batch
    }

    fn family(socket: &UdpSocket) -> usize {
        usize::from(socket.local_addr().unwrap().is_ipv6())
    }

    fn metric(text: &str, line: &str) -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(line))
            .map_or(0, |v| v.trim().parse().unwrap())
    }

    #[tokio::test]
    async fn one_batch_mixes_fast_path_and_hickory_answers() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let client = client("127.0.0.1:0").unwrap();
        let peer = client.local_addr().unwrap();
        let queries = mixed_queries();
        // The batch really is mixed.
        let mut fast = FastPath::new();
        let index = ArcSwap::from_pointee(bundled_index());
        let by_fast: Vec<bool> = queries
            .iter()
            .map(|q| fast.answer(&index, q, &mut Vec::new()).is_some())
            .collect();
        assert_eq!(
            by_fast,
            [true, true, true, false, false, true, false, false]
        );
        let ctx = ctx();
        let mut batch = one_batch(&server, &client, &queries).await;
        batch.answer_all(&ctx, &mut fast).await;
        assert_eq!(batch.queued, 7, "every query but the response is answered");
        batch.send_all(server.as_raw_fd());
        for q in &queries {
            let Some(want) = single(q, peer).await else {
                continue;
            };
            let got = recv(&client);
            assert_eq!(got, want, "query id {:?}", q.get(..2));
        }
        // The reply that needs TC (RFC 2181 §9): 10 NAPTRs do not fit 512 octets.
        let big = Message::from_vec(&single(&queries[3], peer).await.unwrap()).unwrap();
        assert!(big.metadata.truncation && big.answers.is_empty());
        // Every answered query is counted once, by whichever path answered it; FORMERR for an
        // unreadable query is not a query (as in the one-datagram loop).
        let text = ctx.metrics.render(&ctx.handler.index().load());
        let q = |t| crate::metrics::sample_sum(&text, "altodisc_queries_total", &[("qtype", t)]);
        assert_eq!(q("NAPTR"), 4, "{text}");
        assert_eq!(q("ANY"), 1, "{text}");
        assert_eq!(q("TXT"), 1, "{text}");
        assert_eq!(
            metric(&text, "altodisc_query_duration_seconds_count"),
            6,
            "{text}"
        );
    }

    #[tokio::test]
    async fn queries_from_ipv6_are_answered() {
        let (Ok(server), Some(client)) = (UdpSocket::bind("[::1]:0").await, client("[::1]:0"))
        else {
            eprintln!("no IPv6 loopback here: skipped");
            return;
        };
        let peer = client.local_addr().unwrap();
        let queries = mixed_queries();
        let ctx = ctx();
        let mut batch = one_batch(&server, &client, &queries).await;
        assert_eq!(batch.family, 1);
        let got = batch.received.first().and_then(|r| r.peer);
        assert_eq!(got.as_ref().and_then(socket_addr), Some(peer));
        batch.answer_all(&ctx, &mut FastPath::new()).await;
        batch.send_all(server.as_raw_fd());
        for q in &queries {
            if let Some(want) = single(q, peer).await {
                assert_eq!(recv(&client), want);
            }
        }
    }

    #[tokio::test]
    async fn a_truncated_datagram_gets_formerr() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let client = client("127.0.0.1:0").unwrap();
        // A valid query (RD=0) padded past what we read: only the first MAX_UDP_QUERY octets
        // arrive, and the answer is a bare FORMERR with its ID.
        let mut long = query(0x4711, "10.2.0.192.in-addr.arpa.", RecordType::NAPTR, None);
        long.resize(MAX_UDP_QUERY + 100, 0);
        let queries = [long, query(9, "example.org.", RecordType::A, None)];
        let ctx = ctx();
        let mut batch = one_batch(&server, &client, &queries).await;
        assert!(batch.received[0].truncated && !batch.received[1].truncated);
        assert_eq!(batch.received[0].len, MAX_UDP_QUERY);
        batch.answer_all(&ctx, &mut FastPath::new()).await;
        batch.send_all(server.as_raw_fd());
        assert_eq!(
            recv(&client),
            [0x47, 0x11, 0x80, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        let refused = Message::from_vec(&recv(&client)).unwrap();
        assert_eq!(refused.metadata.id, 9);
    }

    #[tokio::test]
    async fn a_failed_send_does_not_drop_the_other_replies() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let client = client("127.0.0.1:0").unwrap();
        let to = SockaddrStorage::from(client.local_addr().unwrap());
        // An IPv6 destination on an IPv4 socket: the kernel refuses that one (EAFNOSUPPORT).
        let bad = SockaddrStorage::from(SocketAddr::from_str("[::1]:53").unwrap());
        let mut batch = Batch::new(family(&server), Duration::ZERO);
        for (i, dest) in [to, bad, to, to].into_iter().enumerate() {
            batch.replies[i] = vec![u8::try_from(i).unwrap(); 12];
            batch.dests[i] = Some(dest);
        }
        batch.queued = 4;
        assert!(batch.send_from(server.as_raw_fd(), 1).is_err());
        batch.send_all(server.as_raw_fd());
        assert_eq!(batch.queued, 0);
        for want in [0, 2, 3] {
            assert_eq!(recv(&client), [want; 12]);
        }
    }

    /// A batch whose loop has seen 100,000 datagrams per second: polling is on.
    fn polling_batch(budget: Duration) -> Batch {
        let mut batch = Batch::new(0, budget);
        // One datagram per receive, 10 µs apart, for a bit more than a window.
        let start = Instant::now();
        for i in 1..=1100 {
            batch
                .poll
                .received(1, start + Duration::from_micros(10) * i);
        }
        assert_eq!(batch.poll.budget(), budget, "polling is on");
        batch
    }

    /// Waits (up to 10 s) until `token` is `taken`; whether it was.
    fn wait_for_token(token: &PollToken, taken: bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while token.is_taken() != taken {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }

    /// Sends one NAPTR query to `to` from a fresh socket.
    fn send_one_query(to: SocketAddr) {
        let client = client("127.0.0.1:0").unwrap();
        client
            .send_to(&query(1, "example.org.", RecordType::NAPTR, None), to)
            .unwrap();
    }

    fn busy_polls(metrics: &Metrics) -> (u64, u64) {
        let text = metrics.render(&bundled_index());
        let polls = |result| {
            metric(
                &text,
                &format!("altodisc_udp_busy_polls_total{{result=\"{result}\"}}"),
            )
        };
        (polls("datagram"), polls("expired"))
    }

    /// A server socket as the loops have it (blocking), but with a receive timeout longer than
    /// any of these tests, so that a receive ends only with a datagram: a loaded machine that
    /// delays the sender by more than the loops' short timeout cannot turn one sleep into two.
    fn blocking_server() -> StdUdpSocket {
        let server = StdUdpSocket::bind("127.0.0.1:0").unwrap();
        blocking(&server).unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        server
    }

    /// `fill` until a datagram or an error (a receive timeout only makes it call again).
    fn fill_until_datagram(
        batch: &mut Batch,
        server: &StdUdpSocket,
        token: &PollToken,
        metrics: &Metrics,
    ) -> usize {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match batch.fill(server.as_raw_fd(), token, metrics) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {}
                r => return r.unwrap(),
            }
        }
    }

    #[test]
    fn a_poll_takes_the_datagram_that_arrives_while_it_polls() {
        let server = blocking_server();
        let to = server.local_addr().unwrap();
        // A budget far longer than the test: the datagram can only end the poll.
        let mut batch = polling_batch(Duration::from_secs(60));
        let token = PollToken::default();
        let observer = token.clone();
        let sender = std::thread::spawn(move || {
            // Send only once the loop polls (holds the socket's token).
            let polled = wait_for_token(&observer, true);
            send_one_query(to);
            polled
        });
        let metrics = Metrics::default();
        let n = fill_until_datagram(&mut batch, &server, &token, &metrics);
        assert!(sender.join().unwrap(), "the loop never polled");
        assert_eq!(n, 1);
        assert!(!token.is_taken(), "the token is released after the poll");
        assert_eq!(busy_polls(&metrics), (1, 0));
    }

    #[test]
    fn an_expired_poll_releases_the_socket_and_sleeps_until_a_datagram() {
        let server = blocking_server();
        let to = server.local_addr().unwrap();
        let mut batch = polling_batch(Duration::from_millis(20));
        let token = PollToken::default();
        let observer = token.clone();
        let sender = std::thread::spawn(move || {
            // The poll starts, runs out, the loop sleeps; then the datagram comes.
            let polled = wait_for_token(&observer, true);
            let released = wait_for_token(&observer, false);
            std::thread::sleep(Duration::from_millis(50));
            send_one_query(to);
            (polled, released)
        });
        let metrics = Metrics::default();
        let n = fill_until_datagram(&mut batch, &server, &token, &metrics);
        assert_eq!(
            sender.join().unwrap(),
            (true, true),
            "polled, then released"
        );
        assert_eq!(n, 1);
        assert_eq!(
            busy_polls(&metrics),
            (0, 1),
            "one poll, expired; no second one"
        );
    }

    #[test]
    fn a_loop_that_cannot_take_the_token_sleeps() {
        let server = blocking_server();
        let to = server.local_addr().unwrap();
        let mut batch = polling_batch(Duration::from_secs(60));
        // Another loop of the socket polls.
        let token = PollToken::default();
        let other_loop = token.try_take();
        assert!(other_loop.is_some());
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            send_one_query(to);
        });
        let metrics = Metrics::default();
        let n = fill_until_datagram(&mut batch, &server, &token, &metrics);
        sender.join().unwrap();
        assert_eq!(n, 1);
        assert_eq!(busy_polls(&metrics), (0, 0), "this loop did not poll");
    }

    /// Log lines written by `tracing` inside [`tracing::subscriber::with_default`].
    #[derive(Clone, Default)]
    struct CapturedLog(Arc<std::sync::Mutex<Vec<u8>>>);

    impl io::Write for CapturedLog {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A worker whose socket fails for good stops, says why in the log and the metrics, and a
    /// worker of the same server on a working socket keeps answering. The failure is the
    /// kernel's own: the failing worker is given `/dev/null`'s descriptor where its socket
    /// should be, so every `recvmmsg` fails with ENOTSOCK (before, such an error was retried at
    /// once, forever: a loop spinning a CPU while serving nothing).
    #[test]
    fn a_worker_whose_socket_fails_stops_and_the_others_keep_serving() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let ctx = Arc::new(ctx());
        let (stop, shutdown) = watch::channel(false);
        let server = StdUdpSocket::bind("127.0.0.1:0").unwrap();
        blocking(&server).unwrap();
        let to = server.local_addr().unwrap();
        let healthy = {
            let (ctx, shutdown, handle) = (ctx.clone(), shutdown.clone(), runtime.handle().clone());
            std::thread::spawn(move || {
                udp_batch_loop(
                    &server,
                    &ctx,
                    &handle,
                    &shutdown,
                    &PollToken::default(),
                    Duration::ZERO,
                );
            })
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while ctx.metrics.udp_workers_running() < 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(
            ctx.metrics.udp_workers_running(),
            1,
            "the healthy worker runs"
        );

        let not_a_socket = std::fs::File::open("/dev/null").unwrap();
        let broken = StdUdpSocket::from(std::os::fd::OwnedFd::from(not_a_socket));
        let log = CapturedLog::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || writer.clone())
            .finish();
        let (ended, on_end) = std::sync::mpsc::channel();
        let failing = {
            let (ctx, shutdown, handle) = (ctx.clone(), shutdown.clone(), runtime.handle().clone());
            std::thread::spawn(move || {
                tracing::subscriber::with_default(subscriber, || {
                    udp_batch_loop(
                        &broken,
                        &ctx,
                        &handle,
                        &shutdown,
                        &PollToken::default(),
                        Duration::ZERO,
                    );
                });
                let _ = ended.send(());
            })
        };
        // A loop that retried would still run: end both loops then, and fail.
        if on_end.recv_timeout(Duration::from_secs(10)).is_err() {
            stop.send(true).unwrap();
            let _ = (failing.join(), healthy.join());
            panic!("the worker on a failed socket did not stop within 10 s");
        }
        failing.join().unwrap();
        let log = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        let line = log
            .lines()
            .find(|l| l.contains("UDP socket can no longer be read"))
            .unwrap_or_else(|| panic!("no stop logged: {log}"));
        assert!(line.contains("WARN"), "{line}");
        assert!(
            line.contains("non-socket"),
            "the kernel's error is named: {line}"
        );
        assert!(line.contains("still_serving=1"), "{line}");
        assert_eq!(log.lines().count(), 1, "one line, no retries logged: {log}");
        let text = ctx.metrics.render(&ctx.handler.index().load());
        assert_eq!(metric(&text, "altodisc_udp_workers_failed_total "), 1);
        assert_eq!(metric(&text, "altodisc_udp_workers "), 1);

        // The other worker still answers, as the one-datagram path would.
        let client = client("127.0.0.1:0").unwrap();
        let peer = client.local_addr().unwrap();
        for id in 1..=3 {
            let q = query(
                id,
                "10.2.0.192.in-addr.arpa.",
                RecordType::NAPTR,
                Some(1232),
            );
            client.send_to(&q, to).unwrap();
            let expected = runtime.block_on(single(&q, peer)).unwrap();
            assert_eq!(recv(&client), expected, "query {id}");
        }

        stop.send(true).unwrap();
        healthy.join().unwrap();
        assert_eq!(ctx.metrics.udp_workers_running(), 0, "both loops ended");
    }

    /// The whole server with polling on under steady traffic: every reply is the one the
    /// one-datagram path gives, polls happen and end in datagrams, TCP is answered while the UDP
    /// loops poll, and shutdown ends the polling loops.
    ///
    /// The budget is 20 ms, not the suggested 1 ms: polling turns on when the mean gap between
    /// datagrams is a tenth of the budget, and with 1 ms that meant 10,000 queries per second
    /// sent one by one, which a test thread on a loaded machine could not keep up (this test
    /// then never saw a poll and failed). With 20 ms, a query every 0.5 ms (4 × the needed
    /// rate) turns it on, and the poll works the same at any budget.
    #[test]
    fn a_polling_server_answers_udp_and_tcp_and_shuts_down() {
        use std::io::{Read, Write};
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let options = ServeOptions {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
            udp_batch: true,
            udp_workers: 2,
            udp_busy_poll: Duration::from_millis(20),
            ..ServeOptions::default()
        };
        assert!(
            ServeOptions::default().udp_busy_poll.is_zero(),
            "polling is an opt-in"
        );
        let responder = runtime
            .block_on(Responder::start(bundled_index(), &options))
            .unwrap();
        let to = responder.local_addrs()[0];
        let client = client("127.0.0.1:0").unwrap();
        let peer = client.local_addr().unwrap();
        let queries: Vec<Vec<u8>> = (0..8u16)
            .map(|i| {
                query(
                    i,
                    &format!("{}.2.0.192.in-addr.arpa.", i + 10),
                    RecordType::NAPTR,
                    Some(1232),
                )
            })
            .collect();
        let want: Vec<Vec<u8>> = queries
            .iter()
            .map(|q| runtime.block_on(single(q, peer)).unwrap())
            .collect();
        // One query every 500 µs (2,000 per second: four times the polling threshold, and one
        // datagram per receive), replies checked as they come, until a poll has ended in a
        // datagram (or 20 s have passed). Loopback may drop a datagram when this machine stalls
        // the server: replies are checked, not counted.
        client.set_nonblocking(true).unwrap();
        let mut buf = vec![0u8; 65535];
        let mut check_replies = |answered: &mut usize| {
            while let Ok(n) = client.recv(&mut buf) {
                let id = usize::from(u16::from_be_bytes([buf[0], buf[1]]));
                assert_eq!(buf.get(..n), want.get(id).map(Vec::as_slice), "reply {id}");
                *answered += 1;
            }
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        let (mut sent, mut answered) = (0, 0);
        let mut next = Instant::now();
        while busy_polls(&responder.ctx.metrics).0 == 0 && Instant::now() < deadline {
            for _ in 0..100 {
                client.send_to(&queries[sent % queries.len()], to).unwrap();
                sent += 1;
                // After a stall of this thread, go on from now instead of sending a burst.
                next = next.max(Instant::now()) + Duration::from_micros(500);
                while Instant::now() < next {
                    check_replies(&mut answered);
                }
            }
        }
        assert!(
            busy_polls(&responder.ctx.metrics).0 > 0,
            "no poll ended in a datagram after {sent} queries"
        );
        std::thread::sleep(Duration::from_millis(100));
        check_replies(&mut answered);
        assert!(answered > 0, "{sent} queries, no reply");
        // TCP while the UDP loops may be polling.
        let mut tcp = std::net::TcpStream::connect(to).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let q = &queries[0];
        let len = u16::try_from(q.len()).unwrap().to_be_bytes();
        tcp.write_all(&[&len[..], q].concat()).unwrap();
        let mut len = [0u8; 2];
        tcp.read_exact(&mut len).unwrap();
        let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
        tcp.read_exact(&mut reply).unwrap();
        let reply = Message::from_vec(&reply).unwrap();
        assert_eq!(reply.metadata.id, 0);
        assert!(!reply.answers.is_empty());
        runtime.block_on(responder.shutdown()).unwrap();
    }

    /// The whole server: the batched loop and the one-datagram loop answer the same octets.
    #[test]
    fn batched_and_single_loops_send_the_same_octets() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut replies = Vec::new();
        for udp_batch in [true, false] {
            let options = ServeOptions {
                listen: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
                udp_batch,
                // One loop, so replies leave in query order.
                udp_workers: 1,
                ..ServeOptions::default()
            };
            let responder = runtime
                .block_on(Responder::start(bundled_index(), &options))
                .unwrap();
            let to = responder.local_addrs()[0];
            let client = client("127.0.0.1:0").unwrap();
            let queries = mixed_queries();
            for q in &queries {
                client.send_to(q, to).unwrap();
            }
            let got: Vec<Vec<u8>> = (0..queries.len() - 1).map(|_| recv(&client)).collect();
            replies.push(got);
            runtime.block_on(responder.shutdown()).unwrap();
        }
        assert_eq!(replies[0], replies[1]);
    }
}
