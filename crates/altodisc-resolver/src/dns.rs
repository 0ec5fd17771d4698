//! [`NaptrSource`] over real DNS, through hickory-resolver 0.26 (HICKORY-NOTES.md A.2).
//!
//! * Servers: the system configuration (`/etc/resolv.conf`) by default, or explicit
//!   `IP[:PORT]` / `[IPv6]:PORT` addresses ([`parse_server`]).
//! * Every server gets a UDP **and** a TCP connection: a truncated UDP answer (TC=1) is discarded
//!   and the query repeated over TCP (RFC 2181 §9, RFC 7766 §5; HICKORY-NOTES A.2.5).
//! * EDNS0 with a 1232-octet payload; CNAME chains are followed by hickory (depth 8) and kept in the
//!   answer (`preserve_intermediates`) so the chain can be shown (RFC 8686 §5.2.2, RFC 2317).
//! * The hosts file is never consulted; the search list never applies (names are FQDNs).
//! * Outcomes are classified as NXDOMAIN / NODATA / temporary (docs/decisions.md, resolver step 2).
//! * DNSSEC ([`DnsSource::with_dnssec`]): hickory validates (DO bit, chain of trust from
//!   the root KSKs plus `--trust-anchor`); every positive answer carries its
//!   [`DnssecState`]; a bogus answer, positive or negative, becomes
//!   [`FailureReason::DnssecBogus`]; with `require`, a positive answer that is not secure
//!   becomes [`FailureReason::DnssecRequired`].

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use altodisc_proto::name::DomainName;
use altodisc_proto::naptr::NaptrRecord;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::dnssec::TrustAnchors;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::{Resolver, TokioResolver};

use crate::dnssec::{DnssecConfig, DnssecError, DnssecMode, state_of};
use crate::source::{
    FailureReason, LookupFailure, NaptrAnswer, NaptrLookup, NaptrSource, QueryTrace, Transport,
};
use crate::unaptr::DnssecState;

/// The EDNS0 UDP payload size advertised (DNS Flag Day 2020 value). Larger answers come back
/// truncated and are repeated over TCP.
pub const EDNS_PAYLOAD: u16 = 1232;

/// How to reach DNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    /// Explicit servers, tried in order; empty means the system configuration.
    pub servers: Vec<SocketAddr>,
    /// Timeout per attempt.
    pub timeout: Duration,
    /// Tries per query (1 = no retransmission).
    pub attempts: usize,
    /// Set RD in queries. `true` for a recursive resolver (the system one); `false` to query an
    /// authoritative server directly.
    pub recursion_desired: bool,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            servers: Vec::new(),
            timeout: Duration::from_secs(2),
            attempts: 2,
            recursion_desired: true,
        }
    }
}

/// Errors setting up the DNS client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DnsSetupError {
    /// A `--server` value that is not `IP`, `IP:PORT` or `[IPv6]:PORT`.
    #[error("invalid server address {0:?}: expected IP, IP:PORT or [IPv6]:PORT")]
    BadServer(String),
    /// The system configuration could not be read.
    #[error("cannot read the system resolver configuration (/etc/resolv.conf): {0}; use --server")]
    SystemConfig(String),
    /// No name server configured.
    #[error("no name server configured; use --server")]
    NoServers,
    /// hickory refused the configuration.
    #[error("resolver setup failed: {0}")]
    Build(String),
    /// The DNSSEC settings could not be applied (a DS anchor matching no served key, ...).
    #[error("DNSSEC setup failed: {0}")]
    Dnssec(#[from] DnssecError),
}

/// Parses `IP`, `IP:PORT`, `[IPv6]` or `[IPv6]:PORT` (port 53 when absent).
///
/// # Errors
/// [`DnsSetupError::BadServer`].
pub fn parse_server(text: &str) -> Result<SocketAddr, DnsSetupError> {
    let t = text.trim();
    if let Ok(sa) = t.parse::<SocketAddr>() {
        return Ok(sa);
    }
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    if let Some(inner) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']'))
        && let Ok(ip) = inner.parse::<IpAddr>()
    {
        return Ok(SocketAddr::new(ip, 53));
    }
    Err(DnsSetupError::BadServer(text.to_owned()))
}

