//! A shared answer cache in front of any [`NaptrSource`] (batch mode, RFC 8686 §4.3: "DNS results
//! may be cached per TTL").
//!
//! Addresses in the same /24 share their R24, R16 and R8 names, so with this cache a batch sends
//! those queries once, however many addresses follow. Concurrent lookups of the same name wait
//! for one query (in-flight deduplication); the query belongs to the cache, not to the caller that
//! started it, so when xdom cancels that caller (a more specific name decided) the others keep
//! waiting on the same query instead of sending it again. Positive answers live for their TTL, negative ones for
//! the SOA negative TTL ([`DEFAULT_NEGATIVE_TTL`] when the server sent none); temporary failures
//! are never cached, so the xdom retry rule really asks again.

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use altodisc_proto::name::DomainName;
use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};
use tokio::time::Instant;

use crate::source::{LookupFailure, NaptrAnswer, NaptrLookup, NaptrSource, QueryTrace, Transport};
use crate::unaptr::UnaptrOutcome;

/// Lifetime of a negative answer that came without an SOA.
pub const DEFAULT_NEGATIVE_TTL: u32 = 30;

#[derive(Debug)]
struct Entry {
    /// The answer, or why there is none.
    result: Result<NaptrAnswer, LookupFailure>,
    /// RCODE, answer count and TTL of the query's last message, repeated in the one-line trace
    /// of every caller answered from the cache ([`cached_copy`]).
    last: Option<(Cow<'static, str>, usize, Option<u32>)>,
    /// The query's own trace, for the caller that started it: moved out once instead of copied
    /// (a copy of every query's trace was several allocations per address in a batch).
    trace: Mutex<Vec<QueryTrace>>,
    /// `None`: never reusable once finished (a temporary failure).
    expires: Option<Instant>,
}

impl Entry {
    fn new(lookup: NaptrLookup, expires: Option<Instant>) -> Self {
        Self {
            last: lookup
                .queries
                .last()
                .map(|q| (q.rcode.clone(), q.answers, q.ttl)),
            result: lookup.result,
            trace: Mutex::new(lookup.queries),
            expires,
        }
    }

    /// The lookup as the caller that started the query sees it: its real trace.
    fn take(&self) -> NaptrLookup {
        let queries =
            std::mem::take(&mut *self.trace.lock().unwrap_or_else(PoisonError::into_inner));
        NaptrLookup {
            result: self.result.clone(),
            queries,
        }
    }
}

/// One query to the inner source, owned by the cache rather than by the caller that started it.
///
/// Why not a `OnceCell` filled by the first caller: xdom drops the lookups of ladder names that
/// can no longer change its answer (RFC 8686 §3.5 "a fast answer"), so the caller that started a
/// shared query is routinely cancelled while other inputs of the batch still wait for that name.
/// With a caller-owned initialiser the next waiter had to send the query again — the batch then
/// sent R16/R8 names several times (tests/cli/xdom.rs saw 57–62 queries for at most 53). A
/// [`Shared`] future keeps the one query going for whoever still waits, and for later callers.
type Query = Shared<BoxFuture<'static, Arc<Entry>>>;

#[derive(Clone)]
struct Slot {
    /// Distinguishes a slot from its replacement when evicting.
    id: u64,
    query: Query,
    /// Looked up again since the last sweep (see [`MAX_ENTRIES`]). Read and written in the map
    /// only, under its lock (a clone handed to a waiter never looks at it).
    used: bool,
}

/// The map's key: the name's wire form in lower case (names compare case-insensitively, RFC
/// 4343 §3). Hashed in one piece with foldhash: the profile of a large batch showed SipHash
/// over `DomainName`'s byte-by-byte `Hash` as a visible share of each lookup.
type Key = Box<[u8]>;

/// Slots by [`Key`].
type SlotMap = HashMap<Key, Slot, foldhash::fast::RandomState>;

/// Writes the lower-case wire form of `name` into `buf` and returns it (a name has at most 255
/// octets, RFC 1035 §3.1; a longer one, which `DomainName` never holds, is copied).
fn key_of<'b>(name: &DomainName, buf: &'b mut [u8; 255]) -> Cow<'b, [u8]> {
    let wire = name.as_wire();
    match buf.get_mut(..wire.len()) {
        Some(dst) => {
            for (d, s) in dst.iter_mut().zip(wire) {
                *d = s.to_ascii_lowercase();
            }
            Cow::Borrowed(dst)
        }
        None => Cow::Owned(wire.to_ascii_lowercase()),
    }
}

