//! `altodisc demo`: the whole story on one machine with nothing installed. Starts the responder on
//! a free loopback port with the example zones built into the binary (a copy of the source
//! tree's `zones/`, so the packaged binary needs no file of its own), then runs RFC 7286
//! discovery for the example access domains and RFC 8686 XDOMDISC for example addresses against
//! it through the resolver crate, printing every query.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use altodisc_proto::DomainName;
use altodisc_proto::service::WantedService;
use altodisc_resolver::Resolver;
use altodisc_resolver::unaptr::UnaptrOutcome;
use altodisc_resolver::xdom::XdomStatus;
use altodisc_responder::load::Sources;
use altodisc_responder::{Responder, ServeOptions};
use clap::Args;

use crate::exit;

/// Arguments of `altodisc demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Zone directory to serve instead of the example zones built into the binary; its
    /// `publish.toml`, if any, is loaded too.
    #[arg(long, value_name = "DIR")]
    zones: Option<PathBuf>,
}

/// RFC 7286 access domains the demo resolves.
const DOMAINS: [&str; 3] = ["example.net.", "example.org.", "branch.example.net."];

/// RFC 8686 inputs, with what each one shows.
const ADDRESSES: [(&str, &str); 10] = [
    ("192.0.2.10", "R32 record of its own"),
    ("192.0.2.77", "R32 miss (NXDOMAIN), R24 answers"),
    ("192.0.2.65", "RFC 2317 CNAME into a classless block"),
    ("203.0.113.5", "wildcard at R32 (RFC 4592)"),
    (
        "203.0.113.1",
        "wildcard exception: the name exists, so NODATA, then R24 (docs/decisions.md, A13)",
    ),
    ("198.51.100.7", "generated from publish.toml: R32"),
    (
        "198.51.101.20",
        "generated from publish.toml: /22 expanded to /24 names",
    ),
    ("2001:db8:1::33", "IPv6 R128"),
    (
        "2001:db8:1::99",
        "IPv6: R128 miss, /64 and /56 empty non-terminals (NODATA), R48",
    ),
    ("2001:db8:5::1", "IPv6 R32 (the zone apex)"),
];

/// The example zones, built into the binary: `(file name, contents)`. A test keeps this list equal
/// to the source tree's `zones/`.
const BUNDLED: [(&str, &str); 5] = [
    (
        "113.0.203.in-addr.arpa.zone",
        include_str!("../../zones/113.0.203.in-addr.arpa.zone"),
    ),
    (
        "2.0.192.in-addr.arpa.zone",
        include_str!("../../zones/2.0.192.in-addr.arpa.zone"),
    ),
    (
        "8.b.d.0.1.0.0.2.ip6.arpa.zone",
        include_str!("../../zones/8.b.d.0.1.0.0.2.ip6.arpa.zone"),
    ),
    (
        "example.net.zone",
        include_str!("../../zones/example.net.zone"),
    ),
    ("publish.toml", include_str!("../../zones/publish.toml")),
];

/// A private directory holding the bundled zones while they load (the loader reads files);
/// removed on drop.
struct Unpacked(PathBuf);

impl Unpacked {
    fn new() -> std::io::Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir =
            std::env::temp_dir().join(format!("altodisc-demo-{}-{nanos}", std::process::id()));
        // `create_dir`, not `create_dir_all`: a directory that exists already is not ours.
        std::fs::create_dir(&dir)?;
        let unpacked = Self(dir);
        for (name, text) in BUNDLED {
            std::fs::write(unpacked.0.join(name), text)?;
        }
        Ok(unpacked)
    }
}

