//! An authoritative DNS responder that publishes ALTO discovery NAPTR records (RFC 7286 §3.2,
//! RFC 8686 §3.4), with its own zone index and hickory-server as the protocol engine.
//!
//! ```text
//!  zone files ──(altodisc-zone reader)──┐
//!                                       ├─> Vec<Zone> ─> ZoneIndex ─> ZoneRequestHandler ─> Responder
//!  publishing config (TOML) ────────────┘                 (O(1) look-ups)  (EDNS, TC)        (UDP, TCP)
//! ```
//!
//! Standing a server up:
//! 1. load zones: [`load::load_zone_dir`] and/or [`load::load_publish_config`] (all or nothing),
//!    or load and index them zone by zone with [`load::Sources::load_index_isolated`];
//! 2. index them: [`ZoneIndex::build`];
//! 3. serve: [`Responder::start`] with [`ServeOptions`]; [`Responder::shutdown`] stops it.
//!
//! Operations:
//! * reloads: [`load::Sources::load_index_isolated`] (each zone loaded and checked on its own; a
//!   failed zone keeps its served version, an unchanged signed zone keeps its serial) or
//!   [`load::Sources::load_index_checked`] (all or nothing: any error rejects the whole set),
//!   [`Responder::reload`] swaps atomically, and [`load::Sources::fingerprint`] detects changed
//!   files by polling;
//! * [`xfr`]: AXFR/IXFR to an allow-list, NOTIFY to secondaries (RFC 5936, RFC 1995, RFC 1996);
//! * [`metrics`] and [`http`]: Prometheus `/metrics` (names in `docs/operators/metrics.md`) and
//!   `/healthz` ([`metrics::Metrics::healthz_body`] names the failed zones);
//! * [`rrl`]: response rate limiting per client prefix on UDP.
//!
//! Answer semantics are documented on [`index`] (RFC 1034 §4.3.2, RFC 2308, RFC 4592, RFC 8020).

pub mod catalog;
// Zone signing (RFC 4034, RFC 4035): keys, RRSIG/NSEC/DNSKEY generation, refresh policy.
pub mod dnssec;
pub mod error;
pub mod fastpath;
pub mod handler;
pub mod http;
pub mod index;
pub mod journal;
pub mod load;
pub mod metrics;
pub mod rrl;
pub mod server;
pub mod tsig;
pub mod xfr;
pub mod zone_signing;

pub use error::{IndexError, ResponderError};
pub use handler::ZoneRequestHandler;
pub use index::{Answer, AnswerKind, ZoneIndex};
pub use server::{
    DEFAULT_UDP_BUSY_POLL, MAX_UDP_BUSY_POLL_US, MAX_WORKERS, Responder, SUGGESTED_UDP_BUSY_POLL,
    ServeOptions,
};