/// What [`CachedSource::slot`] found.
enum Lookup {
    /// A finished entry that may be reused.
    Ready(Arc<Entry>),
    /// A query to wait for, and whether this caller started it.
    Wait(Slot, bool),
}

/// Entries kept before a sweep. A batch of millions of addresses would otherwise keep every R32
/// (R128) name, each looked up once, for its TTL: memory grows with the input. When the map
/// reaches this size, finished entries not looked up again since the previous sweep are dropped
/// (queries in flight always stay), so shared R24/R16/R8 names of the addresses being resolved
/// stay cached while one-off names go; memory is bounded by this many entries.
pub const MAX_ENTRIES: usize = 65_536;

/// Counters of a [`CachedSource`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Lookups passed to the inner source (queries actually sent).
    pub sent: u64,
    /// Lookups answered from the cache (including waits on an in-flight query).
    pub hits: u64,
}

/// Caches the answers of `S`, shared by every caller.
pub struct CachedSource<S> {
    inner: Arc<S>,
    slots: Mutex<SlotMap>,
    next_id: AtomicU64,
    sent: Arc<AtomicU64>,
    hits: AtomicU64,
}

impl<S> std::fmt::Debug for CachedSource<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedSource")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl<S> CachedSource<S> {
    /// Queries sent and cache hits so far.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            sent: self.sent.load(Ordering::Relaxed),
            hits: self.hits.load(Ordering::Relaxed),
        }
    }
}

impl<S: NaptrSource + 'static> CachedSource<S> {
    /// Wraps `inner`. `S: 'static` because a query outlives the caller that started it: callers
    /// are cancelled (xdom drops lookups it no longer needs) while others wait for the same
    /// query. Pass an `Arc` of the source to keep a handle on it.
    pub fn new(inner: S) -> Self {
        Self {
            inner: Arc::new(inner),
            slots: Mutex::new(SlotMap::default()),
            next_id: AtomicU64::new(0),
            sent: Arc::new(AtomicU64::new(0)),
            hits: AtomicU64::new(0),
        }
    }

    /// The wrapped source.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The slot for `name` and whether this caller started its query, or the finished entry
    /// itself when it may be reused (most lookups of a batch: the R24/R16/R8 names of the
    /// addresses of one /24). A finished slot that may not be reused (expired, or a temporary
    /// failure) is replaced by a new query; everything happens under one lock, so concurrent
    /// callers never start two queries for one name.
    fn slot(&self, name: &DomainName) -> Lookup {
        let mut buf = [0_u8; 255];
        let key = key_of(name, &mut buf);
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = slots.get_mut(&*key) {
            match slot.query.peek() {
                Some(e) if e.expires.is_some_and(|t| Instant::now() < t) => {
                    slot.used = true;
                    return Lookup::Ready(Arc::clone(e));
                }
                Some(_) => {}
                None => {
                    slot.used = true;
                    return Lookup::Wait(slot.clone(), false);
                }
            }
        }
        if slots.len() >= MAX_ENTRIES {
            slots.retain(|_, s| s.query.peek().is_none() || std::mem::take(&mut s.used));
        }
        let inner = Arc::clone(&self.inner);
        let sent = Arc::clone(&self.sent);
        let owned = name.clone();
        let query = async move {
            sent.fetch_add(1, Ordering::Relaxed);
            // `S`'s own lookup: `inner.lookup_naptr` would pick the `Arc<S>` forwarding impl,
            // one more boxed future per query sent.
            let lookup = S::lookup_naptr(&inner, &owned).await;
            let expires = lifetime(&lookup.result).map(|d| Instant::now() + d);
            Arc::new(Entry::new(lookup, expires))
        }
        .boxed()
        .shared();
        let slot = Slot {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            query,
            used: false,
        };
        slots.insert(Key::from(&*key), slot.clone());
        Lookup::Wait(slot, true)
    }

    /// The memo of U-NAPTR walks over this cache, for callers that always walk with the same
    /// wanted services and options (one batch run).
    pub(crate) fn walk_memo(&self) -> WalkMemo<'_> {
        WalkMemo {
            slots: &self.slots,
            hits: &self.hits,
            map: Mutex::new(MemoMap::default()),
        }
    }

    /// Removes the slot of `name` if it is still the one numbered `id`.
    fn evict(&self, name: &DomainName, id: u64) {
        let mut buf = [0_u8; 255];
        let key = key_of(name, &mut buf);
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if slots.get(&*key).is_some_and(|s| s.id == id) {
            slots.remove(&*key);
        }
    }
}

