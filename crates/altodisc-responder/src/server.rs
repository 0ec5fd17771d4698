//! Sockets. hickory-server is the protocol engine (request parsing into [`Request`], the
//! [`RequestHandler`], response building and encoding); the socket loops are ours:
//!
//! * UDP: a few receive loops per socket (one per CPU) answer inline, without a task and a
//!   channel per datagram (hickory's `Server` spawns both, which doubled the CPU per query); on
//!   Linux each loop is a thread of its own that reads and sends batches of datagrams with one
//!   blocking system call each (`server/udp.rs`);
//! * TCP (RFC 7766): our accept loop bounds the number of connections, in all and per source
//!   (hickory 0.26 has no limit), gives every query one deadline for the whole message and
//!   closes idle connections first when it needs room (RFC 7766 §6.2.3; `server/tcp.rs`); zone
//!   transfers (AXFR/IXFR) are answered here, with several messages per query (see
//!   [`crate::xfr`]);
//! * optional: response rate limiting on UDP ([`crate::rrl`]) and the metrics endpoint
//!   ([`crate::http`]). Every answered query is counted in [`Metrics`] with atomic additions.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use hickory_proto::op::{MessageType, Query, ResponseCode};
use hickory_server::net::NetError;
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{debug, warn};

use crate::error::ResponderError;
use crate::fastpath::FastPath;
use crate::handler::ZoneRequestHandler;
use crate::index::ZoneIndex;
use crate::metrics::{Metrics, RrlAction, Transport};
use crate::rrl::{RateLimitConfig, RateLimiter, slip_response};
use crate::xfr::TransferAcl;
use receive_failure::{Next, ReceiveFailures, RunningWorker};

#[cfg(any(target_os = "linux", target_os = "android"))]
mod busy_poll;
mod receive_failure;
mod tcp;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod udp;

/// Largest UDP query accepted (RFC 6891 §6.2.5 lets clients send up to their own payload size).
const MAX_UDP_QUERY: usize = 4096;

