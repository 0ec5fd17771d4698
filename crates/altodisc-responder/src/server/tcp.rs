//! DNS over TCP (RFC 7766) that slow or idle clients cannot starve.
//!
//! * The accept loop never waits for a free slot: it accepts every connection at once (so the
//!   kernel's accept queue never fills up) and then decides. A source at its own limit
//!   ([`TcpLimits::per_source`]) makes room among its own connections (by the rules below; if
//!   all of them are being answered, the new one is closed at once); when the table is full,
//!   the connection that
//!   has been idle longest is closed to make room (RFC 7766 §6.2.3: servers may close idle
//!   connections under resource pressure, as NSD and Knot do), else the one that has spent
//!   longest waiting for its first query, reading a query or having its reply read (so a
//!   flood of connections that never send, or send slowly, loses its oldest first, not the
//!   client that connected last and sent its query at once), then one accepted but not yet
//!   started; within each of these, the source that holds the most connections loses first. A
//!   connection whose query is being answered is never closed. Only when every slot is
//!   answering is the new one closed.
//! * Each query has one deadline for the whole message ([`TcpLimits::query_timeout`]): from its
//!   first octet to the last octet of its body, whatever the client's pace, so a client that
//!   dribbles one octet at a time holds its slot for that long at most; each reply message must
//!   be taken by the client within the same time.
//! * Between queries a connection may stay idle for [`TcpLimits::idle_timeout`], and for at most
//!   [`PRESSURE_IDLE`] once three quarters of the slots are taken.
//! * On shutdown, idle and reading connections close at once; a query being answered finishes.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinSet};
use tracing::{debug, info, warn};

use super::{Ctx, LogLimiter, answer_tcp};
use crate::metrics::{Metrics, TcpShed};

/// Longest idle time between queries once three quarters of the connection slots are taken.
pub(crate) const PRESSURE_IDLE: Duration = Duration::from_secs(1);

/// How long the accept loop pauses after a failed accept (out of file descriptors, typically),
/// so that it does not spin; the connections already open keep being served meanwhile.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(20);

/// The TCP limits (from [`super::ServeOptions`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TcpLimits {
    /// Most connections over all listeners.
    pub(crate) connections: usize,
    /// Most connections from one source (an IPv4 address or an IPv6 /64); 0 = no own limit.
    pub(crate) per_source: usize,
    /// Idle time allowed between queries.
    pub(crate) idle_timeout: Duration,
    /// Time for a whole query message, and for each reply message to be sent.
    pub(crate) query_timeout: Duration,
}

/// What a connection is doing, with the time it started doing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// Waiting for the first octet of the next query, after answering one.
    Idle = 0,
    /// Waiting for the first query, reading a query, or writing a reply the client is slow to
    /// take.
    Io = 1,
    /// Accepted, but its task has not run yet: closed for room only when no connection is idle
    /// or in I/O, so that a connection flood cannot push out a client whose query is waiting
    /// in the socket while the runtime is busy.
    New = 2,
    /// A query is being answered: never closed for room.
    Answering = 3,
}

/// A connection's [`Phase`] and its start (milliseconds since the table's epoch), in one atomic.
#[derive(Debug, Default)]
struct PhaseCell(AtomicU64);

impl PhaseCell {
    const SHIFT: u32 = 62;

    fn set(&self, phase: Phase, epoch: Instant) {
        let ms = u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        let ms = ms.min((1 << Self::SHIFT) - 1);
        self.0
            .store(((phase as u64) << Self::SHIFT) | ms, Ordering::Relaxed);
    }

    fn get(&self) -> (Phase, u64) {
        let v = self.0.load(Ordering::Relaxed);
        let phase = match v >> Self::SHIFT {
            0 => Phase::Idle,
            1 => Phase::Io,
            2 => Phase::New,
            _ => Phase::Answering,
        };
        (phase, v & ((1 << Self::SHIFT) - 1))
    }
}

/// Sources are counted per IPv4 address and per IPv6 /64 (one host usually has a whole /64).
fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => ip,
        IpAddr::V6(v6) => {
            let mut octets = v6.octets();
            if let Some(host) = octets.get_mut(8..) {
                host.fill(0);
            }
            IpAddr::from(octets)
        }
    }
}

