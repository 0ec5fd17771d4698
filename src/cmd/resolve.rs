//! `altodisc resolve DOMAIN`: RFC 7286 §3.2 step 2 for a known access domain (U-NAPTR
//! `ALTO:https`, then `ALTO:http` only with `--allow-http`). Also holds the DNS and output options
//! shared with `altodisc xdom`.

use std::io::{self, Write};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use altodisc_proto::name::DomainName;
use altodisc_proto::service::{ServiceParameter, WantedService};
use altodisc_resolver::dnssec::{DnssecConfig, DnssecMode, TrustAnchorFile};
use altodisc_resolver::unaptr::{NameVisit, UnaptrOptions, UnaptrOutcome};
use altodisc_resolver::{DnsConfig, Resolver, parse_server};
use clap::Args;

use crate::exit;

/// DNS and selection options shared by `resolve` and `xdom`.
#[derive(Debug, Args)]
pub(crate) struct DnsArgs {
    // Help text as an attribute: rustdoc would read `[IPv6]` in a doc comment as a link.
    #[arg(
        long = "server",
        value_name = "IP[:PORT]",
        help = "Query this server instead of the system resolver (/etc/resolv.conf). Repeatable; \
                tried in order. Forms: IP, IP:PORT, [IPv6]:PORT."
    )]
    servers: Vec<String>,
    /// Timeout per query attempt, in milliseconds.
    #[arg(long, default_value_t = 2000, value_name = "MS")]
    timeout_ms: u64,
    /// Attempts per server before a name counts as timed out.
    #[arg(long, default_value_t = 2, value_name = "N")]
    attempts: usize,
    /// Send queries with RD=0 (for querying an authoritative server directly).
    #[arg(long)]
    no_recursion: bool,
    /// U-NAPTR service parameter to look for; any valid RFC 4848 §4.5 value is accepted
    /// (RFC 8686 §3.1). Several protocols are tried in order, never mixed within a chain.
    #[arg(
        long,
        default_value = "ALTO:https",
        value_name = "SERVICE:PROTO[:PROTO..]"
    )]
    service: String,
    /// Also try the `http` protocol (after `https`) and accept http:// URIs (RFC 7286 §3.2; for
    /// debugging only).
    #[arg(long)]
    pub(crate) allow_http: bool,
    /// Maximum depth of non-terminal NAPTR chasing.
    #[arg(long, default_value_t = altodisc_resolver::unaptr::DEFAULT_MAX_DEPTH, value_name = "N")]
    max_depth: usize,
    /// Keep only the first ORDER group at each name (strict RFC 3403 §4.1).
    #[arg(long)]
    first_order_only: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    /// Show every DNS query: name, type, RCODE, answer count, TTL, time taken, transport.
    #[arg(long)]
    pub(crate) trace: bool,
    /// DNSSEC validation (RFC 8686 §6.1): `off`; `report` labels every candidate secure,
    /// insecure or indeterminate and never uses bogus data; `require` also refuses data that is
    /// not secure. altodisc validates itself (it never trusts the AD bit of --server).
    #[arg(long, default_value = "report", value_name = "off|report|require")]
    dnssec: String,
    /// Trust anchors in addition to the root KSKs: DS or DNSKEY records in zone-file format, as
    /// `dig` prints them (a DS is matched against the DNSKEYs served for its name at start-up).
    #[arg(long, value_name = "FILE")]
    trust_anchor: Option<std::path::PathBuf>,
}

impl DnsArgs {
    /// The wanted (service, protocol) pairs, in order.
    pub(crate) fn wanted(&self) -> Result<Vec<WantedService>, String> {
        let sp = ServiceParameter::from_str(&self.service)
            .map_err(|e| format!("--service {:?}: {e}", self.service))?;
        let mut wanted = sp.wanted();
        if wanted.is_empty() {
            return Err(format!(
                "--service {:?}: needs a service and at least one protocol, e.g. ALTO:https",
                self.service
            ));
        }
        let is_default = self.service.eq_ignore_ascii_case("ALTO:https");
        if self.allow_http && is_default {
            wanted.push(WantedService::alto_http());
        }
        if !self.allow_http
            && wanted
                .iter()
                .any(|w| w.protocol.eq_ignore_ascii_case("http"))
        {
            return Err(format!(
                "--service {:?}: the http protocol needs --allow-http",
                self.service
            ));
        }
        Ok(wanted)
    }

    /// The resolver and DNSSEC options are usable (`--server`, `--dnssec`, `--trust-anchor`):
    /// checked before any query, so a bad option is a usage error and not a failed lookup.
    pub(crate) fn check(&self) -> Result<(), String> {
        self.dns_config()?;
        self.dnssec_config()?;
        Ok(())
    }

