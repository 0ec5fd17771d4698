//! The native half of the `altodisc` Python package: a thin layer over `altodisc-resolver`.
//!
//! Every rule (RFC 7286 discovery, U-NAPTR per RFC 4848, the RFC 8686 ladder, IRD checks per
//! RFC 7285 §9) stays in the resolver crate. This module only converts arguments, runs the
//! resolver's futures on one shared tokio runtime with the GIL released, and returns the
//! resolver's own JSON (`to_json`) as text, which `altodisc/_types.py` turns into typed objects.
//! Errors are raised as the exception classes of `altodisc/errors.py`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use altodisc_proto::name::DomainName;
use altodisc_proto::service::{ServiceParameter, WantedService};
use altodisc_resolver::Resolver;
use altodisc_resolver::alto_conf;
use altodisc_resolver::batch::{BatchOptions, run_batch};
use altodisc_resolver::dhcp::discover::{DhcpMode, DiscoverOptions, DomainConfig, discover};
use altodisc_resolver::dhcp::{AddressFamily, ClientOptions};
use altodisc_resolver::dns::{DnsConfig, DnsSetupError, parse_server};
use altodisc_resolver::dnssec::{DnssecConfig, DnssecMode};
use altodisc_resolver::unaptr::UnaptrOptions;
use altodisc_resolver::verify::{IrdVerifier, Verification, VerifyOptions};
use pyo3::prelude::*;

/// Which Python exception class (in `altodisc.errors`) an error maps to.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// Invalid input: `InvalidInputError` (a `ValueError`).
    Input,
    /// Any other failure: `AltodiscError`.
    Other,
}

/// An error on the Rust side, raised in Python as the class of its [`Kind`].
#[derive(Debug)]
struct Error {
    kind: Kind,
    message: String,
}

impl Error {
    fn input(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Input,
            message: message.into(),
        }
    }

    fn other(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Other,
            message: message.into(),
        }
    }

    fn into_py(self, py: Python<'_>) -> PyErr {
        let name = match self.kind {
            Kind::Input => "InvalidInputError",
            Kind::Other => "AltodiscError",
        };
        let class = match py.import("altodisc.errors").and_then(|m| m.getattr(name)) {
            Ok(c) => c,
            Err(e) => return e,
        };
        match class.call1((self.message,)) {
            Ok(exc) => PyErr::from_value(exc),
            Err(e) => e,
        }
    }
}

type Result<T> = std::result::Result<T, Error>;

/// One runtime for every call: building one per call would cost a thread pool each time.
fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RT: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("altodisc")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))
    })
    .as_ref()
    .map_err(|m| Error::other(m.clone()))
}

/// The DNS settings every call shares (keyword arguments in Python).
#[derive(Debug, Clone)]
struct Dns {
    servers: Vec<String>,
    timeout: f64,
    attempts: usize,
    recursion: Option<bool>,
    allow_http: bool,
    service: String,
    dnssec: String,
    max_depth: Option<usize>,
}

fn seconds(what: &str, v: f64) -> Result<Duration> {
    if v.is_finite() && v > 0.0 && v <= 3600.0 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(Error::input(format!(
            "{what}={v}: give seconds greater than 0 and at most 3600"
        )))
    }
}

impl Dns {
    fn config(&self) -> Result<DnsConfig> {
        let servers = self
            .servers
            .iter()
            .map(|s| parse_server(s).map_err(|e| Error::input(format!("servers: {e}"))))
            .collect::<Result<Vec<_>>>()?;
        if self.attempts == 0 {
            return Err(Error::input("attempts must be at least 1"));
        }
        // An explicit server is usually the authoritative one (RD=0); the system resolver
        // recurses (RD=1). `recursion=` overrides either.
        let recursion_desired = self.recursion.unwrap_or(servers.is_empty());
        Ok(DnsConfig {
            servers,
            timeout: seconds("timeout", self.timeout)?,
            attempts: self.attempts,
            recursion_desired,
        })
    }

    /// The (service, protocol) pairs: RFC 7286 §3.2 `ALTO:https`, `ALTO:http` only on request.
    fn wanted(&self) -> Result<Vec<WantedService>> {
        let sp = ServiceParameter::from_str(&self.service)
            .map_err(|e| Error::input(format!("service {:?}: {e}", self.service)))?;
        let mut wanted = sp.wanted();
        if wanted.is_empty() {
            return Err(Error::input(format!(
                "service {:?}: needs a service and at least one protocol, e.g. ALTO:https",
                self.service
            )));
        }
        if self.allow_http && self.service.eq_ignore_ascii_case("ALTO:https") {
            wanted.push(WantedService::alto_http());
        }
        if !self.allow_http
            && wanted
                .iter()
                .any(|w| w.protocol.eq_ignore_ascii_case("http"))
        {
            return Err(Error::input(format!(
                "service {:?}: the http protocol needs allow_http=True",
                self.service
            )));
        }
        Ok(wanted)
    }