/// Real DNS through hickory-resolver.
#[derive(Debug, Clone)]
pub struct DnsSource {
    resolver: TokioResolver,
    description: String,
    mode: DnssecMode,
    /// When validating: the fallback for names no chain of trust can reach (see
    /// [`DnsSource::with_dnssec`]).
    fallback: Option<Fallback>,
    /// For explicit `--server`s: whether they refuse connections (see [`Reachability`]).
    reachability: Option<Reachability>,
}

/// How long a "connection refused" verdict on the servers is trusted before they are probed
/// again: long enough that a batch does not probe for every address, short enough that a
/// long-lived client notices a server that came up.
const REFUSAL_RECHECK: Duration = Duration::from_secs(5);

/// Tells quickly whether explicit servers refuse connections.
///
/// hickory's UDP client uses unconnected sockets, so the ICMP "port unreachable" a host sends
/// back when nothing listens on the port is never seen, and a lookup to a dead server waits for
/// every timeout and attempt (6 s with the defaults) before saying "timeout", where `dig` says
/// "connection refused" at once. A connected UDP socket does see it (as `ECONNREFUSED`), so one
/// probe query per server runs beside the first lookup, and again after [`REFUSAL_RECHECK`]
/// while the servers refuse.
#[derive(Debug, Clone)]
struct Reachability {
    servers: Vec<SocketAddr>,
    timeout: Duration,
    /// The last verdict, shared by the clones of the source.
    verdict: Arc<tokio::sync::Mutex<Option<RefusalVerdict>>>,
}

/// When the servers were probed, and their addresses if every one refused.
type RefusalVerdict = (Instant, Option<String>);

impl Reachability {
    /// `Some(servers)` when every server refused the probe (an old verdict is reused).
    async fn refused(&self) -> Option<String> {
        let mut verdict = self.verdict.lock().await;
        if let Some((at, refused)) = verdict.as_ref()
            && (refused.is_none() || at.elapsed() < REFUSAL_RECHECK)
        {
            return refused.clone();
        }
        let probes = self
            .servers
            .iter()
            .map(|&server| probe_refuses(server, self.timeout));
        let all_refused = futures_util::future::join_all(probes)
            .await
            .into_iter()
            .all(|refused| refused);
        let refused = all_refused.then(|| join_addrs(&self.servers));
        *verdict = Some((Instant::now(), refused.clone()));
        refused
    }
}

/// Sends one root SOA query to `server` on a connected UDP socket: `true` when the answer is a
/// refused connection, `false` on any answer, silence until `timeout`, or a local error.
async fn probe_refuses(server: SocketAddr, timeout: Duration) -> bool {
    use hickory_resolver::proto::op::{Message, MessageType, OpCode, Query};

    let mut msg = Message::new(rand::random::<u16>(), MessageType::Query, OpCode::Query);
    msg.add_query(Query::query(Name::root(), RecordType::SOA));
    let Ok(bytes) = msg.to_vec() else {
        return false;
    };
    let local: SocketAddr = if server.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let attempt = async {
        let socket = tokio::net::UdpSocket::bind(local).await?;
        socket.connect(server).await?;
        socket.send(&bytes).await?;
        let mut buf = [0_u8; 512];
        socket.recv(&mut buf).await.map(|_| ())
    };
    matches!(
        tokio::time::timeout(timeout, attempt).await,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused
    )
}

/// What a validating source needs to tell "bogus" from "no chain can be built here".
#[derive(Debug, Clone)]
struct Fallback {
    /// The same servers, without validation.
    plain: TokioResolver,
    /// The servers, for the root DNSKEY probe.
    servers: Vec<SocketAddr>,
    timeout: Duration,
    /// Names of the `--trust-anchor` file: at and below them bogus always stays bogus.
    anchored: Vec<Name>,
    /// Whether the servers serve the root DNSKEY RRset with its RRSIGs (probed once).
    root_reachable: Arc<tokio::sync::OnceCell<bool>>,
}

