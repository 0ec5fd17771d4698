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

use std::net::SocketAddr;
use std::process::ExitCode;

use altodisc_resolver::{Discovery, Resolver};

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

    // One resolver for every lookup: it keeps its connections.
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
        // A domain (RFC 7286 §3.2), an address or a prefix (RFC 8686), https only.
        match resolver.discover(target).await {
            Ok(found) => print_servers(target, &found),
            Err(e) if e.is_invalid_input() => {
                eprintln!("{target}: {e}");
                return ExitCode::from(2);
            }
            Err(e) => {
                let retry = if e.is_temporary() {
                    " (retry later)"
                } else {
                    ""
                };
                println!("{target}: {e}{retry}");
                all_found = false;
            }
        }
    }
    ExitCode::from(if all_found { 0 } else { 1 })
}

/// Servers come best first (ORDER, then PREFERENCE): try them in this order.
fn print_servers(target: &str, found: &Discovery) {
    let note = if found.degraded {
        " (a more specific name failed temporarily: retry later for a better answer)"
    } else {
        ""
    };
    println!("{target}: {} server(s){note}", found.servers.len());
    for s in &found.servers {
        println!(
            "  {}  (order {}, preference {}, from {}, ttl {}s, dnssec {})",
            s.uri,
            s.order,
            s.preference,
            s.owner,
            s.ttl,
            s.dnssec.as_str()
        );
    }
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("error: {msg}");
    eprintln!("usage: find_alto_server [--server IP:PORT] DOMAIN|ADDRESS|PREFIX...");
    ExitCode::from(2)
}
