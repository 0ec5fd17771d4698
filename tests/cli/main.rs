//! End-to-end tests of the `altodisc` binary: one test binary, one module per subcommand.

// Tests may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod behaviour;
mod check;
mod check_config;
mod completions;
mod demo;
mod deploy;
mod discover;
// DNSSEC validation against Knot and unbound.
mod dnssec;
mod dnssec_serve;
mod isolation;
mod names;
mod ops;
mod package;
mod render;
mod resolve;
mod serve;
mod sign_text;
mod verify;
// The discovery agent (`discover --watch`) and `--write-alto-conf`.
mod watch;
mod xdom;
mod zone_files;

use std::process::{Command, Output};

/// Runs the built `altodisc` binary with `args`.
pub(crate) fn altodisc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_altodisc"))
        .args(args)
        .output()
        .expect("run altodisc")
}