    fn dnssec(&self) -> Result<DnssecConfig> {
        let mode: DnssecMode = self
            .dnssec
            .parse()
            .map_err(|e| Error::input(format!("dnssec={:?}: {e}", self.dnssec)))?;
        Ok(DnssecConfig {
            mode,
            anchors: None,
        })
    }

    /// Checks everything that does not need the runtime.
    fn check(&self) -> Result<(DnsConfig, DnssecConfig, Vec<WantedService>)> {
        Ok((self.config()?, self.dnssec()?, self.wanted()?))
    }

    async fn resolver(&self, config: &DnsConfig, dnssec: &DnssecConfig) -> Result<Resolver> {
        let r = Resolver::with_dnssec(config, dnssec)
            .await
            .map_err(|e| match e {
                DnsSetupError::BadServer(_) | DnsSetupError::Dnssec(_) => {
                    Error::input(e.to_string())
                }
                _ => Error::other(e.to_string()),
            })?;
        let mut options = r.options;
        let defaults = UnaptrOptions::default();
        options.unaptr = UnaptrOptions {
            max_depth: self.max_depth.unwrap_or(defaults.max_depth),
            ..defaults
        };
        Ok(r.options(options))
    }
}

/// Runs `f` with the GIL released and maps its error to the Python exception.
fn detached<T: Send>(py: Python<'_>, f: impl FnOnce() -> Result<T> + Send) -> PyResult<T> {
    py.detach(f).map_err(|e| e.into_py(py))
}

fn domain(text: &str) -> Result<DomainName> {
    let name =
        DomainName::parse(text).map_err(|e| Error::input(format!("domain {text:?}: {e}")))?;
    if name.is_root() {
        return Err(Error::input(format!(
            "domain {text:?}: the root is not an access domain"
        )));
    }
    Ok(name)
}

/// U-NAPTR for a known access domain (RFC 7286 §3.2); JSON of the resolver's outcome.
#[pyfunction]
#[pyo3(signature = (domain_name, *, servers, timeout, attempts, recursion, allow_http, service, dnssec, max_depth))]
#[allow(clippy::too_many_arguments)]
fn resolve(
    py: Python<'_>,
    domain_name: String,
    servers: Vec<String>,
    timeout: f64,
    attempts: usize,
    recursion: Option<bool>,
    allow_http: bool,
    service: String,
    dnssec: String,
    max_depth: Option<usize>,
) -> PyResult<String> {
    let dns = Dns {
        servers,
        timeout,
        attempts,
        recursion,
        allow_http,
        service,
        dnssec,
        max_depth,
    };
    detached(py, move || {
        let name = domain(&domain_name)?;
        let (config, sec, wanted) = dns.check()?;
        let rt = runtime()?;
        rt.block_on(async {
            let r = dns.resolver(&config, &sec).await?;
            Ok(r.unaptr(&name, &wanted).await.to_json(false).to_string())
        })
    })
}

/// RFC 8686 XDOMDISC for one address or prefix; JSON of the resolver's outcome.
#[pyfunction]
#[pyo3(signature = (input, *, servers, timeout, attempts, recursion, allow_http, service, dnssec, max_depth))]
#[allow(clippy::too_many_arguments)]
fn xdom(
    py: Python<'_>,
    input: String,
    servers: Vec<String>,
    timeout: f64,
    attempts: usize,
    recursion: Option<bool>,
    allow_http: bool,
    service: String,
    dnssec: String,
    max_depth: Option<usize>,
) -> PyResult<String> {
    let dns = Dns {
        servers,
        timeout,
        attempts,
        recursion,
        allow_http,
        service,
        dnssec,
        max_depth,
    };
    detached(py, move || {
        let (config, sec, wanted) = dns.check()?;
        let rt = runtime()?;
        rt.block_on(async {
            let r = dns.resolver(&config, &sec).await?;
            // RFC 8686 §3.5: invalid input aborts "with an error and no list".
            let o = r
                .xdom(&input, &wanted)
                .await
                .map_err(|e| Error::input(e.to_string()))?;
            Ok(o.to_json(false).to_string())
        })
    })
}

