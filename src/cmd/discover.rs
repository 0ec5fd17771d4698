//! `altodisc discover`: RFC 7286 access-network discovery per interface and address family —
//! a configured domain, else DHCP (option 213 / 15 for IPv4, 57 for IPv6) or a lease file, then
//! U-NAPTR `ALTO:https`.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use altodisc_proto::name::DomainName;
use altodisc_resolver::dhcp::discover::{
    DhcpMode, DiscoverOptions, DomainConfig, InterfaceDomains, PairResult, PairStatus, discover,
};
use altodisc_resolver::dhcp::{AddressFamily, ClientOptions};
use clap::{Args, ValueEnum};
use serde::Deserialize;

use super::resolve::{
    DnsArgs, runtime, usage_error, write_candidates, write_queries, write_visits,
};
use crate::exit;
use altodisc_resolver::verify::Verification;

/// Address family argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FamilyArg {
    /// IPv4: DHCPINFORM, option 213 then 15.
    Ipv4,
    /// IPv6: Information-request, option 57.
    Ipv6,
}

/// Arguments of `altodisc discover`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  altodisc discover                                   every up, non-loopback interface; DHCP
  altodisc discover -i eth0 --family ipv4 --json
  altodisc discover --domain example.net              configured domain, no DHCP needed
  altodisc discover --from-lease auto                 read dhclient/dhcpcd leases (no privileges)
  altodisc discover -i eth0 --dhcp-server 192.0.2.1 --dhcp-timeout 3 --trace

Order per (interface, family) (RFC 7286 §2, §3): a configured domain (--domain, or --config)
first; otherwise DHCP: IPv4 sends a DHCPINFORM and uses option 213, or option 15 only when 213 is
absent; IPv6 sends an Information-request and uses option 57 (no IPv6 fallback, RFC 7286 §3.1.2).
The domain is then resolved with U-NAPTR ALTO:https (ALTO:http too with --allow-http).

Privileges: the DHCP client binds UDP port 68 (IPv4) and 546 (IPv6), which needs root or
CAP_NET_BIND_SERVICE (setcap cap_net_bind_service=ep altodisc). Without them, --from-lease reads the
answer the system's DHCP client already got (ISC dhclient: /var/lib/dhcp/dhclient*.leases, with
`also request v4-access-domain;` in dhclient.conf; dhcpcd: /var/lib/dhcpcd/<if>.lease{,6}).

--config FILE (TOML; unknown keys are rejected):
  default = \"example.net\"            # any interface and family
  [interfaces.eth0]
  domain = \"isp.example\"             # both families of eth0
  ipv6 = \"v6.isp.example\"            # IPv6 on eth0 only (also: ipv4)

JSON: an array with one object per (interface, family): {\"interface\", \"family\": \"ipv4\"|\"ipv6\",
\"domain\", \"domain_source\": \"config\"|\"dhcpv4\"|\"dhcpv4-option15\"|\"dhcpv6\"|\"lease\",
\"domain_detail\", \"domain_error\", \"warnings\", \"status\":
\"found\"|\"not_found\"|\"no_domain\"|\"temporary\"|\"error\", \"candidates\" (as in `resolve`),
\"unaptr\" (the full U-NAPTR outcome), \"dhcp_trace\" (with --trace)}.

--verify fetches each pair's IRDs in candidate order (RFC 7285 §9.2) until one verifies; JSON
candidates gain \"verified\", \"services\" and \"verify_error\".

Exit codes: 0 a server was found (and with --verify, verified) for at least one (interface,
family); 1 none found; 2 invalid input or usage; 3 nothing found and only temporary failures (no
DHCP answer, DNS timeout).")]
pub(crate) struct DiscoverArgs {
    /// Run on this interface (repeatable). Default: every interface that is up and not loopback.
    #[arg(long = "interface", short = 'i', value_name = "IF")]
    interfaces: Vec<String>,
    /// Run for this address family only (repeatable). Default: both, each where the interface has
    /// an address of that family.
    #[arg(long, value_enum, value_name = "ipv4|ipv6")]
    family: Vec<FamilyArg>,
    /// Use this access domain for every interface and family instead of asking DHCP
    /// (RFC 7286 §3.1.1 local configuration).
    #[arg(long, value_name = "DOMAIN")]
    domain: Option<String>,
    /// Per-interface / per-family domains from a TOML file (see below); --domain overrides its
    /// default.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Read the domain from the OS DHCP client's lease file instead of sending DHCP messages:
    /// `auto` looks in the standard places, or give one file (dhclient text or dhcpcd binary).
    #[arg(
        long = "from-lease",
        value_name = "auto|FILE",
        conflicts_with = "no_dhcp"
    )]
    from_lease: Option<String>,
    /// Do not use DHCP at all: only configured domains.
    #[arg(long)]
    no_dhcp: bool,
    /// Unicast to this DHCP server instead of broadcasting (IPv4) / multicasting to ff02::1:2
    /// (IPv6). Repeatable, one per family.
    #[arg(long = "dhcp-server", value_name = "IP")]
    dhcp_servers: Vec<IpAddr>,
    /// Overall deadline of each DHCP exchange, retransmissions included, in seconds.
    #[arg(long = "dhcp-timeout", default_value_t = 10.0, value_name = "SECS")]
    dhcp_timeout: f64,
    #[command(flatten)]
    dns: DnsArgs,
    #[command(flatten)]
    verify: crate::cmd::verify::VerifyCandidates,
    #[command(flatten)]
    watch: super::watch::WatchArgs,
}