    /// [`Self::wanted`], then [`Self::check`].
    pub(crate) fn checked_wanted(&self) -> Result<Vec<WantedService>, String> {
        let wanted = self.wanted()?;
        self.check()?;
        Ok(wanted)
    }

    pub(crate) fn unaptr_options(&self) -> UnaptrOptions {
        UnaptrOptions {
            max_depth: self.max_depth,
            first_order_only: self.first_order_only,
            ..UnaptrOptions::default()
        }
    }

    /// The `--dnssec` mode and `--trust-anchor` file.
    pub(crate) fn dnssec_config(&self) -> Result<DnssecConfig, String> {
        let mode: DnssecMode = self
            .dnssec
            .parse()
            .map_err(|e: altodisc_resolver::dnssec::DnssecError| format!("--dnssec: {e}"))?;
        let anchors = match &self.trust_anchor {
            None => None,
            Some(_) if !mode.validates() => {
                return Err("--trust-anchor needs --dnssec report or require".to_owned());
            }
            Some(path) => Some(TrustAnchorFile::load(path).map_err(|e| e.to_string())?),
        };
        Ok(DnssecConfig { mode, anchors })
    }

    /// Builds the resolver (inside the runtime): DNS config plus DNSSEC settings.
    pub(crate) async fn resolver(&self) -> Result<Resolver, String> {
        let config = self.dns_config()?;
        let dnssec = self.dnssec_config()?;
        Resolver::with_dnssec(&config, &dnssec)
            .await
            .map_err(|e| e.to_string())
    }