/// Transport settings.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Addresses to listen on, UDP and TCP each.
    pub listen: Vec<SocketAddr>,
    /// A TCP connection that starts no query for this long is closed (RFC 7766 §6.2.3 suggests
    /// seconds, not minutes); at most [`TCP_PRESSURE_IDLE`] once three quarters of
    /// `max_tcp_connections` are open. Default 10 s.
    pub tcp_idle_timeout: Duration,
    /// Time for a whole TCP query, from its first octet to its last, whatever the client's pace
    /// (and for each reply message to be taken by the client); then the connection is closed.
    /// Default [`DEFAULT_TCP_QUERY_TIMEOUT`].
    pub tcp_query_timeout: Duration,
    /// Most concurrent TCP connections over all listeners (default 256). Every connection is
    /// accepted at once; at the limit the longest idle one is closed for a new one (then the
    /// one that has spent longest reading its query or having its reply read), never one whose
    /// query is being answered.
    pub max_tcp_connections: usize,
    /// Most concurrent TCP connections from one source, an IPv4 address or an IPv6 /64
    /// (default [`DEFAULT_MAX_TCP_CONNECTIONS_PER_SOURCE`]; 0 = only `max_tcp_connections`).
    /// Further ones are closed at once.
    pub max_tcp_connections_per_source: usize,
    /// Most concurrent connections to the metrics endpoint (default
    /// [`crate::http::DEFAULT_MAX_CONNECTIONS`]); at the limit the oldest one is closed.
    pub metrics_max_connections: usize,
    /// Most concurrent connections to the metrics endpoint from one IP address (default
    /// [`crate::http::DEFAULT_MAX_PER_SOURCE`]); at the limit its oldest one is closed.
    pub metrics_max_connections_per_source: usize,
    /// Time a metrics client has to send its request head; a whole metrics connection lasts at
    /// most twice this (default [`crate::http::DEFAULT_HEADER_TIMEOUT`]).
    pub metrics_header_timeout: Duration,
    /// On shutdown, queries being answered may finish for this long; then every connection is
    /// closed, whatever clients do (default [`DEFAULT_SHUTDOWN_GRACE`]).
    pub shutdown_grace: Duration,
    /// Workers (`[serve] workers`, `--workers`): UDP receive loops per listen address, each a
    /// thread of its own blocked in the receive call (Linux, batched loop; elsewhere a task of
    /// the multi-threaded runtime), so up to this many queries are answered at once on as many
    /// cores, as NSD's `server-count` and Knot's `udp-workers` do. They share one
    /// socket: an idle loop takes whatever datagram arrives, where a socket per worker
    /// (`SO_REUSEPORT`) hashes each client to one worker, however busy. TCP connections are
    /// served on every runtime thread whatever this is, within the connection limits, which
    /// stay global. 1 to [`MAX_WORKERS`]; default: the number of CPUs this process may use.
    pub udp_workers: usize,
    /// Who may transfer zones (AXFR/IXFR over TCP); empty = nobody.
    pub transfer_acl: TransferAcl,
    /// TSIG keys (RFC 8945) for signed queries and transfers ([`crate::xfr::tsig_gate`]).
    pub tsig: crate::tsig::TsigKeyring,
    /// Bounds of the IXFR journal ([`crate::journal`]).
    pub journal: crate::journal::JournalLimits,
    /// Response rate limiting on UDP; `None` = off.
    pub rate_limit: Option<RateLimitConfig>,
    /// Address of the HTTP metrics and health endpoint; `None` = off.
    pub metrics_listen: Option<SocketAddr>,
    /// Answer common UDP queries with [`crate::fastpath`] (default on; byte-identical to the
    /// hickory path). The default can be turned off with the environment variable
    /// `ALTODISC_UDP_FASTPATH=0`, so `bench/responder` can measure both paths with one binary.
    pub udp_fast_path: bool,
    /// Receive and send UDP datagrams in batches, one `recvmmsg`/`sendmmsg` per batch (Linux;
    /// default on, elsewhere ignored). Answers are the same either way; the default can be
    /// turned off with `ALTODISC_UDP_BATCH=0`, so `bench/responder` can measure what it buys.
    pub udp_batch: bool,
    /// Adaptive busy polling of each UDP socket (batched loop only, see `udp_batch`): while
    /// queries arrive at least ten times per this interval and the loop keeps up with them (its
    /// receives return one datagram, not a queue), a receive loop that found its socket empty
    /// keeps polling it for up to this long before it sleeps, which saves the wake-up latency at
    /// the price of CPU time (at most one polling loop per socket). Zero turns it off.
    /// Default [`DEFAULT_UDP_BUSY_POLL`] (off).
    pub udp_busy_poll: Duration,
    /// One UDP socket per worker (`SO_REUSEPORT`, Linux) instead of one shared by all workers;
    /// the kernel then hashes each client address to one socket. Off by default; on with the
    /// environment variable `ALTODISC_UDP_REUSEPORT=1`, so `bench/responder` can compare both.
    pub udp_reuseport: bool,
}

/// Default of [`ServeOptions::udp_busy_poll`]: off. A polling loop keeps one CPU at 99–100 %
/// at a steady 20k queries per second where NSD uses a third of one, so polling is an opt-in
/// for latency-critical deployments that can spare the CPU ([`SUGGESTED_UDP_BUSY_POLL`]).
pub const DEFAULT_UDP_BUSY_POLL: Duration = Duration::ZERO;

/// Budget suggested to those who opt in to busy polling: polls of up to 1 ms, from 10,000
/// queries per second on a socket (below that rate the server sleeps between queries).
pub const SUGGESTED_UDP_BUSY_POLL: Duration = Duration::from_millis(1);

/// Largest [`ServeOptions::udp_workers`] accepted from a config or the command line: NSD caps
/// `server-count` far lower in practice; more loops than that only wait on the same socket.
pub const MAX_WORKERS: usize = 1024;

/// Default of [`ServeOptions::tcp_query_timeout`]: a query fits one or two TCP segments, so
/// even a lost segment (a retransmission after about 1 s) completes well within it.
pub const DEFAULT_TCP_QUERY_TIMEOUT: Duration = Duration::from_secs(3);

/// Default of [`ServeOptions::max_tcp_connections_per_source`]: a quarter of the default
/// total, so one source cannot take every slot, and a resolver farm behind one address still
/// has room.
pub const DEFAULT_MAX_TCP_CONNECTIONS_PER_SOURCE: usize = 64;

/// Longest idle time between TCP queries once three quarters of the slots are taken.
pub const TCP_PRESSURE_IDLE: Duration = tcp::PRESSURE_IDLE;

