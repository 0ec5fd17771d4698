//! Where NAPTR answers come from: the [`NaptrSource`] trait, its result types, and the per-query
//! trace.
//!
//! The U-NAPTR and xdom logic only ever asks "what NAPTR RRset is at this name?". Behind the trait
//! sit the real DNS client ([`crate::dns::DnsSource`], hickory-resolver), an in-memory zone for
//! unit tests and benchmarks ([`crate::memory::MemorySource`]), and the shared answer cache of
//! batch mode ([`crate::cache::CachedSource`]).

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use altodisc_proto::name::DomainName;
use altodisc_proto::naptr::NaptrRecord;

use crate::unaptr::DnssecState;

/// Answers NAPTR queries. Implementations must be cheap to share (`&self`, `Send + Sync`) because
/// xdom queries all ladder names at once and batch mode shares one source between many inputs.
#[async_trait::async_trait]
pub trait NaptrSource: Send + Sync {
    /// Queries `name` IN NAPTR, following CNAMEs, and classifies the outcome (docs/decisions.md, resolver step 2).
    async fn lookup_naptr(&self, name: &DomainName) -> NaptrLookup;
}

// The forwarding impls hand over the inner source's boxed future as it is, instead of boxing an
// `async` block that awaits it (what `#[async_trait]` would generate): one allocation fewer per
// lookup through an `Arc<dyn NaptrSource>`, as batch mode makes for every query it sends.
impl<T: NaptrSource + ?Sized> NaptrSource for std::sync::Arc<T> {
    fn lookup_naptr<'life0, 'life1, 'async_trait>(
        &'life0 self,
        name: &'life1 DomainName,
    ) -> Pin<Box<dyn Future<Output = NaptrLookup> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        (**self).lookup_naptr(name)
    }
}

impl<T: NaptrSource + ?Sized> NaptrSource for &T {
    fn lookup_naptr<'life0, 'life1, 'async_trait>(
        &'life0 self,
        name: &'life1 DomainName,
    ) -> Pin<Box<dyn Future<Output = NaptrLookup> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        (**self).lookup_naptr(name)
    }
}

/// A source whose lookups are awaited without boxing: the crate's own walks (U-NAPTR, xdom)
/// take this, so that the batch's cache ([`crate::cache::CachedSource`]) is called directly
/// instead of through a boxed [`NaptrSource`] future per lookup. Every [`NaptrSource`] takes
/// part through [`Boxed`].
pub(crate) trait Lookup: Sync {
    /// [`NaptrSource::lookup_naptr`].
    fn lookup<'s>(&'s self, name: &'s DomainName) -> impl Future<Output = NaptrLookup> + Send + 's;
}

/// Any [`NaptrSource`] as a [`Lookup`], through its boxed trait method.
pub(crate) struct Boxed<'a, S: ?Sized>(pub(crate) &'a S);

impl<S: NaptrSource + ?Sized> Lookup for Boxed<'_, S> {
    fn lookup<'s>(&'s self, name: &'s DomainName) -> impl Future<Output = NaptrLookup> + Send + 's {
        self.0.lookup_naptr(name)
    }
}

/// The result of one NAPTR lookup: the outcome plus every DNS query it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NaptrLookup {
    /// The RRset, or why there is none.
    pub result: Result<NaptrAnswer, LookupFailure>,
    /// The queries sent (or answered from a cache) for this lookup, in order.
    pub queries: Vec<QueryTrace>,
}

/// A NAPTR RRset found (possibly after CNAMEs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NaptrAnswer {
    /// The name that owns the RRset: the queried name, or the end of its CNAME chain.
    pub owner: DomainName,
    /// CNAME owners passed through, in order, starting with the queried name (empty without
    /// CNAMEs). RFC 2317 classless delegation relies on these (RFC 8686 §5.2.2).
    pub cname_chain: Vec<DomainName>,
    /// The records that decoded; wire order, unsorted (selection sorts).
    pub records: Vec<NaptrRecord>,
    /// RDATA that did not decode (hostile or broken server), with why; never used.
    pub malformed: Vec<String>,
    /// The smallest TTL of the RRset and the CNAMEs leading to it, in seconds.
    pub ttl: u32,
    /// DNSSEC state of the answer (worst over the NAPTR RRset and the CNAMEs);
    /// [`DnssecState::Unchecked`] when the source does not validate. Never `Bogus`: a bogus
    /// answer is [`FailureReason::DnssecBogus`].
    pub dnssec: DnssecState,
}

/// Why a lookup gave no RRset (docs/decisions.md, resolver step 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LookupFailure {
    /// NXDOMAIN: the name does not exist.
    #[error("NXDOMAIN")]
    NxDomain {
        /// Negative TTL from the SOA, when the server sent one (RFC 2308 §5).
        negative_ttl: Option<u32>,
    },
    /// NOERROR with no NAPTR: the name exists, with other types or only below it.
    #[error("NODATA")]
    NoData {
        /// Negative TTL from the SOA, when the server sent one.
        negative_ttl: Option<u32>,
    },
    /// The lookup failed: a timeout, an error RCODE, a broken response, a bogus answer.
    /// [`FailureReason::is_temporary`] says whether a later retry may cure it (RFC 8686 §3.5
    /// "temporary": timeouts, SERVFAIL) or not (REFUSED and other error RCODEs: the server's
    /// configuration or policy, docs/decisions.md, A16).
    #[error("{kind}: {0}", kind = if .0.is_temporary() { "temporary failure" } else { "server error" })]
    Failed(FailureReason),
}

impl LookupFailure {
    /// NXDOMAIN.
    #[must_use]
    pub fn is_nxdomain(&self) -> bool {
        matches!(self, Self::NxDomain { .. })
    }

