//! [`Resolver`]: the one entry point other crates and the CLI use for U-NAPTR and xdom.

use std::net::SocketAddr;
use std::sync::Arc;

use altodisc_proto::name::DomainName;
use altodisc_proto::service::WantedService;

use crate::dns::{DnsConfig, DnsSetupError, DnsSource};
use crate::source::NaptrSource;
use crate::unaptr::{UnaptrOptions, UnaptrOutcome, resolve_unaptr};
use crate::xdom::{XdomError, XdomOptions, XdomOutcome, xdom};

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

    /// RFC 7286 §3.2 step 2 for a known access domain: U-NAPTR `ALTO:https`, then `ALTO:http`
    /// only when `allow_http` (RFC 3958 §2.2.5: the first protocol that yields candidates wins;
    /// protocols are never mixed within one chain).
    pub async fn resolve_domain(&self, domain: &DomainName, allow_http: bool) -> UnaptrOutcome {
        let mut wanted = vec![WantedService::alto_https()];
        if allow_http {
            wanted.push(WantedService::alto_http());
        }
        self.unaptr(domain, &wanted).await
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
        assert!(!r.resolve_domain(&d, false).await.found());
        let o = r.resolve_domain(&d, true).await;
        assert_eq!(o.candidates[0].uri, "http://d.example/ird");
        assert_eq!(o.candidates[0].protocol, "http");
    }
}
