//! [`Resolver`]: the entry point for applications ([`Resolver::discover`] and friends, returning
//! [`Discovery`] or [`Error`]) and for the CLI's detailed outcomes ([`Resolver::unaptr`],
//! [`Resolver::xdom`]).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use altodisc_proto::name::DomainName;
use altodisc_proto::service::WantedService;
use ipnet::IpNet;
use url::Url;

use crate::dns::{DnsConfig, DnsSetupError, DnsSource};
use crate::source::NaptrSource;
use crate::unaptr::{Candidate, DnssecState, status_detail, status_is_temporary};
use crate::unaptr::{UnaptrOptions, UnaptrOutcome, resolve_unaptr};
use crate::xdom::{XdomError, XdomOptions, XdomOutcome, XdomStatus, xdom};

/// Which protocols a discovery accepts, in order (RFC 7286 §3.2: `ALTO:https`; `ALTO:http` is
/// for debugging only, RFC 8686 §6.1). Protocols are never mixed within one chain (RFC 3958
/// §2.2.5): the first one that yields a server wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Protocols {
    /// `ALTO:https` only (the default).
    #[default]
    HttpsOnly,
    /// `ALTO:https`, then `ALTO:http` when https yields nothing.
    HttpsThenHttp,
}

impl Protocols {
    /// The (service, protocol) pairs to try, in order.
    #[must_use]
    pub fn wanted(self) -> Vec<WantedService> {
        match self {
            Self::HttpsOnly => vec![WantedService::alto_https()],
            Self::HttpsThenHttp => vec![WantedService::alto_https(), WantedService::alto_http()],
        }
    }
}

/// One ALTO server found: the IRD URI to fetch (RFC 7285 §9) and how it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AltoServer {
    /// The IRD URI.
    pub uri: Url,
    /// NAPTR ORDER (lower first).
    pub order: u16,
    /// NAPTR PREFERENCE (lower first within an ORDER).
    pub preference: u16,
    /// Seconds the answer may be cached (the smallest TTL along its chain).
    pub ttl: u32,
    /// DNSSEC state of the answers it came from.
    pub dnssec: DnssecState,
    /// The name whose NAPTR record gave the URI.
    pub owner: DomainName,
}

impl AltoServer {
    fn from_candidate(c: &Candidate) -> Option<Self> {
        // Candidates are absolute URIs checked against their protocol (docs/decisions.md, A2);
        // one the URL parser still refuses is left out rather than handed to the application.
        let uri = Url::parse(&c.uri).ok()?;
        Some(Self {
            uri,
            order: c.order,
            preference: c.preference,
            ttl: c.ttl,
            dnssec: c.dnssec,
            owner: c.owner.clone(),
        })
    }
}

/// A successful discovery: at least one server, in the order to try them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Discovery {
    /// The servers, best first; never empty.
    pub servers: Vec<AltoServer>,
    /// RFC 8686 only: a more specific name failed temporarily, so a retry later may find a more
    /// precise server (docs/decisions.md, A14).
    pub degraded: bool,
    /// Everything the lookup did (names, skipped records, queries), for logs and diagnostics.
    pub detail: Detail,
}

impl Discovery {
    /// The first server to try.
    #[must_use]
    pub fn best(&self) -> &AltoServer {
        // `servers` is never empty: a discovery without one is an `Error::NotFound`.
        &self.servers[0]
    }
}

/// The full outcome behind a [`Discovery`] or an [`Error::NotFound`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Detail {
    /// RFC 7286 U-NAPTR at an access domain.
    Domain(Box<UnaptrOutcome>),
    /// RFC 8686 cross-domain discovery for an address or prefix.
    Address(Box<XdomOutcome>),
}

/// Why a discovery gave no server. Ask it with the classifiers rather than matching variants:
/// [`Error::is_not_found`], [`Error::is_temporary`], [`Error::is_invalid_input`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is not an address, prefix or domain name, or the prefix length is not
    /// supported (RFC 8686 §3.5: "abort with an error").
    #[error("invalid input {input:?}: {reason}")]
    InvalidInput {
        /// The input as given.
        input: String,
        /// Why.
        reason: String,
    },
    /// No server published for the input (or the servers asked refused to answer,
    /// docs/decisions.md, A16). `temporary` says a timeout or SERVFAIL was among the reasons, so a
    /// retry later may find one (RFC 8686 §3.5).
    #[error("no ALTO server found for {subject}: {reason}")]
    NotFound {
        /// The domain, address or prefix.
        subject: String,
        /// Why, in words.
        reason: String,
        /// Whether a retry later may help.
        temporary: bool,
        /// The full outcome.
        detail: Box<Detail>,
    },
    /// The DNS client could not be set up (no resolv.conf, bad server address, trust anchors).
    #[error("DNS setup: {0}")]
    Setup(#[from] DnsSetupError),
}