    /// NODATA.
    #[must_use]
    pub fn is_nodata(&self) -> bool {
        matches!(self, Self::NoData { .. })
    }

    /// A failure that a later retry may cure: timeout, SERVFAIL, a broken or bogus answer
    /// (RFC 8686 §3.5). REFUSED and other error RCODEs are not (docs/decisions.md, A16).
    #[must_use]
    pub fn is_temporary(&self) -> bool {
        matches!(self, Self::Failed(r) if r.is_temporary())
    }

    /// A failure that a retry will not cure: the server answered REFUSED (not authoritative,
    /// policy) or another error RCODE such as NOTIMP (docs/decisions.md, A16).
    #[must_use]
    pub fn is_server_refusal(&self) -> bool {
        matches!(self, Self::Failed(r) if !r.is_temporary())
    }
}

/// Why a lookup failed. Most reasons are temporary (RFC 8686 §3.5); [`Self::Refused`] and
/// [`Self::OtherRcode`] are not ([`Self::is_temporary`], docs/decisions.md, A16).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FailureReason {
    /// No answer within the timeout and attempts.
    #[error("timeout")]
    Timeout,
    /// SERVFAIL.
    #[error("SERVFAIL")]
    ServFail,
    /// REFUSED (RFC 1035 §4.1.1: refused "for policy reasons"): the server is not
    /// authoritative for the name or does not serve this client. Not temporary.
    #[error("REFUSED")]
    Refused,
    /// Another error RCODE (FORMERR, NOTIMP, NOTAUTH, ...). Not temporary.
    #[error("RCODE {0}")]
    OtherRcode(String),
    /// The CNAME chain is too long or loops (RFC 1034 §3.6.2 asks resolvers to detect loops).
    #[error("CNAME chain too long or looping")]
    CnameChain,
    /// The response could not be decoded (malformed message from the server).
    #[error("malformed response: {0}")]
    Malformed(String),
    /// Truncated over UDP and TCP was not possible.
    #[error("truncated response and no TCP retry possible")]
    Truncated,
    /// Network or other client error.
    #[error("{0}")]
    Network(String),
    /// Every server answered the query with an ICMP "port unreachable" (seen as a refused
    /// connection): nothing listens there, so waiting for a timeout would only delay the answer.
    #[error("connection refused by {0}: no DNS server listens there")]
    ConnectionRefused(String),
    /// The answer failed DNSSEC validation (RFC 4035 §4.3 "bogus"): discarded, and treated as a
    /// temporary failure for control flow (docs/decisions.md, resolver step 2).
    #[error("DNSSEC validation failed (bogus answer discarded)")]
    DnssecBogus,
    /// `--dnssec require` and the answer is not secure.
    #[error(
        "DNSSEC required (--dnssec require) but the answer is {}: the zone is unsigned or no chain of trust leads to it from the trust anchors", .0.as_str()
    )]
    DnssecRequired(DnssecState),
}

impl FailureReason {
    /// Whether a later retry may cure the failure (RFC 8686 §3.5 names timeouts and SERVFAIL).
    ///
    /// REFUSED and the other error RCODEs are an answer, not a failure to get one: the server
    /// says it will not answer this question (not authoritative, policy, unsupported), and asking
    /// it again gives the same answer. Counting them as temporary would make a discovery that
    /// meets a refusing server report "retry later" for ever (docs/decisions.md, A16). A refused
    /// connection (nothing listens) stays temporary: a server may be restarting.
    #[must_use]
    pub fn is_temporary(&self) -> bool {
        !matches!(self, Self::Refused | Self::OtherRcode(_))
    }
}

/// How a query was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// Over UDP.
    Udp,
    /// Over TCP: after a truncated UDP response (RFC 7766 §5), or because it was configured.
    Tcp,
    /// From the resolver's shared answer cache (batch mode); no query was sent.
    Cache,
    /// From an in-memory zone (tests, benchmarks).
    Memory,
    /// Unknown (the query failed before a response arrived).
    None,
}

impl Transport {
    /// `udp`, `tcp`, `cache`, `memory` or `none`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Udp => "udp",
            Self::Tcp => "tcp",
            Self::Cache => "cache",
            Self::Memory => "memory",
            Self::None => "none",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One query as shown by `--trace`: name, type, RCODE, answer count, TTL, time, transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryTrace {
    /// The name queried.
    pub name: DomainName,
    /// The query type (`NAPTR`).
    pub qtype: &'static str,
    /// The RCODE, or the failure (`timeout`, ...) when none arrived. Borrowed for the fixed
    /// texts (`NOERROR`, `NXDOMAIN`, ...): no allocation per query and per copy of a trace.
    pub rcode: Cow<'static, str>,
    /// Records in the answer section (CNAMEs included).
    pub answers: usize,
    /// The smallest answer TTL, or the negative TTL; `None` when unknown.
    pub ttl: Option<u32>,
    /// Wall time taken.
    pub elapsed: Duration,
    /// How it was answered.
    pub transport: Transport,
}

impl QueryTrace {
    /// JSON form for `--trace --json`.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name.to_string(),
            "type": self.qtype,
            "rcode": self.rcode,
            "answers": self.answers,
            "ttl": self.ttl,
            "time_ms": duration_ms(self.elapsed),
            "transport": self.transport.as_str(),
        })
    }
}

impl fmt::Display for QueryTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} -> {} answers={} ttl={} {:.1}ms {}",
            self.name,
            self.qtype,
            self.rcode,
            self.answers,
            self.ttl.map_or_else(|| "-".to_owned(), |t| t.to_string()),
            duration_ms(self.elapsed),
            self.transport
        )
    }
}

/// Milliseconds with a fractional part, for output.
#[must_use]
pub(crate) fn duration_ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
