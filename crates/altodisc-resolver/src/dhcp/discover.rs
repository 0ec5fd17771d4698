//! RFC 7286 local discovery (RFC 7286 §3): for each interface and address
//! family, a configured domain (RFC 7286 §3.1.1) first, else DHCP (§3.1.2) or the OS DHCP client's
//! lease file, then U-NAPTR (§3.2) through [`crate::Resolver::unaptr`] (by default `ALTO:https`
//! only, as [`crate::Resolver::resolve_domain`] does without `allow_http`).
//!
//! Results stay separate per (interface, family), each with the source of its domain; a failure
//! on one pair never hides another's result (RFC 7286 §4.2). Pairs run concurrently, so the whole
//! run takes about one DHCP deadline plus the DNS time, not their sum.

use std::collections::BTreeMap;
use std::path::PathBuf;

use altodisc_proto::name::DomainName;
use altodisc_proto::service::WantedService;
use serde_json::{Value, json};

use super::{
    AddressFamily, ClientOptions, DhcpError, DomainSource, LearnedDomain, Trace, TraceEvent, iface,
    lease, v4, v6,
};
use crate::Resolver;
use crate::unaptr::UnaptrOutcome;

/// Domains configured per interface and family, with a default (RFC 7286 §3.1.1: "MAY" per
/// interface and family, "SHOULD" a default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainConfig {
    /// Applies when nothing more specific is set.
    pub default: Option<DomainName>,
    /// Per interface name.
    pub interfaces: BTreeMap<String, InterfaceDomains>,
}

/// The configured domains of one interface.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InterfaceDomains {
    /// For both families of this interface.
    pub default: Option<DomainName>,
    /// For IPv4 only.
    pub ipv4: Option<DomainName>,
    /// For IPv6 only.
    pub ipv6: Option<DomainName>,
}

impl DomainConfig {
    /// The configured domain for (interface, family): per-family, then per-interface, then the
    /// global default. `None` means "ask DHCP".
    #[must_use]
    pub fn lookup(&self, interface: &str, family: AddressFamily) -> Option<(&DomainName, String)> {
        if let Some(i) = self.interfaces.get(interface) {
            let fam = match family {
                AddressFamily::Ipv4 => i.ipv4.as_ref(),
                AddressFamily::Ipv6 => i.ipv6.as_ref(),
            };
            if let Some(d) = fam {
                return Some((d, format!("configured for {interface} {family}")));
            }
            if let Some(d) = &i.default {
                return Some((d, format!("configured for {interface}")));
            }
        }
        self.default
            .as_ref()
            .map(|d| (d, "configured default".to_owned()))
    }
}

/// Where the DHCP answer comes from when nothing is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DhcpMode {
    /// Active exchange: DHCPINFORM / Information-request (needs UDP 68 / 546).
    Network,
    /// The OS DHCP client's lease file in the standard places (no privileges).
    LeaseAuto,
    /// One lease file.
    LeaseFile(PathBuf),
    /// No DHCP at all (configuration only).
    Off,
}

/// What [`discover`] does.
#[derive(Debug, Clone)]
pub struct DiscoverOptions {
    /// Interfaces to run on; empty = every interface that is up and not loopback.
    pub interfaces: Vec<String>,
    /// Families to run; empty = both, each only where the interface has an address of it.
    pub families: Vec<AddressFamily>,
    /// Configured domains (checked first).
    pub config: DomainConfig,
    /// DHCP source.
    pub dhcp: DhcpMode,
    /// DHCP client settings (deadline, ports). Its `server` is ignored here: see `dhcp_servers`.
    pub client: ClientOptions,
    /// Unicast DHCP servers (at most one per family is used: the first of the pair's family).
    pub dhcp_servers: Vec<std::net::IpAddr>,
    /// The (service, protocol) pairs for U-NAPTR, tried in order until one yields a URI
    /// (RFC 7286 §3.2: `ALTO:https`, then `ALTO:http` only if allowed; RFC 3958 §2.2.5).
    pub wanted: Vec<WantedService>,
}