impl Error {
    /// The input was invalid: fix it, do not retry.
    #[must_use]
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, Self::InvalidInput { .. })
    }

    /// No server was found.
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    /// No server was found, but only because of failures a later retry may cure (timeouts,
    /// SERVFAIL; RFC 8686 §3.5). A REFUSED is not one (docs/decisions.md, A16).
    #[must_use]
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            Self::NotFound {
                temporary: true,
                ..
            }
        )
    }

    /// The full outcome of a lookup that found nothing.
    #[must_use]
    pub fn detail(&self) -> Option<&Detail> {
        match self {
            Self::NotFound { detail, .. } => Some(detail),
            _ => None,
        }
    }
}

/// What [`Resolver::discover`] was asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// An access domain (RFC 7286 §3.2).
    Domain(DomainName),
    /// One address (RFC 8686).
    Address(IpAddr),
    /// A prefix (RFC 8686 §3.2).
    Prefix(IpNet),
}

impl std::str::FromStr for Target {
    type Err = Error;

    /// `198.51.100.7`, `2001:db8::/48` or `alto.example.org` (a relative name is taken as
    /// absolute).
    fn from_str(text: &str) -> Result<Self, Error> {
        let text = text.trim();
        if let Ok(a) = text.parse::<IpAddr>() {
            return Ok(Self::Address(a));
        }
        if text.contains('/') {
            return text
                .parse::<IpNet>()
                .map(Self::Prefix)
                .map_err(|e| Error::InvalidInput {
                    input: text.to_owned(),
                    reason: format!("not an address prefix: {e}"),
                });
        }
        if text.contains(':') {
            return Err(Error::InvalidInput {
                input: text.to_owned(),
                reason: "not an IP address nor a domain name".to_owned(),
            });
        }
        DomainName::parse(text)
            .map(Self::Domain)
            .map_err(|e| Error::InvalidInput {
                input: text.to_owned(),
                reason: e.to_string(),
            })
    }
}

/// U-NAPTR and RFC 8686 discovery over one [`NaptrSource`] (real DNS or an in-memory zone).
#[derive(Clone)]
pub struct Resolver {
    source: Arc<dyn NaptrSource>,
    description: String,
    /// Options for xdom (and, through `xdom.unaptr`, for every U-NAPTR resolution).
    pub options: XdomOptions,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("source", &self.description)
            .field("options", &self.options)
            .finish()
    }
}

impl Resolver {
    /// DNS through the system resolver configuration (`/etc/resolv.conf`), RD=1.
    /// Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// [`DnsSetupError`] when the configuration cannot be read or names no server.
    pub fn system() -> Result<Self, DnsSetupError> {
        Self::with_servers(&DnsConfig::default())
    }

    /// Every query to one explicit server (`127.0.0.1:5300`, `[::1]:53`), RD=0: for querying an
    /// authoritative server directly (tests, `check --live`). Must be called inside a tokio
    /// runtime.
    ///
    /// # Errors
    /// [`DnsSetupError`] when hickory refuses the configuration.
    pub fn with_server(server: SocketAddr) -> Result<Self, DnsSetupError> {
        Self::with_servers(&DnsConfig {
            servers: vec![server],
            recursion_desired: false,
            ..DnsConfig::default()
        })
    }

    /// DNS with full control over servers, timeout, attempts and RD.
    ///
    /// # Errors
    /// [`DnsSetupError`].
    pub fn with_servers(config: &DnsConfig) -> Result<Self, DnsSetupError> {
        let dns = DnsSource::new(config)?;
        let description = dns.description().to_owned();
        Ok(Self {
            source: Arc::new(dns),
            description,
            options: XdomOptions::default(),
        })
    }

    /// DNS with DNSSEC validation as `dnssec` says: the CLI's `--dnssec` and
    /// `--trust-anchor`. Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// [`DnsSetupError`], including a DS trust anchor that covers no DNSKEY the servers serve.
    pub async fn with_dnssec(
        config: &DnsConfig,
        dnssec: &crate::dnssec::DnssecConfig,
    ) -> Result<Self, DnsSetupError> {
        let dns = DnsSource::with_dnssec(config, dnssec).await?;
        let description = dns.description().to_owned();
        Ok(Self {
            source: Arc::new(dns),
            description,
            options: XdomOptions::default(),
        })
    }