#[derive(Debug)]
struct Slot {
    source: IpAddr,
    phase: Arc<PhaseCell>,
    abort: Option<AbortHandle>,
}

/// The open connections of all listeners.
#[derive(Debug)]
pub(crate) struct Table {
    limits: TcpLimits,
    epoch: Instant,
    open: AtomicUsize,
    inner: Mutex<TableInner>,
    shed_log: LogLimiter,
    room_log: LogLimiter,
    /// Where connections closed or refused are counted (`altodisc_tcp_connections_shed_total`).
    metrics: Arc<Metrics>,
}

#[derive(Debug, Default)]
struct TableInner {
    next_id: u64,
    slots: HashMap<u64, Slot>,
    per_source: HashMap<IpAddr, usize>,
}

/// Why a new connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    SourceLimit,
    AllAnswering,
}

/// An admitted connection: removes itself from the table when dropped (also when aborted).
#[derive(Debug)]
struct Admission {
    table: Arc<Table>,
    id: u64,
    phase: Arc<PhaseCell>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.table.remove(self.id);
    }
}

impl Table {
    pub(crate) fn new(limits: TcpLimits, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            limits: TcpLimits {
                connections: limits.connections.max(1),
                ..limits
            },
            epoch: Instant::now(),
            open: AtomicUsize::new(0),
            inner: Mutex::new(TableInner::default()),
            shed_log: LogLimiter::new(Duration::from_secs(10)),
            room_log: LogLimiter::new(Duration::from_secs(10)),
            metrics,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TableInner> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters more than refusing service would: keep going with what is there.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Open connections now.
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Admits a connection from `peer`, closing another one for room if the table is full.
    fn admit(self: &Arc<Self>, peer: SocketAddr) -> Result<Admission, Refusal> {
        let source = source_key(peer.ip());
        let mut inner = self.lock();
        let from_source = inner.per_source.get(&source).copied().unwrap_or(0);
        // A source at its own limit makes room among its own connections only, so a client that
        // shares an address with a flood still gets in, and the flood cannot push out anyone
        // else; the table at its limit makes room among all.
        let room_among = if self.limits.per_source != 0 && from_source >= self.limits.per_source {
            Some(source)
        } else if inner.slots.len() >= self.limits.connections {
            None
        } else {
            return Ok(self.insert(&mut inner, source));
        };
        // Longest idle first, then longest in I/O, then the oldest not yet started; never one
        // being answered. Within each, the source holding the most connections loses first: a
        // flood from many addresses still holds several per address, a client usually one.
        let victim = inner
            .slots
            .iter()
            .filter(|(_, slot)| room_among.is_none_or(|s| s == slot.source))
            .map(|(&id, slot)| {
                let (phase, since) = slot.phase.get();
                let held = inner.per_source.get(&slot.source).copied().unwrap_or(0);
                ((phase, std::cmp::Reverse(held), since), id)
            })
            .filter(|((phase, _, _), _)| *phase != Phase::Answering)
            .min()
            .map(|(_, id)| id);
        let Some(victim) = victim else {
            let (refusal, reason) = if room_among.is_some() {
                (Refusal::SourceLimit, TcpShed::PerSource)
            } else {
                (Refusal::AllAnswering, TcpShed::Full)
            };
            self.metrics.tcp_shed(reason);
            return Err(refusal);
        };
        if let Some(slot) = Self::take(&mut inner, victim) {
            self.open.fetch_sub(1, Ordering::Relaxed);
            self.metrics.tcp_shed(match slot.phase.get().0 {
                _ if room_among.is_some() => TcpShed::PerSource,
                Phase::Idle => TcpShed::Idle,
                _ => TcpShed::Slow,
            });
            if let Some(abort) = slot.abort {
                abort.abort();
            }
        }
        let admission = self.insert(&mut inner, source);
        drop(inner);
        // Many of these mean a flood, or limits too low for the load.
        if let Some(suppressed) = self.room_log.admit() {
            info!(
                %peer,
                open = self.open(),
                limit = self.limits.connections,
                per_source = self.limits.per_source,
                source_limit = room_among.is_some(),
                suppressed,
                "TCP connection closed to make room for a new one"
            );
        }
        Ok(admission)
    }

    fn insert(self: &Arc<Self>, inner: &mut TableInner, source: IpAddr) -> Admission {
        let id = inner.next_id;
        inner.next_id = inner.next_id.wrapping_add(1);
        let phase = Arc::new(PhaseCell::default());
        phase.set(Phase::New, self.epoch);
        inner.slots.insert(
            id,
            Slot {
                source,
                phase: phase.clone(),
                abort: None,
            },
        );
        *inner.per_source.entry(source).or_insert(0) += 1;
        self.open.fetch_add(1, Ordering::Relaxed);
        Admission {
            table: self.clone(),
            id,
            phase,
        }
    }

    /// Records the task serving connection `id`, so that it can be closed for room.
    fn set_abort(&self, id: u64, abort: AbortHandle) {
        match self.lock().slots.get_mut(&id) {
            Some(slot) => slot.abort = Some(abort),
            // Already closed for room before its task was registered.
            None => abort.abort(),
        }
    }

    fn remove(&self, id: u64) {
        let mut inner = self.lock();
        if Self::take(&mut inner, id).is_some() {
            self.open.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn take(inner: &mut TableInner, id: u64) -> Option<Slot> {
        let slot = inner.slots.remove(&id)?;
        if let Some(n) = inner.per_source.get_mut(&slot.source) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                inner.per_source.remove(&slot.source);
            }
        }
        Some(slot)
    }

    /// The idle timeout now: shorter once three quarters of the slots are taken.
    fn idle_timeout(&self) -> Duration {
        let near_full = self.open().saturating_mul(4) >= self.limits.connections.saturating_mul(3);
        if near_full {
            self.limits.idle_timeout.min(PRESSURE_IDLE)
        } else {
            self.limits.idle_timeout
        }
    }
}

/// Accepts connections on `listener` until `shutdown` turns true (see the module notes).
pub(crate) async fn accept_loop(
    listener: TcpListener,
    ctx: Arc<Ctx>,
    table: Arc<Table>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(error) => {
                    // EMFILE/ENFILE and the like: pause instead of spinning on the error.
                    debug!(%error, "TCP accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let admission = match table.admit(peer) {
            Ok(a) => a,
            Err(why) => {
                // Dropping the stream closes it: the client sees its connection end at once.
                if let Some(suppressed) = table.shed_log.admit() {
                    warn!(
                        %peer,
                        reason = ?why,
                        open = table.open(),
                        limit = table.limits.connections,
                        per_source = table.limits.per_source,
                        suppressed,
                        "TCP connection refused (limits: max_tcp_connections, per source)"
                    );
                }
                continue;
            }
        };
        let id = admission.id;
        let ctx = ctx.clone();
        let shutdown = shutdown.clone();
        let table_for_task = table.clone();
        let abort = connections.spawn(async move {
            let admission = admission;
            let _gauge = OpenGauge::new(&ctx.metrics);
            serve_connection(
                stream,
                peer,
                &ctx,
                &table_for_task,
                &admission.phase,
                shutdown,
            )
            .await;
        });
        table.set_abort(id, abort);
        while connections.try_join_next().is_some() {}
    }
    // Connections see the shutdown signal themselves; the caller bounds the wait.
    while connections.join_next().await.is_some() {}
}

/// Counts an open connection in the metrics for as long as it lives, also when its task is
/// aborted (closed for room, or at the end of the shutdown grace).
struct OpenGauge<'a>(&'a Metrics);