impl Default for DiscoverOptions {
    fn default() -> Self {
        Self {
            interfaces: Vec::new(),
            families: Vec::new(),
            config: DomainConfig::default(),
            dhcp: DhcpMode::Network,
            client: ClientOptions::default(),
            dhcp_servers: Vec::new(),
            wanted: vec![WantedService::alto_https()],
        }
    }
}

/// Outcome class of one (interface, family) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PairStatus {
    /// At least one URI.
    Found,
    /// A domain, but U-NAPTR gave no usable URI (RFC 7286 §3.2: discovery fails for it).
    NotFound,
    /// Neither configuration nor DHCP gave a usable domain (RFC 7286 §3.1.2).
    NoDomain,
    /// Only temporary failures (DHCP without answer, DNS timeout): a retry later may help.
    Temporary,
    /// A local error (no address, no privilege to bind the DHCP port, unreadable lease file).
    Error,
}

impl PairStatus {
    /// Stable JSON string: `found`, `not_found`, `no_domain`, `temporary`, `error`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Found => "found",
            Self::NotFound => "not_found",
            Self::NoDomain => "no_domain",
            Self::Temporary => "temporary",
            Self::Error => "error",
        }
    }
}

/// The result for one (interface, family).
#[derive(Debug, Clone)]
pub struct PairResult {
    /// Interface name.
    pub interface: String,
    /// Address family.
    pub family: AddressFamily,
    /// The domain and where it came from, when one was obtained.
    pub domain: Option<LearnedDomain>,
    /// Why no domain was obtained.
    pub domain_error: Option<String>,
    /// Warnings about the domain (e.g. a `.local` name, RFC 7286 §4.1).
    pub warnings: Vec<String>,
    /// The DHCP exchange (for `--trace`).
    pub dhcp_trace: Vec<TraceEvent>,
    /// U-NAPTR outcome, when a domain was obtained.
    pub unaptr: Option<UnaptrOutcome>,
    /// Summary.
    pub status: PairStatus,
}

/// `ipv4` / `ipv6`, as in the JSON output.
#[must_use]
pub fn family_str(f: AddressFamily) -> &'static str {
    match f {
        AddressFamily::Ipv4 => "ipv4",
        AddressFamily::Ipv6 => "ipv6",
    }
}

impl PairResult {
    /// JSON object: `interface`, `family`, `domain`, `domain_source`, `domain_detail`,
    /// `domain_error`, `warnings`, `status`, `candidates` (as in `altodisc resolve`), `unaptr`
    /// (the full U-NAPTR outcome), and with `trace` the DHCP events and DNS queries.
    #[must_use]
    pub fn to_json(&self, trace: bool) -> Value {
        let unaptr = self.unaptr.as_ref().map(|u| u.to_json(trace));
        let candidates = unaptr
            .as_ref()
            .and_then(|u| u.get("candidates").cloned())
            .unwrap_or_else(|| json!([]));
        let mut v = json!({
            "interface": self.interface,
            "family": family_str(self.family),
            "domain": self.domain.as_ref().map(|d| d.domain.to_string()),
            "domain_source": self.domain.as_ref().map(|d| d.source.as_str()),
            "domain_detail": self.domain.as_ref().map(|d| d.detail.clone()),
            "domain_error": self.domain_error,
            "warnings": self.warnings,
            "status": self.status.as_str(),
            "candidates": candidates,
            "unaptr": unaptr,
        });
        if trace {
            v["dhcp_trace"] = self
                .dhcp_trace
                .iter()
                .map(|e| json!({ "at_ms": e.at.as_secs_f64() * 1000.0, "event": e.what }))
                .collect();
        }
        v
    }
}