/// Default of [`ServeOptions::shutdown_grace`].
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Largest accepted [`ServeOptions::udp_busy_poll`] from a config or the command line, in
/// microseconds (one second): polling longer than that between queries only burns CPU.
pub const MAX_UDP_BUSY_POLL_US: u64 = 1_000_000;

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            listen: Vec::new(),
            tcp_idle_timeout: Duration::from_secs(10),
            tcp_query_timeout: DEFAULT_TCP_QUERY_TIMEOUT,
            max_tcp_connections: 256,
            max_tcp_connections_per_source: DEFAULT_MAX_TCP_CONNECTIONS_PER_SOURCE,
            metrics_max_connections: crate::http::DEFAULT_MAX_CONNECTIONS,
            metrics_max_connections_per_source: crate::http::DEFAULT_MAX_PER_SOURCE,
            metrics_header_timeout: crate::http::DEFAULT_HEADER_TIMEOUT,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            udp_workers: std::thread::available_parallelism().map_or(1, usize::from),
            transfer_acl: TransferAcl::default(),
            tsig: crate::tsig::TsigKeyring::default(),
            journal: crate::journal::JournalLimits::default(),
            rate_limit: None,
            metrics_listen: None,
            udp_fast_path: std::env::var_os("ALTODISC_UDP_FASTPATH").is_none_or(|v| v != "0"),
            udp_batch: std::env::var_os("ALTODISC_UDP_BATCH").is_none_or(|v| v != "0"),
            udp_busy_poll: DEFAULT_UDP_BUSY_POLL,
            udp_reuseport: std::env::var_os("ALTODISC_UDP_REUSEPORT").is_some_and(|v| v == "1"),
        }
    }
}

/// A running responder.
pub struct Responder {
    ctx: Arc<Ctx>,
    local_addrs: Vec<SocketAddr>,
    metrics_addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    shutdown_grace: Duration,
    tasks: JoinSet<()>,
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responder")
            .field("local_addrs", &self.local_addrs)
            .field("metrics_addr", &self.metrics_addr)
            .finish_non_exhaustive()
    }
}

/// How many random ports to try when `:0` asks for "any port" and the port the UDP socket got is
/// already taken for TCP by someone else.
const ANY_PORT_ATTEMPTS: usize = 32;

/// Receive and send buffer asked for on every UDP socket, as NSD does (1 MiB each; Linux doubles
/// the figure for its bookkeeping, and caps it at `net.core.rmem_max`/`wmem_max` unless the
/// process may force it). The usual default, 208 KiB, holds about 200 small queries (each costs
/// about a kilobyte of buffer): at 20k queries per second a stall of the server's CPU longer than
/// about 10 ms (a busy host preempting the VM, a page fault storm) overflowed it and dropped
/// queries in `bench/responder`, where NSD, with its larger buffer, lost none.
#[cfg(any(target_os = "linux", target_os = "android"))]
const UDP_SOCKET_BUFFER: usize = 1 << 20;

/// Enlarges the socket buffers of `socket` to [`UDP_SOCKET_BUFFER`]: forced when the process has
/// `CAP_NET_ADMIN`, else as far as the system's maximum allows. Best effort: a refusal is logged
/// and the socket keeps its default size.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn enlarge_udp_buffers(socket: &UdpSocket) {
    use nix::sys::socket::{setsockopt, sockopt};
    let size = UDP_SOCKET_BUFFER;
    let receive = setsockopt(socket, sockopt::RcvBufForce, &size)
        .or_else(|_| setsockopt(socket, sockopt::RcvBuf, &size));
    let send = setsockopt(socket, sockopt::SndBufForce, &size)
        .or_else(|_| setsockopt(socket, sockopt::SndBuf, &size));
    for (option, result) in [("SO_RCVBUF", receive), ("SO_SNDBUF", send)] {
        if let Err(error) = result {
            debug!(%error, option, size, "UDP socket buffer left at its default size");
        }
    }
}

/// Length of the queue of completed TCP handshakes waiting for the accept loop (Linux caps it
/// at `net.core.somaxconn`, 4096 by default). The accept loop takes connections as fast as it
/// can, but a flood of connections can outrun it for a moment; a full queue drops SYNs, and a
/// client whose SYN was dropped waits a whole second before trying again.
const TCP_BACKLOG: u32 = 4096;

/// A TCP listener on `addr` with a [`TCP_BACKLOG`]-long queue (tokio's `bind` asks for 1024).
fn tcp_listener(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As tokio's `bind` does on Unix: a restart may bind while old connections are in TIME_WAIT.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(TCP_BACKLOG)
}

