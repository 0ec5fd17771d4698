//! Integration tests of `altodisc-resolver` against real peers: one test binary, one module per
//! area.

#![allow(clippy::unwrap_used)]

#[cfg(feature = "dhcp")]
mod dhcp_lab;
// DNSSEC validation against Knot (automatic signing) and unbound.
mod dnssec;
// U-NAPTR and xdom against NSD, Knot and BIND; timeouts; hostile servers.
// Batch mode through the UDP query engine against NSD.
mod batch_engine;
mod fixtures;
mod fuzz_replay;
mod hostile;
mod peers;
mod timeout;
#[cfg(feature = "verify")]
mod verify_nginx;