/// xdom for many inputs with one shared answer cache; JSON lines in input order (invalid
/// inputs become error objects, as `altodisc xdom --batch` writes them).
#[pyfunction]
#[pyo3(signature = (inputs, *, concurrency, servers, timeout, attempts, recursion, allow_http, service, dnssec, max_depth))]
#[allow(clippy::too_many_arguments)]
fn xdom_many(
    py: Python<'_>,
    inputs: Vec<String>,
    concurrency: usize,
    servers: Vec<String>,
    timeout: f64,
    attempts: usize,
    recursion: Option<bool>,
    allow_http: bool,
    service: String,
    dnssec: String,
    max_depth: Option<usize>,
) -> PyResult<String> {
    let dns = Dns {
        servers,
        timeout,
        attempts,
        recursion,
        allow_http,
        service,
        dnssec,
        max_depth,
    };
    detached(py, move || {
        if concurrency == 0 || concurrency > 4096 {
            return Err(Error::input(format!(
                "concurrency={concurrency}: give 1 to 4096"
            )));
        }
        // The batch runner reads lines and skips blank and `#` ones: such items would shift
        // every later result, so they are refused here.
        if let Some((i, s)) = inputs.iter().enumerate().find(|(_, s)| {
            let t = s.trim();
            t.is_empty() || t.starts_with('#') || s.contains(['\n', '\r'])
        }) {
            return Err(Error::input(format!(
                "inputs[{i}]: {s:?} is not one address or prefix"
            )));
        }
        let (config, sec, wanted) = dns.check()?;
        let rt = runtime()?;
        rt.block_on(async {
            let r = dns.resolver(&config, &sec).await?;
            let options = BatchOptions {
                xdom: r.options,
                concurrency,
                with_queries: false,
            };
            let mut out = Vec::new();
            run_batch(r.source(), inputs, &wanted, &options, &mut out, |_| {})
                .await
                .map_err(|e| Error::other(format!("batch output: {e}")))?;
            String::from_utf8(out).map_err(|e| Error::other(format!("batch output: {e}")))
        })
    })
}

fn verify_options(
    ca_files: Vec<PathBuf>,
    use_system_roots: bool,
    allow_http: bool,
    timeout: f64,
    follow_nested: bool,
) -> Result<VerifyOptions> {
    let mut o = VerifyOptions::default();
    o.allow_http = allow_http;
    o.ca_files = ca_files;
    o.use_system_roots = use_system_roots;
    o.timeout = seconds("timeout", timeout)?;
    o.follow_nested = follow_nested;
    Ok(o)
}

/// RFC 7285 §9 IRD verification of one URI; JSON of the resolver's `Verification`.
#[pyfunction]
#[pyo3(signature = (uri, *, ca_files, use_system_roots, allow_http, timeout, follow_nested))]
fn verify(
    py: Python<'_>,
    uri: String,
    ca_files: Vec<PathBuf>,
    use_system_roots: bool,
    allow_http: bool,
    timeout: f64,
    follow_nested: bool,
) -> PyResult<String> {
    detached(py, move || {
        let options = verify_options(
            ca_files,
            use_system_roots,
            allow_http,
            timeout,
            follow_nested,
        )?;
        let rt = runtime()?;
        rt.block_on(async {
            let verifier = IrdVerifier::new(&options).map_err(|e| Error::input(e.to_string()))?;
            let result = verifier.verify(&uri).await;
            if let Err(e) = &result
                && e.is_usage()
            {
                return Err(Error::input(e.to_string()));
            }
            serde_json::to_string(&Verification::new(&uri, &result))
                .map_err(|e| Error::other(e.to_string()))
        })
    })
}

/// RFC 3958 §2.2.4 backtracking over candidate URIs: verifies each in order until one
/// verifies; JSON array of the `Verification`s tried (the last is the verified one, if any).
#[pyfunction]
#[pyo3(signature = (uris, *, ca_files, use_system_roots, allow_http, timeout, follow_nested))]
fn verify_in_order(
    py: Python<'_>,
    uris: Vec<String>,
    ca_files: Vec<PathBuf>,
    use_system_roots: bool,
    allow_http: bool,
    timeout: f64,
    follow_nested: bool,
) -> PyResult<String> {
    detached(py, move || {
        let options = verify_options(
            ca_files,
            use_system_roots,
            allow_http,
            timeout,
            follow_nested,
        )?;
        let rt = runtime()?;
        rt.block_on(async {
            let verifier = IrdVerifier::new(&options).map_err(|e| Error::input(e.to_string()))?;
            let tried = verifier.verify_in_order(&uris).await;
            serde_json::to_string(&tried).map_err(|e| Error::other(e.to_string()))
        })
    })
}