impl DnsSource {
    /// Builds the client. Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// [`DnsSetupError`] when the system configuration is unreadable or empty.
    pub fn new(config: &DnsConfig) -> Result<Self, DnsSetupError> {
        Self::build(config, DnssecMode::Off, None)
    }

    /// Builds a client that validates DNSSEC as `dnssec` says. Before the validating client is
    /// built, one DNSKEY query (DO set) per trust-anchor name fetches the RRset the anchor
    /// vouches for ([`crate::dnssec::TrustAnchorFile::trust_anchors`]). Must be called inside a
    /// tokio runtime.
    ///
    /// Names outside the `--trust-anchor` zones rely on the root KSKs. When the servers cannot
    /// serve the chain from the root (an authoritative server queried directly refuses the root
    /// DNSKEY query; probed once, with DO), hickory would call every such answer bogus; so for
    /// names no file anchor covers the answer is then fetched without validation and labelled
    /// `indeterminate` (RFC 4033 §5: no usable trust anchor says whether it should be secure;
    /// `--dnssec require` refuses it). Under a file anchor, or through servers that do serve the
    /// root keys, answers are validated and bogus ones are never used.
    ///
    /// # Errors
    /// [`DnsSetupError`]; [`DnsSetupError::Dnssec`] when a DS anchor covers no served DNSKEY.
    pub async fn with_dnssec(
        config: &DnsConfig,
        dnssec: &DnssecConfig,
    ) -> Result<Self, DnsSetupError> {
        if !dnssec.mode.validates() {
            return Self::new(config);
        }
        let anchors = match &dnssec.anchors {
            None => TrustAnchors::default(),
            Some(file) => {
                let servers = if config.servers.is_empty() {
                    system_servers()?
                } else {
                    config.servers.clone()
                };
                let mut fetched = Vec::new();
                for name in file.names() {
                    match fetch_dnskeys(&servers, &name, config.timeout).await {
                        Some(records) => fetched.push((name, records)),
                        None => tracing::warn!(
                            "no DNSKEY RRset for trust anchor {name} from {}",
                            join_addrs(&servers)
                        ),
                    }
                }
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
                file.trust_anchors(&fetched, now)?
            }
        };
        let anchored = dnssec
            .anchors
            .as_ref()
            .map(crate::dnssec::TrustAnchorFile::names)
            .unwrap_or_default();
        let plain = Self::new(config)?;
        let servers = if config.servers.is_empty() {
            system_servers()?
        } else {
            config.servers.clone()
        };
        let mut source = Self::build(config, dnssec.mode, Some(Arc::new(anchors)))?;
        source.fallback = Some(Fallback {
            plain: plain.resolver,
            servers,
            timeout: config.timeout,
            anchored,
            root_reachable: Arc::new(tokio::sync::OnceCell::new()),
        });
        Ok(source)
    }