/// A UDP socket on `addr` with `SO_REUSEPORT`, so that each worker can have its own socket on
/// the same address (the kernel spreads datagrams over them by the client's address and port).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn reuseport_udp(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    use nix::sys::socket::{
        AddressFamily, SockFlag, SockType, SockaddrStorage, bind, setsockopt, socket, sockopt,
    };
    use std::os::fd::AsRawFd;
    let family = if addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let fd = socket(
        family,
        SockType::Datagram,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    setsockopt(&fd, sockopt::ReusePort, &true)?;
    bind(fd.as_raw_fd(), &SockaddrStorage::from(addr))?;
    let socket = UdpSocket::from_std(std::net::UdpSocket::from(fd))?;
    enlarge_udp_buffers(&socket);
    Ok(socket)
}

/// Binds UDP and TCP on the same address. For port 0 the kernel picks the UDP port, and the TCP
/// listener must take the same number: that TCP port can already be in use by an unrelated
/// socket, so a fresh pair is tried (a bounded number of times) instead of failing.
async fn bind_udp_and_tcp(
    addr: SocketAddr,
    reuseport: bool,
) -> Result<(SocketAddr, UdpSocket, TcpListener), ResponderError> {
    let bind_err = |source| ResponderError::Bind { addr, source };
    let mut attempt = 0;
    loop {
        attempt += 1;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let udp = if reuseport {
            reuseport_udp(addr).map_err(bind_err)?
        } else {
            let udp = UdpSocket::bind(addr).await.map_err(bind_err)?;
            enlarge_udp_buffers(&udp);
            udp
        };
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let udp = {
            let _ = reuseport;
            UdpSocket::bind(addr).await.map_err(bind_err)?
        };
        let bound = udp.local_addr().map_err(bind_err)?;
        match tcp_listener(bound) {
            Ok(tcp) => return Ok((bound, udp, tcp)),
            Err(e)
                if addr.port() == 0
                    && e.kind() == std::io::ErrorKind::AddrInUse
                    && attempt < ANY_PORT_ATTEMPTS => {}
            Err(e) => return Err(bind_err(e)),
        }
    }
}

/// The one-datagram UDP loops: `workers` tasks over `sockets` (one shared socket, or one each
/// with `SO_REUSEPORT`).
fn spawn_udp_tasks(
    tasks: &mut JoinSet<()>,
    sockets: Vec<UdpSocket>,
    ctx: &Arc<Ctx>,
    shutdown: &watch::Receiver<bool>,
    workers: usize,
) {
    let sockets: Vec<Arc<UdpSocket>> = sockets.into_iter().map(Arc::new).collect();
    for worker in 0..workers {
        if let Some(udp) = sockets.get(worker % sockets.len().max(1)) {
            tasks.spawn(udp_loop(udp.clone(), ctx.clone(), shutdown.clone()));
        }
    }
}

/// The batched UDP loops (see [`udp::udp_batch_loop`]): `workers` threads of the runtime's
/// blocking pool over `sockets` (one shared socket, or one each with `SO_REUSEPORT`), made
/// blocking first. A socket's loops share one busy-poll token (at most one polls it at a time).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn spawn_udp_threads(
    tasks: &mut JoinSet<()>,
    sockets: Vec<UdpSocket>,
    ctx: &Arc<Ctx>,
    shutdown: &watch::Receiver<bool>,
    workers: usize,
    options: &ServeOptions,
) -> std::io::Result<()> {
    let mut shared = Vec::new();
    for socket in sockets {
        let socket = socket.into_std()?;
        udp::blocking(&socket)?;
        shared.push((Arc::new(socket), busy_poll::PollToken::default()));
    }
    let runtime = tokio::runtime::Handle::current();
    for worker in 0..workers {
        let Some((socket, token)) = shared.get(worker % shared.len().max(1)).cloned() else {
            continue;
        };
        let (ctx, shutdown, runtime) = (ctx.clone(), shutdown.clone(), runtime.clone());
        let busy_poll = options.udp_busy_poll;
        tasks.spawn_blocking(move || {
            udp::udp_batch_loop(&socket, &ctx, &runtime, &shutdown, &token, busy_poll);
        });
    }
    Ok(())
}