/// The TOML config file (`--config`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    default: Option<String>,
    #[serde(default)]
    interfaces: BTreeMap<String, ConfigInterface>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigInterface {
    domain: Option<String>,
    ipv4: Option<String>,
    ipv6: Option<String>,
}

/// A configured domain must be a valid, non-root FQDN (docs/decisions.md, resolver step 3).
fn parse_domain(what: &str, text: &str) -> Result<DomainName, String> {
    let name = DomainName::parse(text).map_err(|e| format!("{what} {text:?}: {e}"))?;
    if name.is_root() {
        return Err(format!("{what} {text:?}: the root is not an access domain"));
    }
    Ok(name)
}

fn load_config(args: &DiscoverArgs) -> Result<DomainConfig, String> {
    let mut config = DomainConfig::default();
    if let Some(path) = &args.config {
        // A domain config is a few lines; 1 MiB bounds a wrong path to a device or a FIFO.
        let bytes = altodisc_resolver::dhcp::lease::read_bounded(path, 1 << 20)
            .map_err(|e| format!("--config {}: {e}", path.display()))?;
        let text = String::from_utf8(bytes)
            .map_err(|e| format!("--config {}: not UTF-8 text: {e}", path.display()))?;
        let file: ConfigFile =
            toml::from_str(&text).map_err(|e| format!("--config {}: {e}", path.display()))?;
        let opt = |what: String, v: &Option<String>| {
            v.as_deref().map(|t| parse_domain(&what, t)).transpose()
        };
        config.default = opt("default".into(), &file.default)?;
        for (name, i) in &file.interfaces {
            config.interfaces.insert(
                name.clone(),
                InterfaceDomains {
                    default: opt(format!("interfaces.{name}.domain"), &i.domain)?,
                    ipv4: opt(format!("interfaces.{name}.ipv4"), &i.ipv4)?,
                    ipv6: opt(format!("interfaces.{name}.ipv6"), &i.ipv6)?,
                },
            );
        }
    }
    if let Some(d) = &args.domain {
        // --domain applies everywhere: it replaces every configured value.
        config = DomainConfig {
            default: Some(parse_domain("--domain", d)?),
            interfaces: BTreeMap::new(),
        };
    }
    Ok(config)
}

fn options(args: &DiscoverArgs) -> Result<DiscoverOptions, String> {
    let config = load_config(args)?;
    if !(args.dhcp_timeout.is_finite() && args.dhcp_timeout > 0.0 && args.dhcp_timeout <= 3600.0) {
        return Err(format!(
            "--dhcp-timeout {}: give seconds in (0, 3600]",
            args.dhcp_timeout
        ));
    }
    let dhcp = match args.from_lease.as_deref() {
        _ if args.no_dhcp => DhcpMode::Off,
        None => DhcpMode::Network,
        Some("auto") => DhcpMode::LeaseAuto,
        Some(path) => DhcpMode::LeaseFile(PathBuf::from(path)),
    };
    let v4s = args.dhcp_servers.iter().filter(|a| a.is_ipv4()).count();
    let v6s = args.dhcp_servers.len() - v4s;
    if v4s > 1 || v6s > 1 {
        return Err("--dhcp-server: at most one IPv4 and one IPv6 server".to_owned());
    }
    Ok(DiscoverOptions {
        interfaces: args.interfaces.clone(),
        families: args
            .family
            .iter()
            .map(|f| match f {
                FamilyArg::Ipv4 => AddressFamily::Ipv4,
                FamilyArg::Ipv6 => AddressFamily::Ipv6,
            })
            .collect(),
        config,
        dhcp,
        client: ClientOptions {
            timeout: Duration::from_secs_f64(args.dhcp_timeout),
            ..ClientOptions::default()
        },
        dhcp_servers: args.dhcp_servers.clone(),
        wanted: args.dns.wanted()?,
    })
}