    fn build(
        config: &DnsConfig,
        mode: DnssecMode,
        anchors: Option<Arc<TrustAnchors>>,
    ) -> Result<Self, DnsSetupError> {
        let (resolver_config, description) = if config.servers.is_empty() {
            let (sys, _opts) = hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| DnsSetupError::SystemConfig(e.to_string()))?;
            // Re-create each server with UDP + TCP so truncation always has a TCP retry.
            let servers: Vec<SocketAddr> = sys
                .name_servers
                .iter()
                .map(|ns| {
                    let port = ns.connections.first().map_or(53, |c| c.port);
                    SocketAddr::new(ns.ip, port)
                })
                .collect();
            let desc = format!("system resolver ({})", join_addrs(&servers));
            (servers_config(&dedup(servers)), desc)
        } else {
            (servers_config(&config.servers), join_addrs(&config.servers))
        };
        if resolver_config.name_servers.is_empty() {
            return Err(DnsSetupError::NoServers);
        }
        let mut builder =
            Resolver::builder_with_config(resolver_config, TokioRuntimeProvider::default());
        if let Some(anchors) = anchors {
            // Turns validation on (DO bit, DnssecDnsHandle); HICKORY-NOTES A.2.6.
            builder = builder.with_trust_anchor(anchors);
        }
        let o: &mut ResolverOpts = builder.options_mut();
        o.timeout = config.timeout;
        // hickory's `attempts` counts retries after the first try (RetryDnsHandle); ours counts
        // tries, as resolv.conf's `attempts` does.
        o.attempts = config.attempts.saturating_sub(1);
        o.recursion_desired = config.recursion_desired;
        o.use_hosts_file = ResolveHosts::Never;
        o.edns0 = true;
        o.edns_payload_len = EDNS_PAYLOAD;
        o.preserve_intermediates = true;
        o.ndots = 0;
        let resolver = builder
            .build()
            .map_err(|e| DnsSetupError::Build(e.to_string()))?;
        let reachability = (!config.servers.is_empty()).then(|| Reachability {
            servers: config.servers.clone(),
            timeout: config.timeout,
            verdict: Arc::new(tokio::sync::Mutex::new(None)),
        });
        Ok(Self {
            resolver,
            description,
            mode,
            fallback: None,
            reachability,
        })
    }

    /// The DNSSEC mode in use.
    #[must_use]
    pub fn dnssec_mode(&self) -> DnssecMode {
        self.mode
    }

    /// The servers in use, for output (`127.0.0.1:5300`, or `system resolver (...)`).
    #[must_use]
    pub fn description(&self) -> &str {
        &self.description
    }
}

/// The system resolver's servers (`/etc/resolv.conf`).
fn system_servers() -> Result<Vec<SocketAddr>, DnsSetupError> {
    let (sys, _opts) = hickory_resolver::system_conf::read_system_conf()
        .map_err(|e| DnsSetupError::SystemConfig(e.to_string()))?;
    Ok(dedup(
        sys.name_servers
            .iter()
            .map(|ns| SocketAddr::new(ns.ip, ns.connections.first().map_or(53, |c| c.port)))
            .collect(),
    ))
}

/// One `name DNSKEY` query with DO set (RFC 3225), over TCP (the RRset with its RRSIGs is
/// often larger than a UDP answer) and else UDP, to each server in turn; the answer records of the first
/// NOERROR response. Used once at start-up to validate the DNSKEY RRset at each trust anchor.
async fn fetch_dnskeys(
    servers: &[SocketAddr],
    name: &Name,
    timeout: Duration,
) -> Option<Vec<hickory_resolver::proto::rr::Record>> {
    use hickory_resolver::proto::op::{Edns, Message, MessageType, OpCode, Query};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut msg = Message::new(rand::random::<u16>(), MessageType::Query, OpCode::Query);
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(name.clone(), RecordType::DNSKEY));
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_PAYLOAD);
    edns.set_dnssec_ok(true);
    msg.set_edns(edns);
    let wire = msg.to_vec().ok()?;
    let len = u16::try_from(wire.len()).ok()?;
    for server in servers {
        let attempt = async {
            let mut tcp = tokio::net::TcpStream::connect(server).await.ok()?;
            let mut out = len.to_be_bytes().to_vec();
            out.extend_from_slice(&wire);
            tcp.write_all(&out).await.ok()?;
            let n = tcp.read_u16().await.ok()?;
            let mut buf = vec![0u8; usize::from(n)];
            tcp.read_exact(&mut buf).await.ok()?;
            let resp = Message::from_vec(&buf).ok()?;
            (resp.metadata.id == msg.metadata.id
                && resp.metadata.response_code == ResponseCode::NoError)
                .then_some(resp.answers)
        };
        if let Ok(Some(records)) = tokio::time::timeout(timeout, attempt).await {
            return Some(records);
        }
        // No TCP (or it failed): UDP, unless the answer came back truncated.
        let udp = async {
            let bind: SocketAddr = if server.is_ipv4() {
                SocketAddr::from(([0, 0, 0, 0], 0))
            } else {
                SocketAddr::from(([0u16; 8], 0))
            };
            let sock = tokio::net::UdpSocket::bind(bind).await.ok()?;
            sock.send_to(&wire, server).await.ok()?;
            let mut buf = vec![0u8; 65535];
            loop {
                let (n, from) = sock.recv_from(&mut buf).await.ok()?;
                let Some(resp) = buf.get(..n).and_then(|b| Message::from_vec(b).ok()) else {
                    continue;
                };
                if from != *server || resp.metadata.id != msg.metadata.id {
                    continue;
                }
                return (resp.metadata.response_code == ResponseCode::NoError
                    && !resp.metadata.truncation)
                    .then_some(resp.answers);
            }
        };
        if let Ok(Some(records)) = tokio::time::timeout(timeout, udp).await {
            return Some(records);
        }
    }
    None
}