/// RFC 7286 discovery per (interface, family); JSON array as `altodisc discover --json`.
#[pyfunction]
#[pyo3(signature = (*, interfaces, families, domain_name, dhcp, lease_file, dhcp_servers, dhcp_timeout, servers, timeout, attempts, recursion, allow_http, service, dnssec, max_depth))]
#[allow(clippy::too_many_arguments)]
fn discover_pairs(
    py: Python<'_>,
    interfaces: Vec<String>,
    families: Vec<String>,
    domain_name: Option<String>,
    dhcp: String,
    lease_file: Option<PathBuf>,
    dhcp_servers: Vec<String>,
    dhcp_timeout: f64,
    servers: Vec<String>,
    timeout: f64,
    attempts: usize,
    recursion: Option<bool>,
    allow_http: bool,
    service: String,
    dnssec: String,
    max_depth: Option<usize>,
) -> PyResult<String> {
    let dns = Dns {
        servers,
        timeout,
        attempts,
        recursion,
        allow_http,
        service,
        dnssec,
        max_depth,
    };
    detached(py, move || {
        let families = families
            .iter()
            .map(|f| match f.to_ascii_lowercase().as_str() {
                "ipv4" | "4" | "inet" => Ok(AddressFamily::Ipv4),
                "ipv6" | "6" | "inet6" => Ok(AddressFamily::Ipv6),
                _ => Err(Error::input(format!(
                    "family {f:?}: give \"ipv4\" or \"ipv6\""
                ))),
            })
            .collect::<Result<Vec<_>>>()?;
        let config = DomainConfig {
            default: domain_name.as_deref().map(domain).transpose()?,
            ..DomainConfig::default()
        };
        let dhcp = match (dhcp.as_str(), lease_file) {
            ("network", None) => DhcpMode::Network,
            ("lease", None) => DhcpMode::LeaseAuto,
            ("lease", Some(p)) => DhcpMode::LeaseFile(p),
            ("off", None) => DhcpMode::Off,
            (m, Some(_)) => {
                return Err(Error::input(format!(
                    "lease_file needs dhcp=\"lease\", not {m:?}"
                )));
            }
            (m, None) => {
                return Err(Error::input(format!(
                    "dhcp={m:?}: give \"network\", \"lease\" or \"off\""
                )));
            }
        };
        let dhcp_servers = dhcp_servers
            .iter()
            .map(|s| {
                s.parse::<IpAddr>()
                    .map_err(|e| Error::input(format!("dhcp_servers: {s:?}: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let (config_dns, sec, wanted) = dns.check()?;
        let opts = DiscoverOptions {
            interfaces,
            families,
            config,
            dhcp,
            client: ClientOptions {
                timeout: seconds("dhcp_timeout", dhcp_timeout)?,
                ..ClientOptions::default()
            },
            dhcp_servers,
            wanted,
        };
        let rt = runtime()?;
        rt.block_on(async {
            let r = dns.resolver(&config_dns, &sec).await?;
            let pairs = discover(&opts, &r).await.map_err(|e| match e {
                altodisc_resolver::dhcp::discover::DiscoverError::UnknownInterface(_) => {
                    Error::input(e.to_string())
                }
                _ => Error::other(e.to_string()),
            })?;
            let v: Vec<serde_json::Value> = pairs.iter().map(|p| p.to_json(false)).collect();
            Ok(serde_json::Value::Array(v).to_string())
        })
    })
}

/// Writes `default_ird = URI` into an OpenALTO `alto.conf` (section `[client]`), atomically and
/// keeping every other line of the file.
#[pyfunction]
fn write_alto_conf(py: Python<'_>, path: PathBuf, uri: String) -> PyResult<()> {
    detached(py, move || {
        alto_conf::write_default_ird(&path, &uri).map_err(|e| match e {
            alto_conf::AltoConfError::InvalidUri { .. } => Error::input(e.to_string()),
            _ => Error::other(e.to_string()),
        })
    })
}

/// The module `altodisc._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(resolve, m)?)?;
    m.add_function(wrap_pyfunction!(xdom, m)?)?;
    m.add_function(wrap_pyfunction!(xdom_many, m)?)?;
    m.add_function(wrap_pyfunction!(verify, m)?)?;
    m.add_function(wrap_pyfunction!(verify_in_order, m)?)?;
    m.add_function(wrap_pyfunction!(discover_pairs, m)?)?;
    m.add_function(wrap_pyfunction!(write_alto_conf, m)?)?;
    Ok(())
}