impl<'a> OpenGauge<'a> {
    fn new(metrics: &'a Metrics) -> Self {
        metrics.tcp_connection(true);
        Self(metrics)
    }
}

impl Drop for OpenGauge<'_> {
    fn drop(&mut self) {
        self.0.tcp_connection(false);
    }
}

/// What ended the wait for a query.
enum Read {
    Message(Vec<u8>),
    Closed,
}

/// Reads one length-prefixed message (RFC 7766 §8): the first octet within the idle timeout,
/// then the rest of the prefix and the body within one whole-message deadline.
async fn read_message(
    stream: &mut TcpStream,
    peer: SocketAddr,
    table: &Table,
    phase: &PhaseCell,
    limits: &TcpLimits,
    first_query: bool,
) -> Read {
    if !first_query {
        phase.set(Phase::Idle, table.epoch);
    }
    let mut len = [0u8; 2];
    let first = match tokio::time::timeout(table.idle_timeout(), stream.read(&mut len)).await {
        Ok(Ok(0) | Err(_)) => return Read::Closed,
        Ok(Ok(n)) => n,
        Err(_) => {
            debug!(%peer, "TCP idle timeout");
            table.metrics.tcp_shed(TcpShed::IdleTimeout);
            return Read::Closed;
        }
    };
    phase.set(Phase::Io, table.epoch);
    let whole = async {
        if let Some(rest) = len.get_mut(first..) {
            stream.read_exact(rest).await?;
        }
        let mut message = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut message).await?;
        Ok::<_, std::io::Error>(message)
    };
    match tokio::time::timeout(limits.query_timeout, whole).await {
        Ok(Ok(message)) => Read::Message(message),
        Ok(Err(_)) => Read::Closed,
        Err(_) => {
            debug!(%peer, "TCP query not complete within the query timeout");
            table.metrics.tcp_shed(TcpShed::Deadline);
            Read::Closed
        }
    }
}