fn dedup(mut v: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let mut seen = std::collections::HashSet::new();
    v.retain(|a| seen.insert(*a));
    v
}

fn join_addrs(a: &[SocketAddr]) -> String {
    a.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn servers_config(servers: &[SocketAddr]) -> ResolverConfig {
    let name_servers = servers
        .iter()
        .map(|sa| {
            let mut udp = ConnectionConfig::udp();
            udp.port = sa.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = sa.port();
            NameServerConfig::new(sa.ip(), true, vec![udp, tcp])
        })
        .collect();
    ResolverConfig::from_name_servers(name_servers)
}

fn to_hickory(name: &DomainName) -> Option<Name> {
    Name::from_labels(name.labels()).ok()
}

fn from_hickory(name: &Name) -> Option<DomainName> {
    DomainName::from_labels(name.iter()).ok()
}

fn rcode_str(rc: ResponseCode) -> Cow<'static, str> {
    match rc {
        ResponseCode::NoError => Cow::Borrowed("NOERROR"),
        ResponseCode::NXDomain => Cow::Borrowed("NXDOMAIN"),
        ResponseCode::ServFail => Cow::Borrowed("SERVFAIL"),
        ResponseCode::Refused => Cow::Borrowed("REFUSED"),
        ResponseCode::FormErr => Cow::Borrowed("FORMERR"),
        ResponseCode::NotImp => Cow::Borrowed("NOTIMP"),
        other => Cow::Owned(format!("{other:?}").to_ascii_uppercase()),
    }
}

fn classify_error(e: &NetError) -> (LookupFailure, Cow<'static, str>) {
    match e {
        NetError::Dns(DnsError::NoRecordsFound(nr)) => {
            // With validation on, hickory drops `negative_ttl`; take it from the SOA again
            // (RFC 2308 §5: min of the SOA TTL and MINIMUM).
            let ttl = nr
                .negative_ttl
                .or_else(|| nr.soa.as_ref().map(|soa| soa.ttl.min(soa.data.minimum)));
            let failure = if nr.response_code == ResponseCode::NXDomain {
                LookupFailure::NxDomain { negative_ttl: ttl }
            } else {
                LookupFailure::NoData { negative_ttl: ttl }
            };
            (failure, rcode_str(nr.response_code))
        }
        NetError::Dns(DnsError::ResponseCode(rc)) => {
            let reason = match *rc {
                ResponseCode::ServFail => FailureReason::ServFail,
                ResponseCode::Refused => FailureReason::Refused,
                other => FailureReason::OtherRcode(rcode_str(other).into_owned()),
            };
            (LookupFailure::Failed(reason), rcode_str(*rc))
        }
        // A negative answer hickory could not prove secure (insecure or indeterminate: the proof
        // is bogus only as `DnssecBogus`). Still an ordinary NXDOMAIN/NODATA for control flow.
        NetError::Dns(DnsError::Nsec {
            response, proof, ..
        }) => {
            if matches!(state_of([proof]), DnssecState::Bogus) {
                return (
                    LookupFailure::Failed(FailureReason::DnssecBogus),
                    Cow::Borrowed("bogus"),
                );
            }
            let rc = response.metadata.response_code;
            let negative_ttl = response.negative_ttl();
            let failure = if rc == ResponseCode::NXDomain {
                LookupFailure::NxDomain { negative_ttl }
            } else {
                LookupFailure::NoData { negative_ttl }
            };
            (failure, rcode_str(rc))
        }
        NetError::Dns(DnsError::DnssecBogus) => (
            LookupFailure::Failed(FailureReason::DnssecBogus),
            Cow::Borrowed("bogus"),
        ),
        NetError::Timeout => (
            LookupFailure::Failed(FailureReason::Timeout),
            Cow::Borrowed("timeout"),
        ),
        NetError::Truncated => (
            LookupFailure::Failed(FailureReason::Truncated),
            Cow::Borrowed("truncated"),
        ),
        NetError::Proto(p) => (
            LookupFailure::Failed(FailureReason::Malformed(p.to_string())),
            Cow::Borrowed("malformed"),
        ),
        other => (
            LookupFailure::Failed(FailureReason::Network(other.to_string())),
            Cow::Borrowed("error"),
        ),
    }
}