/// Why discovery could not start at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoverError {
    /// Listing interfaces failed.
    #[error("cannot list network interfaces: {0}")]
    Interfaces(std::io::Error),
    /// A requested interface does not exist.
    #[error("no interface named {0:?}")]
    UnknownInterface(String),
    /// Nothing to run on.
    #[error("no interface that is up and not loopback; name one with --interface")]
    NoInterfaces,
}

/// Runs RFC 7286 discovery for every selected (interface, family).
///
/// # Errors
/// [`DiscoverError`] only when the run cannot start; per-pair failures are in the results.
pub async fn discover(
    opts: &DiscoverOptions,
    resolver: &Resolver,
) -> Result<Vec<PairResult>, DiscoverError> {
    let all = iface::list().map_err(DiscoverError::Interfaces)?;
    let explicit = !opts.interfaces.is_empty();
    let chosen: Vec<iface::Interface> = if explicit {
        let mut v = Vec::new();
        for name in &opts.interfaces {
            let i = all
                .iter()
                .find(|i| &i.name == name)
                .ok_or_else(|| DiscoverError::UnknownInterface(name.clone()))?;
            v.push(i.clone());
        }
        v
    } else {
        all.into_iter().filter(|i| i.up && !i.loopback).collect()
    };
    if chosen.is_empty() {
        return Err(DiscoverError::NoInterfaces);
    }
    let families: Vec<AddressFamily> = if opts.families.is_empty() {
        vec![AddressFamily::Ipv4, AddressFamily::Ipv6]
    } else {
        opts.families.clone()
    };
    let mut jobs = Vec::new();
    for i in &chosen {
        for &f in &families {
            let has = match f {
                AddressFamily::Ipv4 => !i.ipv4.is_empty(),
                AddressFamily::Ipv6 => i.has_ipv6(),
            };
            // RFC 7286 §3.1: each AF *configured on* the interface; an interface or family the
            // user named explicitly is reported even without an address, with the reason.
            if has || (explicit && !opts.families.is_empty()) {
                jobs.push(run_pair(i.clone(), f, opts, resolver));
            }
        }
    }
    Ok(futures_util::future::join_all(jobs).await)
}

async fn run_pair(
    iface: iface::Interface,
    family: AddressFamily,
    opts: &DiscoverOptions,
    resolver: &Resolver,
) -> PairResult {
    let mut result = PairResult {
        interface: iface.name.clone(),
        family,
        domain: None,
        domain_error: None,
        warnings: Vec::new(),
        dhcp_trace: Vec::new(),
        unaptr: None,
        status: PairStatus::NoDomain,
    };
    let learned = match opts.config.lookup(&iface.name, family) {
        Some((d, why)) => Ok(LearnedDomain {
            domain: d.clone(),
            source: DomainSource::Config,
            detail: why,
        }),
        None => {
            let mut trace = Trace::new();
            let r = learn_from_dhcp(&iface, family, opts, &mut trace).await;
            result.dhcp_trace = trace.events().to_vec();
            r
        }
    };
    let learned = match learned {
        Ok(l) => l,
        Err((status, why)) => {
            result.status = status;
            result.domain_error = Some(why);
            return result;
        }
    };
    result.warnings = domain_warnings(&learned.domain);
    let outcome = resolver.unaptr(&learned.domain, &opts.wanted).await;
    result.status = if outcome.found() {
        PairStatus::Found
    } else if outcome.is_temporary() {
        PairStatus::Temporary
    } else {
        PairStatus::NotFound
    };
    result.domain = Some(learned);
    result.unaptr = Some(outcome);
    result
}