impl Responder {
    /// Binds every address (UDP and TCP on the same port; port 0 picks one) and starts serving
    /// `index`. Must be called inside a tokio runtime. Nothing is served unless every address
    /// binds.
    ///
    /// # Errors
    /// [`ResponderError::Bind`] when an address cannot be bound.
    pub async fn start(index: ZoneIndex, options: &ServeOptions) -> Result<Self, ResponderError> {
        let journal = crate::journal::Journal::open(options.journal.clone(), &index);
        let handler = ZoneRequestHandler::new(Arc::new(ArcSwap::from_pointee(index)));
        let metrics = Arc::new(Metrics::default());
        metrics.set_loaded(true);
        let ctx = Arc::new(Ctx {
            handler,
            metrics,
            acl: options.transfer_acl.clone(),
            tsig: options.tsig.clone(),
            journal,
            rrl: options.rate_limit.as_ref().map(RateLimiter::new),
            fast_path: options.udp_fast_path,
            refusal_log: LogLimiter::new(REFUSAL_LOG_INTERVAL),
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let table = tcp::Table::new(
            tcp::TcpLimits {
                connections: options.max_tcp_connections,
                per_source: options.max_tcp_connections_per_source,
                idle_timeout: options.tcp_idle_timeout,
                query_timeout: options.tcp_query_timeout,
            },
            ctx.metrics.clone(),
        );
        let workers = options.udp_workers.clamp(1, MAX_WORKERS);
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let reuseport = options.udp_reuseport && workers > 1;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let reuseport = false;
        let mut sockets = Vec::new();
        for &addr in &options.listen {
            let (bound, udp, tcp) = bind_udp_and_tcp(addr, reuseport).await?;
            let mut udp = vec![udp];
            // With SO_REUSEPORT, a socket per further worker on the port the first one got.
            #[cfg(any(target_os = "linux", target_os = "android"))]
            while reuseport && udp.len() < workers {
                let more = reuseport_udp(bound).map_err(|source| ResponderError::Bind {
                    addr: bound,
                    source,
                })?;
                udp.push(more);
            }
            sockets.push((bound, udp, tcp));
        }
        let metrics_listener = match options.metrics_listen {
            Some(addr) => {
                let bind_err = |source| ResponderError::Bind { addr, source };
                Some(TcpListener::bind(addr).await.map_err(bind_err)?)
            }
            None => None,
        };
        let mut tasks = JoinSet::new();
        let mut metrics_addr = None;
        if let Some(listener) = metrics_listener {
            metrics_addr = listener.local_addr().ok();
            tasks.spawn(crate::http::serve_metrics(
                listener,
                ctx.metrics.clone(),
                ctx.handler.index().clone(),
                crate::http::HttpLimits {
                    connections: options.metrics_max_connections,
                    per_source: options.metrics_max_connections_per_source,
                    header_timeout: options.metrics_header_timeout,
                },
                shutdown_rx.clone(),
            ));
        }
        let mut local_addrs = Vec::new();
        for (bound, udps, tcp) in sockets {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            if options.udp_batch {
                spawn_udp_threads(&mut tasks, udps, &ctx, &shutdown_rx, workers, options).map_err(
                    |source| ResponderError::Bind {
                        addr: bound,
                        source,
                    },
                )?;
            } else {
                spawn_udp_tasks(&mut tasks, udps, &ctx, &shutdown_rx, workers);
            }
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            spawn_udp_tasks(&mut tasks, udps, &ctx, &shutdown_rx, workers);
            tasks.spawn(tcp::accept_loop(
                tcp,
                ctx.clone(),
                table.clone(),
                shutdown_rx.clone(),
            ));
            local_addrs.push(bound);
        }
        Ok(Self {
            ctx,
            local_addrs,
            metrics_addr,
            shutdown,
            shutdown_grace: options.shutdown_grace,
            tasks,
        })
    }

    /// The bound addresses (with the ports picked for port 0).
    #[must_use]
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// The bound address of the metrics endpoint, if configured.
    #[must_use]
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The counters (reloads are counted by the caller, which decides about them).
    #[must_use]
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.ctx.metrics
    }

    /// The zones served now.
    #[must_use]
    pub fn current(&self) -> Arc<ZoneIndex> {
        self.ctx.handler.index().load_full()
    }

    /// Replaces the served zones atomically; in-flight queries finish on the old ones. Per-zone
    /// counters carry over. Returns the previous zones (e.g. to decide what to NOTIFY).
    pub fn reload(&self, mut index: ZoneIndex) -> Arc<ZoneIndex> {
        let old = self.current();
        index.carry_stats_from(&old);
        let old = self.ctx.handler.index().swap(Arc::new(index));
        self.ctx.journal.record(&old, &self.current());
        old
    }

    /// Stops receiving and accepting, closes idle connections, lets the queries being answered
    /// finish for up to [`ServeOptions::shutdown_grace`], then closes whatever is left, and
    /// returns: within the grace period plus a moment, whatever clients do.
    ///
    /// # Errors
    /// None today; the signature leaves room for transport errors.
    pub async fn shutdown(mut self) -> Result<(), NetError> {
        let _ = self.shutdown.send(true);
        let graceful = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(self.shutdown_grace, graceful)
            .await
            .is_err()
        {
            warn!(
                grace_ms = self.shutdown_grace.as_millis(),
                "shutdown: connections still busy after the grace period are closed"
            );
            // Aborting an accept loop drops its set of connections, which aborts them too.
            self.tasks.abort_all();
            while self.tasks.join_next().await.is_some() {}
        }
        Ok(())
    }
}

/// What the socket loops share.
#[derive(Debug)]
struct Ctx {
    handler: ZoneRequestHandler,
    metrics: Arc<Metrics>,
    acl: TransferAcl,
    tsig: crate::tsig::TsigKeyring,
    journal: crate::journal::Journal,
    rrl: Option<RateLimiter>,
    fast_path: bool,
    refusal_log: LogLimiter,
}

/// Interval of the rate-limited log lines about refused clients.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Lets one log line through per interval and counts the ones it holds back, so that a client
/// cannot flood the log by repeating a refused request.
#[derive(Debug)]
pub(crate) struct LogLimiter {
    interval: Duration,
    state: Mutex<(Option<Instant>, u64)>,
}

impl LogLimiter {
    pub(crate) fn new(interval: Duration) -> Self {
        Self {
            interval,
            state: Mutex::new((None, 0)),
        }
    }

