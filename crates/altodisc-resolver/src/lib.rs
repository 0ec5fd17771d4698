//! Find the ALTO server to ask (RFC 7285): by the access domain your network hands out
//! (RFC 7286) or by an IP address or prefix (RFC 8686 cross-domain discovery in reverse DNS).
//!
//! # Quick start
//!
//! One [`Resolver`] per application (it keeps its DNS connections); [`Resolver::discover`] takes
//! a domain, an address or a prefix as text, the typed calls take [`DomainName`], [`IpAddr`] or
//! [`IpNet`]. A discovery gives the servers best first, each with its IRD [`Url`]; nothing found
//! is an [`Error`] you classify, not parse:
//!
//! ```
//! use std::sync::Arc;
//! use altodisc_resolver::{IpAddr, Resolver, memory::MemorySource};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // In an application: `Resolver::system()?` (the system's DNS resolver) or
//! // `Resolver::with_server("192.0.2.53:53".parse()?)?`. Here: an in-memory zone.
//! let zone = MemorySource::new().uri(
//!     "100.51.198.in-addr.arpa.", 100, 10, "ALTO:https", "https://alto.example.net/ird",
//! );
//! let resolver = Resolver::with_source(Arc::new(zone));
//!
//! let client: IpAddr = "198.51.100.7".parse().unwrap();
//! match resolver.discover_address(client).await {
//!     Ok(found) => {
//!         let server = found.best();
//!         assert_eq!(server.uri.as_str(), "https://alto.example.net/ird");
//!         // Cache the choice for `server.ttl` seconds; `found.degraded` means a more specific
//!         // answer may appear when asked again later.
//!     }
//!     Err(e) if e.is_temporary() => eprintln!("retry later: {e}"),
//!     Err(e) if e.is_invalid_input() => eprintln!("bad input: {e}"),
//!     Err(e) => eprintln!("no ALTO server: {e}"),
//! }
//! // Text input: an access domain, an address or a prefix.
//! let e = resolver.discover("alto.example.org").await.unwrap_err();
//! assert!(e.is_not_found() && !e.is_temporary());
//! # }
//! ```
//!
//! The example `examples/find_alto_server.rs` does the same against real DNS.
//!
//! # What it follows
//!
//! * Access domain (RFC 7286 §3.2): U-NAPTR (RFC 4848) for `ALTO:https` at the domain;
//!   [`Protocols::HttpsThenHttp`] also accepts `ALTO:http` (debugging only, RFC 8686 §6.1).
//! * Address or prefix (RFC 8686 §3): U-NAPTR at the reverse names from the most specific one
//!   (Table 1); the first name with a URI wins. Timeouts and SERVFAIL are temporary (RFC 8686
//!   §3.5: a later retry may help), REFUSED is not.
//! * DNSSEC (RFC 8686 §6.1): every [`AltoServer`] carries a [`DnssecState`];
//!   [`Resolver::with_dnssec`] with [`dnssec::DnssecConfig`] validates or requires it.
//! * The full trail (names visited, records skipped and why, queries) is in
//!   [`Discovery::detail`] and [`Error::detail`].
//!
//! # Cargo features
//!
//! * `dhcp` (default): [`dhcp`], the access domain from DHCPv4 option 213 / DHCPv6 option 57
//!   (RFC 5986), as RFC 7286 §3.1 asks. Linux raw sockets.
//! * `verify` (default): [`verify`], fetching and checking the IRD over HTTPS (RFC 7285 §9.2).
//!
//! `default-features = false` leaves DNS only (no HTTP or DHCP dependencies).
//!
//! # Lower level
//!
//! [`Resolver::unaptr`] and [`Resolver::xdom`] return the detailed outcomes the `altodisc` CLI
//! prints ([`UnaptrOutcome`], [`XdomOutcome`], both with `to_json`); [`batch::run_batch`] runs
//! many inputs over a shared answer cache ([`cache::CachedSource`]); [`NaptrSource`] is the
//! seam to plug in another DNS source. Selection of NAPTR records is
//! `altodisc_proto::select::select`; this crate adds I/O, chasing, the ladder walk and caching.

#[cfg(feature = "dhcp")]
pub mod dhcp;

// U-NAPTR and RFC 8686 xdom over DNS.
pub mod batch;
pub mod cache;
pub mod dns;
// DNSSEC validation settings and trust anchors.
pub mod dnssec;
pub mod memory;
pub mod source;
pub mod udp_engine;
pub mod unaptr;
pub mod xdom;

// IRD verification over HTTPS, RFC 7285 §9.2.
#[cfg(feature = "verify")]
pub mod verify;

// The OpenALTO client's alto.conf: `default_ird` from a discovered URI.
pub mod alto_conf;

mod api;
pub use api::{AltoServer, Detail, Discovery, Error, Protocols, Resolver, Target};
pub use dns::{DnsConfig, DnsSetupError, parse_server};
pub use source::{FailureReason, LookupFailure, NaptrSource};
pub use unaptr::{Candidate, DnssecState, NameStatus, UnaptrOptions, UnaptrOutcome};
pub use xdom::{XdomError, XdomOptions, XdomOutcome, XdomStatus};

// What an application needs besides this crate's own types, so that it depends on this crate
// only.
pub use altodisc_proto::name::DomainName;
pub use altodisc_proto::service::WantedService;
pub use ipnet::IpNet;
pub use std::net::IpAddr;
pub use url::Url;