    /// Any source, e.g. [`crate::memory::MemorySource`] in tests and benchmarks.
    #[must_use]
    pub fn with_source(source: Arc<dyn NaptrSource>) -> Self {
        Self {
            source,
            description: "custom source".to_owned(),
            options: XdomOptions::default(),
        }
    }

    /// Replaces the options.
    #[must_use]
    pub fn options(mut self, options: XdomOptions) -> Self {
        self.options = options;
        self
    }

    /// Which servers are used, for output.
    #[must_use]
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The underlying source (e.g. to share it with [`crate::batch::run_batch`]).
    #[must_use]
    pub fn source(&self) -> Arc<dyn NaptrSource> {
        Arc::clone(&self.source)
    }

    fn unaptr_options(&self) -> &UnaptrOptions {
        &self.options.unaptr
    }

    /// Finds the ALTO servers for an access domain, an address or a prefix given as text
    /// (`alto.example.org`, `198.51.100.7`, `2001:db8::/48`), over `ALTO:https`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the text is none of those; [`Error::NotFound`] when nothing
    /// is published ([`Error::is_temporary`] says whether to retry later).
    pub async fn discover(&self, target: &str) -> Result<Discovery, Error> {
        match target.parse::<Target>()? {
            Target::Domain(d) => self.discover_domain(&d, Protocols::HttpsOnly).await,
            Target::Address(a) => self.discover_address(a).await,
            Target::Prefix(p) => self.discover_prefix(p).await,
        }
    }

