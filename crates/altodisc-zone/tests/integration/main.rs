//! Integration tests of altodisc-zone: the checker corpus (`tests/checker/` at the repository root,
//! one test per zone file), agreement with the real named-checkzone, agreement with BIND, Knot and
//! NSD on the peer corpus, and the reader on real files.

// Tests may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod agreement;
mod corpus;
mod fuzz_replay;
mod generate;
mod peer_agreement;
mod properties;
mod replay;
mod roundtrip;