    /// `Some(n)`: log now, mentioning the `n` events not logged since the previous line;
    /// `None`: counted, not logged.
    pub(crate) fn admit(&self) -> Option<u64> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (last, suppressed) = &mut *state;
        let now = Instant::now();
        if last.is_some_and(|t| now.saturating_duration_since(t) < self.interval) {
            *suppressed = suppressed.saturating_add(1);
            return None;
        }
        *last = Some(now);
        Some(std::mem::take(suppressed))
    }
}

/// Answers one message: `None` when nothing must be sent (a response, or an unreadable header).
async fn answer(
    ctx: &Ctx,
    message: &[u8],
    peer: SocketAddr,
    protocol: Protocol,
) -> Option<Vec<u8>> {
    let started = Instant::now();
    match Request::from_bytes(message.to_vec(), peer, protocol) {
        // Never answer responses: that is how reflection loops start.
        Ok(request) if request.metadata.message_type == MessageType::Response => None,
        Ok(request) => match crate::xfr::tsig_gate(&ctx.tsig, &ctx.metrics, message, peer) {
            Err(refusal) => refusal,
            Ok(mut signer) => {
                let reply = match crate::xfr::transfer_query(&request) {
                    // IXFR over UDP (RFC 1995 §2); AXFR over UDP is refused there too.
                    Some(q) if protocol == Protocol::Udp => {
                        let key = signer.as_ref().map(|s| s.key().name().clone());
                        let limit = crate::xfr::udp_limit(request.edns.as_ref());
                        let (rcode, out) =
                            transfer(ctx, &request, message, q, key.as_ref(), Some(limit));
                        ctx.metrics.query(
                            Transport::Udp,
                            Some(q.query_type()),
                            rcode,
                            started.elapsed(),
                        );
                        out.into_iter().next()?
                    }
                    _ => respond(ctx, &request, started).await?,
                };
                if protocol == Protocol::Udp {
                    let limit = crate::xfr::udp_limit(request.edns.as_ref());
                    return crate::xfr::sign_udp(signer.as_mut(), reply, limit);
                }
                crate::xfr::sign_all(signer.as_mut(), vec![reply]).pop()
            }
        },
        Err(error) => {
            debug!(%peer, %error, "undecodable query");
            crate::handler::formerr(message)
        }
    }
}

/// Runs the handler on a parsed request and counts it.
async fn respond(ctx: &Ctx, request: &Request, started: Instant) -> Option<Vec<u8>> {
    let slot = CollectResponse::default();
    let info = ctx
        .handler
        .handle_request::<_, TokioTime>(request, slot.clone())
        .await;
    let qtype = request
        .queries
        .queries()
        .first()
        .map(hickory_proto::op::LowerQuery::query_type);
    let transport = if request.protocol() == Protocol::Tcp {
        Transport::Tcp
    } else {
        Transport::Udp
    };
    ctx.metrics
        .query(transport, qtype, info.response_code, started.elapsed());
    slot.take()
}