fn lifetime(result: &Result<NaptrAnswer, LookupFailure>) -> Option<Duration> {
    let secs = match result {
        Ok(a) => a.ttl,
        Err(LookupFailure::NxDomain { negative_ttl } | LookupFailure::NoData { negative_ttl }) => {
            negative_ttl.unwrap_or(DEFAULT_NEGATIVE_TTL)
        }
        Err(_) => return None,
    };
    Some(Duration::from_secs(u64::from(secs)))
}

#[async_trait::async_trait]
impl<S: NaptrSource + 'static> NaptrSource for CachedSource<S> {
    async fn lookup_naptr(&self, name: &DomainName) -> NaptrLookup {
        self.get(name).await
    }
}

/// The crate's walks call the cache directly: no boxed future per lookup.
impl<S: NaptrSource + 'static> crate::source::Lookup for CachedSource<S> {
    fn lookup<'s>(&'s self, name: &'s DomainName) -> impl Future<Output = NaptrLookup> + Send + 's {
        self.get(name)
    }
}

impl<S: NaptrSource + 'static> CachedSource<S> {
    /// [`NaptrSource::lookup_naptr`].
    async fn get(&self, name: &DomainName) -> NaptrLookup {
        let (slot, started) = match self.slot(name) {
            Lookup::Ready(entry) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return cached_copy(name, &entry);
            }
            Lookup::Wait(slot, started) => (slot, started),
        };
        // The slot's own handle is awaited (not a clone of it): a smaller future, one `Shared`
        // handle fewer to register and drop.
        let id = slot.id;
        let entry = slot.query.await;
        if entry.expires.is_none() {
            // Temporary failures are never cached (the xdom retry must really ask again); callers
            // that waited on this very query share its result.
            self.evict(name, id);
        }
        if started {
            // The caller that started the query sees its real trace. When that caller was
            // cancelled, the waiters see the answer as a cache hit; the query itself is counted
            // once in `sent` either way.
            return entry.take();
        }
        self.hits.fetch_add(1, Ordering::Relaxed);
        cached_copy(name, &entry)
    }
}

/// A U-NAPTR outcome kept for reuse (see [`WalkMemo`]).
struct Memo {
    /// Shared with every address that reuses it: no copy per reuse.
    outcome: Arc<UnaptrOutcome>,
    /// The earliest expiry of the cache entries the walk read.
    expires: Instant,
    /// Lookups the walk made (all cache hits), counted as hits again on every reuse.
    lookups: u64,
    /// Reused since the last sweep.
    used: bool,
}

type MemoMap = HashMap<Key, Memo, foldhash::fast::RandomState>;

/// U-NAPTR outcomes of start names whose walk was answered entirely from the cache.
///
/// RFC 8686 §3 ladder names above R32 (R24, R16, R8) are shared by every address of a /24: in
/// a batch, 3 of every 4 walks read only cache entries and so repeat, step for step, a walk
/// already done (the profile put the walk at a fifth of the instructions per address). Such a
/// walk is deterministic — same entries in, same outcome out, including its trace, in which
/// every lookup is a cache hit — so its outcome is kept until the first of those entries
/// expires (their TTLs, RFC 8686 §4.3) and handed out instead of walking again. Only a walk made
/// of cache hits alone is kept: the first walk of a name, which sent the query, has a real
/// trace the next one would not repeat, and a one-off name (an R32) never gets here, so the
/// memo holds shared names only. Valid only for one set of wanted services and options: the
/// batch creates one per run.
pub(crate) struct WalkMemo<'a> {
    slots: &'a Mutex<SlotMap>,
    hits: &'a AtomicU64,
    map: Mutex<MemoMap>,
}