impl Drop for Unpacked {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn run(args: &DemoArgs) -> ExitCode {
    super::serve::block_on_server(demo(args))
}

async fn demo(args: &DemoArgs) -> ExitCode {
    let unpacked = match &args.zones {
        Some(_) => None,
        None => match Unpacked::new() {
            Ok(u) => Some(u),
            Err(e) => {
                eprintln!(
                    "error: cannot unpack the example zones into {}: {e}",
                    std::env::temp_dir().display()
                );
                eprintln!("  hint: set TMPDIR to a writable directory, or give --zones DIR");
                return exit::code(exit::USAGE);
            }
        },
    };
    let (dir, shown) = match (&args.zones, &unpacked) {
        (Some(d), _) => (d.clone(), d.display().to_string()),
        (None, Some(u)) => (u.0.clone(), "the example zones built in".to_owned()),
        (None, None) => return exit::code(exit::USAGE),
    };
    let config = dir.join("publish.toml");
    let sources = Sources {
        config: config.is_file().then_some(config),
        zones_dir: Some(dir.clone()),
    };
    let started = Instant::now();
    let loaded = sources.load_index(None);
    // Everything is in memory now.
    drop(unpacked);
    let loaded = match loaded {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::code(exit::USAGE);
        }
    };
    let load_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (zones, records) = (loaded.zone_count, loaded.index.record_count());
    let options = ServeOptions {
        listen: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
        ..ServeOptions::default()
    };
    let responder = match Responder::start(loaded.index, &options).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::code(exit::USAGE);
        }
    };
    let Some(&addr) = responder.local_addrs().first() else {
        eprintln!("error: the responder has no address");
        return exit::code(exit::USAGE);
    };
    println!("== altodisc demo: responder and resolver on one machine");
    println!(
        "responder: {zones} zones, {records} records from {shown} (loaded in {load_ms:.1} ms), \
         answering on {addr} (UDP and TCP)"
    );
    for w in &loaded.warnings {
        println!("  note: {w}");
    }
    let resolver = match Resolver::with_server(addr) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            let _ = responder.shutdown().await;
            return exit::code(exit::USAGE);
        }
    };

    let mut all_found = true;
    println!("\n== RFC 7286: ALTO server for an access domain (U-NAPTR \"ALTO:https\")");
    for d in DOMAINS {
        let Ok(domain) = DomainName::parse(d) else {
            continue;
        };
        let outcome = resolver
            .resolve_domain(&domain, altodisc_resolver::Protocols::HttpsOnly)
            .await;
        all_found &= outcome.found();
        print!("{}", render_unaptr(d, &outcome));
    }

    println!("\n== RFC 8686: ALTO server for an address (reverse-tree ladder, Table 1)");
    for (input, what) in ADDRESSES {
        match resolver.xdom(input, &[WantedService::alto_https()]).await {
            Ok(o) => {
                all_found &= o.status == XdomStatus::Found;
                let mut out = format!("\n{input}  ({what})\n");
                for q in &o.queries {
                    let _ = writeln!(out, "  query  {q}");
                }
                match o.matched_name() {
                    Some(name) => {
                        let label = o
                            .matched
                            .and_then(|i| o.ladder.get(i))
                            .map(altodisc_resolver::xdom::LadderResult::label);
                        let _ = writeln!(out, "  match  {name} ({})", label.unwrap_or_default());
                        for c in &o.candidates {
                            let _ = writeln!(
                                out,
                                "  ==>    {}  (order {}, preference {}, ttl {})",
                                c.uri, c.order, c.preference, c.ttl
                            );
                        }
                    }
                    None => {
                        let _ = writeln!(out, "  result {}", o.status.as_str());
                    }
                }
                print!("{out}");
            }
            Err(e) => {
                all_found = false;
                println!("\n{input}: error: {e}");
            }
        }
    }
    let _ = responder.shutdown().await;
    println!();
    if all_found {
        println!(
            "every lookup found an ALTO server; next: altodisc check-config your.toml, then \
             altodisc serve --config your.toml (see altodisc.toml(5))"
        );
        exit::code(exit::SUCCESS)
    } else {
        println!("some lookups found nothing (see above)");
        exit::code(exit::NOT_FOUND)
    }
}

fn render_unaptr(input: &str, o: &UnaptrOutcome) -> String {
    let mut out = format!("\n{input}\n");
    for q in &o.queries {
        let _ = writeln!(out, "  query  {q}");
    }
    for v in &o.visits {
        if v.depth > 0 {
            let _ = writeln!(out, "  follow {} (non-terminal, depth {})", v.name, v.depth);
        }
    }
    if o.candidates.is_empty() {
        let _ = writeln!(out, "  result {}", o.status);
    }
    for c in &o.candidates {
        let _ = writeln!(
            out,
            "  ==>    {}  (order {}, preference {}, from {})",
            c.uri, c.order, c.preference, c.owner
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in copy is the source tree's `zones/`, file for file and byte for byte.
    #[test]
    fn bundled_zones_are_the_zones_directory() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("zones");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut bundled: Vec<String> = BUNDLED.iter().map(|(n, _)| (*n).to_owned()).collect();
        bundled.sort();
        assert_eq!(bundled, on_disk, "add new files of zones/ to BUNDLED");
        for (name, text) in BUNDLED {
            assert_eq!(
                std::fs::read_to_string(dir.join(name)).unwrap(),
                text,
                "{name}"
            );
        }
    }

    #[test]
    fn unpacked_zones_are_removed_after_use() {
        let u = Unpacked::new().unwrap();
        let dir = u.0.clone();
        assert!(dir.join("publish.toml").is_file());
        drop(u);
        assert!(!dir.exists());
    }
}
