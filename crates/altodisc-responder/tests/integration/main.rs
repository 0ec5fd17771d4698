//! Integration tests of the responder over real sockets on loopback: transport behaviour, a
//! differential comparison with NSD and Knot serving the same zone files, and real clients
//! (`dig`, `kdig`) parsing every answer; NSD and Knot as secondaries of altodisc (AXFR, NOTIFY).

// Tests may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod clients;
mod common;
mod differential;
mod fastpath;
mod fuzz_replay;
mod secondaries;
mod transport;