/// Runs `altodisc discover`.
pub(crate) fn run(args: &DiscoverArgs) -> ExitCode {
    let opts = match options(args).and_then(|o| args.dns.check().map(|()| o)) {
        Ok(o) => o,
        Err(m) => return usage_error(&m),
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(m) => return usage_error(&m),
    };
    if args.watch.watch {
        return super::watch::run(&args.watch, &opts, &args.dns, &args.verify, &rt);
    }
    let results = rt.block_on(async {
        let resolver = args.dns.resolver().await.map_err(|e| (exit::USAGE, e))?;
        let mut ro = resolver.options;
        ro.unaptr = args.dns.unaptr_options();
        let resolver = resolver.options(ro);
        discover(&opts, &resolver).await.map_err(|e| {
            let code = match e {
                altodisc_resolver::dhcp::discover::DiscoverError::UnknownInterface(_) => {
                    exit::USAGE
                }
                _ => exit::NOT_FOUND,
            };
            (code, e.to_string())
        })
    });
    let results = match results {
        Ok(r) => r,
        Err((code, m)) => {
            eprintln!("altodisc: error: {m}");
            return exit::code(code);
        }
    };
    // --verify: per pair, the IRD of each candidate in order until one verifies
    // (RFC 3958 §2.2.4 backtracking).
    let allow_http = opts
        .wanted
        .iter()
        .any(|w| w.protocol.eq_ignore_ascii_case("http"));
    let mut tried: Vec<Option<Vec<Verification>>> = Vec::with_capacity(results.len());
    for r in &results {
        let uris: Vec<String> = r
            .unaptr
            .as_ref()
            .map(|u| u.candidates.iter().map(|c| c.uri.clone()).collect())
            .unwrap_or_default();
        if uris.is_empty() {
            tried.push(None);
            continue;
        }
        match rt.block_on(args.verify.run(allow_http, &uris)) {
            Ok(t) => tried.push(t),
            Err(e) => return usage_error(&e.to_string()),
        }
    }
    let alto_conf = args.watch.write_alto_conf.as_deref().map(|p| {
        super::watch::write_alto_conf(p, &tried)
            .map(|uri| eprintln!("altodisc: {}: default_ird = {uri}", p.display()))
            .map_err(|m| eprintln!("altodisc: error: {m}"))
    });
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let _ = if args.dns.json {
        let v: Vec<serde_json::Value> = results
            .iter()
            .zip(&tried)
            .map(|(r, t)| {
                crate::cmd::verify::with_verification(r.to_json(args.dns.trace), t.as_deref())
            })
            .collect();
        writeln!(out, "{}", serde_json::Value::Array(v))
    } else {
        write_human(&mut out, &results, &tried, args.dns.trace)
    };
    if matches!(alto_conf, Some(Err(()))) {
        return exit::code(exit::NOT_FOUND);
    }
    exit::code(exit_code(&results, &tried))
}

/// Whether a pair counts as found: URIs, and with `--verify` one of them verified.
fn pair_found(r: &PairResult, tried: Option<&Vec<Verification>>) -> bool {
    r.status == PairStatus::Found && tried.is_none_or(|t| crate::cmd::verify::any_verified(t))
}

fn exit_code(results: &[PairResult], tried: &[Option<Vec<Verification>>]) -> u8 {
    if results
        .iter()
        .zip(tried)
        .any(|(r, t)| pair_found(r, t.as_ref()))
    {
        exit::SUCCESS
    } else if results.iter().any(|r| r.status == PairStatus::Temporary) {
        exit::TEMPORARY
    } else {
        exit::NOT_FOUND
    }
}

fn write_human(
    out: &mut impl Write,
    results: &[PairResult],
    tried: &[Option<Vec<Verification>>],
    trace: bool,
) -> io::Result<()> {
    if results.is_empty() {
        writeln!(
            out,
            "no (interface, family) to run: the chosen interfaces have no address of the chosen \
             families"
        )?;
    }
    for (r, t) in results.iter().zip(tried) {
        write!(out, "{} {}: ", r.interface, r.family)?;
        match &r.domain {
            Some(d) => writeln!(
                out,
                "domain {} (source {}: {})",
                d.domain, d.source, d.detail
            )?,
            None => writeln!(
                out,
                "no domain: {}",
                r.domain_error.as_deref().unwrap_or("unknown")
            )?,
        }
        for w in &r.warnings {
            writeln!(out, "  warning: {w}")?;
        }
        if trace && !r.dhcp_trace.is_empty() {
            writeln!(out, "  dhcp:")?;
            for e in &r.dhcp_trace {
                writeln!(
                    out,
                    "    {:>9.3} ms  {}",
                    e.at.as_secs_f64() * 1000.0,
                    e.what
                )?;
            }
        }
        if let Some(u) = &r.unaptr {
            if u.found() {
                write_candidates(out, &u.candidates, "  ")?;
                if let Some(t) = t {
                    crate::cmd::verify::write_tried(out, t, u.candidates.len(), "  ")?;
                }
            } else {
                writeln!(
                    out,
                    "  no ALTO server found for {}: {}",
                    u.start,
                    altodisc_resolver::unaptr::status_detail(&u.status)
                )?;
                if u.is_temporary() {
                    writeln!(out, "  (temporary failure: a retry later may help)")?;
                }
            }
            if trace || !u.found() {
                writeln!(out, "  why:")?;
                write_visits(out, &u.visits, "    ")?;
            }
            if trace {
                writeln!(out, "  queries:")?;
                write_queries(out, &u.queries, "    ")?;
            }
        }
        if r.status == PairStatus::Temporary && r.unaptr.is_none() {
            writeln!(out, "  (temporary failure: a retry later may help)")?;
        }
    }
    Ok(())
}
