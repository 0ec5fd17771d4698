//! Zone data for ALTO discovery: the records (with source positions) that the master-file reader
//! and the publishing config produce, and that the checker and the responder consume.
//!
//! ```text
//!   zone files ──reader──▶ ZoneRecord (+ Z1/Z2 diagnostics) ──┬──▶ responder (serves them)
//!   publishing config ──publish_config──▶ ZoneRecord ─────────┤
//!                                                              └──▶ check: rules Z1–Z24, replay ──▶ Diagnostic
//! ```
//!
//! * [`reader`]: RFC 1035 §5 / RFC 3597 master-file reader keeping file:line:col of every field.
//! * [`rdata`]: every RR type's RDATA: type mnemonics, wire validation ([`rdata::validate_wire`])
//!   and the one presentation writer ([`rdata::presentation`], used by [`master`]).
//! * [`rules`]: the stable rule catalogue of docs/checker-rules.md (`Z1` … `Z30`).
//! * [`diag`]: [`Diagnostic`] and [`Severity`].

pub mod check;
pub mod diag;
pub mod dnssec_verify;
pub mod master;
pub mod output;
pub mod publish_config;
pub mod rdata;
pub mod reader;
pub mod record;
pub mod replay;
pub mod rules;
mod store;

pub use diag::{Diagnostic, Severity};
pub use reader::{
    ZoneFileOutcome, ZoneReadError, read_zone_file, read_zone_str, stream_zone_file,
    stream_zone_str,
};
pub use record::{Position, Zone, ZoneRecord};
pub use rules::Rule;