/// The replies to one TCP message, and whether the connection ends after them.
struct TcpAnswer {
    replies: Vec<Vec<u8>>,
    /// After a message that does not decode, the length prefixes of the stream can no longer be
    /// trusted (RFC 7766 §8 has no way to find the next message): the connection is closed
    /// after the FORMERR, which also frees the slot of a client that sends garbage.
    close: bool,
}

/// [`answer`] for TCP, where a zone transfer takes several messages.
async fn answer_tcp(ctx: &Ctx, message: &[u8], peer: SocketAddr) -> TcpAnswer {
    let started = Instant::now();
    let done = |replies| TcpAnswer {
        replies,
        close: false,
    };
    let request = match Request::from_bytes(message.to_vec(), peer, Protocol::Tcp) {
        Ok(r) if r.metadata.message_type == MessageType::Response => return done(Vec::new()),
        Ok(r) => r,
        Err(error) => {
            debug!(%peer, %error, "undecodable query");
            return TcpAnswer {
                replies: crate::handler::formerr(message).into_iter().collect(),
                close: true,
            };
        }
    };
    let mut signer = match crate::xfr::tsig_gate(&ctx.tsig, &ctx.metrics, message, peer) {
        Ok(signer) => signer,
        Err(refusal) => return done(refusal.into_iter().collect()),
    };
    let key = signer.as_ref().map(|s| s.key().name().clone());
    if let Some(q) = crate::xfr::transfer_query(&request) {
        let (rcode, out) = transfer(ctx, &request, message, q, key.as_ref(), None);
        ctx.metrics.query(
            Transport::Tcp,
            Some(q.query_type()),
            rcode,
            started.elapsed(),
        );
        return done(crate::xfr::sign_all(signer.as_mut(), out));
    }
    let reply = respond(ctx, &request, started).await.into_iter().collect();
    done(crate::xfr::sign_all(signer.as_mut(), reply))
}

/// A zone transfer: [`crate::xfr::serve_transfer`] on the zones and journal of now.
fn transfer(
    ctx: &Ctx,
    request: &Request,
    wire: &[u8],
    query: &Query,
    key: Option<&hickory_proto::rr::Name>,
    udp_limit: Option<usize>,
) -> (ResponseCode, Vec<Vec<u8>>) {
    let index = ctx.handler.index().load_full();
    let c = crate::xfr::TransferCtx {
        acl: &ctx.acl,
        index: &index,
        journal: &ctx.journal,
        metrics: &ctx.metrics,
        refusal_log: &ctx.refusal_log,
    };
    let peer = request.src();
    crate::xfr::serve_transfer(&c, request, wire, query, peer, key, udp_limit)
}

async fn udp_loop(socket: Arc<UdpSocket>, ctx: Arc<Ctx>, mut shutdown: watch::Receiver<bool>) {
    let mut buf = vec![0u8; MAX_UDP_QUERY];
    // Common queries are answered by the allocation-free fast path; the rest by hickory.
    let mut fast = FastPath::new();
    let mut reply = Vec::with_capacity(usize::from(crate::handler::MAX_UDP_PAYLOAD));
    let running = RunningWorker::start(&ctx.metrics);
    let mut failures = ReceiveFailures::default();
    loop {
        let (len, peer) = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok(x) => {
                    failures.received();
                    x
                }
                Err(error) => match failures.failed(&error) {
                    Next::Retry => continue,
                    Next::RetryAfterPause => {
                        tokio::time::sleep(receive_failure::RETRY_PAUSE).await;
                        continue;
                    }
                    Next::Stop => {
                        running.stop_failed(socket.local_addr().ok(), &error);
                        return;
                    }
                },
            },
            _ = shutdown.changed() => return,
        };
        // Port 0 cannot be answered (and is a spoofing tell).
        if peer.port() == 0 {
            continue;
        }
        let Some(message) = buf.get(..len) else {
            continue;
        };
        let started = Instant::now();
        let done = ctx
            .fast_path
            .then(|| fast.answer(ctx.handler.index(), message, &mut reply))
            .flatten();
        if let Some(done) = done {
            ctx.metrics.query(
                Transport::Udp,
                Some(done.qtype),
                done.rcode,
                started.elapsed(),
            );
        } else {
            let Some(slow) = answer(&ctx, message, peer, Protocol::Udp).await else {
                continue;
            };
            reply = slow;
        }
        if let Some(rrl) = &ctx.rrl {
            let action = rrl.check(peer.ip());
            ctx.metrics.rrl(action);
            match action {
                RrlAction::Pass => {}
                RrlAction::Slip => match slip_response(message, &reply) {
                    Some(tc) => reply = tc,
                    None => continue,
                },
                _ => continue,
            }
        }
        if let Err(error) = socket.send_to(&reply, peer).await {
            debug!(%peer, %error, "UDP send failed");
        }
    }
}