#[async_trait::async_trait]
impl NaptrSource for DnsSource {
    async fn lookup_naptr(&self, name: &DomainName) -> NaptrLookup {
        let Some(reachability) = &self.reachability else {
            return self.lookup_validated_or_not(name).await;
        };
        let lookup = self.lookup_validated_or_not(name);
        tokio::pin!(lookup);
        tokio::select! {
            biased;
            done = &mut lookup => done,
            refused = reachability.refused() => match refused {
                Some(servers) => NaptrLookup {
                    result: Err(LookupFailure::Failed(FailureReason::ConnectionRefused(
                        servers,
                    ))),
                    queries: Vec::new(),
                },
                None => lookup.await,
            },
        }
    }
}

impl DnsSource {
    /// The lookup proper: validating, or through the fallback (see `with_dnssec`).
    async fn lookup_validated_or_not(&self, name: &DomainName) -> NaptrLookup {
        // No chain from the root through these servers, and no file anchor above the name:
        // validation cannot say secure or insecure (see `with_dnssec`).
        if let Some(fb) = &self.fallback
            && !fb.covers(name)
            && !fb.root_reachable().await
        {
            return self.lookup_with(&fb.plain, false, name).await;
        }
        self.lookup_with(&self.resolver, true, name).await
    }
}

impl DnsSource {
    /// The DNSSEC state an answer for `name` gets without validation, or `None` when this
    /// source validates it (then only this source may answer it). `Unchecked` with DNSSEC off;
    /// `Indeterminate` for a name that no chain of trust reaches through these servers (the
    /// fallback of [`DnsSource::with_dnssec`]). The batch's UDP query engine
    /// ([`crate::udp_engine`]) answers such names itself, labelled as this source would.
    pub async fn unvalidated_state(&self, name: &DomainName) -> Option<DnssecState> {
        if !self.mode.validates() {
            return Some(DnssecState::Unchecked);
        }
        let fb = self.fallback.as_ref()?;
        (!fb.covers(name) && !fb.root_reachable().await).then_some(DnssecState::Indeterminate)
    }

    /// [`Self::unvalidated_state`] when it is known without waiting: always, except before the
    /// one probe of the root's keys has finished (`None` then). Lets the batch's engine skip
    /// the future of the probe on every lookup once it is known.
    pub(crate) fn unvalidated_state_now(&self, name: &DomainName) -> Option<Option<DnssecState>> {
        if !self.mode.validates() {
            return Some(Some(DnssecState::Unchecked));
        }
        let Some(fb) = self.fallback.as_ref() else {
            return Some(None);
        };
        if fb.covers(name) {
            return Some(None);
        }
        let reachable = *fb.root_reachable.get()?;
        Some((!reachable).then_some(DnssecState::Indeterminate))
    }
}

impl Fallback {
    /// Whether `name` is at or below a `--trust-anchor` name.
    fn covers(&self, name: &DomainName) -> bool {
        // Without file anchors (the usual case) no conversion per name: it was a few percent of
        // a batch, whose query engine asks this for every name it sends.
        !self.anchored.is_empty()
            && to_hickory(name).is_some_and(|n| self.anchored.iter().any(|a| a.zone_of(&n)))
    }