    pub(crate) fn dns_config(&self) -> Result<DnsConfig, String> {
        let servers = self
            .servers
            .iter()
            .map(|s| parse_server(s).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        if self.attempts == 0 {
            return Err("--attempts must be at least 1".to_owned());
        }
        if self.timeout_ms == 0 {
            return Err("--timeout-ms must be at least 1".to_owned());
        }
        Ok(DnsConfig {
            servers,
            timeout: Duration::from_millis(self.timeout_ms),
            attempts: self.attempts,
            recursion_desired: !self.no_recursion,
        })
    }
}

/// Arguments of `altodisc resolve`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  altodisc resolve example.net
  altodisc resolve --server 127.0.0.1:5300 --no-recursion --json example.net
  altodisc resolve --allow-http --trace alto.example.org

Prints the usable URIs in the order to try them (ORDER, then PREFERENCE), then why: the names
visited, the records skipped and the reason for each.

JSON: {\"domain\", \"status\": \"found\"|\"not_found\"|\"error\", \"result\", \"temporary\",
\"candidates\": [{\"uri\", \"order\", \"preference\", \"owner\", \"chain\", \"ttl\", \"protocol\",
\"dnssec\"}], \"names\": [...], \"queries\": [...] (with --trace), \"error\"}.
\"dnssec\" is secure, insecure or indeterminate (unchecked with --dnssec off); bogus answers are
never candidates (they count as temporary failures).

Exit codes: 0 found, 1 not found (including a server that answers REFUSED: asking again gives
the same answer), 2 invalid input or usage, 3 only temporary failures (timeout, SERVFAIL: a retry
later may help).")]
pub(crate) struct ResolveArgs {
    /// The access domain (e.g. from DHCP option 213/57, or configured), e.g. example.net.
    #[arg(value_name = "DOMAIN")]
    domain: String,
    #[command(flatten)]
    dns: DnsArgs,
    #[command(flatten)]
    verify: crate::cmd::verify::VerifyCandidates,
}

/// Builds the tokio runtime for a discovery command.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// Prints a one-line usage error and returns exit code 2.
pub(crate) fn usage_error(message: &str) -> ExitCode {
    eprintln!("altodisc: error: {message}");
    exit::code(exit::USAGE)
}

/// Parses a domain argument: a non-root name.
fn parse_domain(text: &str) -> Result<DomainName, String> {
    let name = DomainName::parse(text).map_err(|e| format!("{text:?}: {e}"))?;
    if name.is_root() {
        return Err(format!("{text:?}: the root is not an access domain"));
    }
    Ok(name)
}

/// Runs `altodisc resolve`.
pub(crate) fn run(args: &ResolveArgs) -> ExitCode {
    let domain = match parse_domain(&args.domain) {
        Ok(d) => d,
        Err(m) => {
            if args.dns.json {
                let v = serde_json::json!({
                    "domain": args.domain,
                    "status": "error",
                    "candidates": [],
                    "error": m,
                });
                println!("{v}");
            }
            return usage_error(&m);
        }
    };
    let wanted = match args.dns.checked_wanted() {
        Ok(w) => w,
        Err(m) => return usage_error(&m),
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(m) => return usage_error(&m),
    };
    let outcome = rt.block_on(async {
        let resolver = args.dns.resolver().await?;
        let mut options = resolver.options;
        options.unaptr = args.dns.unaptr_options();
        let resolver = resolver.options(options);
        Ok::<_, String>(resolver.unaptr(&domain, &wanted).await)
    });
    let outcome = match outcome {
        Ok(o) => o,
        Err(m) => {
            // Setup failure (no resolver configuration): usage problem, one line.
            return usage_error(&m);
        }
    };
    // --verify: IRD check of each candidate in order, RFC 3958 §2.2.4 backtracking.
    let uris: Vec<String> = outcome.candidates.iter().map(|c| c.uri.clone()).collect();
    let tried = match rt.block_on(args.verify.run(args.dns.allow_http, &uris)) {
        Ok(t) => t,
        Err(e) => return usage_error(&e.to_string()),
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let _ = crate::cmd::verify::write_outcome(
        &mut out,
        args.dns.json.then(|| outcome.to_json(args.dns.trace)),
        |out| write_human(out, &outcome, args.dns.trace),
        tried.as_deref(),
        outcome.found(),
        uris.len(),
        "",
    );
    if outcome.found()
        && tried
            .as_deref()
            .is_some_and(|t| !crate::cmd::verify::any_verified(t))
    {
        return exit::code(exit::NOT_FOUND);
    }
    exit::code(outcome_code(&outcome))
}

fn outcome_code(o: &UnaptrOutcome) -> u8 {
    if o.found() {
        exit::SUCCESS
    } else if o.is_temporary() {
        exit::TEMPORARY
    } else {
        exit::NOT_FOUND
    }
}

/// Writes the candidates, then the names visited and why records were skipped.
pub(crate) fn write_candidates(
    out: &mut impl Write,
    candidates: &[altodisc_resolver::Candidate],
    indent: &str,
) -> io::Result<()> {
    for c in candidates {
        writeln!(
            out,
            "{indent}{}  (order {}, preference {}, at {}, ttl {}s, dnssec {})",
            c.uri,
            c.order,
            c.preference,
            c.owner,
            c.ttl,
            c.dnssec.as_str()
        )?;
        if c.chain.len() > 1 {
            let chain: Vec<String> = c.chain.iter().map(ToString::to_string).collect();
            writeln!(out, "{indent}    via {}", chain.join(" -> "))?;
        }
    }
    Ok(())
}

/// Writes the per-name visits (what was queried, what it came to, what was skipped and why).
pub(crate) fn write_visits(
    out: &mut impl Write,
    visits: &[NameVisit],
    indent: &str,
) -> io::Result<()> {
    for v in visits {
        let pad = "  ".repeat(v.depth);
        writeln!(
            out,
            "{indent}{pad}{} [{}]: {}{}{}",
            v.name,
            v.protocol,
            altodisc_resolver::unaptr::status_detail(&v.status),
            if v.records > 0 {
                format!(", {} NAPTR record(s)", v.records)
            } else {
                String::new()
            },
            match v.dnssec {
                Some(d) if d != altodisc_resolver::DnssecState::Unchecked => {
                    format!(", dnssec {}", d.as_str())
                }
                _ => String::new(),
            }
        )?;
        if v.cname_chain.len() > 1 || (v.cname_chain.len() == 1 && v.cname_chain[0] == v.name) {
            let chain: Vec<String> = v.cname_chain.iter().map(ToString::to_string).collect();
            writeln!(out, "{indent}{pad}  CNAME {}", chain.join(" -> "))?;
        }
        for s in &v.skipped {
            writeln!(out, "{indent}{pad}  skipped {}: {}", s.record, s.reason)?;
        }
        for m in &v.malformed {
            writeln!(out, "{indent}{pad}  malformed record ignored: {m}")?;
        }
    }
    Ok(())
}

/// Writes the `--trace` query lines.
pub(crate) fn write_queries(
    out: &mut impl Write,
    queries: &[altodisc_resolver::source::QueryTrace],
    indent: &str,
) -> io::Result<()> {
    for q in queries {
        writeln!(out, "{indent}query {q}")?;
    }
    Ok(())
}

fn write_human(out: &mut impl Write, o: &UnaptrOutcome, trace: bool) -> io::Result<()> {
    if o.found() {
        write_candidates(out, &o.candidates, "")?;
    } else {
        writeln!(
            out,
            "no ALTO server found for {}: {}",
            o.start,
            altodisc_resolver::unaptr::status_detail(&o.status)
        )?;
        if o.is_temporary() {
            writeln!(out, "(temporary failure: a retry later may help)")?;
        }
    }
    writeln!(out, "why:")?;
    write_visits(out, &o.visits, "  ")?;
    if trace {
        writeln!(out, "queries:")?;
        write_queries(out, &o.queries, "  ")?;
    }
    Ok(())
}
