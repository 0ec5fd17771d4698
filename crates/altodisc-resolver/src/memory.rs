//! An in-memory NAPTR "zone" implementing [`NaptrSource`], for unit tests and benchmarks.
//!
//! It answers like an authoritative server would: NAPTR RRsets where you put them, CNAMEs
//! followed (capped at [`MAX_CNAME_CHAIN`]), NODATA for names that exist (or have names below
//! them: empty non-terminals), NXDOMAIN otherwise. Failures can be injected per name, for always
//! or for the first *n* lookups, and every lookup is logged so tests can count queries.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use altodisc_proto::name::DomainName;
use altodisc_proto::naptr::NaptrRecord;

use crate::source::{
    FailureReason, LookupFailure, NaptrAnswer, NaptrLookup, NaptrSource, QueryTrace, Transport,
};

/// CNAME hops followed before a lookup fails with [`FailureReason::CnameChain`] (hickory uses 8
/// as well).
pub const MAX_CNAME_CHAIN: usize = 8;

#[derive(Debug, Clone, Default)]
struct Node {
    records: Vec<NaptrRecord>,
    malformed: Vec<String>,
    cname: Option<DomainName>,
    ttl: u32,
    failure: Option<(FailureReason, Option<usize>)>,
    delay: Option<Duration>,
}

/// An in-memory NAPTR source. Build it, then share it (`&MemorySource` or `Arc`).
#[derive(Debug, Default)]
pub struct MemorySource {
    nodes: HashMap<DomainName, Node>,
    delay: Option<Duration>,
    log: Mutex<Vec<DomainName>>,
    failures_left: Mutex<HashMap<DomainName, usize>>,
}

fn name(text: &str) -> DomainName {
    // Builders take names written by the test or bench author; a typo is a bug in that code.
    DomainName::parse(text).expect("MemorySource: invalid domain name")
}

impl MemorySource {
    /// An empty source: every name is NXDOMAIN.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Delays every answer by `delay` (a simulated round trip, for benchmarks).
    #[must_use]
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    fn node(&mut self, owner: &str) -> &mut Node {
        self.nodes.entry(name(owner)).or_insert_with(|| Node {
            ttl: 300,
            ..Node::default()
        })
    }

    /// Adds a NAPTR record at `owner`.
    ///
    /// # Panics
    /// If `owner` is not a valid domain name (builder input is program text).
    #[must_use]
    pub fn naptr(mut self, owner: &str, record: NaptrRecord) -> Self {
        self.node(owner).records.push(record);
        self
    }

    /// Adds a `U` record `!.*!uri!` for `services` at `owner`.
    ///
    /// # Panics
    /// If `owner` is not a valid domain name.
    #[must_use]
    pub fn uri(self, owner: &str, order: u16, preference: u16, services: &str, uri: &str) -> Self {
        self.naptr(
            owner,
            NaptrRecord::terminal(order, preference, services, &format!("!.*!{uri}!")),
        )
    }

    /// Adds a non-terminal record (empty flag) pointing at `target`.
    ///
    /// # Panics
    /// If a name is invalid.
    #[must_use]
    pub fn follow(
        self,
        owner: &str,
        order: u16,
        preference: u16,
        services: &str,
        target: &str,
    ) -> Self {
        self.naptr(
            owner,
            NaptrRecord::non_terminal(order, preference, services, name(target)),
        )
    }

    /// Adds raw NAPTR RDATA at `owner`, decoded like data from the wire: RDATA that does not
    /// decode is kept as "malformed" and never used (hostile-input tests).
    ///
    /// # Panics
    /// If `owner` is invalid.
    #[must_use]
    pub fn raw_rdata(mut self, owner: &str, rdata: &[u8]) -> Self {
        let node = self.node(owner);
        match NaptrRecord::from_rdata(rdata) {
            Ok(r) => node.records.push(r),
            Err(e) => node.malformed.push(e.to_string()),
        }
        self
    }

    /// Makes `owner` exist without NAPTR records (NODATA), e.g. a PTR-only name.
    ///
    /// # Panics
    /// If `owner` is invalid.
    #[must_use]
    pub fn exists(mut self, owner: &str) -> Self {
        let _ = self.node(owner);
        self
    }

    /// Adds `owner CNAME target`.
    ///
    /// # Panics
    /// If a name is invalid.
    #[must_use]
    pub fn cname(mut self, owner: &str, target: &str) -> Self {
        self.node(owner).cname = Some(name(target));
        self
    }

    /// Sets the TTL of the records at `owner`.
    ///
    /// # Panics
    /// If `owner` is invalid.
    #[must_use]
    pub fn ttl(mut self, owner: &str, ttl: u32) -> Self {
        self.node(owner).ttl = ttl;
        self
    }