    /// Whether the servers serve the root DNSKEY RRset with signatures (probed once).
    async fn root_reachable(&self) -> bool {
        *self
            .root_reachable
            .get_or_init(|| async {
                fetch_dnskeys(&self.servers, &Name::root(), self.timeout)
                    .await
                    .is_some_and(|records| {
                        records.iter().any(|r| r.record_type() == RecordType::RRSIG)
                    })
            })
            .await
    }
}

impl DnsSource {
    /// One NAPTR lookup through `resolver`; `validated` says whether it validates (else the
    /// answer is `indeterminate` in a validating mode: the fallback of `lookup_naptr`).
    async fn lookup_with(
        &self,
        resolver: &TokioResolver,
        validated: bool,
        name: &DomainName,
    ) -> NaptrLookup {
        let started = Instant::now();
        let Some(qname) = to_hickory(name) else {
            // Not reachable for names DomainName accepts, but never panic on it.
            let failure = LookupFailure::Failed(FailureReason::Network(format!(
                "name {name} not representable"
            )));
            return NaptrLookup {
                result: Err(failure),
                queries: Vec::new(),
            };
        };
        let res = resolver.lookup(qname.clone(), RecordType::NAPTR).await;
        let elapsed = started.elapsed();
        match res {
            Ok(lookup) => {
                let message = lookup.message();
                // hickory does not say which transport answered. A response larger than the UDP
                // payload we advertised can only have come over TCP (after TC=1).
                let size = message.to_vec().map_or(0, |v| v.len());
                let transport = if size > usize::from(EDNS_PAYLOAD) {
                    Transport::Tcp
                } else {
                    Transport::Udp
                };
                let answers = lookup.answers();
                let mut chain = Vec::new();
                let mut records = Vec::new();
                let mut malformed = Vec::new();
                let mut owner: Option<DomainName> = None;
                let mut ttl = u32::MAX;
                for r in answers {
                    match &r.data {
                        RData::CNAME(_) => {
                            ttl = ttl.min(r.ttl);
                            if let Some(n) = from_hickory(&r.name) {
                                chain.push(n);
                            }
                        }
                        RData::NAPTR(n) => {
                            ttl = ttl.min(r.ttl);
                            if owner.is_none() {
                                owner = from_hickory(&r.name);
                            }
                            match from_hickory(&n.replacement) {
                                Some(replacement) => records.push(NaptrRecord {
                                    order: n.order,
                                    preference: n.preference,
                                    flags: n.flags.to_vec(),
                                    services: n.services.to_vec(),
                                    regexp: n.regexp.to_vec(),
                                    replacement,
                                }),
                                None => malformed.push(format!(
                                    "replacement {} is not a valid name",
                                    n.replacement
                                )),
                            }
                        }
                        _ => {}
                    }
                }
                let trace = QueryTrace {
                    name: name.clone(),
                    qtype: "NAPTR",
                    rcode: rcode_str(message.metadata.response_code),
                    answers: answers.len(),
                    ttl: (ttl != u32::MAX).then_some(ttl),
                    elapsed,
                    transport,
                };
                // DNSSEC: the worst proof over the CNAME and NAPTR records relied on.
                let dnssec = if self.mode.validates() && !validated {
                    DnssecState::Indeterminate
                } else if self.mode.validates() {
                    state_of(
                        answers
                            .iter()
                            .filter(|r| matches!(r.data, RData::CNAME(_) | RData::NAPTR(_)))
                            .map(|r| &r.proof),
                    )
                } else {
                    DnssecState::Unchecked
                };
                let result = if dnssec == DnssecState::Bogus {
                    // hickory normally reports bogus data as an error already; never use it.
                    Err(LookupFailure::Failed(FailureReason::DnssecBogus))
                } else if self.mode == DnssecMode::Require
                    && dnssec != DnssecState::Secure
                    && !(records.is_empty() && malformed.is_empty())
                {
                    Err(LookupFailure::Failed(FailureReason::DnssecRequired(dnssec)))
                } else if records.is_empty() && malformed.is_empty() {
                    // hickory reports NODATA as an error (NoRecordsFound); a successful lookup
                    // without NAPTR records happens when it stopped following a CNAME chain
                    // (a loop, or more than 8 hops; observed with NSD, Knot and BIND): temporary
                    // for this name (RFC 1034 §3.6.2).
                    Err(LookupFailure::Failed(FailureReason::CnameChain))
                } else {
                    Ok(NaptrAnswer {
                        owner: owner.unwrap_or_else(|| name.clone()),
                        cname_chain: chain,
                        records,
                        malformed,
                        ttl,
                        dnssec,
                    })
                };
                NaptrLookup {
                    result,
                    queries: vec![trace],
                }
            }
            Err(e) => {
                let (failure, rcode) = classify_error(&e);
                let ttl = match &failure {
                    LookupFailure::NxDomain { negative_ttl }
                    | LookupFailure::NoData { negative_ttl } => *negative_ttl,
                    LookupFailure::Failed(_) => None,
                };
                let transport = if failure.is_temporary() {
                    Transport::None
                } else {
                    Transport::Udp
                };
                let mut queries = vec![QueryTrace {
                    name: name.clone(),
                    qtype: "NAPTR",
                    rcode,
                    answers: 0,
                    ttl,
                    elapsed,
                    transport,
                }];
                let mut failure = failure;
                // hickory reports a CNAME loop (or a chain over 8 hops) as NODATA without an SOA.
                // An authoritative or recursive NODATA carries the SOA (RFC 2308 §3), so only in
                // that ambiguous case ask for the CNAME at the name: if there is one, the chain
                // did not end in a NAPTR RRset, a temporary failure for this name (RFC 1034 §3.6.2).
                let no_soa =
                    matches!(&e, NetError::Dns(DnsError::NoRecordsFound(nr)) if nr.soa.is_none());
                if no_soa && matches!(failure, LookupFailure::NoData { negative_ttl: None }) {
                    let started = Instant::now();
                    let cname = resolver.lookup(qname, RecordType::CNAME).await;
                    let found = cname.as_ref().map_or(0, |l| {
                        l.answers()
                            .iter()
                            .filter(|r| matches!(r.data, RData::CNAME(_)))
                            .count()
                    });
                    queries.push(QueryTrace {
                        name: name.clone(),
                        qtype: "CNAME",
                        rcode: match &cname {
                            Ok(l) => rcode_str(l.message().metadata.response_code),
                            Err(e) => classify_error(e).1,
                        },
                        answers: found,
                        ttl: None,
                        elapsed: started.elapsed(),
                        transport: Transport::Udp,
                    });
                    if found > 0 {
                        failure = LookupFailure::Failed(FailureReason::CnameChain);
                    }
                }
                NaptrLookup {
                    result: Err(failure),
                    queries,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_forms() {
        assert_eq!(
            parse_server("127.0.0.1").unwrap(),
            "127.0.0.1:53".parse().unwrap()
        );
        assert_eq!(
            parse_server("127.0.0.1:5353").unwrap(),
            "127.0.0.1:5353".parse().unwrap()
        );
        assert_eq!(
            parse_server("[::1]:5353").unwrap(),
            "[::1]:5353".parse().unwrap()
        );
        assert_eq!(parse_server("::1").unwrap(), "[::1]:53".parse().unwrap());
        assert_eq!(
            parse_server("[2001:db8::1]").unwrap(),
            "[2001:db8::1]:53".parse().unwrap()
        );
        for bad in ["", "ns.example", "1.2.3.4:99999", "[::1", "1.2.3.4:"] {
            assert!(parse_server(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_round_trip_through_hickory() {
        let n = DomainName::parse("34.0-25.2.0.192.IN-ADDR.arpa.").unwrap();
        let h = to_hickory(&n).unwrap();
        assert!(h.is_fqdn());
        assert_eq!(from_hickory(&h).unwrap(), n);
        assert!(to_hickory(&DomainName::root()).unwrap().is_root());
    }
}