async fn learn_from_dhcp(
    iface: &iface::Interface,
    family: AddressFamily,
    opts: &DiscoverOptions,
    trace: &mut Trace,
) -> Result<LearnedDomain, (PairStatus, String)> {
    let lease_err = |e: lease::LeaseError| {
        let status = match e {
            lease::LeaseError::Io { .. } | lease::LeaseError::Format { .. } => PairStatus::Error,
            _ => PairStatus::NoDomain,
        };
        (status, e.to_string())
    };
    match &opts.dhcp {
        DhcpMode::Off => Err((
            PairStatus::NoDomain,
            "no domain configured for this interface and family, and DHCP is off".to_owned(),
        )),
        DhcpMode::LeaseAuto => {
            let r = lease::read_auto(&iface.name, family);
            trace.push(match &r {
                Ok(d) => format!("lease: {} from {}", d.domain, d.detail),
                Err(e) => format!("lease: {e}"),
            });
            r.map_err(lease_err)
        }
        DhcpMode::LeaseFile(path) => {
            let r = lease::read_file(path, Some(&iface.name), family);
            trace.push(match &r {
                Ok(d) => format!("lease: {} from {}", d.domain, d.detail),
                Err(e) => format!("lease: {e}"),
            });
            r.map_err(lease_err)
        }
        DhcpMode::Network => {
            let mut client = opts.client.clone();
            client.server = opts
                .dhcp_servers
                .iter()
                .copied()
                .find(|a| a.is_ipv4() == (family == AddressFamily::Ipv4));
            let r = match family {
                AddressFamily::Ipv4 => v4::inform(iface, &client, trace).await,
                AddressFamily::Ipv6 => v6::information_request(iface, &client, trace).await,
            };
            r.map_err(|e| {
                let status = match &e {
                    DhcpError::Timeout { .. } => PairStatus::Temporary,
                    DhcpError::NoDomain(_) | DhcpError::InvalidOption(_) => PairStatus::NoDomain,
                    _ => PairStatus::Error,
                };
                (status, e.to_string())
            })
        }
    }
}

/// RFC 7286 §4.1: home gateways may hand out their own local domain (e.g. `.local`), useless for
/// discovery unless split-horizon DNS answers it. Flag it (docs/decisions.md, resolver step 3).
#[must_use]
pub fn domain_warnings(d: &DomainName) -> Vec<String> {
    let lower = d.to_lowercase_string();
    let lower = lower.trim_end_matches('.');
    let mut w = Vec::new();
    for suffix in ["local", "home.arpa", "localdomain", "lan"] {
        if lower == suffix || lower.ends_with(&format!(".{suffix}")) {
            w.push(format!(
                "{d} is a local-use name (.{suffix}); a home gateway may have substituted it \
                 (RFC 7286 §4.1), and it resolves only with split-horizon DNS"
            ));
        }
    }
    if d.label_count() == 1 {
        w.push(format!("{d} is a single-label name"));
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> DomainName {
        DomainName::parse(s).unwrap()
    }

    #[test]
    fn config_precedence() {
        let mut c = DomainConfig {
            default: Some(n("default.example")),
            ..DomainConfig::default()
        };
        c.interfaces.insert(
            "eth0".into(),
            InterfaceDomains {
                default: Some(n("eth0.example")),
                ipv6: Some(n("eth0-v6.example")),
                ipv4: None,
            },
        );
        let get = |i: &str, f| c.lookup(i, f).map(|(d, _)| d.to_string());
        assert_eq!(
            get("eth0", AddressFamily::Ipv6).as_deref(),
            Some("eth0-v6.example.")
        );
        assert_eq!(
            get("eth0", AddressFamily::Ipv4).as_deref(),
            Some("eth0.example.")
        );
        assert_eq!(
            get("wlan0", AddressFamily::Ipv4).as_deref(),
            Some("default.example.")
        );
        assert_eq!(
            DomainConfig::default().lookup("eth0", AddressFamily::Ipv4),
            None
        );
    }

    #[test]
    fn local_names_are_flagged() {
        assert!(domain_warnings(&n("example.net")).is_empty());
        assert_eq!(domain_warnings(&n("gw.home.arpa")).len(), 1);
        assert_eq!(domain_warnings(&n("local")).len(), 2);
    }
}
