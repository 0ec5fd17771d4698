//! The client side of ALTO server discovery: U-NAPTR resolution over DNS (RFC 4848), RFC 8686
//! cross-domain discovery, and RFC 7286 access-domain discovery through DHCP.
//!
//! # Public API for other parts of altodisc
//!
//! ```text
//!   Resolver ─┬─ resolve_domain(domain, allow_http) ─▶ UnaptrOutcome   RFC 7286 step 2 (`discover`)
//!             ├─ unaptr(name, &[WantedService])     ─▶ UnaptrOutcome   any service parameter
//!             └─ xdom("198.51.100.3", &[..])        ─▶ XdomOutcome     RFC 8686 (`xdom`, `check --live`)
//!   built from: Resolver::system() | Resolver::with_server(addr) | Resolver::with_servers(DnsConfig)
//!               | Resolver::with_source(Arc<dyn NaptrSource>)  (in-memory zone in tests/benches)
//! ```
//!
//! * [`Resolver::resolve_domain`]: RFC 7286 §3.2 step 2 for a known access domain: U-NAPTR
//!   `ALTO:https`, then `ALTO:http` only when `allow_http` (never mixed within a chain,
//!   RFC 3958 §2.2.5). Used by `altodisc discover` after DHCP/config found the domain.
//! * [`Resolver::with_server`]: every query goes to one explicit server (e.g. an authoritative
//!   server under test, `check --live`), RD=0, UDP with TCP retry on truncation.
//! * [`Resolver::xdom`]: RFC 8686 XDOMDISC; concurrent by default, answer chosen in ladder order,
//!   `degraded` when a more specific name failed temporarily.
//! * Results: [`unaptr::UnaptrOutcome`] (`candidates` with `uri`, `order`, `preference`, `owner`,
//!   `chain`, `ttl`, `dnssec`; per-name `visits` with skip reasons; `queries` for `--trace`),
//!   [`xdom::XdomOutcome`]; both have `to_json` producing the CLI's JSON.
//! * DNSSEC (RFC 8686 §6.1): [`dnssec::DnssecConfig`] (`off` | `report` | `require`, extra trust anchors);
//!   every candidate carries a [`unaptr::DnssecState`]; bogus answers never become candidates.
//! * Batch mode: [`batch::run_batch`] with the shared answer cache [`cache::CachedSource`].
//!
//! Selection of NAPTR records is always [`altodisc_proto::select::select`]; this crate adds only
//! I/O, chasing, the ladder walk and caching.

pub mod dhcp;

// U-NAPTR and RFC 8686 xdom over DNS.
pub mod batch;
pub mod cache;
pub mod dns;
// DNSSEC validation settings and trust anchors.
pub mod dnssec;
pub mod memory;
pub mod source;
pub mod unaptr;
pub mod xdom;

// IRD verification over HTTPS, RFC 7285 §9.2.
pub mod verify;

// The OpenALTO client's alto.conf: `default_ird` from a discovered URI.
pub mod alto_conf;

mod api;
pub use api::Resolver;
pub use dns::{DnsConfig, DnsSetupError, parse_server};
pub use source::{LookupFailure, NaptrSource, TemporaryReason};
pub use unaptr::{Candidate, DnssecState, NameStatus, UnaptrOptions, UnaptrOutcome};
pub use xdom::{XdomError, XdomOptions, XdomOutcome, XdomStatus};