/// What [`WalkMemo::settle`] found for a start name.
pub(crate) enum Settled {
    /// No query for it in flight.
    Nothing,
    /// A query was in flight and its answer is now cached: a walk reads it from the cache (and
    /// another address that waited for it may have memoised its walk meanwhile).
    Cached,
    /// A query was in flight and its answer may not be reused (a temporary failure, or a TTL
    /// already over): the answer the waiter gets, as [`CachedSource`] hands it to one.
    Answered(NaptrLookup),
}

impl WalkMemo<'_> {
    /// Waits for a query for `start` in flight, if there is one.
    ///
    /// The addresses of a /24 that start while its R24/R16/R8 queries are in flight all walk
    /// those names, each walk waiting for the same query: the memo cannot answer them, since
    /// no walk has ended yet. Waiting for the query before walking lets the first walk after
    /// it answer the others from the memo (it is made of cache hits), instead of one walk per
    /// address (more than one extra walk per address in the benchmark). The waiter gets what
    /// it would have got inside its walk: the cached answer, or for an answer the cache does
    /// not keep, the same copy (counted as a hit) and the same eviction of a failed query.
    pub(crate) async fn settle(&self, start: &DomainName) -> Settled {
        let slot = {
            let mut buf = [0_u8; 255];
            let key = key_of(start, &mut buf);
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            match slots.get_mut(&*key) {
                Some(slot) if slot.query.peek().is_none() => {
                    slot.used = true;
                    slot.clone()
                }
                _ => return Settled::Nothing,
            }
        };
        let id = slot.id;
        let entry = slot.query.await;
        if entry.expires.is_some_and(|t| Instant::now() < t) {
            return Settled::Cached;
        }
        if entry.expires.is_none() {
            let mut buf = [0_u8; 255];
            let key = key_of(start, &mut buf);
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            if slots.get(&*key).is_some_and(|s| s.id == id) {
                slots.remove(&*key);
            }
        }
        self.hits.fetch_add(1, Ordering::Relaxed);
        Settled::Answered(cached_copy(start, &entry))
    }

    /// Whether a query for `name` is in flight (started by another caller, not finished).
    pub(crate) fn in_flight(&self, name: &DomainName) -> bool {
        let mut buf = [0_u8; 255];
        let key = key_of(name, &mut buf);
        let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.get(&*key).is_some_and(|s| s.query.peek().is_none())
    }

    /// The kept outcome for `start`, when still valid; its lookups count as cache hits, as they
    /// would have on a walk.
    pub(crate) fn recall(&self, start: &DomainName) -> Option<Arc<UnaptrOutcome>> {
        let mut buf = [0_u8; 255];
        let key = key_of(start, &mut buf);
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let memo = map.get_mut(&*key)?;
        if Instant::now() >= memo.expires {
            map.remove(&*key);
            return None;
        }
        memo.used = true;
        self.hits.fetch_add(memo.lookups, Ordering::Relaxed);
        Some(Arc::clone(&memo.outcome))
    }

    /// Keeps `outcome` of the walk from `start` when every lookup of it was answered from the
    /// cache by an entry that is still valid.
    pub(crate) fn remember(&self, start: &DomainName, outcome: &Arc<UnaptrOutcome>) {
        let all_hits = !outcome.queries.is_empty()
            && outcome
                .queries
                .iter()
                .all(|q| q.transport == Transport::Cache && q.elapsed.is_zero());
        if !all_hits {
            return;
        }
        let now = Instant::now();
        let mut expires: Option<Instant> = None;
        {
            let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            let mut buf = [0_u8; 255];
            for q in &outcome.queries {
                let key = key_of(&q.name, &mut buf);
                let Some(t) = slots
                    .get(&*key)
                    .and_then(|s| s.query.peek())
                    .and_then(|e| e.expires)
                    .filter(|&t| now < t)
                else {
                    return;
                };
                expires = Some(expires.map_or(t, |e| e.min(t)));
            }
        }
        let Some(expires) = expires else {
            return;
        };
        let mut buf = [0_u8; 255];
        let key = key_of(start, &mut buf);
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, m| now < m.expires && std::mem::take(&mut m.used));
        }
        map.insert(
            Key::from(&*key),
            Memo {
                outcome: Arc::clone(outcome),
                expires,
                lookups: u64::try_from(outcome.queries.len()).unwrap_or(u64::MAX),
                used: false,
            },
        );
    }
}