    /// Makes every lookup of `owner` fail temporarily.
    ///
    /// # Panics
    /// If `owner` is invalid.
    #[must_use]
    pub fn fail(mut self, owner: &str, reason: FailureReason) -> Self {
        self.node(owner).failure = Some((reason, None));
        self
    }

    /// Makes the first `times` lookups of `owner` fail temporarily; later ones answer normally.
    ///
    /// # Panics
    /// If `owner` is invalid.
    #[must_use]
    pub fn fail_first(mut self, owner: &str, reason: FailureReason, times: usize) -> Self {
        self.node(owner).failure = Some((reason, Some(times)));
        self.failures_left
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(name(owner), times);
        self
    }

    /// Delays answers for `owner` (on top of [`Self::with_delay`]).
    ///
    /// # Panics
    /// If `owner` is invalid.
    #[must_use]
    pub fn delay(mut self, owner: &str, delay: Duration) -> Self {
        self.node(owner).delay = Some(delay);
        self
    }

    /// Every name looked up so far, in order.
    #[must_use]
    pub fn queries(&self) -> Vec<DomainName> {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Number of lookups so far.
    #[must_use]
    pub fn query_count(&self) -> usize {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    fn exists_at(&self, n: &DomainName) -> bool {
        self.nodes.contains_key(n) || self.nodes.keys().any(|k| k.is_subdomain_of(n))
    }

    fn take_failure(&self, n: &DomainName, node: &Node) -> Option<FailureReason> {
        let (reason, limit) = node.failure.as_ref()?;
        if limit.is_none() {
            return Some(reason.clone());
        }
        let mut left = self
            .failures_left
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = left.get_mut(n)?;
        if *count == 0 {
            return None;
        }
        *count -= 1;
        Some(reason.clone())
    }

    fn answer(&self, start: &DomainName) -> Result<NaptrAnswer, LookupFailure> {
        let mut current = start.clone();
        let mut chain = Vec::new();
        let mut seen = HashSet::new();
        let mut ttl = u32::MAX;
        loop {
            if !seen.insert(current.clone()) || chain.len() > MAX_CNAME_CHAIN {
                return Err(LookupFailure::Failed(FailureReason::CnameChain));
            }
            let Some(node) = self.nodes.get(&current) else {
                return if self.exists_at(&current) {
                    Err(LookupFailure::NoData {
                        negative_ttl: Some(60),
                    })
                } else {
                    Err(LookupFailure::NxDomain {
                        negative_ttl: Some(60),
                    })
                };
            };
            if let Some(reason) = self.take_failure(&current, node) {
                return Err(LookupFailure::Failed(reason));
            }
            if let Some(target) = &node.cname {
                ttl = ttl.min(node.ttl);
                chain.push(current.clone());
                current = target.clone();
                continue;
            }
            if node.records.is_empty() && node.malformed.is_empty() {
                return Err(LookupFailure::NoData {
                    negative_ttl: Some(60),
                });
            }
            return Ok(NaptrAnswer {
                owner: current,
                cname_chain: chain,
                records: node.records.clone(),
                malformed: node.malformed.clone(),
                ttl: ttl.min(node.ttl),
                // In-memory zones carry no signatures.
                dnssec: crate::unaptr::DnssecState::Unchecked,
            });
        }
    }
}

#[async_trait::async_trait]
impl NaptrSource for MemorySource {
    async fn lookup_naptr(&self, name: &DomainName) -> NaptrLookup {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(name.clone());
        let started = tokio::time::Instant::now();
        let node_delay = self.nodes.get(name).and_then(|n| n.delay);
        let delay = self.delay.unwrap_or_default() + node_delay.unwrap_or_default();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let result = self.answer(name);
        let (rcode, answers, ttl) = match &result {
            Ok(a) => (
                "NOERROR".into(),
                a.records.len() + a.malformed.len() + a.cname_chain.len(),
                Some(a.ttl),
            ),
            Err(LookupFailure::NxDomain { negative_ttl }) => ("NXDOMAIN".into(), 0, *negative_ttl),
            Err(LookupFailure::NoData { negative_ttl }) => ("NOERROR".into(), 0, *negative_ttl),
            Err(LookupFailure::Failed(r)) => (r.to_string().into(), 0, None),
        };
        NaptrLookup {
            queries: vec![QueryTrace {
                name: name.clone(),
                qtype: "NAPTR",
                rcode,
                answers,
                ttl,
                elapsed: started.elapsed(),
                transport: Transport::Memory,
            }],
            result,
        }
    }
}
