//! Which ALTO server should I ask? The library calls an application makes, end to end.
//!
//! ```text
//! cargo run -p altodisc-resolver --example find_alto_server -- [--server IP:PORT] TARGET...
//! ```
//!
//! Each TARGET is an access domain (RFC 7286 §3.2: U-NAPTR `ALTO:https` at the domain your DHCP
//! server announced in option 213/57) or an IP address / prefix (RFC 8686: U-NAPTR at the
//! reverse names of the address, most specific first). Without `--server` the system's recursive
//! resolver (/etc/resolv.conf) is asked; with it, every query goes to that server, e.g. a local
//! responder:
//!
//! ```text
//! altodisc serve --config zones/publish.toml --listen 127.0.0.1:5300 &
//! cargo run -p altodisc-resolver --example find_alto_server -- \
//!     --server 127.0.0.1:5300 example.org 198.51.100.7 192.0.2.1
//! ```
//!
//! Exit status 0 when every target found a server, 1 otherwise, 2 for bad arguments.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use altodisc_proto::DomainName;
use altodisc_proto::service::WantedService;
use altodisc_resolver::{Candidate, Resolver, XdomStatus};

#[tokio::main]
async fn main() -> ExitCode {
    let mut server: Option<SocketAddr> = None;
    let mut targets = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--server" {
            match args.next().map(|s| s.parse()) {
                Some(Ok(addr)) => server = Some(addr),
                _ => return usage("--server needs IP:PORT"),
            }
        } else {
            targets.push(arg);
        }
    }
    if targets.is_empty() {
        return usage("give at least one access domain or address");
    }

    // One resolver for every lookup: it keeps its connections and its answer cache.
    let resolver = match server {
        Some(addr) => Resolver::with_server(addr),
        None => Resolver::system(),
    };
    let resolver = match resolver {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot set up DNS: {e}");
            return ExitCode::from(2);
        }
    };

    let mut all_found = true;
    for target in &targets {
        let found = if looks_like_address(target) {
            by_address(&resolver, target).await
        } else {
            match DomainName::parse(target) {
                Ok(domain) => by_access_domain(&resolver, &domain).await,
                Err(e) => {
                    eprintln!("{target}: not a domain name: {e}");
                    false
                }
            }
        };
        all_found &= found;
    }
    ExitCode::from(if all_found { 0 } else { 1 })
}

/// RFC 7286 §3.2 step 2: the access domain is known (from DHCP or configuration).
async fn by_access_domain(resolver: &Resolver, domain: &DomainName) -> bool {
    // `false`: never fall back to plain-http ALTO servers (RFC 8686 §6.1 keeps them for debugging).
    let outcome = resolver.resolve_domain(domain, false).await;
    if outcome.found() {
        println!(
            "{domain}: access domain, {} candidate(s)",
            outcome.candidates.len()
        );
        print_candidates(&outcome.candidates);
    } else {
        // The walk status says why: NXDOMAIN, NODATA, no matching record, or a temporary
        // failure worth retrying.
        println!("{domain}: no ALTO server ({})", outcome.status.as_str());
    }
    outcome.found()
}

/// RFC 8686: the ALTO server responsible for an address or prefix (e.g. a peer's address).
async fn by_address(resolver: &Resolver, input: &str) -> bool {
    match resolver.xdom(input, &[WantedService::alto_https()]).await {
        Ok(outcome) => {
            match outcome.status {
                XdomStatus::Found => {
                    let at = outcome.matched_label().unwrap_or_default();
                    let note = if outcome.degraded {
                        " (a more specific name failed temporarily: retry later for a better answer)"
                    } else {
                        ""
                    };
                    println!("{input}: found at {at}{note}");
                    print_candidates(&outcome.candidates);
                }
                other => println!("{input}: no ALTO server ({})", other.as_str()),
            }
            outcome.status == XdomStatus::Found
        }
        Err(e) => {
            eprintln!("{input}: {e}");
            false
        }
    }
}

/// Candidates come ordered (ORDER, then PREFERENCE): try them in this order.
fn print_candidates(candidates: &[Candidate]) {
    for c in candidates {
        println!(
            "  {}  (order {}, preference {}, from {}, ttl {}s)",
            c.uri, c.order, c.preference, c.owner, c.ttl
        );
    }
}

fn looks_like_address(s: &str) -> bool {
    s.parse::<IpAddr>().is_ok() || s.contains('/')
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("error: {msg}");
    eprintln!("usage: find_alto_server [--server IP:PORT] DOMAIN|ADDRESS|PREFIX...");
    ExitCode::from(2)
}