/// The lookup as a caller answered from the cache sees it: the answer, and a trace of one
/// query from the cache with the RCODE, answer count and TTL of the last real one.
fn cached_copy(name: &DomainName, entry: &Entry) -> NaptrLookup {
    let last = entry.last.as_ref();
    NaptrLookup {
        result: entry.result.clone(),
        queries: vec![QueryTrace {
            name: name.clone(),
            qtype: "NAPTR",
            rcode: last.map_or(Cow::Borrowed(""), |l| l.0.clone()),
            answers: last.map_or(0, |l| l.1),
            ttl: last.and_then(|l| l.2),
            elapsed: Duration::ZERO,
            transport: Transport::Cache,
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemorySource;
    use crate::source::FailureReason;

    fn n(s: &str) -> DomainName {
        DomainName::parse(s).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn dedups_in_flight_and_honours_ttl() {
        let src = MemorySource::new()
            .uri("a.example.", 1, 1, "ALTO:https", "https://a.example/")
            .ttl("a.example.", 10)
            .with_delay(Duration::from_millis(5));
        let c = CachedSource::new(src);
        let name = n("a.example.");
        let (x, y) = tokio::join!(c.lookup_naptr(&name), c.lookup_naptr(&name));
        assert_eq!(x.result, y.result);
        assert_eq!(c.inner().query_count(), 1);
        assert_eq!(c.stats(), CacheStats { sent: 1, hits: 1 });
        tokio::time::advance(Duration::from_secs(11)).await;
        let _ = c.lookup_naptr(&name).await;
        assert_eq!(c.inner().query_count(), 2, "expired entry re-queried");
    }

    /// The batch race (tests/cli/xdom.rs saw 57–62 queries where at most 53 may be sent): xdom
    /// drops the lookups of ladder names that can no longer change its answer, so the caller
    /// that started a shared query is often cancelled while other inputs wait for the same
    /// name. The waiters must keep the one query going, not send it again.
    #[tokio::test(start_paused = true)]
    async fn concurrent_lookups_share_one_query_even_when_callers_are_cancelled() {
        let src = Arc::new(
            MemorySource::new()
                .uri("r16.example.", 1, 1, "ALTO:https", "https://a.example/")
                .ttl("r16.example.", 60)
                .with_delay(Duration::from_millis(50)),
        );
        let c = Arc::new(CachedSource::new(Arc::clone(&src)));
        let name = n("r16.example.");
        let mut tasks = Vec::new();
        for i in 0..32_u64 {
            let (c, name) = (Arc::clone(&c), name.clone());
            tasks.push(tokio::spawn(async move {
                // Staggered starts; every other caller gives up before the answer comes (as
                // xdom does once a more specific name decided), the rest wait for it.
                tokio::time::sleep(Duration::from_millis(i)).await;
                if i % 2 == 0 {
                    tokio::time::timeout(Duration::from_millis(3), c.lookup_naptr(&name))
                        .await
                        .ok()
                        .map(|l| l.result)
                } else {
                    Some(c.lookup_naptr(&name).await.result)
                }
            }));
        }
        let mut answered = 0;
        for t in tasks {
            if let Some(r) = t.await.unwrap() {
                assert!(r.is_ok(), "{r:?}");
                answered += 1;
            }
        }
        assert!(answered >= 16, "every waiting caller got the answer");
        assert_eq!(src.query_count(), 1, "exactly one upstream query");
        assert_eq!(c.stats().sent, 1);
        // The finished entry is cached for its TTL: no further query.
        let _ = c.lookup_naptr(&name).await;
        assert_eq!(src.query_count(), 1);
    }

    /// One-off names are swept once the map is full; names looked up again survive the sweep.
    #[tokio::test]
    async fn map_stays_bounded_and_keeps_shared_names() {
        let c = CachedSource::new(MemorySource::new());
        let shared = n("shared.example.");
        let _ = c.lookup_naptr(&shared).await;
        for i in 0..(3 * MAX_ENTRIES) {
            let _ = c.lookup_naptr(&n(&format!("{i}.once.example."))).await;
            if i % 1000 == 0 {
                let _ = c.lookup_naptr(&shared).await;
            }
            let len = c.slots.lock().unwrap().len();
            assert!(len <= MAX_ENTRIES, "{len} entries at {i}");
        }
        assert_eq!(
            c.inner().query_count(),
            1 + 3 * MAX_ENTRIES,
            "shared name sent once"
        );
    }

    /// A walk made only of cache hits is kept and handed out, identical to walking again (trace
    /// included) and counted as the same hits, until the first entry it read expires; a walk
    /// that sent a query is not kept.
    #[tokio::test(start_paused = true)]
    async fn walk_memo_repeats_a_walk_of_cache_hits_until_an_entry_expires() {
        use crate::unaptr::{UnaptrOptions, resolve_unaptr};
        use altodisc_proto::service::WantedService;

        let src = MemorySource::new()
            .uri("a.example.", 1, 1, "ALTO:https", "https://a.example/")
            .ttl("a.example.", 10);
        let c = CachedSource::new(src);
        let memo = c.walk_memo();
        let wanted = [WantedService::alto_https()];
        let opts = UnaptrOptions::default();
        for name in [n("a.example."), n("nx.example.")] {
            let first = Arc::new(resolve_unaptr(&c, &name, &wanted, &opts).await);
            memo.remember(&name, &first);
            assert!(memo.recall(&name).is_none(), "a walk that sent a query");
            let second = Arc::new(resolve_unaptr(&c, &name, &wanted, &opts).await);
            memo.remember(&name, &second);
            let hits = c.stats().hits;
            let again = resolve_unaptr(&c, &name, &wanted, &opts).await;
            let walked_hits = c.stats().hits - hits;
            let recalled = memo.recall(&name);
            assert_eq!(recalled.as_deref(), Some(&again), "{name}");
            assert_eq!(c.stats().hits - hits, 2 * walked_hits);
        }
        assert_eq!(c.inner().query_count(), 2);
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(memo.recall(&n("a.example.")).is_none(), "TTL 10 s passed");
        assert!(
            memo.recall(&n("nx.example.")).is_some(),
            "negative TTL {DEFAULT_NEGATIVE_TTL} s not yet"
        );
    }

    /// `settle` waits for a query in flight and then gives what a walk waiting inside its
    /// first lookup would have got: the answer from the cache, or for a failure the shared
    /// answer (a hit) with the failed query evicted; no query of its own either way.
    #[tokio::test(start_paused = true)]
    async fn settle_waits_for_a_query_in_flight() {
        let src = MemorySource::new()
            .uri("a.example.", 1, 1, "ALTO:https", "https://a.example/")
            .fail("t.example.", FailureReason::Timeout)
            .with_delay(Duration::from_millis(10));
        let c = CachedSource::new(src);
        let memo = c.walk_memo();
        assert!(matches!(
            memo.settle(&n("a.example.")).await,
            Settled::Nothing
        ));
        // `join!` polls the lookup first: its query is in flight when `settle` looks.
        let a = n("a.example.");
        let (first, settled) = tokio::join!(c.lookup_naptr(&a), memo.settle(&a));
        assert!(first.result.is_ok());
        assert!(matches!(settled, Settled::Cached));
        assert_eq!(c.stats(), CacheStats { sent: 1, hits: 0 });
        let t = n("t.example.");
        let (first, settled) = tokio::join!(c.lookup_naptr(&t), memo.settle(&t));
        let Settled::Answered(shared) = settled else {
            panic!("a failed query is handed over");
        };
        assert_eq!(shared.result, first.result);
        assert_eq!(shared.queries[0].transport, Transport::Cache);
        assert_eq!(c.stats(), CacheStats { sent: 2, hits: 1 });
        // The failure is not kept: the next lookup asks again.
        let _ = c.lookup_naptr(&t).await;
        assert_eq!(c.inner().query_count(), 3);
    }

    #[tokio::test]
    async fn negative_cached_temporary_not() {
        let src = MemorySource::new().fail("t.example.", FailureReason::Timeout);
        let c = CachedSource::new(src);
        for _ in 0..3 {
            let _ = c.lookup_naptr(&n("nx.example.")).await;
            let _ = c.lookup_naptr(&n("t.example.")).await;
        }
        assert_eq!(c.inner().query_count(), 1 + 3);
        let hit = c.lookup_naptr(&n("nx.example.")).await;
        assert_eq!(hit.queries[0].transport, Transport::Cache);
    }
}