/// FORMERR for a message whose header is readable (RFC 1035 §4.1.1); nothing otherwise, and
/// nothing for a message that is itself a response.
fn formerr(message: &[u8]) -> Option<Vec<u8>> {
    let id = message.get(..2)?;
    let flags = *message.get(2)?;
    if flags & 0x80 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(12);
    out.extend_from_slice(id);
    // QR=1, the query's opcode and RD; RCODE 1 (FORMERR).
    out.push(0x80 | (flags & 0x79));
    out.push(1);
    out.extend_from_slice(&[0; 8]);
    Some(out)
}

/// Collects the encoded response of one request (the handler answers exactly once): the UDP
/// path's encoder, public so the fast-path equivalence test compares against the same octets.
#[derive(Clone, Default)]
pub struct CollectResponse(Arc<Mutex<Option<Vec<u8>>>>);

impl CollectResponse {
    /// The encoded response, once the handler has sent it (`None` before, or after a take).
    pub fn take(&self) -> Option<Vec<u8>> {
        self.0.lock().ok().and_then(|mut s| s.take())
    }
}

#[async_trait::async_trait]
impl ResponseHandler for CollectResponse {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a hickory_proto::rr::Record> + Send + 'a,
            impl Iterator<Item = &'a hickory_proto::rr::Record> + Send + 'a,
            impl Iterator<Item = &'a hickory_proto::rr::Record> + Send + 'a,
            impl Iterator<Item = &'a hickory_proto::rr::Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        // The handler has already made the response fit the UDP limit (see `handler`), so no
        // size cap here: hickory's own cap would cut RRsets in half instead of setting TC.
        let (info, buf) = crate::handler::encode_response(response)?;
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(buf);
        }
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[tokio::test]
    async fn udp_sockets_get_large_buffers() {
        use nix::sys::socket::{getsockopt, sockopt};
        let limit = |path: &str| -> usize {
            std::fs::read_to_string(path)
                .ok()
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0)
        };
        let plain = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let default = getsockopt(&plain, sockopt::RcvBuf).unwrap();
        let (_, udp, _) = bind_udp_and_tcp(SocketAddr::from(([127, 0, 0, 1], 0)), false)
            .await
            .unwrap();
        // Linux reports twice what was set; without CAP_NET_ADMIN it caps what is set at the
        // system maximum (default 208 KiB), so even then the buffer grows.
        let receive = getsockopt(&udp, sockopt::RcvBuf).unwrap();
        let send = getsockopt(&udp, sockopt::SndBuf).unwrap();
        let rmem_max = limit("/proc/sys/net/core/rmem_max");
        let wmem_max = limit("/proc/sys/net/core/wmem_max");
        assert!(
            receive >= UDP_SOCKET_BUFFER.min(rmem_max),
            "SO_RCVBUF {receive}"
        );
        assert!(send >= UDP_SOCKET_BUFFER.min(wmem_max), "SO_SNDBUF {send}");
        assert!(receive > default, "SO_RCVBUF {receive}, default {default}");
    }

    #[test]
    fn log_limiter_lets_one_line_per_interval_and_counts_the_rest() {
        let log = LogLimiter::new(Duration::from_millis(200));
        assert_eq!(log.admit(), Some(0));
        for _ in 0..213 {
            assert_eq!(log.admit(), None);
        }
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(log.admit(), Some(213));
        assert_eq!(log.admit(), None);
    }

    #[test]
    fn formerr_keeps_id_opcode_and_rd() {
        let q = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xff];
        assert_eq!(
            formerr(&q).unwrap(),
            [0x12, 0x34, 0x81, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(formerr(&[0x12]), None);
        // A response is never answered.
        assert_eq!(formerr(&[0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0]), None);
    }
}