async fn serve_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    ctx: &Ctx,
    table: &Table,
    phase: &PhaseCell,
    mut shutdown: watch::Receiver<bool>,
) {
    phase.set(Phase::Io, table.epoch);
    let _ = stream.set_nodelay(true);
    let limits = table.limits;
    let mut first_query = true;
    loop {
        let read = tokio::select! {
            r = read_message(&mut stream, peer, table, phase, &limits, first_query) => r,
            _ = shutdown.changed() => return,
        };
        let Read::Message(message) = read else {
            return;
        };
        first_query = false;
        phase.set(Phase::Answering, table.epoch);
        let answer = answer_tcp(ctx, &message, peer).await;
        if answer.replies.is_empty() {
            return;
        }
        phase.set(Phase::Io, table.epoch);
        for reply in answer.replies {
            let Ok(reply_len) = u16::try_from(reply.len()) else {
                warn!(%peer, "TCP response over 65535 octets dropped");
                return;
            };
            let mut framed = Vec::with_capacity(reply.len().saturating_add(2));
            framed.extend_from_slice(&reply_len.to_be_bytes());
            framed.extend_from_slice(&reply);
            match tokio::time::timeout(limits.query_timeout, stream.write_all(&framed)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return,
                Err(_) => {
                    debug!(%peer, "TCP reply not taken within the query timeout");
                    table.metrics.tcp_shed(TcpShed::Deadline);
                    return;
                }
            }
        }
        if answer.close || *shutdown.borrow() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(connections: usize, per_source: usize) -> TcpLimits {
        TcpLimits {
            connections,
            per_source,
            idle_timeout: Duration::from_secs(10),
            query_timeout: Duration::from_secs(2),
        }
    }

    fn new_table(limits: TcpLimits) -> Arc<Table> {
        Table::new(limits, Arc::default())
    }

    /// Connections shed for each reason so far: idle, slow, per source, full.
    fn shed(table: &Table) -> [u64; 4] {
        [
            TcpShed::Idle,
            TcpShed::Slow,
            TcpShed::PerSource,
            TcpShed::Full,
        ]
        .map(|r| table.metrics.tcp_shed_count(r))
    }

    fn peer(ip: &str, port: u16) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), port)
    }

    fn is_open(table: &Table, a: &Admission) -> bool {
        table.lock().slots.contains_key(&a.id)
    }

    #[test]
    fn a_source_at_its_limit_makes_room_among_its_own_connections() {
        let table = new_table(limits(100, 2));
        let a = table.admit(peer("192.0.2.1", 1)).unwrap();
        std::thread::sleep(Duration::from_millis(2));
        let b = table.admit(peer("192.0.2.1", 2)).unwrap();
        let other = table.admit(peer("192.0.2.2", 1)).unwrap();
        // The third from 192.0.2.1 closes that source's oldest, not the other source's.
        let c = table.admit(peer("192.0.2.1", 3)).unwrap();
        assert!(!is_open(&table, &a) && is_open(&table, &b) && is_open(&table, &other));
        assert_eq!(table.open(), 3);
        assert_eq!(
            shed(&table),
            [0, 0, 1, 0],
            "a closed for its source's limit"
        );
        // Both of its connections being answered: the new one is refused.
        b.phase.set(Phase::Answering, table.epoch);
        c.phase.set(Phase::Answering, table.epoch);
        assert_eq!(
            table.admit(peer("192.0.2.1", 4)).unwrap_err(),
            Refusal::SourceLimit
        );
        assert_eq!(shed(&table), [0, 0, 2, 0], "the new one refused");
        // IPv6 counts per /64.
        let e = table.admit(peer("2001:db8::1", 1)).unwrap();
        let f = table.admit(peer("2001:db8::2", 1)).unwrap();
        e.phase.set(Phase::Answering, table.epoch);
        f.phase.set(Phase::Answering, table.epoch);
        assert_eq!(
            table.admit(peer("2001:db8::ffff:1", 1)).unwrap_err(),
            Refusal::SourceLimit,
            "same /64"
        );
        let _g = table.admit(peer("2001:db8:0:1::1", 1)).unwrap();
        assert_eq!(table.open(), 6);
        drop(a);
        assert_eq!(table.open(), 6, "a was already closed");
    }

    #[test]
    fn full_table_closes_longest_idle_then_longest_io_never_answering() {
        let table = new_table(limits(3, 0));
        let a = table.admit(peer("192.0.2.1", 1)).unwrap();
        let b = table.admit(peer("192.0.2.1", 2)).unwrap();
        let c = table.admit(peer("192.0.2.1", 3)).unwrap();
        a.phase.set(Phase::Answering, table.epoch);
        b.phase.set(Phase::Io, table.epoch);
        std::thread::sleep(Duration::from_millis(5));
        c.phase.set(Phase::Idle, table.epoch);
        // c is the only idle one: it goes, though b has been in I/O longer.
        let d = table.admit(peer("192.0.2.1", 4)).unwrap();
        assert!(!table.lock().slots.contains_key(&c.id));
        assert_eq!(table.open(), 3);
        assert_eq!(shed(&table), [1, 0, 0, 0]);
        // With d answering, b (in I/O) is the only one that may go.
        d.phase.set(Phase::Answering, table.epoch);
        let e = table.admit(peer("192.0.2.1", 5)).unwrap();
        assert!(!table.lock().slots.contains_key(&b.id));
        assert_eq!(shed(&table), [1, 1, 0, 0]);
        e.phase.set(Phase::Answering, table.epoch);
        // a, d, e are answering: no room.
        assert_eq!(
            table.admit(peer("192.0.2.1", 6)).unwrap_err(),
            Refusal::AllAnswering
        );
        assert_eq!(shed(&table), [1, 1, 0, 1]);
        // Dropping an admission already closed for room does not count it twice.
        drop(c);
        drop(b);
        assert_eq!(table.open(), 3);
        drop(a);
        assert_eq!(table.open(), 2);
    }

    #[test]
    fn connections_not_yet_started_go_last() {
        let table = new_table(limits(2, 0));
        let a = table.admit(peer("192.0.2.1", 1)).unwrap();
        let b = table.admit(peer("192.0.2.1", 2)).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        b.phase.set(Phase::Io, table.epoch);
        // a is older, but has not started: b (in I/O) goes.
        let _c = table.admit(peer("192.0.2.1", 3)).unwrap();
        assert!(is_open(&table, &a) && !is_open(&table, &b));
    }

    #[test]
    fn the_source_holding_most_connections_loses_first() {
        let table = new_table(limits(4, 0));
        let client = table.admit(peer("192.0.2.9", 1)).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let flood: Vec<_> = (1..=3)
            .map(|port| table.admit(peer("192.0.2.1", port)).unwrap())
            .collect();
        for a in [&client].into_iter().chain(&flood) {
            a.phase.set(Phase::Io, table.epoch);
        }
        // The client has waited longest, but its source holds one connection, the flood three.
        let _next = table.admit(peer("192.0.2.2", 1)).unwrap();
        assert!(is_open(&table, &client));
        assert_eq!(flood.iter().filter(|a| !is_open(&table, a)).count(), 1);
    }

    #[test]
    fn idle_timeout_shrinks_near_the_limit() {
        let table = new_table(limits(4, 0));
        let _a = table.admit(peer("192.0.2.1", 1)).unwrap();
        let _b = table.admit(peer("192.0.2.1", 2)).unwrap();
        assert_eq!(table.idle_timeout(), Duration::from_secs(10));
        let _c = table.admit(peer("192.0.2.1", 3)).unwrap();
        assert_eq!(table.idle_timeout(), PRESSURE_IDLE);
    }
}