    /// RFC 7286 §3.2 for an access domain (the one DHCP option 213/57 handed out): U-NAPTR at
    /// the domain for each of `protocols` in turn.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn discover_domain(
        &self,
        domain: &DomainName,
        protocols: Protocols,
    ) -> Result<Discovery, Error> {
        let o = self.resolve_domain(domain, protocols).await;
        let servers: Vec<AltoServer> = o
            .candidates
            .iter()
            .filter_map(AltoServer::from_candidate)
            .collect();
        if servers.is_empty() {
            return Err(Error::NotFound {
                subject: domain.to_string(),
                reason: status_detail(&o.status),
                temporary: status_is_temporary(&o.status),
                detail: Box::new(Detail::Domain(Box::new(o))),
            });
        }
        Ok(Discovery {
            servers,
            degraded: false,
            detail: Detail::Domain(Box::new(o)),
        })
    }

    /// RFC 8686 cross-domain discovery for one address: the most specific published name wins.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a link-local address (no reverse DNS, docs/decisions.md,
    /// A10); [`Error::NotFound`].
    pub async fn discover_address(&self, address: IpAddr) -> Result<Discovery, Error> {
        self.discover_xdom(&address.to_string()).await
    }

    /// RFC 8686 cross-domain discovery for a prefix (RFC 8686 §3.2 supports IPv4 /8 to /32 and
    /// IPv6 /32 to /128; host bits are ignored, docs/decisions.md, A11).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an unsupported length; [`Error::NotFound`].
    pub async fn discover_prefix(&self, prefix: IpNet) -> Result<Discovery, Error> {
        self.discover_xdom(&prefix.to_string()).await
    }

    async fn discover_xdom(&self, input: &str) -> Result<Discovery, Error> {
        let wanted = [WantedService::alto_https()];
        let o = self
            .xdom(input, &wanted)
            .await
            .map_err(|XdomError::Input { input, source }| Error::InvalidInput {
                input,
                reason: source.to_string(),
            })?;
        let servers: Vec<AltoServer> = o
            .candidates
            .iter()
            .filter_map(AltoServer::from_candidate)
            .collect();
        if servers.is_empty() {
            let reason = match o.status {
                XdomStatus::TemporaryFailure => {
                    "only temporary failures (timeout, SERVFAIL): retry later".to_owned()
                }
                _ => "no name of the reverse ladder has an ALTO record".to_owned(),
            };
            return Err(Error::NotFound {
                subject: input.to_owned(),
                reason,
                temporary: o.status == XdomStatus::TemporaryFailure,
                detail: Box::new(Detail::Address(Box::new(o))),
            });
        }
        Ok(Discovery {
            servers,
            degraded: o.degraded,
            detail: Detail::Address(Box::new(o)),
        })
    }

    /// RFC 7286 §3.2 step 2 for a known access domain, with the full outcome: U-NAPTR
    /// `ALTO:https`, then `ALTO:http` with [`Protocols::HttpsThenHttp`] (RFC 3958 §2.2.5: the
    /// first protocol that yields candidates wins; protocols are never mixed within one chain).
    pub async fn resolve_domain(&self, domain: &DomainName, protocols: Protocols) -> UnaptrOutcome {
        self.unaptr(domain, &protocols.wanted()).await
    }

    /// U-NAPTR at `name` for each wanted (service, protocol) in turn until one yields candidates.
    pub async fn unaptr(&self, name: &DomainName, wanted: &[WantedService]) -> UnaptrOutcome {
        resolve_unaptr(&*self.source, name, wanted, self.unaptr_options()).await
    }

    /// RFC 8686 XDOMDISC for an address or prefix.
    ///
    /// # Errors
    /// [`XdomError::Input`] for invalid syntax or an unsupported prefix length.
    pub async fn xdom(
        &self,
        input: &str,
        wanted: &[WantedService],
    ) -> Result<XdomOutcome, XdomError> {
        xdom(&*self.source, input, wanted, &self.options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemorySource;

    #[tokio::test]
    async fn resolve_domain_prefers_https_and_allows_http_only_on_request() {
        let src = MemorySource::new().uri("d.example.", 1, 1, "ALTO:http", "http://d.example/ird");
        let r = Resolver::with_source(Arc::new(src));
        let d = DomainName::parse("d.example.").unwrap();
        assert!(!r.resolve_domain(&d, Protocols::HttpsOnly).await.found());
        let o = r.resolve_domain(&d, Protocols::HttpsThenHttp).await;
        assert_eq!(o.candidates[0].uri, "http://d.example/ird");
        assert_eq!(o.candidates[0].protocol, "http");
    }

    #[tokio::test]
    async fn discover_parses_the_target_and_returns_urls_or_a_classified_error() {
        use crate::source::FailureReason;
        let src = MemorySource::new()
            .uri(
                "isp.example.",
                100,
                10,
                "ALTO:https",
                "https://alto.isp.example/ird",
            )
            .uri(
                "100.51.198.in-addr.arpa.",
                100,
                10,
                "ALTO:https",
                "https://alto.isp.example/v4",
            )
            .fail("3.0.0.192.in-addr.arpa.", FailureReason::Timeout)
            .fail("0.0.192.in-addr.arpa.", FailureReason::Refused);
        let r = Resolver::with_source(Arc::new(src));

        let d = r.discover("isp.example").await.unwrap();
        assert_eq!(d.best().uri.as_str(), "https://alto.isp.example/ird");
        assert!(matches!(d.detail, Detail::Domain(_)));
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        let a = r.discover_address(ip).await.unwrap();
        assert_eq!(a.best().uri.host_str(), Some("alto.isp.example"));
        assert_eq!(a.best().owner.to_string(), "100.51.198.in-addr.arpa.");
        let p = r
            .discover_prefix("198.51.100.0/24".parse().unwrap())
            .await
            .unwrap();
        assert_eq!(p.best().uri.path(), "/v4");

        // Invalid input: not retried, not "not found".
        for bad in ["198.51.100.0/33", "fe80::1%eth0", "2001:db8::/31", "a..b"] {
            let e = r.discover(bad).await.unwrap_err();
            assert!(e.is_invalid_input() && !e.is_not_found(), "{bad}: {e}");
        }
        // Nothing published: not found, not temporary.
        let e = r.discover("203.0.113.9").await.unwrap_err();
        assert!(e.is_not_found() && !e.is_temporary(), "{e}");
        // A timeout at the /32 name and a refusal at /24: temporary (the timeout), and the
        // outcome is there for logs.
        let e = r.discover("192.0.0.3").await.unwrap_err();
        assert!(e.is_not_found() && e.is_temporary(), "{e}");
        assert!(matches!(e.detail(), Some(Detail::Address(_))));
        // A refusal alone is not temporary (docs/decisions.md, A16).
        let src = MemorySource::new().fail("isp.example.", FailureReason::Refused);
        let e = Resolver::with_source(Arc::new(src))
            .discover("isp.example")
            .await
            .unwrap_err();
        assert!(e.is_not_found() && !e.is_temporary(), "{e}");
        assert!(e.to_string().contains("REFUSED"), "{e}");
    }
}
