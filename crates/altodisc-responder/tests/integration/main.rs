//! Integration tests of the responder over real sockets on loopback: transport behaviour, a
//! differential comparison with NSD and Knot serving the same zone files, and real clients
//! (`dig`, `kdig`) parsing every answer; NSD and Knot as secondaries of altodisc (AXFR, NOTIFY);
//! protocol corner cases against NSD, Knot and BIND, and the RFC 8906 `dig` checks;
//! hostile traffic while valid queries keep being answered; several UDP workers answering
//! concurrent clients; the zone loader over the peer zone corpus, file by file, against the
//! verdicts of named-checkzone, kzonecheck and nsd-checkzone.

// Tests may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod catalog;
mod clients;
mod common;
mod differential;
mod fastpath;
mod fuzz_replay;
mod hostile;
mod ixfr;
mod peer_corpus;
mod protocol;
mod rfc8906;
mod secondaries;
mod transport;
mod tsig;
mod workers;
